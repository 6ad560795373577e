"""Births, deaths, pregnancies, registration, marriage, moves, migration and grade-1 entry."""

from __future__ import annotations

import numpy as np

from needs_model.reference import cccd
from needs_model.reference.geography import MERGER_DATE
from needs_model.twin import hazards, names
from needs_model.twin.population import build_initial_population, draw_deprivations
from needs_model.twin.world import World, day_in_month, ym_to_date

# A child born within 300 days of the marriage's end is the late husband's (Law on Marriage
# and Family 2014, art. 88(1)): a birth within 9 whole months of the month he died.
LATE_HUSBAND_MONTHS = 10


# Temporary absences and the yearly take-up factors draw from streams of their own
# (`World.stream`), so that adding them moved no other draw of the twin.
ABSENCE_STREAM = ("absence", 301)
TAKE_UP_STREAM = ("take_up", 302)


def log_registry(w: World, index: np.ndarray, event: str, day: np.ndarray | None = None) -> None:
    """An append-only registry row with the person's current state (recorded at write-out)."""
    if len(index) == 0:
        return
    p = w.people
    w.log.add(
        "registry_people",
        person=index.astype(np.int32),
        event_date=day_in_month(w.ym, w.days(len(index)) if day is None else day),
        event=event,
        household=p["household"][index],
        commune=w.person_commune(index),
        married=p["married"][index],
        alive=p["alive"][index],
        present=p["present"][index],
    )


def log_household(w: World, index: np.ndarray, event: str, day: np.ndarray | None = None) -> None:
    if len(index) == 0:
        return
    w.log.add(
        "registry_households",
        household=index.astype(np.int32),
        event_date=day_in_month(w.ym, w.days(len(index)) if day is None else day),
        event=event,
        commune=w.households["commune"][index],
        present=w.households["present"][index],
    )


