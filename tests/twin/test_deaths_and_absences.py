"""Deaths reach the registry late or never, infants can die before their birth is registered,
departures reach it late or never (ghost residents), and people and households are away for
a while: in the simulator and, identically, in the oracle."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

from needs_model.twin import hazards, oracle
from needs_model.twin.params import DemographyParameters, TwinParameters
from needs_model.twin.simulate import SimulationSpec, run


def _with_demography(**changes: float) -> TwinParameters:
    params = TwinParameters()
    return replace(params, demography=replace(params.demography, **changes))


def test_deaths_are_reported_late_longer_in_the_mountains_and_some_never(province):
    world, raw = province
    registry = pd.read_parquet(raw / "registry/people.parquet")
    deaths = registry[registry["event"] == "death"]
    lag = (pd.to_datetime(deaths["recorded_at"]) - pd.to_datetime(deaths["event_date"])).dt.days
    assert (lag >= 0).all()
    assert 0.02 < (lag > 30).mean() < 0.4, (lag > 30).mean()  # a tail past a month
    mountain = world.communes.set_index("commune_code")["is_mountain"]
    in_mountain = deaths["commune_code"].map(mountain).fillna(False).to_numpy(bool)
    assert lag[in_mountain].median() > 1.5 * lag[~in_mountain].median()

    people = pd.read_parquet(raw / "truth/people.parquet")
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    unreported = errors.loc[errors["error_type"] == "unregistered_death", "person_id"]
    assert len(unreported) > 3
    assert not people.set_index("person_id").loc[unreported, "alive"].any()
    # Their last registry row still says resident: the registry never learnt of the death.
    cccds = people.set_index("person_id").loc[unreported, "cccd"]
    last = registry.sort_values("event_date").groupby("cccd").tail(1).set_index("cccd")
    assert (last.loc[cccds.dropna(), "status"] == "resident").all()


def test_some_infants_die_before_their_birth_is_registered(province):
    world, _ = province
    p = world.people
    died_unregistered = ~p["alive"] & ~p["registered"]
    assert died_unregistered.sum() > 0
    assert (p["exit_ym"][died_unregistered] - p["birth_ym"][died_unregistered] <= 12).all()


def test_if_every_newborn_died_at_its_first_month_end_the_oracle_gives_its_mother_nothing():
    """With neonatal mortality 1, a birth not registered in its own month never is; the oracle
    must see the infant's death as a competing exit of its registration."""
    params = _with_demography(neonatal_mortality=1.0)
    w = run(SimulationSpec(people=8_000, seed=5, start="2021-01", end="2021-09"), params, None)
    p = w.people
    infants = np.flatnonzero(~p["registered"] & p["alive"] & p["present"])
    assert len(infants) > 3
    women, probability = oracle.birth_registration(w, 2)
    mothers = np.unique(p["mother"][infants])
    not_pregnant = mothers[p["gestation"][mothers] < 0]
    assert len(not_pregnant) > 3
    at = np.searchsorted(women, not_pregnant)
    assert (women[at] == not_pregnant).all()
    assert np.allclose(probability[at], 0.0, atol=1e-12), probability[at].max()
    # The registrations that did happen were all in the birth month.
    tx = pd.DataFrame(w.log.frame("transactions"))
    tx = tx[tx["service"] == "birth_registration"]
    registered_ym = (
        pd.to_datetime(tx["date"]).dt.year * 12 + pd.to_datetime(tx["date"]).dt.month - 1
    )
    assert (registered_ym.to_numpy() == p["birth_ym"][tx["child"].to_numpy()]).all()


def test_late_pregnancy_loss_is_about_one_percent_of_pregnancies_reaching_month_five():
    d = DemographyParameters()
    survive = 1.0
    lost = 0.0
    for g in range(5, 11):
        loss = float(hazards.pregnancy_loss_probability(np.array([g]), d)[0])
        lost += survive * loss
        survive *= (1 - loss) * (1 - float(hazards.birth_probability(np.array([g]), d)[0]))
    assert 0.007 < lost < 0.013, lost


