"""A calibration gap split into what the model misses and what the outcomes drew.

When the monitor raises `retrain` for a group's calibration gap (the served model's mean
probability minus the observed rate on the matured window), the twin can say how much of it
is the model: its oracle (`twin.quality.oracle_for_rows`, the true probability given the
true state) on the same rows. model - oracle is what the model misses; oracle - observed is
the draw of the outcomes, which even the truth would show.

Two selections of rows:
- the monitor's (default): the matured window of `--as-of`, read exactly as `needs-model
  monitor` does: after the register's recording lag (`performance.recording_lag_days`,
  `matured_window`), labels as the register held them on that date
  (`performance.labels_known_on`);
- `--rounds`: for a service delivered in a yearly round (school admission: August), the
  month ends of each round's year before it (January-July), one row of the table per
  round. model - oracle varying from round to round by more than the draw is the
  between-round spread a monitor judging one round's gap meets ([monitor] #12).

The model is the served bundle (`promotion.load_served`) of `--root`'s store.

Usage: python bench/matured_gap_vs_oracle.py --root data/scenarios/no-change
       [--service school_admission] [--as-of 2026-12-31] [--group is_mountain [--group ...]]
       python bench/matured_gap_vs_oracle.py --root data/scenarios/base --rounds
       (--root holds raw/, features/ and store/models/ as bench/scenario_table.py writes them)
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from needs_model.features.snapshots import load_service, read_snapshot
from needs_model.modelling.promotion import load_served
from needs_model.monitoring.performance import (
    labels_known_on,
    matured_window,
    recording_lag_days,
)
from needs_model.monitoring.run import available_snapshots
from needs_model.twin.quality import oracle_for_rows

ROUND_MONTH = 8  # school admission's round (twin.params.SchoolParameters.admission_month)


def matured_rows(root: Path, service_id: str, as_of: dt.date) -> tuple[pd.DataFrame, str]:
    """The monitor's matured rows on `as_of`, and a title saying which."""
    features, raw = root / "features", root / "raw"
    lag = recording_lag_days(raw, service_id, as_of)
    window = matured_window(service_id, as_of, available_snapshots(features, service_id), lag)
    rows = pd.concat(
        [read_snapshot(features, service_id, d) for d in window.dates], ignore_index=True
    )
    rows = labels_known_on(rows, raw, service_id, as_of)
    title = (
        f"{service_id}, matured window of {as_of} (recording lag {lag} days): month ends "
        f"{', '.join(d.isoformat() for d in window.dates)}"
    )
    return rows, title


def round_rows(root: Path, service_id: str) -> tuple[pd.DataFrame, str]:
    """The labelled month ends of each round's year before the round, with their `round`."""
    rows = load_service(root / "features", service_id)
    rows = rows[rows["as_of"].dt.month < ROUND_MONTH].copy()
    rows["round"] = rows["as_of"].dt.year
    return rows, f"{service_id}: month ends January-July of each round's year, {root}"


def gap_table(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of `keys`: rows, subjects, the model's, the oracle's and the observed means
    and the three differences between them."""
    table = rows.groupby(keys).agg(
        rows=("label", "size"),
        subjects=("subject_id", "nunique"),
        model=("model", "mean"),
        oracle=("oracle", "mean"),
        observed=("label", "mean"),
    )
    table["model - observed (the monitor's gap)"] = table["model"] - table["observed"]
    table["model - oracle (the model)"] = table["model"] - table["oracle"]
    table["oracle - observed (the draw)"] = table["oracle"] - table["observed"]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--service", default="school_admission")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 12, 31))
    parser.add_argument(
        "--group", action="append", help="Column(s) to split by (repeat; default is_mountain)."
    )
    parser.add_argument(
        "--rounds", action="store_true", help="Round by round instead of one matured window."
    )
    args = parser.parse_args()
    if args.rounds:
        rows, title = round_rows(args.root, args.service)
        keys = ["round", *(args.group or [])]
    else:
        rows, title = matured_rows(args.root, args.service, args.as_of)
        keys = args.group or ["is_mountain"]
    rows = rows[rows["label"].notna()].reset_index(drop=True)
    model = load_served(args.root / "store" / "models", args.service)
    rows["model"] = model.predict(rows)
    rows["oracle"] = oracle_for_rows(args.root / "raw", args.service, rows).to_numpy()
    print(title)
    print(gap_table(rows, keys).round(4).to_string())


if __name__ == "__main__":
    main()
