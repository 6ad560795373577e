"""A small province with many licence holders, for the checks that need their events."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from needs_model.twin.params import TwinParameters
from needs_model.twin.province import simulate_province
from needs_model.twin.simulate import SimulationSpec
from needs_model.twin.world import World

# Holders per 10,000 people: the province has 30 doctors, 10 tour guides and 2.5 vets; a
# province of a few thousand people needs many more for their renewals and courses to count.
RAISED_DENSITY = 300.0


def many_licence_holders(
    density: float = RAISED_DENSITY, businesses_per_10k: float | None = None
) -> TwinParameters:
    """The twin's parameters with every licensed profession at `density` holders per 10,000
    people (and transport businesses at `businesses_per_10k`, if given); nothing else
    changed: the same hazards, only more subjects."""
    careers = TwinParameters().careers
    careers = replace(
        careers,
        medical=replace(careers.medical, holders_per_10k=density),
        tour_guide=replace(careers.tour_guide, holders_per_10k=density),
        veterinary=replace(careers.veterinary, holders_per_10k=density),
    )
    if businesses_per_10k is not None:
        careers = replace(careers, transport_businesses_per_10k=businesses_per_10k)
    return TwinParameters(careers=careers)


@pytest.fixture(scope="session")
def licence_province(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """6,000 people over the whole default period, about 180 holders of each licence."""
    out = tmp_path_factory.mktemp("licence-province")
    spec = SimulationSpec(people=6_000, seed=13, start="2021-01", end="2025-12")
    return simulate_province(spec, out, many_licence_holders()).world, out