def person_exit_probabilities(
    w: World, index: np.ndarray, ym: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(death, household out-migration, individual out-migration) probabilities in month ym."""
    p, d = w.people, w.params.demography
    age_months = ym - p["birth_ym"][index]
    age = age_months // 12
    mountain = w.person_mountain(index)
    # Infants can die before their birth is registered (a competing exit of registration).
    death = hazards.death_probability(age, p["sex"][index] == 0, d, age_months)
    household = hazards.household_out_migration_probability(
        mountain, d, w.factor("out_migration", ym, mountain)
    )
    individual = hazards.individual_out_migration_probability(
        age, d, w.factor("out_migration", ym, mountain)
    )
    return death, household, individual


def member_departure_probability(w: World, index: np.ndarray, ym: int) -> np.ndarray:
    """P(person leaves their household for good in month ym, the household staying): death,
    leaving the province on their own, or marrying into another household — the ways a
    household empties member by member (see `close_emptied_households`). Marriage follows
    the marriage step: a bride always leaves, a groom when the couple sets up their own home,
    and a single man's chance of being a groom is set by the month's pools of candidates."""
    d = w.params.demography
    death, _, individual = person_exit_probabilities(w, index, ym)
    women, men = marriage_candidates(w, ym)
    groom = hazards.groom_probability(len(women), len(men), d)
    marry_out = np.where(np.isin(index, women), hazards.bride_probability(d), 0.0) + np.where(
        np.isin(index, men), groom * d.marriage_new_household_share, 0.0
    )
    return 1 - hazards.survive(death, individual, marry_out)


def marriage_candidates(w: World, ym: int) -> tuple[np.ndarray, np.ndarray]:
    """Single women 18-35 and single men 20-40 (alive, present, registered) in month ym."""
    p = w.people
    single = p["alive"] & p["present"] & p["registered"] & ~p["married"]
    age = w.person_age(ym=ym)
    women = np.flatnonzero(single & (p["sex"] == 1) & (age >= 18) & (age <= 35))
    men = np.flatnonzero(single & (p["sex"] == 0) & (age >= 20) & (age <= 40))
    return women, men


def close_emptied_households(w: World, households: np.ndarray, day: np.ndarray) -> None:
    """Close the resident households among `households` (those people left this month, on
    `day`) that have no living member present any more: the household book is closed the
    month its last member dies, leaves the province on their own or marries out, and the
    household is no longer resident (no review, no oracle row)."""
    hh, p = w.households, w.people
    if len(households) == 0:
        return
    candidates, position = np.unique(households, return_inverse=True)
    last_day = np.zeros(len(candidates), np.int64)
    np.maximum.at(last_day, position, day)
    here = p["alive"] & p["present"]
    members = np.bincount(p["household"][here], minlength=hh.n)[candidates]
    emptied = hh["present"][candidates] & (members == 0)
    closing = candidates[emptied]
    hh["present"][closing] = False
    hh["exit_ym"][closing] = w.ym
    log_household(w, closing, "dissolved", last_day[emptied])


def exits(w: World) -> None:
    p, hh = w.people, w.households
    here = np.flatnonzero(p["alive"] & p["present"])
    death, _, individual = person_exit_probabilities(w, here, w.ym)
    hh_here = np.flatnonzero(hh["present"])
    hh_prob = hazards.household_out_migration_probability(
        hh["mountain"][hh_here],
        w.params.demography,
        w.factor("out_migration", w.ym, hh["mountain"][hh_here]),
    )
    u_death, u_ind = w.rng.random(len(here)), w.rng.random(len(here))
    leaving_households = hh_here[w.rng.random(len(hh_here)) < hh_prob]

    dies = here[u_death < death]
    p["alive"][dies] = False
    p["exit_ym"][dies] = w.ym
    widowed = p["spouse"][dies]
    p["spouse"][widowed[widowed >= 0]] = -1
    p["late_spouse"][widowed[widowed >= 0]] = dies[widowed >= 0]
    p["gestation"][dies] = -1
    death_day = w.days(len(dies))
    # An infant who dies before its birth is registered never reaches the registry.
    known = p["registered"][dies]
    log_registry(w, dies[known], "death", death_day[known])

    survivors = np.setdiff1d(here, dies, assume_unique=True)
    with_household = np.isin(p["household"][survivors], leaving_households)
    movers = survivors[with_household]
    solo_prob = individual[np.searchsorted(here, survivors)]
    solo = survivors[~with_household & (u_ind[np.searchsorted(here, survivors)] < solo_prob)]
    # Unregistered infants go with a mother who leaves on her own.
    infants = np.flatnonzero(
        ~p["registered"] & p["alive"] & p["present"] & np.isin(p["mother"], solo)
    )
    leaving = np.concatenate([movers, solo, infants])
    p["present"][leaving] = False
    p["exit_ym"][leaving] = w.ym
    p["gestation"][solo] = np.where(p["gestation"][solo] >= 0, -1, p["gestation"][solo])
    p["gestation"][movers] = -1
    emigrants = np.concatenate([movers, solo])
    emigrants = emigrants[p["registered"][emigrants]]
    emigration_day = w.days(len(emigrants))
    log_registry(w, emigrants, "emigration", emigration_day)
    hh["present"][leaving_households] = False
    hh["exit_ym"][leaving_households] = w.ym
    log_household(w, leaving_households, "emigration")
    # Infants leave with their mother, on her day.
    order = np.argsort(emigrants)
    mother_day = emigration_day[
        order[np.searchsorted(emigrants, p["mother"][infants], sorter=order)]
    ]
    close_emptied_households(
        w,
        p["household"][np.concatenate([dies, emigrants, infants])],
        np.concatenate([death_day, emigration_day, mother_day]),
    )


def initial_absences(w: World) -> None:
    """People and households already away on the first day, at the chains' stationary
    shares (leave / (leave + return)), so the province starts neither all home nor empty."""
    p, hh, d, rng = w.people, w.households, w.params.demography, w.stream(*ABSENCE_STREAM)
    leave = hazards.temporary_absence_probability(w.person_age(), p["gestation"] >= 0, d)
    p["away"] = rng.random(p.n) < stationary_share(leave, d.temporary_return_monthly)
    share = stationary_share(np.array(d.household_absence_monthly), d.household_return_monthly)
    hh["away"] = rng.random(hh.n) < share


def stationary_share(leave: np.ndarray, come_back: float) -> np.ndarray:
    """The long-run share away of a two-state chain (0 where nobody ever leaves)."""
    total = leave + come_back
    return np.divide(leave, total, out=np.zeros_like(leave, dtype=float), where=total > 0)


def absences(w: World) -> None:
    """Temporary absences begin and end (after the month's exits): people of 18-40 leave to
    work away and come back; whole households leave for a while and come back. They stay
    registered members throughout and the registry records nothing; while away a woman
    conceives no child here, a household is not reviewed and its children do not enter
    grade 1 here. Drawn from their own stream (`ABSENCE_STREAM`)."""
    p, hh, d, rng = w.people, w.households, w.params.demography, w.stream(*ABSENCE_STREAM)
    here = np.flatnonzero(p["alive"] & p["present"])
    leave = hazards.temporary_absence_probability(w.person_age(here), p["gestation"][here] >= 0, d)
    away = p["away"][here]
    u = rng.random(len(here))
    p["away"][here] = np.where(away, u >= d.temporary_return_monthly, u < leave)
    resident = np.flatnonzero(hh["present"])
    away = hh["away"][resident]
    u = rng.random(len(resident))
    hh["away"][resident] = np.where(
        away, u >= d.household_return_monthly, u < d.household_absence_monthly
    )


def births(w: World) -> None:
    """Pregnancies advance a month; some end in loss, others in a birth (a new person)."""
    p, d = w.people, w.params.demography
    pregnant = np.flatnonzero((p["gestation"] >= 0) & p["alive"] & p["present"])
    gestation = p["gestation"][pregnant] + 1
    p["gestation"][pregnant] = gestation
    u = w.rng.random(len(pregnant))
    loss = hazards.pregnancy_loss_probability(gestation, d)
    birth = hazards.birth_probability(gestation, d)
    lost = pregnant[u < loss]
    born_to = pregnant[(u >= loss) & (u < loss + (1 - loss) * birth)]
    p["gestation"][lost] = -1
    p["antenatal"][lost] = False
    if len(born_to) == 0:
        return
    k = len(born_to)
    mountain = w.person_mountain(born_to)
    facility = w.rng.random(k) < np.where(
        mountain, d.facility_birth_share_mountain, d.facility_birth_share
    )
    sex = w.rng.integers(0, 2, k).astype(np.int8)
    middle, given = names.draw_middle_and_given(sex == 1, w.rng)
    spouse = p["spouse"][born_to]
    family = np.where(spouse >= 0, p["family"][np.maximum(spouse, 0)], p["family"][born_to])
    # The father the registry records: the mother's husband at the birth, or her late husband
    # when he died within 300 days (Law on Marriage and Family 2014, art. 88(1)); a child of
    # an unmarried mother has no recorded father (acknowledgement is not simulated).
    late = p["late_spouse"][born_to]
    late_died = p["exit_ym"][np.maximum(late, 0)]
    father = np.where(
        spouse >= 0,
        spouse,
        np.where((late >= 0) & (w.ym - late_died < LATE_HUSBAND_MONTHS), late, -1),
    )
    day = w.days(k)
    children = w.people.append(
        birth_ym=np.full(k, w.ym),
        birth_day=day,
        sex=sex,
        ethnicity=p["ethnicity"][born_to],
        religion=p["religion"][born_to],
        household=p["household"][born_to],
        alive=np.ones(k, bool),
        present=np.ones(k, bool),
        spouse=np.full(k, -1),
        last_birth_ym=np.full(k, -1),
        gestation=np.full(k, -1),
        conception_ym=np.full(k, -1),
        mother=born_to,
        father=father,
        late_spouse=np.full(k, -1),
        registered=np.zeros(k, bool),
        facility_birth=facility,
        disabled=w.rng.random(k) < 0.012,
        family=family,
        middle=middle,
        given=given,
        education=np.zeros(k),
        exit_ym=np.full(k, -1),
        birth_province=np.zeros(k),
    )
    p["gestation"][born_to] = -1
    p["antenatal"][born_to] = False
    p["parity"][born_to] += 1
    p["last_birth_ym"][born_to] = w.ym
    w.log.add(
        "truth_births",
        child=children.astype(np.int32),
        mother=born_to.astype(np.int32),
        ym=np.full(k, w.ym, np.int32),
    )
    at_facility = children[facility]
    w.log.add(
        "health_births",
        child=at_facility.astype(np.int32),
        mother=p["mother"][at_facility],
        birth_date=day_in_month(w.ym, day[facility]),
        commune=w.person_commune(at_facility),
    )


def birth_registrations(w: World) -> None:
    p, d = w.people, w.params.demography
    waiting = np.flatnonzero(~p["registered"] & p["alive"] & p["present"])
    if len(waiting) == 0:
        return
    age_months = w.ym - p["birth_ym"][waiting]
    prob = hazards.birth_registration_probability(
        age_months,
        w.person_mountain(waiting),
        p["facility_birth"][waiting],
        d,
        w.year_factors[w.ym // 12][0],
    )
    registered = waiting[w.rng.random(len(waiting)) < prob]
    if len(registered) == 0:
        return
    k = len(registered)
    after_merger = ym_to_date(w.ym) >= MERGER_DATE
    province = cccd.DA_NANG_CODE if after_merger else cccd.QUANG_NAM_CODE
    p["birth_province"][registered] = province
    p["cccd"][registered] = w.issuer.issue(
        np.full(k, province), p["birth_ym"][registered] // 12, p["sex"][registered], w.rng
    )
    p["cccd_ym"][registered] = w.ym
    p["registered"][registered] = True
    same_month = p["birth_ym"][registered] == w.ym
    day = np.where(
        same_month,
        np.minimum(p["birth_day"][registered] + w.rng.integers(0, 10, k), 28),
        w.days(k),
    )
    log_registry(w, registered, "birth_registration", day)
    w.log.add(
        "transactions",
        service="birth_registration",
        subject=p["mother"][registered],
        child=registered.astype(np.int32),
        date=day_in_month(w.ym, day),
        commune=w.person_commune(registered),
    )


def conceptions(w: World) -> None:
    p, d = w.people, w.params.demography
    women = np.flatnonzero(
        (p["sex"] == 1)
        & p["alive"]
        & p["present"]
        & (p["gestation"] < 0)
        & (
            (w.ym - p["last_birth_ym"] >= d.postpartum_months_without_conception)
            | (p["last_birth_ym"] < 0)
        )
    )
    age = w.person_age(women)
    youngest, oldest = d.fertile_ages
    fertile = women[(age >= youngest) & (age <= oldest)]
    age = w.person_age(fertile)
    hh = p["household"][fertile]
    mountain = w.households["mountain"][hh]
    prob = hazards.conception_probability(
        age,
        p["married"][fertile],
        p["parity"][fertile],
        w.households["urban"][hh],
        mountain,
        d,
        w.factor("conception", w.ym, mountain),
    )
    prob = np.where(w.person_absent(fertile), 0.0, prob)  # no child conceived here while away
    conceived = fertile[w.rng.random(len(fertile)) < prob]
    p["gestation"][conceived] = 0
    p["conception_ym"][conceived] = w.ym
    p["antenatal"][conceived] = False

    # Antenatal care: a pregnancy is first seen, with an expected due date.
    pregnant = np.flatnonzero((p["gestation"] >= 2) & ~p["antenatal"] & p["alive"] & p["present"])
    prob = np.zeros(len(pregnant))
    for g, share in d.antenatal_registration_by_gestation.items():
        prob = np.where(p["gestation"][pregnant] == g, share, prob)
    prob = prob * np.where(w.person_mountain(pregnant), d.antenatal_mountain_factor, 1.0)
    seen = pregnant[w.rng.random(len(pregnant)) < prob]
    p["antenatal"][seen] = True
    conception_day = day_in_month(p["conception_ym"][seen], 14)
    due = conception_day + (266 + w.rng.normal(0, 7, len(seen)).round()).astype("timedelta64[D]")
    w.log.add(
        "health_pregnancies",
        mother=seen.astype(np.int32),
        visit_date=day_in_month(w.ym, w.days(len(seen))),
        expected_due_date=due,
        commune=w.person_commune(seen),
    )


def marriages(w: World) -> None:
    p, d = w.people, w.params.demography
    women, men = marriage_candidates(w, w.ym)
    brides = women[w.rng.random(len(women)) < hazards.bride_probability(d)]
    k = min(len(brides), len(men))
    if k == 0:
        return
    brides = brides[:k]
    grooms = w.rng.choice(men, size=k, replace=False)
    former_household = p["household"][np.concatenate([brides, grooms])]
    p["married"][brides] = True
    p["married"][grooms] = True
    p["spouse"][brides] = grooms
    p["spouse"][grooms] = brides
    own_home = w.rng.random(k) < d.marriage_new_household_share
    # The bride joins the groom's household, or the couple founds a new one in his commune.
    p["household"][brides[~own_home]] = p["household"][grooms[~own_home]]
    if own_home.any():
        parent = p["household"][grooms[own_home]]
        hh = w.households
        log_income = hh["log_income"][parent] + w.rng.normal(0, 0.15, len(parent))
        new = hh.append(
            commune=hh["commune"][parent],
            urban=hh["urban"][parent],
            mountain=hh["mountain"][parent],
            vulnerability=w.rng.gamma(2.0, 0.5, len(parent)),
            log_income=log_income,
            deprivations=draw_deprivations(hh["mountain"][parent], log_income, w.params, w.rng),
            present=np.ones(len(parent), bool),
            created_ym=np.full(len(parent), w.ym),
            exit_ym=np.full(len(parent), -1),
        )
        p["household"][brides[own_home]] = new
        p["household"][grooms[own_home]] = new
        log_household(w, new, "founded")
    day = w.days(2 * k)
    log_registry(w, np.concatenate([brides, grooms]), "marriage", day)
    close_emptied_households(w, former_household, day)


def internal_moves(w: World) -> None:
    """Whole households move to another commune of the province."""
    hh, d = w.households, w.params.demography
    here = np.flatnonzero(hh["present"])
    moving = here[w.rng.random(len(here)) < d.internal_move_monthly]
    if len(moving) == 0:
        return
    weights = w.communes["population_weight"].to_numpy()
    destination = w.rng.choice(len(weights), size=len(moving), p=weights / weights.sum())
    hh["commune"][moving] = destination
    hh["urban"][moving] = w.communes["is_urban"].to_numpy()[destination]
    hh["mountain"][moving] = w.communes["is_mountain"].to_numpy()[destination]
    log_household(w, moving, "moved")
    members = np.flatnonzero(
        np.isin(w.people["household"], moving)
        & w.people["alive"]
        & w.people["present"]
        & w.people["registered"]
    )
    log_registry(w, members, "moved")


def arrivals(w: World) -> None:
    """Households moving into the province (registered with their CCCD from elsewhere)."""
    hh, d = w.households, w.params.demography
    n_here = int(hh["present"].sum())
    factor = float(w.factor("in_migration", w.ym, np.array([False]))[0])
    k = int(w.rng.poisson(n_here * d.household_in_migration_monthly * factor))
    if k == 0:
        return
    people, households = build_initial_population(
        max(int(k * w.params.people_per_household_target), 1),
        w.communes,
        w.ym,
        w.params,
        w.rng,
        w.issuer,
        native_share=0.15,
    )
    offset = w.households.n
    new_households = w.households.append(**{name: households[name] for name in households.names})
    hh["created_ym"][new_households] = w.ym
    columns = {name: people[name] for name in people.names}
    columns["household"] = columns["household"] + offset
    for relative in ("spouse", "mother", "father", "late_spouse"):
        columns[relative] = np.where(columns[relative] >= 0, columns[relative] + w.people.n, -1)
    new_people = w.people.append(**columns)
    log_household(w, new_households, "immigration")
    log_registry(w, new_people, "immigration")


def school_entry_probability(
    w: World, index: np.ndarray, round_year: int, year_factor: float = 1.0
) -> np.ndarray:
    """P(entering grade 1 at the round of `round_year`), by the age the child turns that year;
    `year_factor` multiplies the odds (that year's take-up)."""
    p, s = w.people, w.params.school
    years = round_year - p["birth_ym"][index] // 12
    prob = np.zeros(len(index))
    for age, share in (s.entry_by_age | s.late_entry_by_age).items():
        prob = np.where(years == age, share, prob)
    prob = prob * np.where(p["disabled"][index], s.disability_factor, 1.0)
    remote_minority = w.person_mountain(index) & (p["ethnicity"][index] >= 2)
    prob = prob * np.where(remote_minority, s.remote_minority_factor, 1.0)
    return hazards.with_odds_factor(prob, year_factor)


def oldest_entry_age(w: World) -> int:
    """The oldest age (by calendar year) at which a child can still enter grade 1."""
    s = w.params.school
    return max(s.entry_by_age | s.late_entry_by_age)


def draw_year_factors(w: World) -> None:
    """In the first simulated month of a year, that year's take-up factors (birth
    registration, grade-1 entry), from their own stream (`TAKE_UP_STREAM`): known from then
    on, never before."""
    year = w.ym // 12
    if year in w.year_factors:
        return
    rng = w.stream(*TAKE_UP_STREAM)
    w.year_factors[year] = (
        hazards.yearly_factor_draw(rng, w.params.demography.birth_registration_yearly_sd),
        hazards.yearly_factor_draw(rng, w.params.school.yearly_take_up_sd),
    )


def school_admissions(w: World) -> None:
    p, s = w.people, w.params.school
    if w.ym % 12 + 1 != s.admission_month:
        return
    candidates = np.flatnonzero(p["alive"] & p["present"] & ~p["grade1"] & p["registered"])
    years = w.ym // 12 - p["birth_ym"][candidates] // 12
    candidates = candidates[(years >= 4) & (years <= 12)]
    prob = school_entry_probability(w, candidates, w.ym // 12, w.year_factors[w.ym // 12][1])
    prob = np.where(w.households["away"][p["household"][candidates]], 0.0, prob)
    admitted = candidates[w.rng.random(len(candidates)) < prob]
    p["grade1"][admitted] = True
    day = w.days(len(admitted))
    w.log.add(
        "education_enrolments",
        person=admitted.astype(np.int32),
        enrol_date=day_in_month(w.ym, day),
        commune=w.person_commune(admitted),
    )
    w.log.add(
        "transactions",
        service="school_admission",
        subject=admitted.astype(np.int32),
        child=admitted.astype(np.int32),
        date=day_in_month(w.ym, day),
        commune=w.person_commune(admitted),
    )
