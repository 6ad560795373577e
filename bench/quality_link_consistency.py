"""Link quality and consistency-detection quality against the twin's truth.

Usage: python bench/quality_link_consistency.py --raw data/raw [--as-of 2022-06-30 ...]
Prints one line per as-of date and writes bench/results/quality-<raw name>.json.
Targets ([features] issue): link precision >= 0.99, recall >= 0.97; detection precision
and recall >= 0.95.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from needs_model.linking.consistency import consistency_report
from needs_model.linking.link import link
from needs_model.twin.quality import detection_quality, link_quality


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--as-of", nargs="+", default=["2022-06-30", "2023-12-31", "2025-06-30"])
    args = parser.parse_args()
    results = []
    for text in args.as_of:
        as_of = dt.date.fromisoformat(text)
        links = link(args.raw, as_of)
        lq = link_quality(args.raw, links.records, links.registry.people["cccd"])
        report = consistency_report(links, args.raw, as_of)
        dq = detection_quality(args.raw, report, as_of)
        row = {
            "as_of": text,
            "records": lq.records,
            "link_precision": lq.precision,
            "link_recall": lq.recall,
            "errors_live": int(dq.by_type["live"].sum()),
            "report_rows_judged": dq.reported,
            "detection_precision": dq.precision,
            "detection_recall": dq.recall,
            "address_errors_not_observable": dq.not_observable,
            "recall_by_error_type": dict(
                zip(dq.by_type["error_type"], dq.by_type["recall"].round(4), strict=True)
            ),
        }
        results.append(row)
        print(
            f"{text}: link P={lq.precision:.4f} R={lq.recall:.4f} ({lq.records:,} records); "
            f"detection P={dq.precision:.4f} R={dq.recall:.4f} "
            f"({row['errors_live']:,} live errors, {dq.reported:,} judged rows)"
        )
    out = Path(__file__).parent / "results" / f"quality-{args.raw.name}.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
