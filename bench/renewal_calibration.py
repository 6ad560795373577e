"""Where a licence model's expected renewals part from the observed ones: its served model
on a twin's labelled month ends, by days to expiry.

    python bench/renewal_calibration.py --root data/scenarios/no-change [--service S ...]
        [--from 2025-01-31]

`--root` is a scenario twin's folder (`features/`, `store/models/`). Labels are the
snapshots' (every row the extract holds); month ends whose horizon runs past the data
have none and are left out. Prints, per band of days to expiry, the rows, the observed
renewals and the sum of the served model's probabilities (the renewals it expects).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from needs_model.catalogue.features import LICENCE_SERVICES
from needs_model.features.snapshots import read_snapshot
from needs_model.modelling.promotion import BundleError, load_served
from needs_model.monitoring.run import available_snapshots

BANDS = [-100_000, -92, -1, 90, 100_000]
NAMES = ["lapsed (expired > 3 months)", "expired <= 3 months", "0-90 days", "later"]


def by_band(root: Path, service_id: str, first: dt.date) -> pd.DataFrame:
    model = load_served(root / "store" / "models", service_id)
    days = [d for d in available_snapshots(root / "features", service_id) if d >= first]
    rows = pd.concat([read_snapshot(root / "features", service_id, d) for d in days])
    rows = rows[rows["label"].notna()]
    band = pd.cut(rows["days_to_expiry"], BANDS, labels=NAMES)
    frame = pd.DataFrame({"band": band, "observed": rows["label"], "expected": model.predict(rows)})
    table = frame.groupby("band", observed=True).agg(
        rows=("observed", "size"), observed=("observed", "sum"), expected=("expected", "sum")
    )
    table.loc["all"] = table.sum()
    table.attrs["window"] = (rows["as_of"].min(), rows["as_of"].max())
    return table.round(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--service", action="append", choices=LICENCE_SERVICES)
    parser.add_argument("--from", dest="first", type=dt.date.fromisoformat, default="2025-01-31")
    args = parser.parse_args()
    for service_id in args.service or LICENCE_SERVICES:
        try:
            table = by_band(args.root, service_id, args.first)
        except BundleError as error:  # a service the twin had too few holders to train
            print(f"{service_id}, {args.root}: {error}\n")
            continue
        low, high = table.attrs["window"]
        print(f"{service_id}, {args.root}, labelled month ends {low}..{high}")
        print(table.to_string())
        print()


if __name__ == "__main__":
    main()
