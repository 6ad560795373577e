"""A model's inputs are named from the catalogue: the service's defaults, or a data
scientist's choice among the columns its tables carry (its optional ones included)."""

from __future__ import annotations

import pytest

from needs_model.catalogue.features import (
    FEATURES,
    computed_for,
    features_for,
    model_inputs,
    optional_features,
)
from needs_model.catalogue.rules import TRIGGERS

SERVICE = "birth_registration"
OPTIONAL = "household_poor_last_review"


def test_a_model_takes_the_services_defaults_unless_told():
    assert model_inputs(SERVICE) == features_for(SERVICE)
    assert OPTIONAL not in features_for(SERVICE)


def test_an_optional_feature_is_carried_by_the_tables_and_can_be_chosen():
    assert optional_features(SERVICE) == [OPTIONAL]
    assert computed_for(SERVICE) == [*features_for(SERVICE), OPTIONAL]
    # Named in any order, returned in the tables' order: the saved feature order is stable.
    chosen = model_inputs(SERVICE, [OPTIONAL, *reversed(features_for(SERVICE))])
    assert chosen == [*features_for(SERVICE), OPTIONAL]


def test_some_defaults_can_be_dropped():
    kept = ["age_years", TRIGGERS[SERVICE].name]
    assert model_inputs(SERVICE, kept) == kept


def test_a_feature_the_tables_lack_is_refused_by_name():
    # Another service's feature is not computed for this one.
    with pytest.raises(ValueError, match="no feature days_to_expiry"):
        model_inputs(SERVICE, [TRIGGERS[SERVICE].name, "days_to_expiry"])
    with pytest.raises(ValueError, match="no feature nonsense"):
        model_inputs(SERVICE, [TRIGGERS[SERVICE].name, "nonsense"])


def test_the_rules_trigger_stays_among_the_inputs():
    with pytest.raises(ValueError, match="rule_birth_due must stay"):
        model_inputs(SERVICE, ["age_years", OPTIONAL])


def test_a_feature_named_twice_is_refused():
    with pytest.raises(ValueError, match="named twice"):
        model_inputs(SERVICE, [TRIGGERS[SERVICE].name, "age_years", "age_years"])


def test_an_optional_feature_is_never_a_default_of_the_same_service():
    for f in FEATURES:
        assert not set(f.services) & set(f.optional_for), f.name
