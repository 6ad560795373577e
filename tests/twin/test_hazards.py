"""The hazard functions the simulator draws from and the oracle integrates, on inline values."""

import numpy as np
import pytest

from needs_model.twin.hazards import (
    cme_course_probability,
    cme_requirement_hazards,
    first_event_with_requirement,
    first_event_within,
    refresher_course_probability,
)
from needs_model.twin.params import CmeCourseParameters, RefresherCourseParameters


def _reference(
    met: np.ndarray, missing: np.ndarray, requirement: np.ndarray, exits: np.ndarray, met0: bool
) -> float:
    """P(event) for one subject by recursion over (month, requirement met), in the order the
    simulator draws: the exit, then the event, then (still waiting) the requirement."""

    def from_month(month: int, has_requirement: bool) -> float:
        if month == len(met):
            return 0.0
        stay = 1 - exits[month]
        hazard = met[month] if has_requirement else missing[month]
        after = stay * (1 - hazard)
        if has_requirement:
            later = from_month(month + 1, True)
        else:
            later = requirement[month] * from_month(month + 1, True) + (
                1 - requirement[month]
            ) * from_month(month + 1, False)
        return stay * hazard + after * later

    return from_month(0, met0)


def test_the_requirement_chain_matches_a_recursion_over_paths():
    rng = np.random.default_rng(4)
    n, months = 40, 5
    met = rng.uniform(0, 0.5, (n, months))
    missing = met * rng.uniform(0, 1, (n, months))
    requirement = rng.uniform(0, 0.3, (n, months))
    exits = rng.uniform(0, 0.1, (n, months))
    met0 = rng.random(n) < 0.4
    got = first_event_with_requirement(met, missing, requirement, exits, met0)
    want = [
        _reference(met[i], missing[i], requirement[i], exits[i], bool(met0[i])) for i in range(n)
    ]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_the_requirement_chain_on_a_hand_worked_case():
    # Month 1: no exit; event 0.1 without the requirement, then the course with 0.5.
    # Month 2: event 0.8 with it, 0.1 without. 0.1 + 0.9*0.5*0.8 + 0.9*0.5*0.1 = 0.505
    got = first_event_with_requirement(
        np.array([[0.8, 0.8]]),
        np.array([[0.1, 0.1]]),
        np.array([[0.5, 0.5]]),
        np.zeros((1, 2)),
        np.array([False]),
    )
    assert got[0] == pytest.approx(0.505)


def test_a_requirement_that_makes_no_difference_gives_the_plain_first_event():
    rng = np.random.default_rng(5)
    hazards, exits = rng.uniform(0, 0.4, (30, 6)), rng.uniform(0, 0.05, (30, 6))
    requirement = rng.uniform(0, 1, (30, 6))
    np.testing.assert_allclose(
        first_event_with_requirement(hazards, hazards, requirement, exits, np.zeros(30, bool)),
        first_event_within(hazards, exits),
        rtol=1e-12,
    )


def test_the_refresher_course_is_not_taken_in_the_first_year_and_rises_towards_expiry():
    p = RefresherCourseParameters()
    months_to_expiry = np.arange(60, -4, -1)
    course = refresher_course_probability(months_to_expiry, p)
    assert (course[months_to_expiry > 48] == 0).all()
    assert (course[months_to_expiry <= 48] > 0).all()
    assert (np.diff(course) >= 0).all()  # never falls as expiry approaches
    assert course[months_to_expiry == 0][0] > course[months_to_expiry == 36][0]


def test_cme_hours_reach_the_requirement_on_a_hand_worked_case():
    """112 of 120 hours, a course with 1/2 a month: a 4-hour course (1/4 of courses) leaves 4
    short, any longer one meets it. Month 1: 1/2 x 3/4 = 0.375. Month 2, given not met: from 8
    short (mass 1/2) 0.375, from 4 short (mass 1/8) 1/2: (0.1875 + 0.0625) / 0.625 = 0.4."""
    p = CmeCourseParameters()
    got = cme_requirement_hazards(np.array([112, 120]), np.array([0.5, 0.5]), 120, p, 2)
    np.testing.assert_allclose(got[0], [0.375, 0.4])
    np.testing.assert_allclose(got[1], [1.0, 1.0])


def test_cme_hazards_match_the_course_process_drawn_month_by_month():
    p = CmeCourseParameters()
    rng = np.random.default_rng(3)
    n, months = 200_000, 8
    start = np.full(n, 96)
    course = cme_course_probability(np.full(n, 3.0), p)
    lengths = np.array([h for h, _ in p.hours])
    hours = start.copy()
    first = np.full(n, -1)
    for month in range(months):
        done = rng.random(n) < course
        hours[done] += lengths[rng.choice(len(lengths), done.sum(), p=[s for _, s in p.hours])]
        first[(first < 0) & (hours >= 120)] = month
    hazard = cme_requirement_hazards(np.array([96]), course[:1], 120, p, months)[0]
    met_by = 1 - np.cumprod(1 - hazard)
    simulated = np.array([(first >= 0) & (first <= m) for m in range(months)]).mean(axis=1)
    np.testing.assert_allclose(met_by, simulated, atol=0.005)
    assert simulated[-1] > 0.2  # the horizon sees the requirement met often enough to test
