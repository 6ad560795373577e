"""The README's calibration table from a simulated province's `calibration.json`.

Usage: python bench/calibration_table.py [--raw data/raw]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def shown(value: float, share: bool) -> str:
    if share:
        return f"{value:.1%}"
    if abs(value) >= 1_000:
        return f"{value:,.0f}"
    return f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    args = parser.parse_args()
    rows = json.loads((args.raw / "calibration.json").read_text(encoding="utf-8"))
    print("| measure | simulated | published | tolerance | within | source |")
    print("|---|---:|---:|---:|---|---|")
    for r in rows:
        share = r["published"] is not None and 0 < r["published"] < 1  # a share of people
        published = "n/a" if r["published"] is None else shown(r["published"], share)
        tolerance = "" if r["tolerance"] is None else shown(r["tolerance"], share)
        within = "✓" if r["within_tolerance"] else "**outside**"
        if r["known_departure"]:
            within += f" (known: {r['known_departure']})"
        print(
            f"| {r['measure']} | {shown(r['simulated'], share)} | {published} | {tolerance} "
            f"| {within} | {r['source']} |"
        )


if __name__ == "__main__":
    main()
