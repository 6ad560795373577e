"""Licensed professions (medical, tour guide, veterinary) and transport businesses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from needs_model.twin import hazards
from needs_model.twin.params import LicenceParameters
from needs_model.twin.world import World, day_in_month

LICENCE_COLUMNS: dict[str, str] = {
    "person": "i4",
    "kind": "i1",
    "number": "i4",
    "issue_ym": "i4",
    "expiry_ym": "i4",
    "engagement": "f4",
    "rate": "f4",
    # Month the current licence's renewal requirement was met (NOT_MET until then): only
    # the past, never a month drawn ahead (the oracle reads it).
    "requirement_ym": "i4",
    # True CME hours completed since the current licence's issue (medical).
    "cme_hours": "i4",
    # Month of the recorded lapse of a holder who may apply again (NOT_MET: none).
    "lapsed_ym": "i4",
    "active": "?",
}
BUSINESS_COLUMNS: dict[str, str] = {
    "owner": "i4",
    "number": "i4",
    "growth": "f4",
    "active": "?",
    "created_ym": "i4",
}
VEHICLE_COLUMNS: dict[str, str] = {
    "business": "i4",
    "number": "i4",
    "freight": "?",
    # Month of manufacture (the register records its year).
    "made_ym": "i4",
    "badge_issue_ym": "i4",
    "badge_expiry_ym": "i4",
    "end_ym": "i4",
    "active": "?",
}
BADGE_VALIDITY_MONTHS = 84  # Decree 10/2020 art. 22: up to 7 years, within the vehicle's life


@dataclass(frozen=True)
class Profession:
    kind: int
    name: str
    service_id: str
    occupation_code: int


PROFESSIONS = (
    Profession(1, "medical", "medical_license_renewal", 1),
    Profession(2, "tour_guide", "tour_guide_card_renewal", 2),
    Profession(3, "veterinary", "veterinary_certificate_renewal", 3),
)
TRANSPORT_OCCUPATION = 4
MEDICAL_CME_HOURS = 120


# The careers processes (licences, transport) draw from a stream of their own, so that a
# change to them moves no other process's draws (and theirs none of these).
STREAM = ("careers", 201)


def rng(w: World) -> np.random.Generator:
    return w.stream(*STREAM)


def days(w: World, k: int) -> np.ndarray:
    """Days of the month (1-28) for k events, from the careers stream."""
    return rng(w).integers(1, 29, k)


def licence_parameters(w: World, kind: int) -> LicenceParameters:
    c = w.params.careers
    return {1: c.medical, 2: c.tour_guide, 3: c.veterinary}[kind]


NOT_MET = -1  # requirement_ym of a licence whose renewal requirement is not met yet


def requirement_probability(w: World, index: np.ndarray, ym: int) -> np.ndarray:
    """P(the current licence's renewal requirement is met in month ym, not met before), for
    tour guides (the refresher-course hazard) and vets (1: nothing further is required).
    Medical licences meet theirs when the CME courses drawn month by month bring the true
    hours to 120 (`draw_cme_courses`; the oracle integrates the same course process,
    `cme_requirement_hazards`). Met in month ym, it counts for renewals from the next month."""
    lic = w.licences
    kind = lic["kind"][index]
    course = hazards.refresher_course_probability(
        lic["expiry_ym"][index] - ym, w.params.careers.tour_guide_refresher
    )
    return np.where(kind == 2, course, 1.0)


def cme_requirement_hazards(w: World, index: np.ndarray, months: int) -> np.ndarray:
    """P(the CME hours of medical licences `index` first reach 120 in each of the `months`
    months after w.ym | not before), from their true hours now (shape (n, months))."""
    lic = w.licences
    p = w.params.careers.medical_cme
    return hazards.cme_requirement_hazards(
        lic["cme_hours"][index],
        hazards.cme_course_probability(lic["rate"][index], p),
        MEDICAL_CME_HOURS,
        p,
        months,
    )


def draw_cme_courses(w: World, index: np.ndarray, ym: int) -> None:
    """Medical licences of `index` complete CME courses in month ym (hours in lumps); a
    licence whose true hours reach 120 meets its requirement this month. Each course is
    logged with its true hours, the hours the agency records and whether its certificate
    reaches the agency at all (the extract holds only those that do)."""
    lic, p = w.licences, w.params.careers.medical_cme
    medical = index[lic["kind"][index] == 1]
    draw = rng(w)
    done = medical[
        draw.random(len(medical)) < hazards.cme_course_probability(lic["rate"][medical], p)
    ]
    lengths = np.array([h for h, _ in p.hours])
    hours = lengths[draw.choice(len(lengths), len(done), p=[s for _, s in p.hours])]
    lic["cme_hours"][done] += hours
    reached = done[(lic["cme_hours"][done] >= MEDICAL_CME_HOURS)]
    reached = reached[lic["requirement_ym"][reached] == NOT_MET]
    lic["requirement_ym"][reached] = ym
    reported = draw.random(len(done)) >= p.unreported_share
    misrecorded = draw.random(len(done)) < p.misrecorded_share
    other = (np.searchsorted(lengths, hours) + draw.integers(1, len(lengths), len(done))) % len(
        lengths
    )
    recorded = np.where(misrecorded, lengths[other], hours)
    w.log.add(
        "cme_courses",
        licence=done.astype(np.int32),
        person=lic["person"][done],
        course_date=day_in_month(ym, days(w, len(done))),
        cme_hours=recorded.astype(np.int32),
        true_hours=hours.astype(np.int32),
        reported=reported,
        commune=w.person_commune(lic["person"][done]),
    )


def reset_requirement(w: World, index: np.ndarray) -> None:
    """A licence just issued or renewed: its renewal requirement is not met yet (veterinary
    certificates ask for nothing more: met from issue)."""
    lic = w.licences
    lic["requirement_ym"][index] = np.where(
        lic["kind"][index] == 3, lic["issue_ym"][index], NOT_MET
    )
    lic["cme_hours"][index] = 0


def meet_requirements(w: World, index: np.ndarray, ym: int) -> None:
    """Licences of `index` whose requirement is not met draw it for month ym; the refresher
    courses taken are recorded by the tourism agency."""
    lic = w.licences
    draw_cme_courses(w, index, ym)
    waiting = index[(lic["requirement_ym"][index] == NOT_MET) & (lic["kind"][index] != 1)]
    met = waiting[rng(w).random(len(waiting)) < requirement_probability(w, waiting, ym)]
    lic["requirement_ym"][met] = ym
    course = met[lic["kind"][met] == 2]
    w.log.add(
        "refresher_courses",
        licence=course.astype(np.int32),
        person=lic["person"][course],
        course_date=day_in_month(ym, days(w, len(course))),
        commune=w.person_commune(lic["person"][course]),
    )


def requirement_history(w: World, index: np.ndarray) -> None:
    """Licences issued before the first simulated month: their requirement drawn month by
    month from issue to the month before the start, as the simulation would have."""
    lic = w.licences
    if len(index) == 0:
        return
    for ym in range(int(lic["issue_ym"][index].min()) + 1, w.ym):
        meet_requirements(w, index[lic["issue_ym"][index] < ym], ym)


def _commune_preference(w: World, profession: int) -> np.ndarray:
    c = w.communes
    urban, tourism = c["is_urban"].to_numpy(), c["is_tourism"].to_numpy()
    if profession == 1:
        return np.where(urban, 3.0, 1.0)
    if profession == 2:
        return np.where(
            c["district_name"].eq("Hội An").to_numpy(), 25.0, np.where(tourism, 6.0, 0.3)
        )
    if profession == 3:
        return np.where(urban, 0.4, 2.0)
    return np.where(urban | tourism, 2.0, 1.0)


def pick_holders(w: World, k: int, profession: int, min_age: int, max_age: int) -> np.ndarray:
    p = w.people
    age = w.person_age()
    pool = np.flatnonzero(
        p["alive"]
        & p["present"]
        & p["registered"]
        & (p["occupation"] == 0)
        & (age >= min_age)
        & (age <= max_age)
    )
    if k <= 0 or len(pool) == 0:
        return np.array([], dtype=np.int64)
    weight = _commune_preference(w, profession)[w.person_commune(pool)]
    weight = (
        weight * np.where(p["education"][pool] >= 2, 3.0, 0.5) if profession in (1, 3) else weight
    )
    k = min(k, len(pool))
    return rng(w).choice(pool, size=k, replace=False, p=weight / weight.sum())


def issue_licences(w: World, holders: np.ndarray, kind: int, issue_ym: np.ndarray) -> np.ndarray:
    lp = licence_parameters(w, kind)
    k = len(holders)
    rate = np.where(
        lp.requirement_rate_sd > 0,
        rng(w).lognormal(np.log(max(lp.requirement_rate_mean, 1e-6)), 0.28, k),
        lp.requirement_rate_mean,
    )
    index = w.licences.append(
        person=holders,
        kind=np.full(k, kind),
        number=w.numbers(f"licence{kind}", k),
        issue_ym=issue_ym,
        expiry_ym=issue_ym + lp.validity_months,
        engagement=rng(w).beta(4.0, 2.0, k),
        rate=rate,
        lapsed_ym=np.full(k, NOT_MET),
        active=np.ones(k, bool),
    )
    reset_requirement(w, index)
    w.people["occupation"][holders] = kind
    log_licence(w, index, "issued", issue_ym)
    return index


def log_licence(w: World, index: np.ndarray, event: str, ym: np.ndarray | int) -> None:
    if len(index) == 0:
        return
    lic = w.licences
    w.log.add(
        "licences",
        licence=index.astype(np.int32),
        kind=lic["kind"][index],
        person=lic["person"][index],
        event=event,
        event_date=day_in_month(ym, days(w, len(index))),
        issue_ym=lic["issue_ym"][index],
        expiry_ym=lic["expiry_ym"][index],
        commune=w.person_commune(lic["person"][index]),
    )


def init_careers(w: World, n_people: int) -> None:
    for profession in PROFESSIONS:
        lp = licence_parameters(w, profession.kind)
        k = round(lp.holders_per_10k * n_people / 10_000)
        holders = pick_holders(w, k, profession.kind, 25, 58)
        months_since_issue = rng(w).integers(0, lp.validity_months, len(holders))
        index = issue_licences(w, holders, profession.kind, w.ym - 1 - months_since_issue)
        requirement_history(w, index)
    init_transport(w, n_people)


def licence_exit_probability(w: World, index: np.ndarray, ym: int) -> np.ndarray:
    """Quitting the profession (never recorded by an agency) in month ym."""
    lic = w.licences
    out = np.zeros(len(index))
    for kind in (1, 2, 3):
        of_kind = lic["kind"][index] == kind
        age = (ym - w.people["birth_ym"][lic["person"][index[of_kind]]]) // 12
        out[of_kind] = hazards.licence_quit_probability(
            lic["engagement"][index[of_kind]], age, licence_parameters(w, kind)
        )
    return out


YEAR_FACTOR = "licence_year_factor"  # w.latent: [year, factor of kind 1, 2, 3]


def draw_year_factors(w: World) -> None:
    """Each profession's renewal factor for the year, drawn in its first simulated month
    (January, or the start month): known from then on, never before."""
    year = w.ym // 12
    if YEAR_FACTOR in w.latent and int(w.latent[YEAR_FACTOR][0]) == year:
        return
    values, probabilities = zip(*w.params.careers.renewal_year_factors, strict=True)
    drawn = rng(w).choice(np.array(values), size=3, p=np.array(probabilities))
    w.latent[YEAR_FACTOR] = np.concatenate(([year], drawn))


def current_year_factor(w: World, kind: int, ym: int) -> float:
    """The factor of profession `kind` for month ym, which must be in the year drawn."""
    drawn = w.latent[YEAR_FACTOR]
    if int(drawn[0]) != ym // 12:
        raise ValueError(f"the year factor of {ym // 12} is not drawn yet (drawn: {drawn[0]})")
    return float(drawn[kind])


def licence_renewal_hazard(
    w: World,
    index: np.ndarray,
    ym: int,
    requirement_met: np.ndarray | None = None,
    year_factor: float | None = None,
) -> np.ndarray:
    """P(renewal in month ym) of active licences, with their requirement as it stands
    (`requirement_met` None) or as given (the oracle weighs both), and the profession's
    factor for ym's year as drawn (`year_factor` None) or as given (the oracle integrates
    over a year not drawn yet)."""
    lic = w.licences
    if requirement_met is None:
        requirement_met = lic["requirement_ym"][index] != NOT_MET
    out = np.zeros(len(index))
    for kind in (1, 2, 3):
        of_kind = lic["kind"][index] == kind
        i = index[of_kind]
        if len(i) == 0:
            continue
        age = (ym - w.people["birth_ym"][lic["person"][i]]) // 12
        months_to_expiry = lic["expiry_ym"][i] - ym
        probability = hazards.licence_renewal_probability(
            months_to_expiry,
            requirement_met[of_kind],
            lic["engagement"][i],
            age,
            licence_parameters(w, kind),
            current_year_factor(w, kind, ym) if year_factor is None else year_factor,
        )
        # A take-up campaign (scenario rate `renewal`) brings renewals before expiry forward.
        campaign = w.factor("renewal", ym, w.person_mountain(lic["person"][i]))
        campaign = np.where(months_to_expiry >= 1, campaign, 1.0)
        out[of_kind] = np.minimum(probability * campaign, 0.97)
    return out


def reapply_after_lapse(w: World) -> None:
    """Holders practising on after a recorded lapse (never recorded) apply for a new
    licence: a new issue ("reissued"), not a renewal of the lapsed one; past the window
    they have left the profession."""
    lic, p = w.licences, w.people
    for kind in (1, 2, 3):
        lp = licence_parameters(w, kind)
        since = w.ym - lic["lapsed_ym"]
        pool = np.flatnonzero(
            ~lic["active"]
            & (lic["kind"] == kind)
            & (lic["lapsed_ym"] != NOT_MET)
            & (since > 0)
            & (since <= lp.reapply_within_months)
        )
        person = lic["person"][pool]
        pool = pool[p["alive"][person] & p["present"][person]]
        back = pool[
            rng(w).random(len(pool))
            < hazards.licence_reapply_probability(lic["engagement"][pool], lp)
        ]
        lic["active"][back] = True
        lic["issue_ym"][back] = w.ym
        lic["expiry_ym"][back] = w.ym + lp.validity_months
        lic["lapsed_ym"][back] = NOT_MET
        reset_requirement(w, back)
        log_licence(w, back, "reissued", w.ym)
        given_up = pool[(w.ym - lic["lapsed_ym"][pool] == lp.reapply_within_months)]
        given_up = given_up[lic["lapsed_ym"][given_up] != NOT_MET]
        p["occupation"][lic["person"][given_up]] = 0


def licences_step(w: World, n_people_start: int) -> None:
    lic, p = w.licences, w.people
    draw_year_factors(w)
    active = np.flatnonzero(lic["active"])
    gone = ~(p["alive"][lic["person"][active]] & p["present"][lic["person"][active]])
    lic["active"][active[gone]] = False
    active = active[~gone]
    quits = active[rng(w).random(len(active)) < licence_exit_probability(w, active, w.ym)]
    lic["active"][quits] = False
    p["occupation"][lic["person"][quits]] = 0
    active = np.setdiff1d(active, quits, assume_unique=True)

    renewing = active[rng(w).random(len(active)) < licence_renewal_hazard(w, active, w.ym)]
    for kind in (1, 2, 3):
        i = renewing[lic["kind"][renewing] == kind]
        lp = licence_parameters(w, kind)
        lic["issue_ym"][i] = w.ym
        lic["expiry_ym"][i] = w.ym + lp.validity_months
    reset_requirement(w, renewing)
    log_licence(w, renewing, "renewed", w.ym)
    services = np.array([pr.service_id for pr in PROFESSIONS], dtype=object)
    if len(renewing):
        w.log.add(
            "transactions",
            service=services[lic["kind"][renewing] - 1].astype(str),
            subject=lic["person"][renewing],
            child=np.full(len(renewing), -1, np.int32),
            date=day_in_month(w.ym, days(w, len(renewing))),
            commune=w.person_commune(lic["person"][renewing]),
        )
    not_renewed = np.setdiff1d(active, renewing, assume_unique=True)
    for kind in (1, 2, 3):
        lp = licence_parameters(w, kind)
        i = not_renewed[lic["kind"][not_renewed] == kind]
        lapsed = i[lic["expiry_ym"][i] - w.ym <= -lp.lapse_after_months]
        lic["active"][lapsed] = False
        # The holder may practise on, unrecorded, and apply again (reapply_after_lapse).
        lic["lapsed_ym"][lapsed] = w.ym
        log_licence(w, lapsed, "lapsed", w.ym)
    reapply_after_lapse(w)

    # Requirements: CME courses (hours reaching 120), refresher courses (each month, after
    # the renewals, so that a course counts from the next month).
    still = np.flatnonzero(lic["active"])
    meet_requirements(w, still, w.ym)

    # New entrants keep each profession near its density.
    for profession in PROFESSIONS:
        lp = licence_parameters(w, profession.kind)
        target = lp.holders_per_10k * n_people_start / 10_000
        current = int((lic["active"] & (lic["kind"] == profession.kind)).sum())
        k = int(rng(w).poisson(max(target - current, 0) * 0.08 + target * 0.001))
        holders = pick_holders(w, k, profession.kind, 23, 40)
        issue_licences(w, holders, profession.kind, np.full(len(holders), w.ym))


# --- transport -------------------------------------------------------------------------


def service_life_end_ym(made_ym: np.ndarray, freight: np.ndarray, w: World) -> np.ndarray:
    """The last month a vehicle may run: December of its year of manufacture plus its
    service life (20 years passenger, 25 freight), as the register's year of manufacture
    lets anyone compute it."""
    c = w.params.careers
    life = np.where(freight, c.vehicle_service_life_years[1], c.vehicle_service_life_years[0])
    return (made_ym // 12 + life) * 12 + 11


def add_vehicles(
    w: World, business: np.ndarray, age_months: np.ndarray, badge_age_months: np.ndarray
) -> np.ndarray:
    k = len(business)
    freight = rng(w).random(k) < 0.6
    made_ym = w.ym - age_months
    end_ym = service_life_end_ym(made_ym, freight, w)
    issue = w.ym - badge_age_months
    return w.vehicles.append(
        business=business,
        number=w.numbers("vehicle", k),
        freight=freight,
        made_ym=made_ym,
        badge_issue_ym=issue,
        badge_expiry_ym=np.minimum(issue + BADGE_VALIDITY_MONTHS, end_ym),
        end_ym=end_ym,
        active=np.ones(k, bool),
    )


def log_badges(w: World, vehicles: np.ndarray, event: str) -> None:
    if len(vehicles) == 0:
        return
    v = w.vehicles
    w.log.add(
        "badges",
        vehicle=vehicles.astype(np.int32),
        business=v["business"][vehicles],
        event=event,
        event_date=day_in_month(w.ym, days(w, len(vehicles))),
        issue_ym=v["badge_issue_ym"][vehicles],
        expiry_ym=v["badge_expiry_ym"][vehicles],
    )


def found_businesses(w: World, owners: np.ndarray, historical: bool) -> np.ndarray:
    c = w.params.careers
    k = len(owners)
    created = w.ym - (rng(w).integers(12, 240, k) if historical else np.zeros(k, np.int64))
    business = w.businesses.append(
        owner=owners,
        number=w.numbers("business", k),
        growth=rng(w).gamma(2.0, 0.5, k),
        active=np.ones(k, bool),
        created_ym=created,
    )
    w.people["occupation"][owners] = TRANSPORT_OCCUPATION
    fleet = 1 + rng(w).poisson(max(c.vehicles_per_business_mean - 1, 0), k)
    owner_of = np.repeat(business, fleet)
    n = len(owner_of)
    if historical:
        age = rng(w).integers(0, 19 * 12, n)
        badge_age = np.minimum(rng(w).integers(0, BADGE_VALIDITY_MONTHS, n), age)
    else:
        age = rng(w).integers(0, 60, n)
        badge_age = np.zeros(n, dtype=np.int64)
    vehicles = add_vehicles(w, owner_of, age, badge_age)
    w.log.add(
        "businesses",
        business=business.astype(np.int32),
        owner=owners.astype(np.int32),
        event="licensed",
        event_date=day_in_month(created, days(w, k)),
        commune=w.person_commune(owners),
    )
    if historical:
        w.log.add(
            "badges",
            vehicle=vehicles.astype(np.int32),
            business=owner_of.astype(np.int32),
            event="issued",
            event_date=day_in_month(w.vehicles["badge_issue_ym"][vehicles], days(w, n)),
            issue_ym=w.vehicles["badge_issue_ym"][vehicles],
            expiry_ym=w.vehicles["badge_expiry_ym"][vehicles],
        )
    else:
        log_badges(w, vehicles, "issued")
    return business


def init_transport(w: World, n_people: int) -> None:
    k = round(w.params.careers.transport_businesses_per_10k * n_people / 10_000)
    owners = pick_holders(w, k, 4, 28, 60)
    found_businesses(w, owners, historical=True)


def business_exit_probability(w: World, business: np.ndarray, ym: int) -> np.ndarray:
    from needs_model.twin.demography import person_exit_probabilities

    owners = w.businesses["owner"][business]
    death, household, individual = person_exit_probabilities(w, owners, ym)
    closure = np.full(len(business), w.params.careers.business_closure_monthly)
    return 1 - hazards.survive(death, household, individual, closure)


def vehicle_event_hazard(w: World, vehicles: np.ndarray, ym: int) -> np.ndarray:
    """P(a badge is issued for this vehicle or its replacement in month ym), given it is
    still in service then."""
    v, c = w.vehicles, w.params.careers
    retiring = ym == v["end_ym"][vehicles]
    renewal = hazards.badge_renewal_probability(
        v["badge_expiry_ym"][vehicles] - ym, c.badge_renewal_by_months_to_expiry
    )
    renewal = np.where(ym > v["end_ym"][vehicles], 0.0, renewal)
    return np.where(retiring, c.vehicle_replacement_share, renewal)


def expansion_probability(w: World, business: np.ndarray) -> np.ndarray:
    c = w.params.careers
    return np.minimum(c.fleet_expansion_monthly * w.businesses["growth"][business], 0.5)


def transport_step(w: World, n_people_start: int) -> None:
    b, v, c = w.businesses, w.vehicles, w.params.careers
    active = np.flatnonzero(b["active"])
    owners = b["owner"][active]
    owner_gone = ~(w.people["alive"][owners] & w.people["present"][owners])
    closing = owner_gone | (rng(w).random(len(active)) < c.business_closure_monthly)
    closed = active[closing]
    b["active"][closed] = False
    if len(closed):
        w.log.add(
            "businesses",
            business=closed.astype(np.int32),
            owner=b["owner"][closed],
            event="closed",
            event_date=day_in_month(w.ym, days(w, len(closed))),
            commune=w.person_commune(b["owner"][closed]),
        )
    active = active[~closing]
    in_service = np.flatnonzero(v["active"])
    in_service = in_service[b["active"][v["business"][in_service]]]
    v["active"][np.flatnonzero(v["active"])[~b["active"][v["business"][v["active"]]]]] = False

    u = rng(w).random(len(in_service))
    hazard = vehicle_event_hazard(w, in_service, w.ym)
    event = u < hazard
    retiring = w.ym == v["end_ym"][in_service]
    v["active"][in_service[retiring]] = False
    replaced = in_service[retiring & event]
    new_vehicles = add_vehicles(
        w,
        v["business"][replaced],
        np.zeros(len(replaced), np.int64),
        np.zeros(len(replaced), np.int64),
    )
    renewed = in_service[~retiring & event]
    v["badge_issue_ym"][renewed] = w.ym
    v["badge_expiry_ym"][renewed] = np.minimum(w.ym + BADGE_VALIDITY_MONTHS, v["end_ym"][renewed])
    lapsed = in_service[
        ~retiring
        & ~event
        & (v["badge_expiry_ym"][in_service] - w.ym <= -c.badge_lapse_after_months)
    ]
    v["active"][lapsed] = False
    expanding = active[rng(w).random(len(active)) < expansion_probability(w, active)]
    added = add_vehicles(
        w, expanding, rng(w).integers(0, 36, len(expanding)), np.zeros(len(expanding), np.int64)
    )
    log_badges(w, np.concatenate([new_vehicles, added]), "issued")
    log_badges(w, renewed, "renewed")
    with_event = np.unique(
        np.concatenate([v["business"][replaced], v["business"][renewed], expanding])
    )
    if len(with_event):
        w.log.add(
            "transactions",
            service="transport_business_license",
            subject=with_event.astype(np.int32),
            child=np.full(len(with_event), -1, np.int32),
            date=day_in_month(w.ym, days(w, len(with_event))),
            commune=w.person_commune(b["owner"][with_event]),
        )
    # New businesses keep the sector near its density.
    target = c.transport_businesses_per_10k * n_people_start / 10_000
    k = int(
        rng(w).poisson(max(target - len(active), 0) * 0.05 + target * c.business_closure_monthly)
    )
    owners = pick_holders(w, k, 4, 25, 55)
    if len(owners):
        founded = found_businesses(w, owners, historical=False)
        w.log.add(
            "transactions",
            service="transport_business_license",
            subject=founded.astype(np.int32),
            child=np.full(len(founded), -1, np.int32),
            date=day_in_month(w.ym, days(w, len(founded))),
            commune=w.person_commune(owners),
        )
