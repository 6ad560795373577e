"""Measure the pipeline's outputs against the twin's truth (linkage, error detection).

Lives with the twin because it reads `truth/`; nothing in the pipeline imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd


@dataclass(frozen=True)
class LinkQuality:
    records: int
    linkable: int
    linked: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.linkable if self.linkable else 1.0


def true_cccd_of_records(raw: Path) -> pd.DataFrame:
    """(source table, record_id) -> the true person's CCCD."""
    identities = pd.read_parquet(raw / "truth" / "identities.parquet")
    people = pd.read_parquet(raw / "truth" / "people.parquet", columns=["person_id", "cccd"])
    out = identities.merge(people, on="person_id", how="left")
    return out.rename(columns={"table": "source", "cccd": "true_cccd"})


def link_quality(raw: Path, linked: pd.DataFrame, registry_cccds: pd.Series) -> LinkQuality:
    """Precision and recall of `linked` (source, record_id, linked_cccd)."""
    truth = true_cccd_of_records(raw)
    merged = linked.merge(
        truth[["source", "record_id", "true_cccd"]],
        on=["source", "record_id"],
        how="left",
        validate="one_to_one",
    )
    linkable = merged["true_cccd"].isin(set(registry_cccds))
    made = merged["linked_cccd"].notna()
    correct = made & (merged["linked_cccd"] == merged["true_cccd"])
    return LinkQuality(len(merged), int(linkable.sum()), int(made.sum()), int(correct.sum()))
