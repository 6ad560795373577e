"""The agencies' own tables: the 1 July 2025 reorganisation shows as a category change in
the raw data (the new province code), and nothing is reported the month before."""

from __future__ import annotations

import datetime as dt

import pandas as pd

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


def test_a_month_well_beyond_every_month_before_is_a_volume_finding():
    from needs_model.monitoring.sources import volume_findings

    steady = [60, 55, 65, 58, 62, 60, 57, 63, 61, 59, 64, 56]
    findings, counts = volume_findings(
        "registry/people", {"event=emigration": 180}, {"event=emigration": steady}
    )
    assert counts == [
        {"rows": "event=emigration", "month": 180, "reference_low": 55, "reference_high": 65}
    ]
    assert len(findings) == 1 and "more than the busiest" in findings[0], findings
    # Inside the year's range, or a fifth beyond it by chance on small counts: no finding.
    assert volume_findings("t", {"all rows": 64}, {"all rows": steady})[0] == []
    assert (
        volume_findings("t", {"all rows": 5}, {"all rows": [2, 1, 3, 2, 2, 1, 3, 2, 2, 1, 2, 3]})[0]
        == []
    )
    # A rare row type never seen in the year: a handful is not news, dozens are.
    assert volume_findings("t", {"event=lapsed": 3}, {"event=lapsed": [0] * 12})[0] == []
    assert volume_findings("t", {"event=lapsed": 40}, {"event=lapsed": [0] * 12})[0]


def test_an_agency_that_stopped_sending_rows_is_a_volume_finding():
    from needs_model.monitoring.sources import volume_findings

    findings, _ = volume_findings("health/births", {}, {"all rows": [300 + k for k in range(12)]})
    assert len(findings) == 1 and "fewer than the quietest" in findings[0], findings
    # A season (no rows most months) is not a drop: its quietest month is zero.
    seasonal = [0] * 7 + [500, 40, 0, 0, 0]
    assert volume_findings("education/enrolments", {}, {"all rows": seasonal})[0] == []


def test_households_moving_together_widen_what_chance_gives():
    from needs_model.monitoring.sources import volume_findings

    # 40 % above the busiest month: beyond chance for steady one-by-one counts (four
    # standard deviations of a Poisson count of 100), within it for counts that swing by
    # whole households month to month.
    steady = [95, 100, 98, 97, 99, 100, 96, 98, 97, 100, 99, 98]
    swinging = [40, 100, 45, 95, 50, 100, 42, 98, 47, 96, 44, 100]
    assert volume_findings("t", {"all rows": 140}, {"all rows": steady})[0]
    assert volume_findings("t", {"all rows": 140}, {"all rows": swinging})[0] == []


def test_an_emigration_wave_is_seen_in_the_registry_in_its_first_month(province, tmp_path):
    import pandas as pd

    _, raw = province
    table = contract.table("registry", "people")
    people = pd.read_parquet(raw / table.path)
    month = pd.to_datetime(people["recorded_at"]).dt.to_period("M")
    emigrations = month[(people["event"] == "emigration") & (month.dt.year == 2025)]
    last = emigrations.value_counts().idxmax()  # 2025's busiest month for emigration
    as_of = last.to_timestamp(how="end").date()
    calm = table_quality(raw, table, as_of)
    assert not any("emigration recorded" in f for f in calm["findings"]), calm["findings"]
    # The same registry with three times the month's emigrations (copies of its rows).
    leaving = people[(month == last) & (people["event"] == "emigration")]
    assert len(leaving) >= 10, len(leaving)
    (tmp_path / "registry").mkdir()
    pd.concat([people, leaving, leaving], ignore_index=True).to_parquet(
        tmp_path / table.path, index=False
    )
    wave = table_quality(tmp_path, table, as_of)
    assert any("event=emigration recorded" in f and "more than" in f for f in wave["findings"]), (
        wave["findings"]
    )
    volume = {v["rows"]: v for v in wave["volume"]}
    assert volume["event=emigration"]["month"] == 3 * len(leaving)


def _storm_lists(folder, rows: list[tuple[str, str]]) -> None:
    """welfare/storm_damage with 40 rows per (commune code, recorded month) in `rows`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = contract.table("welfare", "storm_damage")
    frame = pd.DataFrame(
        [
            {
                "record_id": f"WD{i * 40 + k + 1:09d}",
                "household_id": f"HK{i * 40 + k + 1:09d}",
                "storm_date": dt.date.fromisoformat(f"{month}-01"),
                "commune_code": code,
                "province_code": "49",
                "recorded_at": dt.date.fromisoformat(f"{month}-20"),
            }
            for i, (code, month) in enumerate(rows)
            for k in range(40)
        ]
    )
    (folder / "welfare").mkdir(parents=True)
    pq.write_table(pa.Table.from_pandas(frame, schema=table.schema), folder / table.path)


def test_a_commune_is_a_new_code_only_when_no_table_recorded_it_before(province, tmp_path):
    """A storm's damage list names the communes the storm hit: a commune the registry
    recorded in the months before is no change of codes, though the list never named it;
    a code no table knows still is."""
    import shutil

    _, raw = province
    (tmp_path / "registry").mkdir()
    shutil.copy(raw / "registry" / "people.parquet", tmp_path / "registry" / "people.parquet")
    registry = table_quality(tmp_path, contract.table("registry", "people"), dt.date(2024, 10, 31))
    assert registry["judged"] and not registry["findings"], registry
    people = pd.read_parquet(raw / "registry" / "people.parquet")
    recorded = pd.to_datetime(people["recorded_at"])
    window = people[(recorded >= "2023-10-01") & (recorded < "2024-10-01")]
    first, second = sorted(window["commune_code"].value_counts().index[:2])
    _storm_lists(tmp_path, [(first, "2023-10"), (second, "2024-10"), ("99999", "2024-10")])
    table = contract.table("welfare", "storm_damage")
    alone = table_quality(tmp_path, table, dt.date(2024, 10, 31))["findings"]
    assert any("commune_code" in f and second in f for f in alone), alone
    both = {t["table"]: t for t in source_quality(tmp_path, dt.date(2024, 10, 31))}
    findings = both["welfare/storm_damage"]["findings"]
    assert any("commune_code has 1 value(s)" in f and "99999" in f for f in findings), findings
    assert not any(second in f for f in findings), findings
