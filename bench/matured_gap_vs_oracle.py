"""A matured calibration gap split into what the model misses and what the outcomes drew.

When the monitor raises `retrain` for a group's calibration gap (the served model's mean
probability minus the observed rate on the matured window), the twin can say how much of it
is the model: its oracle (`twin.quality.oracle_for_rows`, the true probability given the
true state) on the same rows. model - oracle is what the model misses; oracle - observed is
the draw of the outcomes, which even the truth would show.

Reads the rows exactly as `needs-model monitor` does: the matured window after the
register's recording lag (`performance.recording_lag_days`, `matured_window`), labels as
the register held them on the as-of date (`performance.labels_known_on`), the served
bundle (`promotion.load_served`).

Usage: python bench/matured_gap_vs_oracle.py --root data/scenarios/no-change
       [--service school_admission] [--as-of 2026-12-31] [--group is_mountain [--group ...]]
       (--root holds raw/, features/ and store/models/ as bench/scenario_table.py writes them)
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from needs_model.features.snapshots import read_snapshot
from needs_model.modelling.promotion import load_served
from needs_model.monitoring.performance import (
    labels_known_on,
    matured_window,
    recording_lag_days,
)
from needs_model.monitoring.run import available_snapshots
from needs_model.twin.quality import oracle_for_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--service", default="school_admission")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 12, 31))
    parser.add_argument(
        "--group", action="append", help="Column(s) to split by (repeat; default is_mountain)."
    )
    args = parser.parse_args()
    features = args.root / "features"
    raw = args.root / "raw"
    lag = recording_lag_days(raw, args.service, args.as_of)
    window = matured_window(
        args.service, args.as_of, available_snapshots(features, args.service), lag
    )
    rows = pd.concat(
        [read_snapshot(features, args.service, d) for d in window.dates], ignore_index=True
    )
    rows = labels_known_on(rows, raw, args.service, args.as_of)
    rows = rows[rows["label"].notna()].reset_index(drop=True)
    model = load_served(args.root / "store" / "models", args.service)
    rows["model"] = model.predict(rows)
    rows["oracle"] = oracle_for_rows(raw, args.service, rows).to_numpy()
    table = rows.groupby(args.group or ["is_mountain"]).agg(
        rows=("label", "size"),
        subjects=("subject_id", "nunique"),
        model=("model", "mean"),
        oracle=("oracle", "mean"),
        observed=("label", "mean"),
    )
    table["model - observed (the monitor's gap)"] = table["model"] - table["observed"]
    table["model - oracle (the model)"] = table["model"] - table["oracle"]
    table["oracle - observed (the draw)"] = table["oracle"] - table["observed"]
    print(
        f"{args.service}, matured window of {args.as_of} (recording lag {lag} days): month "
        f"ends {', '.join(d.isoformat() for d in window.dates)}"
    )
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
