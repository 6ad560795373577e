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
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.twin import careers, hazards, poverty
from needs_model.twin.demography import (
    member_departure_probability,
    person_exit_probabilities,
    school_entry_probability,
)
from needs_model.twin.population import count_deprivations
from needs_model.twin.world import World

ORACLE_DIR = "truth/oracle"
MAX_SHOCKS = 5  # shock counts above this in a year have probability < 1e-4 here
GAUSS_HERMITE_NODES = 12  # income noise at the review; within 2e-8 of 60 nodes (checked)


def birth_registration(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    p, d = w.people, w.params.demography
    age = w.person_age()
    women = np.flatnonzero(
        (p["sex"] == 1) & p["alive"] & p["present"] & p["registered"] & (age >= 15) & (age <= 49)
    )
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
            at_risk *= hazards.survive(household, individual)
            h = hazards.birth_registration_probability(
                w.ym + k - p["birth_ym"][infants], m_mountain, p["facility_birth"][infants], d
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
                    (b, m * hazards.survive(household, individual)) for b, m in infant_mass
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
                        np.full(len(mothers), ym - birth_ym), mountain[pregnant], flag, d
                    )
                    reached += mass * h
                    updated.append((birth_ym, mass * (1 - h)))
                infant_mass = updated
            total += weight * reached
        no_event[pregnant] *= 1 - total
    return women, 1 - no_event


def school_admission(w: World, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    p = w.people
    years = w.ym // 12 - p["birth_ym"] // 12
    children = np.flatnonzero(
        p["alive"] & p["present"] & p["registered"] & ~p["grade1"] & (years >= 4) & (years <= 9)
    )
    h = np.zeros((len(children), horizon))
    q = np.zeros((len(children), horizon))
    for k in range(1, horizon + 1):
        ym = w.ym + k
        death, household, individual = person_exit_probabilities(w, children, ym)
        q[:, k - 1] = 1 - hazards.survive(death, household, individual)
        if ym % 12 + 1 == w.params.school.admission_month:
            h[:, k - 1] = school_entry_probability(w, children, ym // 12)
    return children, hazards.first_event_within(h, q)


def licence_renewal(w: World, kind: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Renewal within the horizon, weighing the requirement: met already (the as-of state),
    or met month by month at the requirement's probability (CME hours reaching 120, the
    refresher-course hazard), each month's renewal hazard taken with or without it."""
    lic = w.licences
    active = np.flatnonzero(lic["active"] & (lic["kind"] == kind))
    n = len(active)
    met = np.ones(n, bool)
    h_met, h_missing = np.zeros((n, horizon)), np.zeros((n, horizon))
    requirement, q = np.zeros((n, horizon)), np.zeros((n, horizon))
    for k in range(1, horizon + 1):
        ym = w.ym + k
        death, household, individual = person_exit_probabilities(w, lic["person"][active], ym)
        quit = careers.licence_exit_probability(w, active, ym)
        q[:, k - 1] = 1 - hazards.survive(death, household, individual, quit)
        h_met[:, k - 1] = careers.licence_renewal_hazard(w, active, ym, met)
        h_missing[:, k - 1] = careers.licence_renewal_hazard(w, active, ym, ~met)
        requirement[:, k - 1] = careers.requirement_probability(w, active, ym)
    met_now = lic["requirement_ym"][active] != careers.NOT_MET
    return lic["person"][active], hazards.first_event_with_requirement(
        h_met, h_missing, requirement, q, met_now
    )


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
    from scipy.stats import binom

    ks = np.arange(k_max + 1)
    return binom.pmf(ks[None, :], n, prob[:, None])


def still_occupied(w: World, households: np.ndarray, months: int) -> np.ndarray:
    """P(someone of each household (sorted ids) is still alive and present after `months`
    months; a household is closed the month its last member leaves. Members leave
    independently; people who would join it meanwhile (births, brides) are not counted."""
    p = w.people
    members = np.flatnonzero(p["alive"] & p["present"] & np.isin(p["household"], households))
    stays = np.ones(len(members))
    for k in range(1, months + 1):
        stays *= 1 - member_departure_probability(w, members, w.ym + k)
    position = np.searchsorted(households, p["household"][members])
    with np.errstate(divide="ignore"):
        log_all_gone = np.bincount(position, np.log1p(-stays), minlength=len(households))
    return 1 - np.exp(log_all_gone)


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
    by Gauss-Hermite quadrature; count combinations of weight under 1e-9 for every
    household are dropped.
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

    confirmed = np.zeros(len(here))
    for k1 in range(k_max + 1):
        p_ill = 1 - (1 - ill_now) * (1 - pp.illness_share_of_shocks) ** k1
        for hit, k3 in itertools.product((0, 1), range(storms.shape[2])):
            storm = storm_now | bool(hit)
            proposed = p_ill * propose(np.ones(len(here)), storm) + (1 - p_ill) * propose(
                np.zeros(len(here)), storm
            )
            not_entered_without_applying = (1 - on_list) * (1 - proposed)
            for k2 in range(k_max + 1):
                weight = shocks[:, k1] * recoveries[:, k2] * storms[:, hit, k3]
                if weight.max(initial=0.0) < 1e-9:
                    continue
                shift = k1 * pp.shock_log_size - k2 * pp.recovery_log_size + k3 * pp.storm_log_size
                inner = np.zeros(len(here))
                for z, node_weight in zip(nodes, node_weights, strict=True):
                    gap = gap0 + shift - sd * z
                    entered = 1 - not_entered_without_applying * (
                        1 - poverty.apply_probability(w, gap, factor)
                    )
                    inner += (
                        node_weight
                        * entered
                        * poverty.flag_probability(w, deprivations, gap)
                        * poverty.below_line_probability(w, gap, discretion)
                    )
                confirmed += weight * inner
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
