"""The agencies' own tables: the 1 July 2025 reorganisation shows as a category change in
the raw data (the new province code), and nothing is reported the month before."""

from __future__ import annotations

import datetime as dt

from needs_model.extracts import contract
from needs_model.monitoring.sources import source_quality, table_quality


def test_the_reorganisation_is_a_new_category_in_the_raw_tables(merger_province):
    _, raw = merger_province
    before = {t["table"]: t for t in source_quality(raw, dt.date(2025, 6, 30))}
    after = {t["table"]: t for t in source_quality(raw, dt.date(2025, 7, 31))}
    people = after["registry/people"]
    assert people["judged"], people
    assert any("province_code" in f and "(e.g. 48)" in f for f in people["findings"])
    assert not any("province_code" in f for t in before.values() for f in t["findings"])


def test_identifiers_are_not_categories(merger_province):
    _, raw = merger_province
    table = contract.table("licensing", "medical_licenses")
    findings = table_quality(raw, table, dt.date(2025, 9, 30))["findings"]
    assert not any("license_no" in f or "cccd" in f for f in findings)


def _people_with(raw, folder, rows):
    """A copy of the small province's registry whose busiest month's rows (in 2025) carry
    a new ethnicity on `rows` of them; that month's findings."""
    import pandas as pd

    folder.mkdir()
    (folder / "registry").mkdir()
    people = pd.read_parquet(raw / "registry" / "people.parquet")
    month = pd.to_datetime(people["recorded_at"]).dt.to_period("M")
    busiest = month[month.dt.year == 2025].value_counts().idxmax()
    chosen = people.index[month == busiest][:rows]
    people.loc[chosen, "ethnicity"] = "Hoa-new"
    people.to_parquet(folder / "registry" / "people.parquet", index=False)
    as_of = busiest.to_timestamp(how="end").date()
    return table_quality(folder, contract.table("registry", "people"), as_of)


def test_a_new_value_on_a_handful_of_rows_is_the_population_not_a_change_of_codes(
    province, tmp_path
):
    _, raw = province
    one = _people_with(raw, tmp_path / "one", 1)
    many = _people_with(raw, tmp_path / "many", 60)
    assert one["judged"] and one["rows"]["month"] > 100, one["rows"]
    assert not any("ethnicity" in f for f in one["findings"]), one
    assert any("ethnicity" in f and "Hoa-new" in f for f in many["findings"]), many


def test_periods_are_not_categories():
    from needs_model.monitoring.sources import _checked

    assert not _checked(
        next(
            c for c in contract.table("education", "enrolments").columns if c.name == "school_year"
        )
    )
