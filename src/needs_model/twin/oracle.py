"""The oracle: P(label | the twin's true state on the as-of date), for every subject.

Computed at each month end from the same hazard functions the simulator draws from,
integrated over the service's horizon (never read off the path that then happened).
Evaluation reads it through `oracle(as_of, service, raw_dir)`; features and training
never do (a test enforces that nothing outside `truth/` holds these values).

It reads only the state at the month end (a licence's requirement is met or not; when it
will be is integrated over, never drawn ahead): `tests/twin/test_oracle_lookahead.py`.

Approximations (documented, small): a subject's area (mountain / urban) is held at its
as-of value over the horizon; a mother's pregnancy and unregistered infants are combined as
independent paths; a household's members leave it independently, people who would join it
are not counted, and the marriage pools are those of the as-of population.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.twin import careers, hazards, poverty
from needs_model.twin.demography import (
    member_departure_probability,
    oldest_entry_age,
    person_exit_probabilities,
    school_entry_probability,
)
from needs_model.twin.params import DemographyParameters
from needs_model.twin.population import count_deprivations
from needs_model.twin.world import World

ORACLE_DIR = "truth/oracle"
MAX_SHOCKS = 5  # shock counts above this in a year have probability < 1e-4 here
MIN_COMBINATION_WEIGHT = 1e-9  # at most ~150 combinations: under 2e-7 dropped per household
GAUSS_HERMITE_NODES = 12  # income noise at the review; within 2e-8 of 60 nodes (checked)
INTEGRATION_THREADS = min(4, os.cpu_count() or 1)


def infant_death(age_months: int, d: DemographyParameters) -> np.ndarray:
    """Death probability of a child born `age_months` months ago (sex does not matter in the
    first year): the competing exit of a birth not yet registered."""
    return hazards.death_probability(
        np.array(age_months // 12), np.array(False), d, np.array(age_months)
    )


def year_factor_scenarios(
    w: World, horizon: int, which: int, sd: float
) -> list[tuple[float, Callable[[int], float]]]:
    """(weight, year -> take-up factor) over the years of the horizon: a year's factor once
    drawn (`w.year_factors[year][which]`), Gauss-Hermite nodes of its distribution for each
    year not drawn yet (independent years)."""
    years = sorted({(w.ym + k) // 12 for k in range(1, horizon + 1)} - set(w.year_factors))
    nodes, weights = hazards.yearly_factor_nodes(sd)
    scenarios: list[tuple[float, Callable[[int], float]]] = []
    for combination in itertools.product(range(len(nodes)), repeat=len(years)):
        drawn = dict(zip(years, (float(nodes[i]) for i in combination), strict=True))
        weight = float(np.prod([weights[i] for i in combination]))

        def factor(year: int, drawn: dict[int, float] = drawn) -> float:
            return drawn[year] if year in drawn else w.year_factors[year][which]

        scenarios.append((weight, factor))
    return scenarios


def birth_registration(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """P(a birth of each woman at risk is registered within the horizon): women of 15-49 and
    any other woman with a pregnancy or a birth not yet registered; each year's take-up factor
    known once drawn and integrated over while not."""
    p, d = w.people, w.params.demography
    age = w.person_age()
    infants = np.flatnonzero(~p["registered"] & p["alive"] & p["present"])
    with_child = np.zeros(p.n, bool)
    with_child[p["mother"][infants][p["mother"][infants] >= 0]] = True
    at_risk = ((age >= 15) & (age <= 49)) | (p["gestation"] >= 0) | with_child
    women = np.flatnonzero((p["sex"] == 1) & p["alive"] & p["present"] & p["registered"] & at_risk)
    probability = np.zeros(len(women))
    for weight, factor in year_factor_scenarios(w, horizon, 0, d.birth_registration_yearly_sd):
        probability += weight * _registration_within(w, women, horizon, factor)
    return women, probability


def _registration_within(
    w: World, women: np.ndarray, horizon: int, factor: Callable[[int], float]
) -> np.ndarray:
    """P(registration within the horizon) given each year's take-up factor `factor(year)`."""
    p, d = w.people, w.params.demography
    no_event = np.ones(len(women))
    mountain = w.person_mountain(women)

    # Infants already born and not yet registered.
    infants = np.flatnonzero(~p["registered"] & p["alive"] & p["present"])
    infants = infants[np.isin(p["mother"][infants], women)]
    if len(infants):
        mothers = p["mother"][infants]
        m_mountain = w.person_mountain(infants)
        at_risk = np.ones(len(infants))
        reached = np.zeros(len(infants))
        for k in range(1, horizon + 1):
            _, household, individual = person_exit_probabilities(w, mothers, w.ym + k)
            dies, _, _ = person_exit_probabilities(w, infants, w.ym + k)
            at_risk *= hazards.survive(household, individual, dies)
            h = hazards.birth_registration_probability(
                w.ym + k - p["birth_ym"][infants],
                m_mountain,
                p["facility_birth"][infants],
                d,
                factor((w.ym + k) // 12),
            )
            reached += at_risk * h
            at_risk *= 1 - h
        position = np.searchsorted(women, mothers)
        np.multiply.at(no_event, position, 1 - reached)

    # Pregnancies: a birth in the horizon, then its registration (facility birth unknown yet).
    pregnant = np.flatnonzero(p["gestation"][women] >= 0)
    if len(pregnant):
        mothers = women[pregnant]
        g0 = p["gestation"][mothers].astype(np.int64)
        facility_share = np.where(
            mountain[pregnant], d.facility_birth_share_mountain, d.facility_birth_share
        )
        total = np.zeros(len(mothers))
        for facility, weight in ((True, facility_share), (False, 1 - facility_share)):
            still_pregnant = np.ones(len(mothers))
            infant_mass: list[tuple[int, np.ndarray]] = []  # (birth month, unregistered mass)
            reached = np.zeros(len(mothers))
            flag = np.full(len(mothers), facility)
            for k in range(1, horizon + 1):
                ym = w.ym + k
                death, household, individual = person_exit_probabilities(w, mothers, ym)
                infant_mass = [
                    (b, m * hazards.survive(household, individual, infant_death(ym - b, d)))
                    for b, m in infant_mass
                ]
                still_pregnant = still_pregnant * hazards.survive(death, household, individual)
                g = g0 + k
                loss = hazards.pregnancy_loss_probability(g, d)
                birth = hazards.birth_probability(g, d)
                born = still_pregnant * (1 - loss) * birth
                still_pregnant = still_pregnant * (1 - loss) * (1 - birth)
                infant_mass.append((ym, born))
                updated = []
                for birth_ym, mass in infant_mass:
                    h = hazards.birth_registration_probability(
                        np.full(len(mothers), ym - birth_ym),
                        mountain[pregnant],
                        flag,
                        d,
                        factor(ym // 12),
                    )
                    reached += mass * h
                    updated.append((birth_ym, mass * (1 - h)))
                infant_mass = updated
            total += weight * reached
        no_event[pregnant] *= 1 - total
    return 1 - no_event


def school_admission(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    p = w.people
    years = w.ym // 12 - p["birth_ym"] // 12
    children = np.flatnonzero(
        p["alive"]
        & p["present"]
        & p["registered"]
        & ~p["grade1"]
        & (years >= 4)
        & (years <= oldest_entry_age(w))
    )
    h = np.zeros((len(children), horizon))
    q = np.zeros((len(children), horizon))
    # A child whose household is away at the round does not enter grade 1 here; the horizon
    # holds one round, so its hazard is the entry probability times P(at home then).
    at_home = hazards.household_at_home(
        w.households["away"][p["household"][children]], horizon, w.params.demography
    )
    for k in range(1, horizon + 1):
        ym = w.ym + k
        death, household, individual = person_exit_probabilities(w, children, ym)
        q[:, k - 1] = 1 - hazards.survive(death, household, individual)
        if ym % 12 + 1 == w.params.school.admission_month:
            entry = sum(
                weight * school_entry_probability(w, children, ym // 12, factor(ym // 12))
                for weight, factor in year_factor_scenarios(
                    w, k, 1, w.params.school.yearly_take_up_sd
                )
            )
            h[:, k - 1] = entry * at_home[:, k - 1]
    return children, hazards.first_event_within(h, q)


def licence_renewal(w: World, kind: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Renewal within the horizon, weighing the requirement: met already (the as-of state),
    or met month by month at the requirement's probability (the CME course process bringing
    the true hours to 120, integrated from the hours now; the refresher-course hazard), each
    month's renewal hazard taken with or without it. Months of the current year take the
    profession's year factor as drawn; months of a year not drawn yet are integrated over
    the factor's distribution (one draw shared by all of that year's months)."""
    lic, c = w.licences, w.params.careers
    active = np.flatnonzero(lic["active"] & (lic["kind"] == kind))
    n = len(active)
    met = np.ones(n, bool)
    q, requirement = np.zeros((n, horizon)), np.zeros((n, horizon))
    for k in range(1, horizon + 1):
        ym = w.ym + k
        death, household, individual = person_exit_probabilities(w, lic["person"][active], ym)
        quit = careers.licence_exit_probability(w, active, ym)
        q[:, k - 1] = 1 - hazards.survive(death, household, individual, quit)
        requirement[:, k - 1] = careers.requirement_probability(w, active, ym)
    if kind == 1:
        requirement = careers.cme_requirement_hazards(w, active, horizon)
    met_now = lic["requirement_ym"][active] != careers.NOT_MET
    this_year = w.ym // 12
    crosses = (w.ym + horizon) // 12 > this_year
    scenarios = c.renewal_year_factors if crosses else ((1.0, 1.0),)
    probability = np.zeros(n)
    for next_year_factor, weight in scenarios:
        h_met, h_missing = np.zeros((n, horizon)), np.zeros((n, horizon))
        for k in range(1, horizon + 1):
            ym = w.ym + k
            factor = careers.current_year_factor(w, kind, ym) if ym // 12 == this_year else None
            factor = next_year_factor if factor is None else factor
            h_met[:, k - 1] = careers.licence_renewal_hazard(w, active, ym, met, factor)
            h_missing[:, k - 1] = careers.licence_renewal_hazard(w, active, ym, ~met, factor)
        probability += weight * hazards.first_event_with_requirement(
            h_met, h_missing, requirement, q, met_now
        )
    return lic["person"][active], probability


def transport_business_license(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    b, v, c = w.businesses, w.vehicles, w.params.careers
    active = np.flatnonzero(b["active"])
    vehicles = np.flatnonzero(v["active"])
    vehicles = vehicles[b["active"][v["business"][vehicles]]]
    position = np.searchsorted(active, v["business"][vehicles])
    last_active_ym = np.minimum(
        v["badge_expiry_ym"][vehicles] + c.badge_lapse_after_months, v["end_ym"][vehicles]
    )
    h = np.zeros((len(active), horizon))
    q = np.zeros((len(active), horizon))
    expand = careers.expansion_probability(w, active)
    for k in range(1, horizon + 1):
        ym = w.ym + k
        q[:, k - 1] = careers.business_exit_probability(w, active, ym)
        hv = careers.vehicle_event_hazard(w, vehicles, ym) * (ym <= last_active_ym)
        log_none = np.zeros(len(active))
        np.add.at(log_none, position, np.log1p(-np.minimum(hv, 1 - 1e-12)))
        h[:, k - 1] = 1 - (1 - expand) * np.exp(log_none)
    return active, hazards.first_event_within(h, q)


def _poisson_binomial(probabilities: list[float]) -> np.ndarray:
    pmf = np.array([1.0])
    for prob in probabilities:
        pmf = np.concatenate([pmf * (1 - prob), [0.0]]) + np.concatenate([[0.0], pmf * prob])
    return pmf


def _binomial_pmf(n: int, prob: np.ndarray, k_max: int) -> np.ndarray:
    """P(k events in n months) for k = 0..k_max, per row of monthly probabilities `prob`."""
    ks = np.arange(k_max + 1)
    ways = np.array([math.comb(n, int(k)) for k in ks], dtype=float)
    p = np.asarray(prob, dtype=float)[:, None]
    return ways * p**ks * (1 - p) ** (n - ks)


def still_occupied(w: World, households: np.ndarray, months: int) -> np.ndarray:
    """P(each household (sorted ids) still lives in its home after `months` months: someone
    of it is still alive and present (a household is closed the month its last member
    leaves), and it is not temporarily away (drawn independently). Members leave
    independently; people who would join it meanwhile (births, brides) are not counted."""
    p = w.people
    members = np.flatnonzero(p["alive"] & p["present"] & np.isin(p["household"], households))
    stays = np.ones(len(members))
    for k in range(1, months + 1):
        stays *= 1 - member_departure_probability(w, members, w.ym + k)
    position = np.searchsorted(households, p["household"][members])
    with np.errstate(divide="ignore"):
        log_all_gone = np.bincount(position, np.log1p(-stays), minlength=len(households))
    at_home = hazards.household_at_home(
        w.households["away"][households], months, w.params.demography
    )
    return (1 - np.exp(log_all_gone)) * at_home[:, -1]


def _storm_pmfs(w: World, months: int) -> np.ndarray:
    """Per commune, the joint distribution over the next `months` of (the commune is hit at
    least once: 0/1, the number of months a household there is damaged): shape
    (communes, 2, months + 1). Each month the commune is hit with its marginal probability
    (months independent) and a household in a hit commune is damaged with the damage share."""
    share = w.params.poverty.storm_damage_share
    n_communes = len(w.communes)
    pmf = np.zeros((n_communes, 2, months + 1))
    pmf[:, 0, 0] = 1.0
    for k in range(1, months + 1):
        hit = poverty.storm_probability(w, w.ym + k)[:, None, None]
        after_hit = np.zeros_like(pmf)
        merged = pmf.sum(axis=1)  # once hit, the signal is on whatever came before
        after_hit[:, 1, :] += (1 - share) * merged
        after_hit[:, 1, 1:] += share * merged[:, :-1]
        pmf = (1 - hit) * pmf + hit * after_hit
    return pmf


def poor_household_confirmation(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """P(confirmed poor or near-poor at the next December review, within the horizon).

    Integrates the review as `poverty.annual_review` draws it: the household stays
    resident; its log income at the review is today's plus growth, Gaussian noise and the
    binomial counts of shocks and recoveries and the months it is damaged by a storm
    (jointly with whether its commune is hit, which the village head sees); given those, it
    enters (on the list, applies at the year's factor - its mean 1 while not yet drawn - or
    is proposed on its signals, an illness signal following from the shocks), the scorecard
    flags it, and
    the survey finds it under the line as its commune applies it. The noise is integrated
    by Gauss-Hermite quadrature; a count combination of weight under
    `MIN_COMBINATION_WEIGHT` for a household is dropped for it.
    """
    hh, pp = w.households, w.params.poverty
    here = np.flatnonzero(hh["present"])
    months_to_review = (pp.review_month - 1 - w.ym % 12) % 12 or 12
    if months_to_review > horizon:
        return here, np.zeros(len(here))
    n = months_to_review
    review_ym = w.ym + n
    mountain, urban = hh["mountain"][here], hh["urban"][here]
    commune = hh["commune"][here]
    exits = np.ones(len(here))
    total_drift = np.zeros(len(here))
    for k in range(1, n + 1):
        exits *= 1 - hazards.household_out_migration_probability(
            mountain, w.params.demography, w.factor("out_migration", w.ym + k, mountain)
        )
        total_drift += poverty.drift(w, mountain, w.ym + k)
    exits *= still_occupied(w, here, n)
    storms = _storm_pmfs(w, n)[commune]
    k_max = min(MAX_SHOCKS, n)
    shocks = _binomial_pmf(n, poverty.shock_probability(w, here), k_max)
    recoveries = _binomial_pmf(n, np.full(len(here), pp.recovery_monthly), k_max)
    nodes, node_weights = np.polynomial.hermite_e.hermegauss(GAUSS_HERMITE_NODES)
    node_weights = node_weights / node_weights.sum()
    sd = np.sqrt(n) * pp.monthly_volatility
    gap0 = poverty.log_income_line(w, urban, review_ym) - hh["log_income"][here] - total_drift
    deprivations = count_deprivations(hh["deprivations"][here])
    factor = poverty.year_factor(w, review_ym // 12)
    factor = 1.0 if factor is None else factor
    on_list = hh["on_poverty_list"][here].astype(float)
    discretion = poverty.commune_discretion(w)[commune]
    ill_now = poverty.illness_in_window(w, here, review_ym)
    storm_now = poverty.storm_in_window(w, commune, review_ym)

    def propose(ill: np.ndarray, storm: np.ndarray) -> np.ndarray:
        return poverty.propose_probability(w, deprivations, ill, storm, mountain)

    # Not entered unless it applies, by (shocks, whether the commune is hit): the illness and
    # storm signals of the proposal.
    not_entered_without_applying = {}
    for k1, hit in itertools.product(range(k_max + 1), (0, 1)):
        p_ill = 1 - (1 - ill_now) * (1 - pp.illness_share_of_shocks) ** k1
        storm = storm_now | bool(hit)
        proposed = p_ill * propose(np.ones(len(here)), storm) + (1 - p_ill) * propose(
            np.zeros(len(here)), storm
        )
        not_entered_without_applying[k1, hit] = (1 - on_list) * (1 - proposed)
    # Given the income gap at the review, entered x flagged x under the line is
    # flag x under - not_entered x (1 - apply) x flag x under: the two integrals over the
    # income noise depend on the counts only through the income shift (a shock and a storm
    # month cost the same), so each shift is integrated once, for the households whose
    # weight for it is not negligible and whose income could reach the line with it.
    by_shift: dict[float, list[tuple[int, int, int]]] = {}  # shift -> its count combinations
    for k1, k2, k3 in itertools.product(range(k_max + 1), range(k_max + 1), range(n + 1)):
        shift = k1 * pp.shock_log_size - k2 * pp.recovery_log_size + k3 * pp.storm_log_size
        by_shift.setdefault(round(shift, 12), []).append((k1, k2, k3))
    storm_months = storms.sum(axis=1)  # households x months damaged, hit or not
    highest_gap_offset = -sd * nodes.min()  # the node that lowers income most

    def confirmed_at(shift: float) -> tuple[np.ndarray, np.ndarray]:
        """(households, the part of their probability from the count combinations with this
        income shift)."""
        combinations = []  # (k1, households it counts for, their weights by hit)
        counted = np.zeros(len(here), bool)
        for k1, k2, k3 in by_shift[shift]:
            counts_weight = shocks[:, k1] * recoveries[:, k2]
            rows = np.flatnonzero(counts_weight * storm_months[:, k3] >= MIN_COMBINATION_WEIGHT)
            if len(rows):
                combinations.append((k1, rows, counts_weight[rows, None] * storms[rows, :, k3]))
                counted[rows] = True
        rows = np.flatnonzero(counted)
        # Both probabilities grow with the gap: at the highest gap the quadrature reaches,
        # their product bounds both integrals. Under the combination weight, it is dropped.
        highest = gap0[rows] + shift + highest_gap_offset
        bound = poverty.flag_probability(
            w, deprivations[rows], highest
        ) * poverty.below_line_probability(w, highest, discretion[rows])
        rows = rows[bound >= MIN_COMBINATION_WEIGHT]
        gaps = (gap0[rows] + shift)[:, None] - sd * nodes[None, :]  # households x nodes
        both = poverty.flag_probability(
            w, deprivations[rows, None], gaps
        ) * poverty.below_line_probability(w, gaps, discretion[rows, None])
        flagged_under, not_applying = np.zeros(len(here)), np.zeros(len(here))
        flagged_under[rows] = both @ node_weights
        not_applying[rows] = (both * (1 - poverty.apply_probability(w, gaps, factor))) @ (
            node_weights
        )
        part = np.zeros(len(here))
        for k1, counted_rows, weights in combinations:
            under, not_apply = flagged_under[counted_rows], not_applying[counted_rows]
            part[counted_rows] += weights[:, 0] * (
                under - not_entered_without_applying[k1, 0][counted_rows] * not_apply
            ) + weights[:, 1] * (
                under - not_entered_without_applying[k1, 1][counted_rows] * not_apply
            )
        return rows, part[rows]

    confirmed = np.zeros(len(here))
    # numpy throughout, which releases the GIL: the shifts share the cores as threads.
    with ThreadPoolExecutor(max_workers=INTEGRATION_THREADS) as pool:
        mapped = pool.map if INTEGRATION_THREADS > 1 else map
        for rows, part in mapped(confirmed_at, by_shift):
            confirmed[rows] += part
    return here, exits * confirmed


def month_end_oracle(w: World) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{service_id: (subject ids, P(label))} at the end of month w.ym."""
    out = {
        "birth_registration": birth_registration(w, service("birth_registration").horizon_months),
        "school_admission": school_admission(w, service("school_admission").horizon_months),
        "poor_household_confirmation": poor_household_confirmation(
            w, service("poor_household_confirmation").horizon_months
        ),
        "transport_business_license": transport_business_license(
            w, service("transport_business_license").horizon_months
        ),
    }
    for profession in careers.PROFESSIONS:
        out[profession.service_id] = licence_renewal(
            w, profession.kind, service(profession.service_id).horizon_months
        )
    return out


def oracle(as_of: dt.date | str, service_id: str, raw_dir: str | Path) -> pd.DataFrame:
    """The oracle for one service on a month-end `as_of`: subject_id, probability.

    `subject_id` is the twin's true id (person, household or business; map it with
    `truth/people.parquet` etc.).
    """
    if service_id not in SERVICE_IDS:
        raise KeyError(f"unknown service {service_id!r}; known: {', '.join(SERVICE_IDS)}")
    path = Path(raw_dir) / ORACLE_DIR / f"{service_id}.parquet"
    day = pd.Timestamp(as_of).date()
    table = ds.dataset(path).to_table(filter=ds.field("as_of") == pa.scalar(day, pa.date32()))
    frame = table.to_pandas()
    if frame.empty:
        raise ValueError(
            f"no oracle for {service_id} on {day}: as_of must be a simulated month end"
        )
    return frame[["subject_id", "probability"]].reset_index(drop=True)