def test_departures_reach_the_registry_late_or_never_and_a_household_shares_one_fate(province):
    world, raw = province
    registry = pd.read_parquet(raw / "registry/people.parquet")
    people = pd.read_parquet(raw / "truth/people.parquet").set_index("person_id")
    errors = pd.read_parquet(raw / "truth/errors.parquet")
    unrecorded = errors[errors["error_type"] == "unrecorded_departure"]
    late = errors[errors["error_type"] == "late_departure_registration"]
    assert len(unrecorded) > 10 and len(late) > 10
    # Ghosts: gone from the province, resident in the registry's latest row.
    ghosts = people.loc[unrecorded["person_id"]]
    assert (ghosts["alive"] & ~ghosts["present"]).all()
    last = registry.sort_values("event_date").groupby("cccd").tail(1).set_index("cccd")
    assert (last.loc[ghosts["cccd"].dropna(), "status"] == "resident").all()
    emigrations = registry[registry["event"] == "emigration"]
    assert not set(emigrations["cccd"].dropna()) & set(ghosts["cccd"].dropna())
    delay = pd.to_datetime(late["until"]) - pd.to_datetime(late["when"])
    assert (delay >= pd.Timedelta(days=30)).all()
    # The members of a household that left together share its fate: all recorded or none.
    book = pd.read_parquet(raw / "registry/households.parquet")
    left = pd.DataFrame(world.log.frame("registry_households"))
    left = left[left["event"] == "emigration"]
    logged = pd.DataFrame(world.log.frame("registry_people"))
    logged = logged[logged["event"] == "emigration"]
    together = logged.merge(left[["household", "event_date"]], on="household")
    together = together[
        pd.to_datetime(together["event_date_x"]).dt.to_period("M")
        == pd.to_datetime(together["event_date_y"]).dt.to_period("M")
    ]
    book_left = set(book.loc[book["event"] == "emigration", "household_id"])
    together = together.assign(
        recorded=~together["person"].isin(unrecorded["person_id"]),
        book_recorded=[f"HK{h + 1:09d}" in book_left for h in together["household"]],
    )
    assert len(together) > 20
    assert (together["recorded"] == together["book_recorded"]).all()


def test_household_at_home_follows_the_two_state_chain():
    d = DemographyParameters()
    a, r = d.household_absence_monthly, d.household_return_monthly
    stationary = a / (a + r)
    out = hazards.household_at_home(np.array([False, True]), 24, d)
    k = np.arange(1, 25)
    for start, row in zip((1.0, 0.0), out, strict=True):
        expected = (1 - stationary) + (start - (1 - stationary)) * (1 - a - r) ** k
        assert np.allclose(row, expected)


def test_households_away_are_not_reviewed_nor_enter_school_and_the_oracle_knows():
    """Every household leaves at once and none comes back: only households founded or arrived
    in the month itself (at home until the next month's draw) enter grade 1 or are
    confirmed poor, and in June the oracle gives both services nothing."""
    params = _with_demography(household_absence_monthly=1.0, household_return_monthly=0.0)
    w = run(SimulationSpec(people=2_000, seed=2, start="2021-01", end="2021-12"), params, None)
    tx = pd.DataFrame(w.log.frame("transactions"))
    ym = pd.to_datetime(tx["date"]).dt.year * 12 + pd.to_datetime(tx["date"]).dt.month - 1
    school = (tx["service"] == "school_admission").to_numpy()
    poor = (tx["service"] == "poor_household_confirmation").to_numpy()
    subject = tx["subject"].to_numpy()
    household = np.concatenate([w.people["household"][subject[school]], subject[poor]])
    when = np.concatenate([ym.to_numpy()[school], ym.to_numpy()[poor]])
    assert (w.households["created_ym"][household] == when).all()
    assert len(household) < 10

    june = run(SimulationSpec(people=2_000, seed=2, start="2021-01", end="2021-06"), params, None)
    _, school_p = oracle.school_admission(june, 12)
    _, poor_p = oracle.poor_household_confirmation(june, 12)
    assert len(school_p) > 20 and np.allclose(school_p, 0.0)
    assert len(poor_p) > 200 and np.allclose(poor_p, 0.0)
    # With the default return rate the oracle sees households back for the round.
    back = replace(june, params=TwinParameters())
    assert oracle.school_admission(back, 12)[1].max() > 0.1
    assert oracle.poor_household_confirmation(back, 12)[1].max() > 0.1


def test_people_away_conceive_no_child_here():
    """Every woman of 18-40 who is not pregnant leaves at once and none comes back: after the
    first months only a woman who lost a pregnancy that month (still at home) conceives."""
    spec = SimulationSpec(people=8_000, seed=4, start="2021-01", end="2021-08")
    counts = []
    for params in (
        TwinParameters(),
        _with_demography(temporary_absence_monthly=1.0, temporary_return_monthly=0.0),
    ):
        w = run(spec, params, None)
        p = w.people
        age = w.person_age()
        young = (age >= 19) & (age <= 40) & (p["sex"] == 1)
        counts.append(int((young & (p["conception_ym"] >= 2021 * 12 + 2)).sum()))
    at_home, away = counts
    assert at_home > 50
    assert away < 0.1 * at_home, counts
