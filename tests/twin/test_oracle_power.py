"""How much mis-scaling the oracle check can see: the factors by which every oracle
probability could be multiplied and still pass `check_oracle_against_outcomes`.

The check compares the realised count R with the summed oracle E over the as-of dates and
accepts |R - E| <= 4 sqrt(V) + 2 (V the summed Bernoulli variance). An oracle scaled by f
(capped at 1, as a probability must be) has its own E and V; the accepted factors are those
for which the check, run on the scaled oracle, still passes. A check that is to catch a 10 %
mis-scaling must accept no factor outside (0.9, 1.1).

`accepted_scaling` restates the rule (STANDARD_ERRORS, FLOOR) to search the factors;
`observe_check` runs the check itself on a scaled oracle, and the tests at the end hold the
two to each other at the edges of the interval, on the default and licence provinces.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from needs_model.catalogue.services import SERVICE_IDS
from needs_model.twin.world import World
from tests.twin import test_oracle
from tests.twin.test_oracle import FEW_HOLDERS, LICENCE_SERVICES, check_oracle_against_outcomes

STANDARD_ERRORS = 4.0  # the rule of `check_oracle_against_outcomes`, checked against it below
FLOOR = 2.0
# Factors searched for the edges of the accepted interval (a multiplicative grid, then
# bisection between the last accepted and first rejected grid point).
FACTOR_GRID = np.concatenate(([0.0], np.geomspace(1e-3, 1e3, 200_001)))


class ScaledOracle:
    """The check's sums for an oracle with every probability multiplied by a factor and
    capped at 1: sorted once, then one search per factor."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.sorted = np.sort(np.asarray(probabilities, dtype=float))
        self.first = np.concatenate(([0.0], np.cumsum(self.sorted)))
        self.second = np.concatenate(([0.0], np.cumsum(self.sorted**2)))

    def counts(self, factors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected count and variance at each factor."""
        factors = np.asarray(factors, dtype=float)
        with np.errstate(divide="ignore"):
            uncapped = np.searchsorted(self.sorted, 1.0 / factors, side="left")  # f p < 1
        expected = factors * self.first[uncapped] + (len(self.sorted) - uncapped)
        variance = factors * self.first[uncapped] - factors**2 * self.second[uncapped]
        return expected, np.maximum(variance, 0.0)

    def accepted(self, realised: float, factors: np.ndarray) -> np.ndarray:
        """Whether the check passes at each factor."""
        expected, variance = self.counts(factors)
        return np.abs(realised - expected) <= STANDARD_ERRORS * np.sqrt(variance) + FLOOR


def accepted_scaling(realised: float, probabilities: np.ndarray) -> tuple[float, float]:
    """[lo, hi]: the factors around 1 the check accepts (the connected set containing 1).

    Raises ValueError when the unscaled oracle itself fails the check.
    """
    scaled = ScaledOracle(probabilities)

    def passes(factor: float) -> bool:
        return bool(scaled.accepted(realised, np.array([factor]))[0])

    def edge(inside: float, outside: float) -> float:
        for _ in range(60):
            middle = (inside + outside) / 2
            inside, outside = (middle, outside) if passes(middle) else (inside, middle)
        return inside

    if not passes(1.0):
        raise ValueError("the unscaled oracle fails the check: no accepted interval")
    ok = scaled.accepted(realised, FACTOR_GRID)
    one = int(np.searchsorted(FACTOR_GRID, 1.0))
    below = np.flatnonzero(~ok[:one])
    lo = 0.0 if len(below) == 0 else edge(FACTOR_GRID[below[-1] + 1], FACTOR_GRID[below[-1]])
    above = np.flatnonzero(~ok[one:]) + one
    hi = math.inf if len(above) == 0 else edge(FACTOR_GRID[above[0] - 1], FACTOR_GRID[above[0]])
    return lo, hi


@dataclass(frozen=True)
class CheckRun:
    """What `check_oracle_against_outcomes` saw (every row's probability over the as-of
    dates, the realised count) and whether it passed."""

    service_id: str
    scale: float
    passed: bool
    realised: int
    probabilities: np.ndarray

    @property
    def expected(self) -> float:
        return float(self.probabilities.sum())

    @property
    def tolerance(self) -> float:
        p = self.probabilities
        return STANDARD_ERRORS * math.sqrt(float((p * (1 - p)).sum())) + FLOOR

    def accepted_scaling(self) -> tuple[float, float]:
        return accepted_scaling(self.realised, self.probabilities)


def observe_check(world: World, raw: Path, service_id: str, scale: float = 1.0) -> CheckRun:
    """Run `check_oracle_against_outcomes` with every oracle probability it reads multiplied
    by `scale` (capped at 1); production code is untouched, only the check's view of it."""
    tables: list[pd.DataFrame] = []
    label_sets: list[set[int]] = []
    read_oracle, read_labels = test_oracle.oracle, test_oracle._labels

    def scaled_oracle(as_of: dt.date, service: str, raw_dir: Path) -> pd.DataFrame:
        table = read_oracle(as_of, service, raw_dir)
        table = table.assign(probability=np.minimum(table["probability"] * scale, 1.0))
        tables.append(table)
        return table

    def seen_labels(world_seen: World, service: str, as_of: pd.Timestamp) -> set[int]:
        labels = read_labels(world_seen, service, as_of)
        label_sets.append(labels)
        return labels

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(test_oracle, "oracle", scaled_oracle)
        patch.setattr(test_oracle, "_labels", seen_labels)
        try:
            check_oracle_against_outcomes(world, raw, service_id)
            passed = True
        except AssertionError:
            passed = False
    assert tables, service_id
    hits = [t["subject_id"].isin(labels) for t, labels in zip(tables, label_sets, strict=True)]
    realised = int(sum(h.sum() for h in hits))
    probabilities = np.concatenate([t["probability"].to_numpy(dtype=float) for t in tables])
    return CheckRun(service_id, scale, passed, realised, probabilities)


# --- the sizing, on inline values -------------------------------------------------------


def test_rare_events_interval_solves_the_rule_in_closed_form():
    """With tiny probabilities V = f E, so the edges solve |R - f E| = 4 sqrt(f E) + 2, a
    quadratic in sqrt(f)."""
    probabilities = np.full(100_000, 1e-3)  # E = 100, V = 99.9
    realised = 100
    expected = probabilities.sum()
    lo, hi = accepted_scaling(realised, probabilities)
    # E s^2 -+ 4 sqrt(E) s - (R +- 2) = 0 with s = sqrt(f): the positive root on each side.
    b = STANDARD_ERRORS * math.sqrt(expected)
    hi_root = (b + math.sqrt(b * b + 4 * expected * (realised + FLOOR))) / (2 * expected)
    lo_root = (-b + math.sqrt(b * b + 4 * expected * (realised - FLOOR))) / (2 * expected)
    assert hi == pytest.approx(hi_root**2, rel=1e-3)
    assert lo == pytest.approx(lo_root**2, rel=1e-3)


def test_more_events_narrow_the_interval():
    widths = []
    for rows in (1_000, 10_000, 100_000):
        probabilities = np.full(rows, 0.2)
        lo, hi = accepted_scaling(0.2 * rows, probabilities)
        assert lo < 1 < hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]


