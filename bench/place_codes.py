"""Place codes judged table by table against province-wide, month by month on a twin: the
findings on `commune_code` / `province_code` that each rule gives (`monitoring.sources`).

    python bench/place_codes.py --raw data/scenarios/no-change/raw --first 2026-01 --last 2027-06

Judged table by table (`table_quality` without the province's codes: the rule before), a
storm's damage list that names communes it did not name in the twelve months before is a
"new value"; judged province-wide (`source_quality`), a code is new only when no table
recorded it then. Prints each month end and table where either rule finds something, and the
counts.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd

from needs_model.extracts import contract
from needs_model.features.snapshots import month_ends
from needs_model.monitoring.sources import PLACE_CODES, source_quality, table_quality


def place_findings(findings: list[str]) -> list[str]:
    return [f for f in findings if any(f": {name} has " in f for name in PLACE_CODES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--first", required=True, help="YYYY-MM")
    parser.add_argument("--last", required=True, help="YYYY-MM")
    args = parser.parse_args()
    counts = {"table by table": 0, "province-wide": 0}
    first = dt.date.fromisoformat(f"{args.first}-01")
    last = (pd.Timestamp(f"{args.last}-01") + pd.offsets.MonthEnd(0)).date()
    for as_of in month_ends(first, last):
        wide = {t["table"]: place_findings(t["findings"]) for t in source_quality(args.raw, as_of)}
        for table in contract.TABLES:
            name = f"{table.agency}/{table.name}"
            if not (args.raw / table.path).exists():
                continue
            alone = place_findings(table_quality(args.raw, table, as_of)["findings"])
            counts["table by table"] += bool(alone)
            counts["province-wide"] += bool(wide[name])
            for rule, found in (("table by table", alone), ("province-wide", wide[name])):
                for finding in found:
                    print(f"{as_of} {rule}: {finding}")
    print(
        f"table-months with a place-code finding: {counts['table by table']} table by table, "
        f"{counts['province-wide']} province-wide"
    )


if __name__ == "__main__":
    main()
