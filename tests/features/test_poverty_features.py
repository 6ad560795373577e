"""Poverty features when income is known only for households surveyed in full."""

import datetime as dt

import pandas as pd
import pytest

from needs_model.features.build import build_features
from needs_model.linking.profiles import build_profiles
from needs_model.reference.geography import quang_nam_communes

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


def test_storm_features_read_the_lists_recorded_in_the_last_12_months(poverty_features):
    """A household's own listing and its commune's (in 2025 units, whichever code the list
    was written in), from lists recorded by the as-of date for storms in the 12 months
    before it."""
    frame, raw = poverty_features
    lists = pd.read_parquet(raw / "welfare/storm_damage.parquet")
    recorded = pd.to_datetime(lists["recorded_at"]) <= pd.Timestamp(AS_OF)
    recent = pd.to_datetime(lists["storm_date"]) > pd.Timestamp(AS_OF) - pd.DateOffset(years=1)
    known = lists[recorded & recent]
    assert len(known) > 20, len(known)
    listed = frame["household_id"].isin(known["household_id"])
    assert frame["storm_damage_12m"].tolist() == listed.astype(int).tolist()
    assert 0 < listed.mean() < 0.5
    communes = quang_nam_communes()
    to_2025 = dict(zip(communes["commune_code"], communes["commune_code_2025"], strict=True))
    hit = {
        to_2025[code] if province == "49" else code
        for code, province in zip(known["commune_code"], known["province_code"], strict=True)
    }
    households = pd.read_parquet(raw / "registry/households.parquet")
    households = households[pd.to_datetime(households["recorded_at"]) <= pd.Timestamp(AS_OF)]
    latest = households.sort_values(["event_date", "recorded_at"]).groupby("household_id").tail(1)
    commune = frame["household_id"].map(latest.set_index("household_id")["commune_code"])
    expected = commune.map(lambda c: to_2025.get(c, c)).isin(hit)
    assert frame["commune_storm_12m"].tolist() == expected.astype(int).tolist()
    # A listed household's commune was hit, unless it has moved since.
    assert frame.loc[listed, "commune_storm_12m"].mean() > 0.9
    assert 0 < frame["commune_storm_12m"].mean() < 1
