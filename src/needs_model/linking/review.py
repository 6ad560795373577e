"""What `needs-model link` writes for the data stewards: `<out>/<as_of>/`.

- `links.parquet`: how each agency record was linked (record id, source table, the CCCD
  it was linked to or none, the method and its score), so a steward can review the fuzzy
  and the failed links in the agency's own system by record id;
- `consistency.parquet`, `consistency.md`, `consistency.html`: the disagreements between
  agencies (`linking.consistency`).

The linked profiles themselves are not written. Every stage that needs them (features,
scoring) builds them from the extracts for its own as-of date (linking and every service's
features take a median 3.0 s on the demo province, `bench/results/features-raw.json`), so
they can never be stale or come from other extracts, and the province keeps no second
copy of its most sensitive table: every agency's records of a person joined together.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from needs_model.linking.consistency import write_report
from needs_model.linking.link import Links

LINK_COLUMNS = ("source", "record_id", "linked_cccd", "method", "score")


def review_folder(linked_dir: Path, as_of: dt.date) -> Path:
    return linked_dir / as_of.isoformat()


def write_review(links: Links, report: pd.DataFrame, out: Path, as_of: dt.date) -> None:
    """Write the link review and the consistency report into `out` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    links.records[list(LINK_COLUMNS)].to_parquet(out / "links.parquet", index=False)
    write_report(report, out, as_of)
