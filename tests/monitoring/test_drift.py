"""Evidently's drift on a service's columns: the tests chosen per type flag a real shift,
stay quiet on two samples of one population, and the page loads nothing from outside."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from needs_model.catalogue.features import features_for
from needs_model.monitoring import drift

SERVICE = "birth_registration"
FEATURES = features_for(SERVICE)


def _rows(n: int, seed: int, age_shift: float = 0.0, married: float = 0.6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({f: rng.normal(10, 3, n) for f in FEATURES})
    frame["age_years"] = rng.normal(30 + age_shift, 8, n)
    frame["is_married"] = (rng.random(n) < married).astype(float)
    for column in drift.categorical_features(FEATURES):
        if column != "is_married":
            frame[column] = rng.integers(0, 2, n).astype(float)
    frame.loc[rng.random(n) < 0.1, "days_to_expected_due_date"] = np.nan
    return frame


def _run(reference: pd.DataFrame, current: pd.DataFrame, p_shift: float = 0.0):
    rng = np.random.default_rng(9)
    ref = drift.scored_columns(reference, FEATURES, rng.beta(1, 20, len(reference)))
    cur = drift.scored_columns(current, FEATURES, rng.beta(1 + p_shift, 20, len(current)))
    snapshot, empty = drift.evidently_report(ref, cur, FEATURES)
    return snapshot, drift.summarise(snapshot, ref, cur, FEATURES), empty


@pytest.fixture(scope="module")
def same():
    return _run(_rows(5000, 1), _rows(5000, 2))


def test_two_samples_of_one_population_do_not_drift(same):
    _, summary, empty = same
    assert empty == []
    assert not [f["column"] for f in summary["features"] if f["drifted"]]
    assert summary["drifted_share"] == 0.0
    assert not any(b["drifted"] for b in summary["prediction"].values())


def test_each_type_gets_its_stated_test(same):
    _, summary, _ = same
    methods = {f["column"]: f["method"] for f in summary["features"]}
    assert methods["age_years"] == "wasserstein"
    assert methods["is_married"] == "jensenshannon"
    assert summary["prediction"]["probability"]["method"] == "psi"
    assert summary["prediction"]["band"]["method"] == "jensenshannon"


def test_a_shift_of_half_a_standard_deviation_is_flagged_on_that_feature_alone():
    _, summary, _ = _run(_rows(5000, 1), _rows(5000, 2, age_shift=4.0, married=0.3))
    drifted = {f["column"] for f in summary["features"] if f["drifted"]}
    assert drifted == {"age_years", "is_married"}
    age = next(f for f in summary["features"] if f["column"] == "age_years")
    assert 0.4 < age["score"] < 0.6  # 4 years on a standard deviation of 8


def test_moved_scores_are_flagged():
    _, summary, _ = _run(_rows(5000, 1), _rows(5000, 2), p_shift=2.0)
    assert summary["prediction"]["probability"]["drifted"]


def test_quality_counts_missing_values_and_values_outside_the_reference():
    current = _rows(5000, 2)
    current.loc[:999, "days_to_expected_due_date"] = np.nan
    current.loc[:249, "household_size"] = 1000.0
    _, summary, _ = _run(_rows(5000, 1), current)
    due = summary["quality"]["days_to_expected_due_date"]
    assert due["missing_share"] > 0.25 and due["reference_missing_share"] < 0.12
    # The 250 planted, and the few a second sample puts past the first one's extremes.
    assert 250 <= summary["quality"]["household_size"]["outside_reference_count"] <= 260


def test_a_column_empty_on_one_side_is_reported_not_compared():
    current = _rows(2000, 2)
    current["days_since_unregistered_birth"] = np.nan
    _, summary, empty = _run(_rows(2000, 1), current)
    assert empty == ["days_since_unregistered_birth"]
    assert "days_since_unregistered_birth" not in {f["column"] for f in summary["features"]}


def test_the_page_is_self_contained(same, tmp_path):
    snapshot, _, _ = same
    page = drift.save_html(snapshot, tmp_path / "deep" / "report.html")
    html = page.read_text(encoding="utf-8")
    assert "window.drawDashboard" in html  # the script is inside the page
    assert not re.search(r"<(script|img|iframe)[^>]+src=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", html, re.I)


def test_a_small_month_end_is_not_drift_for_being_small_but_a_large_shift_still_is():
    # 30 rows of the same population: Evidently's fixed 0.1 calls most columns drifted; past
    # a 95 % noise floor, about one column in twenty is (here 1 of 10), under the status's
    # 30 % share.
    _, summary, _ = _run(_rows(5000, 1), _rows(30, 2))
    assert sum(f["evidently_drifted"] for f in summary["features"]) >= 5
    assert sum(f["drifted"] for f in summary["features"]) <= 1
    _, summary, _ = _run(_rows(5000, 1), _rows(30, 2, age_shift=16.0))
    age = next(f for f in summary["features"] if f["column"] == "age_years")
    assert age["drifted"] and age["score"] > 4 * age["noise_floor"]


def test_a_month_is_compared_with_the_same_month_of_the_training_window_when_it_can_be():
    days = pd.date_range("2022-01-31", periods=24, freq="ME")
    reference = pd.DataFrame({"as_of": np.repeat(days, 200), "x": np.arange(24 * 200)})
    september = drift.seasonal_reference(reference, 9)
    assert set(september["as_of"].dt.month) == {9} and len(september) == 400
    # Too few rows in that month (a single September of 200): the whole window.
    assert len(drift.seasonal_reference(reference.iloc[: 12 * 200], 9)) == 12 * 200


def test_expected_demand_moves_only_beyond_the_months_of_the_reference_year():
    rng = np.random.default_rng(4)
    months = pd.Series(np.repeat(pd.to_datetime(["2024-01-31", "2024-02-29"]), 5000))
    year = pd.Series(np.concatenate([rng.beta(1, 99, 5000), rng.beta(2, 98, 5000)]))  # 1 %, 2 %
    inside = drift.expected_demand(year, months, pd.Series(rng.beta(1.5, 98.5, 5000)))
    assert inside["relative_change"] == 0.0
    above = drift.expected_demand(year, months, pd.Series(rng.beta(3, 97, 5000)))  # 3 %
    assert above["edge"] == pytest.approx(0.02, rel=0.05)
    assert above["relative_change"] == pytest.approx(0.5, abs=0.08)
    assert 0 < above["noise_floor"] < 0.2
    below = drift.expected_demand(year, months, pd.Series(rng.beta(0.5, 99.5, 5000)))  # 0.5 %
    assert below["relative_change"] == pytest.approx(-0.5, abs=0.08)


def test_a_small_reference_month_does_not_make_values_outside_its_range_a_finding():
    """Nine reference values fix a narrow range that many new values leave together: the
    chance allowance must hold that (a plain binomial at 2 / (N + 1) flags 26 of these 300)."""
    rng = np.random.default_rng(11)
    flagged = 0
    for trial in range(300):
        reference, current = rng.normal(size=9), rng.normal(size=50)
        outside = int(((current < reference.min()) | (current > reference.max())).sum())
        flagged += outside > drift.outside_by_chance(pd.Series(reference), 50, True, seed=trial)
    assert flagged <= 3, flagged


def test_a_feature_with_a_handful_of_reference_values_is_not_judged():
    reference, current = _rows(2000, 1), _rows(2000, 2)
    column = FEATURES[0]
    reference[column] = np.nan
    reference.loc[:4, column] = 7.0  # five identical values: no spread to norm by
    current[column] = current[column] + 50
    ref = drift.scored_columns(reference, FEATURES, np.full(len(reference), 0.1))
    cur = drift.scored_columns(current, FEATURES, np.full(len(current), 0.1))
    snapshot, _ = drift.evidently_report(ref, cur, FEATURES)
    entry = next(
        f
        for f in drift.summarise(snapshot, ref, cur, FEATURES)["features"]
        if f["column"] == column
    )
    assert entry["reference_values"] == 5 and not entry["drifted"]


def test_effect_size_is_cohens_d_for_a_shift_and_cohens_w_for_categories():
    from needs_model.monitoring.drift import effect_size

    rng = np.random.default_rng(0)
    before = pd.Series(rng.normal(10.0, 2.0, 20_000))
    # Shifted by one standard deviation's half: d = 0.5, whatever the sample's size.
    assert effect_size(before, before + 1.0, "wasserstein") == pytest.approx(0.5, abs=0.02)
    assert effect_size(before, before.iloc[:500] + 1.0, "wasserstein") == pytest.approx(
        0.5, abs=0.1
    )
    # Half and half becoming 80 / 20: w = sqrt(2 * 0.3**2 / 0.5) = 0.6.
    halves = pd.Series(["a", "b"] * 500)
    skewed = pd.Series(["a"] * 800 + ["b"] * 200)
    assert effect_size(halves, skewed, "jensenshannon") == pytest.approx(0.6, abs=1e-9)
    assert effect_size(halves, halves, "jensenshannon") == 0.0


def _evidently_scores(reference: pd.Series, size: int, method: str, seed: int = 0) -> list:
    """The noise floor's draws as the report's own test function scores them, pair by pair
    on pandas Series (the same random samples as `drift.noise_scores`)."""
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    values = reference.dropna().reset_index(drop=True)
    kind = ColumnType.Categorical if method == drift.CATEGORICAL_METHOD else ColumnType.Numerical
    test = get_stattest(values, values, kind, method)
    rng = np.random.default_rng(seed)
    scores = []
    for _ in range(drift.NOISE_DRAWS):
        ref = values.iloc[rng.integers(0, len(values), len(values))].reset_index(drop=True)
        cur = values.iloc[rng.integers(0, len(values), size)].reset_index(drop=True)
        scores.append(test(ref, cur, kind, drift.THRESHOLD).drift_score)
    return scores


@pytest.mark.parametrize(
    ("values", "size", "method"),
    [
        ("normal", 2000, drift.NUMERIC_METHOD),
        ("normal", 25, drift.NUMERIC_METHOD),
        ("counts", 400, drift.NUMERIC_METHOD),  # a handful of values, repeated
        ("constant", 50, drift.NUMERIC_METHOD),
        ("probability", 2000, drift.SCORE_METHOD),  # Sturges' bins over both samples
        ("probability", 30, drift.SCORE_METHOD),
        ("few probabilities", 300, drift.SCORE_METHOD),  # 20 values or fewer: each its own
        ("binary", 1000, drift.CATEGORICAL_METHOD),
        ("bands", 60, drift.CATEGORICAL_METHOD),  # strings, one of them rare
    ],
)
def test_each_noise_draw_is_evidentlys_own_distance(values, size, method):
    rng = np.random.default_rng(5)
    reference = {
        "normal": lambda: pd.Series(rng.normal(10, 3, 1500)),
        "counts": lambda: pd.Series(rng.poisson(2, 1500).astype(float)),
        "constant": lambda: pd.Series(np.full(200, 4.0)),
        "probability": lambda: pd.Series(rng.beta(1, 20, 1500)),
        "few probabilities": lambda: pd.Series(rng.choice([0.01, 0.02, 0.05, 0.3], 800)),
        "binary": lambda: pd.Series((rng.random(1500) < 0.3).astype(float)),
        "bands": lambda: pd.Series(rng.choice(["high", "medium", "low"], 500, p=[0.01, 0.2, 0.79])),
    }[values]()
    reference[reference.sample(frac=0.05, random_state=1).index] = np.nan  # dropped first
    fast = drift.noise_scores(reference, size, method)
    assert fast == pytest.approx(_evidently_scores(reference, size, method), rel=1e-9, abs=1e-12)
