import numpy as np
import pandas as pd
import pytest

from needs_model.reference import cccd


def test_compose_follows_the_published_layout():
    numbers = cccd.to_string(
        cccd.compose(
            np.array([49, 48]), np.array([1990, 2005]), np.array([1, 0]), np.array([123456, 42])
        )
    )
    assert list(numbers) == ["049190123456", "048205000042"]


@pytest.mark.parametrize(
    ("number", "reason_part"),
    [
        ("04919012345", "12 digits"),
        ("04919012345a", "12 digits"),
        ("050190123456", "province"),
        (49190123456, "string"),
    ],
)
def test_malformed_numbers_are_explained(number, reason_part):
    assert reason_part in cccd.explain_invalid(number)


def test_birth_year_and_sex_must_agree():
    assert cccd.is_valid("049190123456", birth_year=1990, sex=cccd.FEMALE)
    assert "birth year" in cccd.explain_invalid("049190123456", birth_year=1991)
    assert "sex" in cccd.explain_invalid("049190123456", sex=cccd.MALE)
    assert cccd.is_valid("049305123456", birth_year=2005, sex=cccd.FEMALE)


def test_vectorised_reasons_match_the_scalar_validator():
    numbers = pd.Series(["049190123456", "050190123456", None, "12", "049205000001"])
    births = pd.Series(pd.to_datetime(["1990-05-01", "1990-05-01", None, None, "2004-01-01"]))
    sexes = pd.Series(["female", "female", None, None, "male"])
    reasons = cccd.invalid_reasons(numbers, births, sexes)
    assert reasons.isna().tolist() == [True, False, True, False, False]
    assert "birth year" in reasons[4]


def test_issuer_never_repeats_a_number():
    issuer = cccd.CccdIssuer()
    rng = np.random.default_rng(0)
    # 30,000 women born in one year share one 6-digit space: collisions must be redrawn.
    first = issuer.issue(np.full(30_000, 49), np.full(30_000, 1990), np.ones(30_000, int), rng)
    second = issuer.issue(np.full(30_000, 49), np.full(30_000, 1990), np.ones(30_000, int), rng)
    both = np.concatenate([first, second])
    assert len(np.unique(both)) == len(both)
    assert all(cccd.is_valid(s, 1990, 1) for s in cccd.to_string(both[:100]))
