import datetime as dt

import pytest

from needs_model.catalogue.legal import UnknownLegalParameterError, legal_parameter, legal_value


def test_decree_07_income_lines():
    day = dt.date(2023, 12, 31)
    assert legal_value("poverty_income_line_rural_vnd", day) == 1_500_000
    assert legal_value("poverty_income_line_urban_vnd", day) == 2_000_000
    assert legal_value("poverty_min_deprivations_for_poor", day) == 3
    assert "07/2021" in legal_parameter("poverty_income_line_rural_vnd", day).source


def test_the_next_poverty_standard_is_a_dated_entry():
    assert legal_value("poverty_income_line_rural_vnd", dt.date(2027, 6, 1)) == 2_200_000
    assert (
        legal_parameter("poverty_income_line_urban_vnd", dt.date(2027, 6, 1)).certainty
        == "uncertain"
    )


def test_service_rule_facts():
    day = dt.date(2025, 1, 1)
    assert legal_value("birth_registration_deadline_days", day) == 60
    assert legal_value("grade1_entry_age_years", day) == 6
    assert legal_value("medical_license_validity_years", day) == 5
    assert legal_value("medical_cme_hours_per_cycle", day) == 120
    assert legal_value("veterinary_certificate_validity_years", day) == 5
    assert legal_value("vehicle_badge_max_validity_years", day) == 7
    assert "158/2024" in legal_parameter("vehicle_badge_max_validity_years", day).source


def test_unknown_parameter_is_a_clear_error():
    with pytest.raises(UnknownLegalParameterError, match="no_such_rule"):
        legal_value("no_such_rule", dt.date(2024, 1, 1))


def test_decision_59_2015_has_two_lines_until_the_2021_standard():
    day = dt.date(2018, 12, 1)
    assert legal_value("poverty_income_line_rural_vnd", day) == 1_000_000
    assert legal_value("poverty_income_line_urban_vnd", day) == 1_300_000
    assert legal_value("poverty_income_floor_rural_vnd", day) == 700_000
    assert legal_value("poverty_income_floor_urban_vnd", day) == 900_000
    assert "59/2015" in legal_parameter("poverty_min_deprivations_for_poor", day).source
    with pytest.raises(UnknownLegalParameterError):
        legal_value("poverty_income_floor_rural_vnd", dt.date(2021, 12, 1))


def test_decision_09_2011_counts_income_alone():
    day = dt.date(2013, 12, 1)
    assert legal_value("poverty_income_floor_rural_vnd", day) == 400_000
    assert legal_value("poverty_income_line_rural_vnd", day) == 520_000
    assert legal_value("poverty_income_floor_urban_vnd", day) == 500_000
    assert legal_value("poverty_income_line_urban_vnd", day) == 650_000
    with pytest.raises(UnknownLegalParameterError):
        legal_value("poverty_min_deprivations_for_poor", day)
