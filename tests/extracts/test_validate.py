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
