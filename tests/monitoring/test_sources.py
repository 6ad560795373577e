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
