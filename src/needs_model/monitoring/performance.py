"""How the champion does once labels mature: a month end's label is known when its whole
horizon, and the register's recording lag after it, lie on or before the monitoring date.

The labels are read as the register held them on the monitoring date (`labels_known_on`):
a delivery recorded later is not known then, whatever the snapshots were built with. The
lag allowed is the register's own for the service, measured on its rows of the year before
(`recording_lag_days`, the 99th percentile): without it, the newest month ends would miss
the deliveries still on their way to the register and look over-predicted.

The newest `MATURED_MONTHS` matured month ends are scored by the served model and judged by
the gate's own checks (`promotion.calibration_by_month`, `promotion.fairness_failures` on
`evaluate.fairness`), and their AUC is compared with the champion's on its test window, the
interval resampling subjects (`metrics.subject_bootstrap_draws`).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import service
from needs_model.extracts import contract
from needs_model.extracts.sources import read_as_of
from needs_model.features.build import attach_labels, horizon_end, register_deliveries
from needs_model.modelling import metrics
from needs_model.modelling.evaluate import fairness
from needs_model.modelling.promotion import Gate, calibration_by_month, fairness_failures
from needs_model.modelling.training import ServiceModel

MATURED_MONTHS = 3
BOOTSTRAP_DRAWS = 200
RECORDING_LAG_PERCENTILE = 99
LAG_HISTORY_DAYS = 365


@dataclass(frozen=True)
class MaturedWindow:
    """The month ends whose labels are known on `as_of`, newest `MATURED_MONTHS` of them."""

    as_of: dt.date
    dates: list[dt.date]


def matured_window(
    service_id: str, as_of: dt.date, available: list[dt.date], lag_days: int = 0
) -> MaturedWindow:
    """The newest `MATURED_MONTHS` of `available` whose horizon ended `lag_days` or more
    before `as_of`."""
    horizon = service(service_id).horizon_months
    allowance = dt.timedelta(days=lag_days)
    matured = sorted(d for d in available if horizon_end(d, horizon) + allowance <= as_of)
    return MaturedWindow(as_of, matured[-MATURED_MONTHS:])


def recording_lag_days(raw: Path, service_id: str, as_of: dt.date) -> int:
    """Days from a delivery of the service to its row in the register, at the
    `RECORDING_LAG_PERCENTILE`th percentile of the rows recorded in the year before `as_of`
    (rounded up; 0 when there are none)."""
    path = raw / contract.table("services", "transactions").path
    stat = path.stat()
    lags = _recording_lags(raw.resolve(), as_of, (stat.st_mtime_ns, stat.st_size))
    return lags.get(service_id, 0)


@lru_cache(maxsize=4)
def _recording_lags(raw: Path, as_of: dt.date, stamp: tuple[int, int]) -> dict[str, int]:
    """Every service's lag on `as_of` from one read of the register (a monitoring run asks
    for each served service's), kept per state of the file (`stamp`)."""
    rows = read_as_of(raw, "services", "transactions", as_of, ["service_id", "delivered_on"])
    recorded = pd.to_datetime(rows["recorded_at"])
    recent = recorded > pd.Timestamp(as_of) - pd.Timedelta(days=LAG_HISTORY_DAYS)
    days = (recorded[recent] - rows.loc[recent, "delivered_on"]).dt.days
    return {
        str(service_id): math.ceil(float(np.percentile(group, RECORDING_LAG_PERCENTILE)))
        for service_id, group in days.groupby(rows.loc[recent, "service_id"])
    }


def labels_known_on(rows: pd.DataFrame, raw: Path, service_id: str, as_of: dt.date) -> pd.DataFrame:
    """`rows` (month ends whose horizon ended by `as_of`) labelled again from the register's
    rows recorded on or before `as_of`, linked against the registry as known then."""
    delivered = register_deliveries(raw, service_id, as_of, recorded_by=as_of)
    parts = [
        attach_labels(
            part.drop(columns="label"),
            raw,
            service_id,
            pd.Timestamp(day).date(),
            as_of,
            delivered=delivered,
        )
        for day, part in rows.groupby("as_of", sort=True)
    ]
    return pd.concat(parts, ignore_index=True) if parts else rows.iloc[0:0]


def matured_performance(
    model: ServiceModel,
    rows: pd.DataFrame,
    champion_test: dict[str, Any],
    gate: Gate,
    seed: int = 0,
) -> dict[str, Any]:
    """The served model on matured rows beside its test window (`champion_test`: the
    bundle's `results.model`): AUC with its subject-resampled 95 % interval, the gate's
    month-by-month calibration, calibration by decile, and fairness by group."""
    y = rows["label"].to_numpy(dtype=float)
    p = model.predict(rows)
    draws = metrics.subject_bootstrap_draws(
        metrics.subjects(rows), BOOTSTRAP_DRAWS, np.random.default_rng(seed)
    )
    aucs = np.array(metrics.bootstrap_auc(y, p, draws))
    low, high = np.nanpercentile(aucs, [2.5, 97.5]) if np.isfinite(aucs).any() else (np.nan, np.nan)
    groups = fairness(rows, y, p, seed)
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "summary": metrics.summary(y, p),
        "auc_ci": [float(low), float(high)],
        "test_window_auc": champion_test.get("auc"),
        "test_window_ece": champion_test.get("ece"),
        "calibration_by_month": calibration_by_month(rows, y, p, gate),
        "calibration_curve": metrics.calibration_curve(y, p),
        "fairness": groups,
        "fairness_failures": fairness_failures(groups, gate),
    }
