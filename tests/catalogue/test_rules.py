import datetime as dt

import pandas as pd

from needs_model.catalogue import rules
from needs_model.catalogue.services import SERVICE_IDS


def test_every_service_has_a_trigger_with_legal_basis_and_parameter_versions():
    assert set(rules.TRIGGERS) == set(SERVICE_IDS)
    for trigger in rules.TRIGGERS.values():
        versions = trigger.parameter_versions(dt.date(2024, 6, 30))
        assert trigger.legal_basis and versions
        assert all("from" in v for v in versions.values())


def test_turns_six_follows_the_calendar_year_rule():
    ages = pd.Series([5, 6, 7, None])
    assert rules.turns_six(ages, dt.date(2024, 6, 30)).tolist() == [False, True, False, False]


def test_licence_window_and_grace():
    days = pd.Series([400, 180, 0, -90, -91, None])
    assert rules.licence_expiring(days, dt.date(2024, 6, 30)).tolist() == [
        False,
        True,
        True,
        True,
        False,
        False,
    ]


def test_poverty_line_is_dated_and_seen_only_once_announced():
    urban = pd.Series([False, True])
    known = dt.date(2026, 6, 30)
    assert rules.income_line_vnd(urban, dt.date(2025, 12, 1), known).tolist() == [
        1_500_000,
        2_000_000,
    ]
    # The 2027-2030 standard (FACTS.md) raises the line: the same income can fall below it.
    assert rules.income_line_vnd(urban, dt.date(2027, 12, 1), known).tolist() == [
        2_200_000,
        2_800_000,
    ]
    # Before its announcement, the line of the 2027 review is taken to be the current one.
    before = dt.date(2025, 6, 30)
    assert rules.income_line_vnd(urban, dt.date(2027, 12, 1), before).tolist() == [
        1_500_000,
        2_000_000,
    ]


def test_birth_due_counts_due_dates_and_unregistered_births():
    due = pd.Series([30.0, 200.0, None, -30.0])
    unregistered = pd.Series([None, None, 20.0, None])
    assert rules.birth_due(due, unregistered, 61, dt.date(2024, 6, 30)).tolist() == [
        True,
        False,
        True,
        True,
    ]
