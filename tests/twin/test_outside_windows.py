"""Events outside the fixed windows (births outside 15-49, grade-1 entry after 9) and a yearly
take-up factor the oracle knows once drawn and integrates over before."""

from __future__ import annotations

import copy

import numpy as np

from needs_model.twin import hazards, oracle
from needs_model.twin.demography import school_entry_probability
from needs_model.twin.params import DemographyParameters, TwinParameters
from needs_model.twin.simulate import SimulationSpec, run


def test_conception_is_rare_but_possible_outside_15_to_49():
    d = DemographyParameters()
    ages = np.array([12, 13, 14, 16, 47, 50, 51, 52])
    prob = hazards.conception_probability(
        ages,
        married=np.ones(8, bool),
        parity=np.zeros(8, int),
        urban=np.zeros(8, bool),
        mountain=np.zeros(8, bool),
        p=d,
    )
    by_age = dict(zip(ages.tolist(), prob, strict=True))
    assert by_age[12] == 0 and by_age[52] == 0
    assert 0 < by_age[13] == by_age[14] < 0.2 * by_age[16]
    assert 0 < by_age[50] == by_age[51] < 0.5 * by_age[47]


def test_grade_one_entry_after_nine_is_possible_and_never_at_five(province):
    world, _ = province
    children = np.arange(200)
    born = world.people["birth_ym"][children] // 12
    for age, possible in ((5, False), (6, True), (9, True), (10, True), (11, True), (12, False)):
        prob = _entry_at(world, children, born + age)
        assert (prob > 0).all() if possible else (prob == 0).all(), age
    late, usual = _entry_at(world, children, born + 10), _entry_at(world, children, born + 6)
    assert (late < 0.5 * usual).all()


def _entry_at(world, children: np.ndarray, round_year: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [
            school_entry_probability(world, children[i : i + 1], int(round_year[i]))
            for i in range(len(children))
        ]
    )


def test_the_oracle_covers_every_woman_with_a_pregnancy_or_an_unregistered_child(province):
    """Two pregnant women made 14 and 50 (a copy of the province) are at risk all the same."""
    world = copy.deepcopy(province[0])
    p = world.people
    here = p["alive"] & p["present"] & p["registered"] & (p["sex"] == 1)
    pregnant = np.flatnonzero(here & (p["gestation"] >= 0))
    young, old = pregnant[:2]
    p["birth_ym"][young] = world.ym - 14 * 12 - 3
    p["birth_ym"][old] = world.ym - 50 * 12 - 3
    women, _ = oracle.birth_registration(world, 2)
    assert set(pregnant) <= set(women)


def test_the_oracle_integrates_over_a_year_whose_factor_is_not_drawn_yet():
    """At a December month end next year's take-up factor is unknown: the oracle must be the
    mean of the oracles that know it, over its distribution. This year's factor is set far
    from 1 so that an oracle reusing it for next year would be far off."""
    w = run(
        SimulationSpec(people=4_000, seed=8, start="2021-01", end="2021-12"), TwinParameters(), None
    )
    year = w.ym // 12
    w.year_factors[year] = (4.0, 4.0)
    d = w.params.demography
    women, integrated = oracle.birth_registration(w, 2)
    _, school_integrated = oracle.school_admission(w, 12)
    rng = np.random.default_rng(0)
    draws = [hazards.yearly_factor_draw(rng, d.birth_registration_yearly_sd) for _ in range(300)]
    known = copy.deepcopy(w)
    birth_mean = np.zeros(len(women))
    school_mean = np.zeros(len(school_integrated))
    for factor in draws:
        known.year_factors[year + 1] = (factor, factor)
        birth_mean += oracle.birth_registration(known, 2)[1] / len(draws)
        school_mean += oracle.school_admission(known, 12)[1] / len(draws)
    at_risk = integrated > 0.05
    assert at_risk.sum() > 10 and (school_integrated > 0.05).sum() > 20
    assert np.abs(integrated - birth_mean).max() < 0.01
    assert np.abs(school_integrated - school_mean).max() < 0.01
    # Once drawn, the year's factor is used: a very low one lowers the oracle.
    known.year_factors[year + 1] = (0.05, 0.05)
    assert (oracle.birth_registration(known, 2)[1][at_risk] < integrated[at_risk]).all()
