"""The consistency report finds the twin's injected errors and corrects nothing."""

import datetime as dt

import pandas as pd
import pytest

from needs_model.linking.consistency import (
    TYPES,
    consistency_report,
    unlinked_reasons,
    write_report,
)
from needs_model.linking.link import link
from needs_model.twin.quality import detection_quality


@pytest.fixture(scope="module")
def report_2024(province):
    _, raw = province
    as_of = dt.date(2024, 6, 30)
    links = link(raw, as_of)
    return links, consistency_report(links, raw, as_of), raw, as_of


def test_detection_meets_the_targets(report_2024):
    _, report, raw, as_of = report_2024
    quality = detection_quality(raw, report, as_of)
    assert quality.by_type["live"].sum() > 300
    assert quality.precision >= 0.95, quality
    assert quality.recall >= 0.95, quality.by_type


def test_both_values_are_kept_and_the_registry_wins_for_identity(report_2024):
    links, report, _, _ = report_2024
    dates = report[report["type"] == "birth_date"]
    assert len(dates) > 0
    assert (dates["value_a"] != dates["value_b"]).all()
    people = links.registry.people.set_index("cccd")
    registry_dates = people.loc[dates["cccd"], "birth_date"].dt.date.astype(str).to_numpy()
    assert (dates["value_a"].to_numpy() == registry_dates).all()
    assert set(report["type"]) <= set(TYPES)


def test_report_files(report_2024, tmp_path):
    _, report, _, as_of = report_2024
    write_report(report, tmp_path, as_of)
    assert len(pd.read_parquet(tmp_path / "consistency.parquet")) == len(report)
    text = (tmp_path / "consistency.md").read_text(encoding="utf-8")
    assert "## By commune" in text and "birth_date" in text
    assert "## Unlinked records by reason" in text
    assert "<table" in (tmp_path / "consistency.html").read_text(encoding="utf-8")


def test_unlinked_records_are_counted_per_reason():
    report = pd.DataFrame(
        {
            "type": ["unlinked_record"] * 4 + ["name"],
            "note": [
                "ambiguous_namesakes",
                "unknown_cccd+unmatched",
                "unmatched",
                "ambiguous_namesakes",
                "spelling",
            ],
        }
    )
    counts = unlinked_reasons(report).set_index(["reason", "cccd"])["records"]
    assert counts.to_dict() == {
        ("ambiguous_namesakes", "none"): 2,
        ("unmatched", "unknown_cccd"): 1,
        ("unmatched", "none"): 1,
    }
    assert unlinked_reasons(report)["meaning"].notna().all()
