"""Shared small provinces, simulated once per test session (seconds, not minutes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from needs_model.dataset import build_snapshots, month_ends
from needs_model.twin.extracts import write_extracts
from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, run
from needs_model.twin.world import World


def simulate_to(out: Path, people: int, seed: int, start: str, end: str) -> World:
    world = run(
        SimulationSpec(people=people, seed=seed, start=start, end=end),
        TwinParameters(),
        out / "truth",
    )
    write_extracts(world, out)
    return world


@pytest.fixture(scope="session")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """20,000 people over the whole default period, written as extracts."""
    out = tmp_path_factory.mktemp("province")
    return simulate_to(out, 20_000, 3, "2021-01", "2025-12"), out


@pytest.fixture(scope="session")
def snapshots(province: tuple[World, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Quarterly feature snapshots of `province`, 2021-06 to 2025-09 (training data)."""
    _, raw = province
    out = tmp_path_factory.mktemp("features")
    days = [d for d in month_ends(dt.date(2021, 4, 1), dt.date(2025, 9, 30)) if d.month % 3 == 0]
    build_snapshots(raw, days, out)
    return out


@pytest.fixture(scope="session")
def merger_province(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """A short run across the 2025-07-01 merger."""
    out = tmp_path_factory.mktemp("merger")
    return simulate_to(out, 6_000, 5, "2025-03", "2025-10"), out
