"""The [realism] figures of a simulated province, from its extracts and truth.

1. Recording lags: days from the event to `recorded_at`, per table (median, p90, p99,
   share over 30 days).
2. The poverty label against the single field that used to give it away: the AUC of
   `last_income_to_line_ratio` alone (a missing ratio, never surveyed in full, ranked
   least likely) and the share of household rows that have one, pooled over quarter ends.
3. The oracle's zero mass: the share of each licence service's month-end oracle rows below
   1e-4 (nothing the twin knows lets the holder renew within the horizon).
4. Labels through the link: per person service at one as-of date, the label rate from the
   linked service register (`build.attach_labels`) against the truth (every delivery to
   its true person), with the labels lost and the false ones.

Usage: python bench/realism_figures.py [--raw data/raw] [--as-of 2024-06-30]
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from needs_model.catalogue.features import LICENCE_SERVICES
from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.features.build import attach_labels, build_features, horizon_end
from needs_model.features.snapshots import data_end
from needs_model.linking.profiles import build_profiles
from needs_model.twin.quality import true_cccd_of_records

LAGGED = {
    "services/transactions": "delivered_on",
    "health/births": "child_birth_date",
    "health/conditions": "diagnosis_date",
    "education/enrolments": "enrol_date",
    "welfare/household_surveys": "survey_date",
    "registry/people": "event_date",
}


def lags(raw: Path) -> None:
    print("| table | rows | median days | p90 | p99 | over 30 days |")
    print("|---|---:|---:|---:|---:|---:|")
    for table, event in LAGGED.items():
        frame = pd.read_parquet(raw / f"{table}.parquet", columns=[event, "recorded_at"])
        days = (pd.to_datetime(frame["recorded_at"]) - pd.to_datetime(frame[event])).dt.days
        print(
            f"| {table} | {len(days):,} | {days.median():.0f} | {days.quantile(0.9):.0f} | "
            f"{days.quantile(0.99):.0f} | {(days > 30).mean():.1%} |"
        )


def poverty_single_field(raw: Path, end: dt.date) -> None:
    service_id = "poor_household_confirmation"
    frames = []
    for day in pd.date_range("2022-03-31", "2024-09-30", freq="QE"):
        features = build_features(build_profiles(raw, day.date()), service_id)
        frames.append(attach_labels(features, raw, service_id, day.date(), end))
    rows = pd.concat(frames).dropna(subset=["label"])
    y = rows["label"].astype(int)
    ratio = rows["last_income_to_line_ratio"]
    known = ratio.notna()
    print(
        f"poverty, quarter ends 2022-03..2024-09: {len(rows):,} household rows, label rate "
        f"{y.mean():.4f}; income ratio known for {known.mean():.1%}; AUC of the ratio alone "
        f"{roc_auc_score(y, -ratio.fillna(np.inf).clip(upper=1e9)):.4f} (missing ranked last), "
        f"{roc_auc_score(y[known], -ratio[known]):.4f} among rows with a ratio"
    )


def oracle_zero_mass(raw: Path) -> None:
    for service_id in LICENCE_SERVICES:
        oracle = pd.read_parquet(raw / "truth" / "oracle" / f"{service_id}.parquet")
        below = (oracle["probability"] < 1e-4).mean()
        print(f"{service_id}: {len(oracle):,} oracle rows, {below:.1%} below 1e-4")


def labels_through_the_link(raw: Path, as_of: dt.date, end: dt.date) -> None:
    truth = true_cccd_of_records(raw)
    truth = truth[truth["source"] == "services/transactions"].set_index("record_id")
    register = pd.read_parquet(raw / "services" / "transactions.parquet")
    register = register[register["subject_kind"] == "person"]
    register = register.assign(true_cccd=register["transaction_id"].map(truth["true_cccd"]))
    delivered = pd.to_datetime(register["delivered_on"])
    profiles = build_profiles(raw, as_of)
    print(f"labels on {as_of} (data end {end}):")
    print("| service | rows | true label rate | label rate | lost | false |")
    print("|---|---:|---:|---:|---:|---:|")
    for service_id in SERVICE_IDS:
        entry = service(service_id)
        if entry.subject_kind != "person":
            continue
        last = pd.Timestamp(horizon_end(as_of, entry.horizon_months))
        window = register[
            (register["service_id"] == service_id)
            & (delivered > pd.Timestamp(as_of))
            & (delivered <= last)
        ]
        features = build_features(profiles, service_id)
        label = attach_labels(features, raw, service_id, as_of, end)["label"] == 1
        true = features["subject_id"].isin(set(window["true_cccd"].dropna()))
        print(
            f"| {service_id} | {len(features):,} | {true.mean():.4f} | {label.mean():.4f} | "
            f"{int((true & ~label).sum())} | {int((~true & label).sum())} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2024, 6, 30))
    args = parser.parse_args()
    end = data_end(args.raw)
    lags(args.raw)
    print()
    poverty_single_field(args.raw, end)
    print()
    oracle_zero_mass(args.raw)
    print()
    labels_through_the_link(args.raw, args.as_of, end)


if __name__ == "__main__":
    main()
