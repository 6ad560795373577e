"""How far a yearly round's take-up strays from what the served model expects.

For a service delivered in a yearly round (school admission: August), the served model's
mean probability beside the twin's oracle (`twin.quality.oracle_for_rows`: the true
probability, which knows the round's take-up factor from January) and the observed rate,
on the month ends of each round's year before it (January-July), per round and group.
model - oracle varying from round to round by more than the outcomes' draw is the between-
round spread that a monitor judging one round's calibration gap meets and no record
explains ([monitor] #12).

Usage: python bench/round_offsets.py --root data/scenarios/no-change
       [--models data/scenarios/base/store/models] [--service school_admission]
       [--group is_urban]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from needs_model.features.snapshots import load_service
from needs_model.modelling.promotion import load_served
from needs_model.twin.quality import oracle_for_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="raw/ and features/ of a twin")
    parser.add_argument("--models", type=Path, default=Path("data/scenarios/base/store/models"))
    parser.add_argument("--service", default="school_admission")
    parser.add_argument("--group", default=None)
    parser.add_argument("--round-month", type=int, default=8)
    args = parser.parse_args()
    rows = load_service(args.root / "features", args.service)
    rows = rows[rows["label"].notna() & (rows["as_of"].dt.month < args.round_month)]
    rows = rows.reset_index(drop=True)
    model = load_served(args.models, args.service)
    rows["model"] = model.predict(rows)
    rows["oracle"] = oracle_for_rows(args.root / "raw", args.service, rows).to_numpy()
    rows["round"] = rows["as_of"].dt.year
    keys = ["round"] + ([args.group] if args.group else [])
    table = rows.groupby(keys).agg(
        rows=("label", "size"),
        subjects=("subject_id", "nunique"),
        model=("model", "mean"),
        oracle=("oracle", "mean"),
        observed=("label", "mean"),
    )
    table["model - oracle"] = table["model"] - table["oracle"]
    table["oracle - observed (the draw)"] = table["oracle"] - table["observed"]
    print(f"{args.service}: month ends January-July of each round's year, {args.root}")
    print(table.round(4).to_string())


if __name__ == "__main__":
    main()
