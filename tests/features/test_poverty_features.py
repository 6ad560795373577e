"""Poverty features when income is known only for households surveyed in full."""

import datetime as dt

import pandas as pd
import pytest

from needs_model.features.build import build_features
from needs_model.linking.profiles import build_profiles

AS_OF = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def poverty_features(province):
    _, raw = province
    return build_features(build_profiles(raw, AS_OF), "poor_household_confirmation"), raw


def test_income_features_come_from_the_last_full_survey_on_record(poverty_features):
    frame, raw = poverty_features
    surveys = pd.read_parquet(raw / "welfare/household_surveys.parquet")
    surveys = surveys[pd.to_datetime(surveys["recorded_at"]) <= pd.Timestamp(AS_OF)]
    full = surveys.dropna(subset=["per_capita_income_vnd"]).sort_values(
        ["survey_year", "recorded_at"]
    )
    last_full = full.groupby("household_id").tail(1).set_index("household_id")
    frame = frame.set_index("household_id")
    known = frame.index.isin(last_full.index)
    # Most resident households were never surveyed in full: their income is unknown.
    assert 0.05 < known.mean() < 0.5, known.mean()
    assert frame.loc[~known, "last_income_to_line_ratio"].isna().all()
    assert frame.loc[~known, "months_since_last_full_survey"].isna().all()
    assert frame.loc[~known, "last_deprivation_count"].isna().all()
    ratio = frame.loc[known, "last_income_to_line_ratio"]
    income = last_full.loc[ratio.index, "per_capita_income_vnd"].astype(float)
    line = income / ratio  # the line of the next review: 1.5M rural or 2.0M urban
    assert set(line.round(-3).unique()) <= {1_500_000.0, 2_000_000.0}
    months = frame.loc[known, "months_since_last_full_survey"]
    expected = (
        pd.Timestamp(AS_OF) - pd.to_datetime(last_full.loc[months.index, "survey_date"])
    ).dt.days / 30.4375
    assert (months - expected).abs().max() < 1e-9
    # Households that entered a review but were screened out still have their score.
    reviewed = frame.index.isin(surveys["household_id"])
    assert frame.loc[reviewed, "last_scorecard_points"].notna().all()
    assert frame.loc[~reviewed, "last_scorecard_points"].isna().all()
    assert (reviewed & ~known).sum() > 50
