"""Monthly snapshots of features and labels on disk, and reading them back per service.

The one module that names their files: `<features_dir>/<service>/<as_of>.parquet`, each
written to a temporary name and renamed (a killed run leaves no half-written snapshot).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from needs_model.catalogue.features import features_for
from needs_model.catalogue.services import SERVICE_IDS
from needs_model.extracts.sources import read_as_of
from needs_model.features.build import attach_labels, build_features, register_deliveries
from needs_model.linking.profiles import build_profiles


def month_ends(first: dt.date, last: dt.date) -> list[dt.date]:
    days = pd.date_range(first, last, freq="ME")
    return [d.date() for d in days]


def data_end(raw: Path) -> dt.date:
    """The extracts cover up to the end of the month of their latest transaction."""
    delivered = read_as_of(raw, "services", "transactions", dt.date(2100, 1, 1), ["delivered_on"])
    if delivered.empty:
        raise ValueError(f"{raw} holds no transactions: nothing to label")
    return (delivered["delivered_on"].max() + pd.offsets.MonthEnd(0)).date()


def snapshot_file(features_dir: Path, service_id: str, as_of: dt.date) -> Path:
    return features_dir / service_id / f"{as_of.isoformat()}.parquet"


def read_snapshot(features_dir: Path, service_id: str, as_of: dt.date) -> pd.DataFrame:
    return pd.read_parquet(snapshot_file(features_dir, service_id, as_of))


def build_snapshots(
    raw: Path,
    as_ofs: list[dt.date],
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write out/<service>/<as_of>.parquet for every snapshot (profiles built once each)."""
    end = data_end(raw)
    delivered = {s: register_deliveries(raw, s, end) for s in SERVICE_IDS}
    for i, as_of in enumerate(as_ofs):
        profiles = build_profiles(raw, as_of)
        for service_id in SERVICE_IDS:
            features = build_features(profiles, service_id)
            frame = attach_labels(
                features, raw, service_id, as_of, end, delivered=delivered[service_id]
            )
            target = snapshot_file(out, service_id, as_of)
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
            frame.to_parquet(partial, index=False)
            os.replace(partial, target)
        if progress is not None:
            progress(i + 1, len(as_ofs))


def load_service(features_dir: Path, service_id: str) -> pd.DataFrame:
    files = sorted((features_dir / service_id).glob("*.parquet"))
    if not files:
        raise FileNotFoundError(
            f"no feature snapshots for {service_id} under {features_dir}; "
            "build them with `needs-model features --as-of ... --through ...`"
        )
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    expected = ["subject_id", "household_id", "commune_code", "as_of", *features_for(service_id)]
    missing = [c for c in [*expected, "label"] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"the feature snapshots of {service_id} under {features_dir} lack "
            f"{', '.join(missing)}: they were built by an older version; rebuild them with "
            "`needs-model features --as-of ... --through ...`"
        )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    return frame