def test_capped_probabilities_do_not_move_past_one():
    """Certain events stay certain when scaled up: an oracle of ones, all realised, accepts
    every factor above 1 (its expected count cannot rise)."""
    rows = 500
    lo, hi = accepted_scaling(rows, np.ones(rows))
    assert hi == math.inf
    # Below 1: rows x - 2 = 4 sqrt(rows x (1 - x)) with x = 1 - f, squared into a quadratic.
    k = STANDARD_ERRORS**2
    a, b, c = rows**2 + k * rows, -(2 * FLOOR * rows + k * rows), FLOOR**2
    x = (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert lo == pytest.approx(1 - x, rel=1e-3)


def test_an_oracle_that_fails_has_no_interval():
    with pytest.raises(ValueError, match="fails"):
        accepted_scaling(200, np.full(1_000, 0.1))


def test_scaled_oracle_caps_each_probability_at_one():
    expected, variance = ScaledOracle(np.array([0.9, 0.1, 0.5])).counts(np.array([1.0, 2.0]))
    assert expected == pytest.approx([1.5, 0.2 + 1 + 1])
    assert variance == pytest.approx([0.09 + 0.25 + 0.09, 0.16 + 0 + 0])


# --- the sizing agrees with the check itself --------------------------------------------


def assert_edges_match_the_check(world: World, raw: Path, service_id: str) -> None:
    """Just inside the computed interval the real check passes; just outside it fails (so
    STANDARD_ERRORS and FLOOR are the check's rule)."""
    run = observe_check(world, raw, service_id)
    assert run.passed, (service_id, run.realised, run.expected)
    lo, hi = run.accepted_scaling()
    assert 0 < lo < 1 < hi < math.inf, (service_id, lo, hi)
    step = 1e-3
    for scale, passes in (
        (lo * (1 - step), False),
        (lo * (1 + step), True),
        (hi * (1 - step), True),
        (hi * (1 + step), False),
    ):
        assert observe_check(world, raw, service_id, scale).passed is passes, (scale, lo, hi)


@pytest.mark.parametrize("service_id", [s for s in SERVICE_IDS if s not in FEW_HOLDERS])
def test_sizing_matches_the_check_on_the_default_province(province, service_id):
    world, raw = province
    assert_edges_match_the_check(world, raw, service_id)


@pytest.mark.parametrize("service_id", LICENCE_SERVICES)
def test_sizing_matches_the_check_on_the_licence_province(licence_province, service_id):
    world, raw = licence_province
    assert_edges_match_the_check(world, raw, service_id)
