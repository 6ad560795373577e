"""A data sheet per agency extract: the contract's columns, the lag and coverage measured on
the extract, the validation quarantine and the consistency figures; an unknown table is
named as such."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from needs_model.extracts import contract
from needs_model.reports.data_sheet import find_table, render_data_sheet, sheet_data


def _births(folder, recorded_after_days: list[int]) -> None:
    """A births extract whose rows were recorded these many days after the birth."""
    born = dt.date(2025, 3, 1)
    rows = pd.DataFrame(
        {
            "record_id": [f"B{i}" for i in range(len(recorded_after_days))],
            "mother_cccd": [None] * len(recorded_after_days),
            "child_birth_date": [born] * len(recorded_after_days),
            "recorded_at": [born + dt.timedelta(days=d) for d in recorded_after_days],
            "commune_code": ["20333", "20333", "20334", "20335"][: len(recorded_after_days)],
        }
    )
    (folder / "health").mkdir(parents=True)
    rows.to_parquet(folder / "health" / "births.parquet", index=False)


def test_lag_and_coverage_are_measured_on_the_extract(tmp_path):
    raw = tmp_path / "raw"
    _births(raw, [0, 10, 20, 30])
    data = sheet_data(find_table("health/births"), raw, tmp_path / "linked", tmp_path / "reports")
    assert data["coverage"] == {
        "rows": 4,
        "first": "2025-03-01",
        "last": "2025-03-31",
        "communes": 3,
    }
    (span, median, p90, p99) = data["lag"][0]
    assert span == "child_birth_date → recorded_at"
    assert median == 15.0 and p90 == pytest.approx(27.0) and p99 == pytest.approx(29.7)
    assert data["cccd_missing"] == {"mother_cccd": 1.0}


def test_the_quarantine_and_the_consistency_report_are_counted_for_the_table(tmp_path):
    raw = tmp_path / "raw"
    _births(raw, [1, 2])
    validation = tmp_path / "raw_validation"
    validation.mkdir()
    (validation / "report.json").write_text(
        json.dumps(
            [
                {
                    "table": "registry/people",
                    "rows": 9,
                    "valid": 9,
                    "quarantined": 0,
                    "reasons": {},
                },
                {
                    "table": "health/births",
                    "rows": 7,
                    "valid": 5,
                    "quarantined": 2,
                    "reasons": {"child_birth_date after recorded_at": 2},
                },
            ]
        )
    )
    linked = tmp_path / "linked" / "2025-06-30"
    linked.mkdir(parents=True)
    pd.DataFrame(
        {
            "type": ["birth_date", "birth_date", "address", "address"],
            "agency_a": ["registry/people"] * 4,
            "agency_b": ["health/births", "health/births", "health/births", "education/enrolments"],
        }
    ).to_parquet(linked / "consistency.parquet")
    data = sheet_data(find_table("health/births"), raw, tmp_path / "linked", tmp_path / "reports")
    assert data["validation"]["quarantined"] == 2
    assert data["consistency"] == {
        "as_of": "2025-06-30",
        "by_type": {"address": 1, "birth_date": 2},
    }
    html = render_data_sheet(data)
    assert "child_birth_date after recorded_at" in html
    for column in contract.table("health", "births").columns:
        assert f"<td>{column.name}</td>" in html


def test_a_missing_extract_is_said_not_guessed(tmp_path):
    data = sheet_data(find_table("registry__people"), tmp_path, tmp_path, tmp_path)
    assert "coverage" not in data
    html = render_data_sheet(data)
    assert "This extract is not present." in html
    assert "Not validated yet" in html and "Not linked yet" in html


def test_an_unknown_table_is_named_with_the_known_ones():
    with pytest.raises(KeyError, match="unknown table 'health/x'; known: registry/people"):
        find_table("health/x")


def test_the_province_registry_sheet_is_complete(province):
    _, raw = province
    data = sheet_data(find_table("registry/people"), raw, raw / "none", raw / "none")
    people = pd.read_parquet(raw / "registry" / "people.parquet", columns=["recorded_at"])
    assert data["coverage"]["rows"] == len(people)
    assert [lag[0] for lag in data["lag"]] == ["event_date → recorded_at"]
    assert "registry/people" in render_data_sheet(data)
