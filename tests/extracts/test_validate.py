"""Broken extracts: each file-level problem gets a clear error; bad rows are quarantined."""

import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from needs_model.extracts.validate import ContractViolation, validate_folder


@pytest.fixture
def copy_of_province(province, tmp_path) -> Path:
    _, raw = province
    target = tmp_path / "raw"
    shutil.copytree(raw, target, ignore=shutil.ignore_patterns("truth"))
    return target


def test_the_twin_passes_with_nothing_lost(province, tmp_path):
    _, raw = province
    report = validate_folder(raw, tmp_path / "report")
    for t in report.tables:
        assert t.rows == t.valid + t.quarantined
        assert t.rows == pq.read_metadata(raw / f"{t.table}.parquet").num_rows
    assert report.quarantined < 0.001 * report.rows
    assert (tmp_path / "report" / "report.md").exists()


def test_missing_table(copy_of_province, tmp_path):
    (copy_of_province / "health" / "births.parquet").unlink()
    with pytest.raises(ContractViolation, match=r"health/births: missing table"):
        validate_folder(copy_of_province, tmp_path / "report")


def test_missing_column(copy_of_province, tmp_path):
    path = copy_of_province / "education" / "enrolments.parquet"
    pq.write_table(pq.read_table(path).drop(["school_year"]), path)
    with pytest.raises(
        ContractViolation, match=r"education/enrolments: missing column 'school_year'"
    ):
        validate_folder(copy_of_province, tmp_path / "report")


def test_mistyped_column(copy_of_province, tmp_path):
    path = copy_of_province / "welfare" / "household_surveys.parquet"
    table = pq.read_table(path)
    index = table.column_names.index("survey_year")
    table = table.set_column(
        index, "survey_year", pa.array([str(x) for x in table["survey_year"].to_pylist()])
    )
    pq.write_table(table, path)
    with pytest.raises(
        ContractViolation, match=r"'survey_year' has type string, the contract says int64"
    ):
        validate_folder(copy_of_province, tmp_path / "report")


def test_unreadable_file(copy_of_province, tmp_path):
    (copy_of_province / "tourism" / "guide_cards.parquet").write_bytes(b"not a parquet file")
    with pytest.raises(ContractViolation, match=r"tourism/guide_cards: unreadable Parquet file"):
        validate_folder(copy_of_province, tmp_path / "report")


def test_every_file_problem_is_reported_at_once(copy_of_province, tmp_path):
    (copy_of_province / "health" / "births.parquet").unlink()
    (copy_of_province / "tourism" / "guide_cards.parquet").write_bytes(b"garbage")
    with pytest.raises(ContractViolation) as caught:
        validate_folder(copy_of_province, tmp_path / "report")
    assert len(caught.value.problems) == 2


def test_bad_rows_are_quarantined_with_their_reasons(copy_of_province, tmp_path):
    path = copy_of_province / "registry" / "people.parquet"
    frame = pd.read_parquet(path)
    n = len(frame)
    broken = frame.copy()
    broken.loc[0, "cccd"] = "04919012345X"  # not 12 digits
    broken.loc[1, "recorded_at"] = pd.Timestamp(broken.loc[1, "event_date"]) - pd.Timedelta(days=3)
    broken.loc[2, "record_id"] = broken.loc[3, "record_id"]  # duplicate key
    broken.loc[4, "status"] = "abroad"  # not an allowed value
    broken.loc[5, "household_id"] = None  # required
    broken["recorded_at"] = pd.to_datetime(broken["recorded_at"]).dt.date
    pq.write_table(pa.Table.from_pandas(broken, preserve_index=False), path)
    report = validate_folder(copy_of_province, tmp_path / "report")
    people = next(t for t in report.tables if t.table == "registry/people")
    assert people.rows == n and people.valid + people.quarantined == n
    quarantined = pd.read_parquet(tmp_path / "report" / "quarantine" / "registry__people.parquet")
    reasons = " | ".join(quarantined["quarantine_reason"])
    for expected in (
        "invalid CCCD in cccd",
        "recorded_at before event_date",
        "duplicate record_id",
        "status not one of",
        "missing required household_id",
    ):
        assert expected in reasons
    assert people.quarantined >= 5
    # The extract itself is untouched.
    assert len(pd.read_parquet(path)) == n


def test_a_parents_number_that_cannot_be_that_parents_is_quarantined(copy_of_province, tmp_path):
    """A parent's CCCD is checked like any CCCD (12 ASCII digits, a known province) and as a
    parent's: a mother's number encodes a woman, a father's a man, each born before the
    child, never the child's own number. Rows with valid parents (most of the twin's) pass."""
    path = copy_of_province / "registry" / "people.parquet"
    frame = pd.read_parquet(path)
    with_parents = frame[frame["mother_cccd"].notna() & frame["father_cccd"].notna()].index
    assert len(with_parents) > 1_000
    rows = with_parents[:6]
    child_cccd = frame.loc[rows[4], "cccd"]
    year = pd.Timestamp(frame.loc[rows[2], "birth_date"]).year
    century = 0 if year < 2000 else 2
    broken = frame.copy()
    broken.loc[rows[0], "mother_cccd"] = "04919012345"  # 11 digits
    broken.loc[rows[1], "father_cccd"] = "049２90123456"  # a fullwidth digit
    # A mother's number encoding a woman born the child's own year.
    broken.loc[rows[2], "mother_cccd"] = f"049{century + 1}{year % 100:02d}123456"
    broken.loc[rows[3], "mother_cccd"] = broken.loc[rows[3], "father_cccd"]  # a man's number
    broken.loc[rows[4], "father_cccd"] = child_cccd  # the child's own
    broken.loc[rows[5], "father_cccd"] = "999088123456"  # no such province
    broken["recorded_at"] = pd.to_datetime(broken["recorded_at"]).dt.date
    pq.write_table(pa.Table.from_pandas(broken, preserve_index=False), path)
    validate_folder(copy_of_province, tmp_path / "report")
    quarantined = pd.read_parquet(
        tmp_path / "report" / "quarantine" / "registry__people.parquet"
    ).set_index("record_id")["quarantine_reason"]
    expected = {
        rows[0]: "invalid CCCD in mother_cccd",
        rows[1]: "invalid CCCD in father_cccd",
        rows[2]: "mother_cccd born in or after the person's birth_date",
        rows[3]: "mother_cccd encodes a man",
        rows[4]: "father_cccd is the person's own cccd",
        rows[5]: "invalid CCCD in father_cccd",
    }
    for row, reason in expected.items():
        assert reason in quarantined[frame.loc[row, "record_id"]], (reason, row)
    others = quarantined[quarantined.index.isin(frame.loc[with_parents[6:], "record_id"])]
    # The twin's own parents are valid: no other row is quarantined for a parent.
    assert not others.str.contains("mother_cccd|father_cccd").any(), others.head()
