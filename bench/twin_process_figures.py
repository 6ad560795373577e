"""Figures of the twin's birth process quoted in docs/twin.md, from extracts and truth.

Usage: python bench/twin_process_figures.py --raw data/raw
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    raw = parser.parse_args().raw
    births = pd.read_parquet(raw / "truth" / "births.parquet")
    people = pd.read_parquet(raw / "truth" / "people.parquet").set_index("cccd")
    tx = pd.read_parquet(raw / "services" / "transactions.parquet")
    registered = tx[tx["service_id"] == "birth_registration"]
    born = pd.to_datetime(people.loc[registered["child_cccd"], "birth_date"]).to_numpy()
    delay = (pd.to_datetime(registered["delivered_on"]).to_numpy() - born).astype("timedelta64[D]")
    late = float((delay.astype(int) > 60).mean())
    facility = len(pd.read_parquet(raw / "health" / "births.parquet")) / len(births)
    antenatal = len(pd.read_parquet(raw / "health" / "pregnancies.parquet")) / len(births)
    print(
        f"births {len(births):,}; registered after 60 days {late:.1%}; "
        f"without a facility record {1 - facility:.1%}; antenatal records per birth {antenatal:.2f}"
    )


if __name__ == "__main__":
    main()
