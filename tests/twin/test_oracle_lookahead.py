"""The oracle at a month end knows the state then and nothing about what comes after.

The oracle is computed inside the simulation loop, at each month end, before the next month is
drawn, so it cannot read a later draw directly. It can look ahead in two ways, each with a test:

- the state it reads holds a future decided in advance (a month drawn at issue for a course
  taken years later): `test_the_state_holds_no_month_after_its_own_but_printed_dates` scans
  the state at every month end, and `test_licence_events_are_not_decided_before_their_month`
  forks the twin into two futures and checks they disagree on when those events happen;
- the oracle is computed from a later state (after the loop, say), or something drawn before
  the as-of month depends on how long the run goes on:
  `test_the_oracle_at_a_month_end_does_not_depend_on_when_the_run_ends`.
"""

import copy
import dataclasses

import numpy as np
import pandas as pd

from needs_model.catalogue.services import SERVICE_IDS
from needs_model.twin.oracle import ORACLE_DIR
from needs_model.twin.simulate import SimulationSpec, new_world, step_month
from needs_model.twin.state import Columns
from needs_model.twin.world import World
from tests.conftest import simulate_to
from tests.twin.conftest import many_licence_holders

# Months after the as-of month the state may hold: dates printed on a document when it was
# issued, known to its holder and to the agency from then on.
PRINTED_DATES = {
    ("licences", "expiry_ym"): "the licence's or card's expiry date",
    ("vehicles", "badge_expiry_ym"): "the badge's expiry date",
    ("vehicles", "end_ym"): "the end of the vehicle's service life, set by its year of make",
}


def month_columns(w: World) -> list[tuple[str, str]]:
    """(entity table, column) of every month-valued column of the twin's state."""
    tables = [f.name for f in dataclasses.fields(w) if isinstance(getattr(w, f.name), Columns)]
    return [(t, c) for t in tables for c in getattr(w, t).names if c.endswith("_ym")]


def test_the_state_holds_no_month_after_its_own_but_printed_dates():
    spec = SimulationSpec(people=3_000, seed=29, start="2021-01", end="2022-12")
    w = new_world(spec, many_licence_holders())
    scanned = [c for c in month_columns(w) if c not in PRINTED_DATES]
    # The scan sees the columns the oracle reads about people, households and licences.
    assert {("licences", "requirement_ym"), ("people", "conception_ym")} <= set(scanned)
    assert set(PRINTED_DATES) <= set(month_columns(w))
    ahead_of_printed = 0
    for ym in range(spec.start_ym, spec.end_ym + 1):
        w.ym = ym
        step_month(w, spec.people)
        for table, column in scanned:
            values = getattr(w, table)[column]
            assert (values <= ym).all(), (table, column, ym, int(values.max()) - ym)
        ahead_of_printed += sum(int((getattr(w, t)[c] > ym).sum()) for t, c in PRINTED_DATES)
    assert ahead_of_printed > 0  # the printed dates do lie ahead: the scan would see a month


def _future(w: World, people: int, months: int, seed: int) -> dict[str, set[tuple[int, int]]]:
    """(licence, month) of the refresher courses and renewals in the next `months` months of a
    copy of `w` driven by its own random stream."""
    fork = copy.deepcopy(w)
    fork.rng = np.random.default_rng(seed)
    fork.streams = {}  # every process's own stream re-seeded from the fork's seed
    start = {t: len(fork.log.frame(t)["licence"]) for t in ("refresher_courses", "licences")}
    for k in range(1, months + 1):
        fork.ym = w.ym + k
        step_month(fork, people)
    courses = fork.log.frame("refresher_courses")
    licences = fork.log.frame("licences")

    def keyed(frame: dict[str, np.ndarray], date: str, rows: np.ndarray) -> set[tuple[int, int]]:
        month = frame[date][rows].astype("datetime64[M]").astype(int)
        return set(zip(frame["licence"][rows].tolist(), month.tolist(), strict=True))

    new_courses = np.arange(start["refresher_courses"], len(courses["licence"]))
    new_licence_rows = np.arange(start["licences"], len(licences["licence"]))
    renewed = new_licence_rows[licences["event"][new_licence_rows] == "renewed"]
    return {
        "refresher course": keyed(courses, "course_date", new_courses),
        "renewal": keyed(licences, "event_date", renewed),
    }


def test_licence_events_are_not_decided_before_their_month():
    """Two futures of the same state at a month end, with independent random streams: a
    course or renewal drawn month by month falls in the same month in both futures only by
    chance (a few per cent); a month drawn in advance would make them agree."""
    spec = SimulationSpec(people=8_000, seed=31, start="2021-01", end="2022-12")
    w = new_world(spec, many_licence_holders())
    for ym in range(spec.start_ym, spec.end_ym + 1):
        w.ym = ym
        step_month(w, spec.people)
    one, other = _future(w, spec.people, 18, 1), _future(w, spec.people, 18, 2)
    for event, happened in one.items():
        assert len(happened) >= 30, (event, len(happened))
        same_month = len(happened & other[event]) / len(happened)
        assert same_month < 0.5, (event, same_month)


def test_the_oracle_at_a_month_end_does_not_depend_on_when_the_run_ends(tmp_path):
    """The same province run to 2022-06 and to 2022-12: identical oracle rows up to 2022-06.
    This holds only if the random stream up to 2022-06 is the same in both runs, which the
    event logs confirm (the longer run's log starts with the shorter run's)."""
    short = simulate_to(tmp_path / "short", 3_000, 23, "2021-01", "2022-06")
    long = simulate_to(tmp_path / "long", 3_000, 23, "2021-01", "2022-12")
    for table in short.log.tables():
        first, second = short.log.frame(table), long.log.frame(table)
        n = len(next(iter(first.values())))
        assert len(next(iter(second.values()))) >= n, table
        for column, values in first.items():
            np.testing.assert_array_equal(values, second[column][:n], err_msg=table)
    as_of_end = pd.Timestamp("2022-06-30")
    for service_id in SERVICE_IDS:
        a = pd.read_parquet(tmp_path / "short" / ORACLE_DIR / f"{service_id}.parquet")
        b = pd.read_parquet(tmp_path / "long" / ORACLE_DIR / f"{service_id}.parquet")
        b = b[pd.to_datetime(b["as_of"]) <= as_of_end].reset_index(drop=True)
        assert len(a) > 0 and (pd.to_datetime(a["as_of"]) <= as_of_end).all()
        pd.testing.assert_frame_equal(a, b, obj=service_id)
