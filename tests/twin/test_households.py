"""A household with nobody left in it stops being resident the month it empties: no poverty
review, no oracle row, and the household book says so."""

import datetime as dt

import numpy as np
import pandas as pd

from needs_model.extracts import contract
from needs_model.extracts.validate import row_reasons
from needs_model.twin.oracle import oracle
from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, new_world, step_month
from needs_model.twin.world import World


def occupied(world: World) -> np.ndarray:
    """Per household: someone living is present in it."""
    p = world.people
    here = p["alive"] & p["present"]
    return np.bincount(p["household"][here], minlength=world.households.n) > 0


def test_no_resident_household_is_left_without_a_living_member(province):
    world, _ = province
    resident = world.households["present"]
    assert resident.sum() > 5_000
    empty_resident = np.flatnonzero(resident & ~occupied(world))
    assert len(empty_resident) == 0, f"{len(empty_resident)} of {resident.sum()}"
    # Households did empty (deaths, departures, marriages out) and were closed.
    closed = world.log.frame("registry_households")["event"] == "dissolved"
    assert closed.sum() > 50


def test_the_december_2025_review_and_its_oracle_only_see_households_with_someone_in_them(
    province,
):
    """The run ends with the December 2025 review, the last step of its last month: the end
    state is the state at that review."""
    world, raw = province
    with_someone = occupied(world)
    surveys = pd.DataFrame(world.log.frame("household_surveys"))
    reviewed = surveys.loc[surveys["survey_year"] == 2025, "household"].to_numpy()
    tx = pd.DataFrame(world.log.frame("transactions"))
    confirmed = tx.loc[
        (tx["service"] == "poor_household_confirmation")
        & (pd.to_datetime(tx["date"]).dt.year == 2025),
        "subject",
    ].to_numpy()
    # Only households that enter the review are in it (on the list, applied or proposed):
    # about a quarter to a third of the ~6,000 households.
    assert len(reviewed) > 1_000 and len(confirmed) > 200
    assert with_someone[reviewed].all(), (~with_someone[reviewed]).sum()
    assert with_someone[confirmed].all(), (~with_someone[confirmed]).sum()
    subjects = oracle(dt.date(2025, 12, 31), "poor_household_confirmation", raw)["subject_id"]
    assert with_someone[subjects.to_numpy()].all()


def test_the_household_book_closes_an_emptied_household_within_the_contract(province):
    _, raw = province
    book = pd.read_parquet(raw / "registry/households.parquet")
    last = book.sort_values(["event_date", "recorded_at"], kind="stable")
    last = last.groupby("household_id").tail(1)
    resident_in_book = set(last.loc[last["status"] == "resident", "household_id"])
    people = pd.read_parquet(raw / "truth/people.parquet")
    lived_in = set(people.loc[people["alive"] & people["present"], "household_id"])
    assert len(resident_in_book) > 5_000
    # The book may still hold a household nobody lives in only when a departure out of it
    # never reached the registry (ghost residents, `twin/recording.py`): its emigration, or
    # the emigration of its last member.
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    unrecorded = errors.loc[errors["error_type"] == "unrecorded_departure", "person_id"]
    ghost_homes = set(people.set_index("person_id").loc[unrecorded, "household_id"])
    ghosts = resident_in_book - lived_in
    assert ghosts and ghosts <= ghost_homes, len(ghosts - ghost_homes)
    assert not row_reasons(contract.table("registry", "households"), book.copy()).astype(bool).any()
    # Emptied books are closed as dissolved, not as departures: nobody left in a dissolved
    # book, and a departed book's people left with it (they are somewhere, not in it).
    dissolved = book[book["event"] == "dissolved"]
    assert len(dissolved) > 50 and (dissolved["status"] == "dissolved").all()
    assert not set(dissolved["household_id"]) & lived_in
    assert (book.loc[book["event"] == "emigration", "status"] == "moved_out").all()


def test_households_close_the_month_they_empty_and_never_earlier():
    """Month by month: at every month end no resident household is empty, every household
    closed that month is empty, and every household the December review saw had someone."""
    spec = SimulationSpec(people=4_000, seed=17, start="2021-01", end="2023-12")
    w = new_world(spec, TwinParameters())
    reviews = 0
    for ym in range(spec.start_ym, spec.end_ym + 1):
        w.ym = ym
        resident_before = w.households["present"].copy()
        surveyed_before = len(w.log.frame("household_surveys")["household"])
        step_month(w, spec.people)
        with_someone = occupied(w)
        resident = w.households["present"]
        assert not (resident & ~with_someone).any(), ym
        closed = resident_before & ~resident[: len(resident_before)]
        assert not with_someone[: len(resident_before)][closed].any(), ym
        surveyed = w.log.frame("household_surveys")["household"][surveyed_before:]
        assert with_someone[surveyed].all(), ym
        reviews += len(surveyed) > 0
    assert reviews == 3
    assert (w.log.frame("registry_households")["event"] == "dissolved").sum() > 10
