"""The oracle check for every service, on a province large enough for the rare ones."""

import pytest

from needs_model.catalogue.services import SERVICE_IDS
from tests.conftest import simulate_to
from tests.twin.test_oracle import check_oracle_against_outcomes


@pytest.fixture(scope="module")
def large_province(tmp_path_factory):
    out = tmp_path_factory.mktemp("large")
    return simulate_to(out, 200_000, 8, "2021-01", "2025-12"), out


@pytest.mark.slow
@pytest.mark.parametrize("service_id", SERVICE_IDS)
def test_mean_oracle_matches_realised_rate_large(large_province, service_id):
    world, raw = large_province
    check_oracle_against_outcomes(world, raw, service_id)
