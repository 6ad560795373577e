"""Household income with shocks, storms, and the annual poverty review (Decree 07/2021)."""

from __future__ import annotations

import numpy as np

from needs_model.catalogue.legal import legal_value
from needs_model.twin.population import count_deprivations
from needs_model.twin.world import World, day_in_month, ym_to_date


def shock_probability(w: World, households: np.ndarray) -> np.ndarray:
    p = w.params.poverty
    return np.minimum(p.shock_monthly * w.households["vulnerability"][households], 0.5)


def storm_probability(w: World, mountain: np.ndarray, ym: int) -> np.ndarray:
    p = w.params.poverty
    if ym % 12 + 1 not in p.storm_season_months:
        return np.zeros(len(mountain))
    base = np.where(mountain, p.storm_monthly_in_season_mountain, p.storm_monthly_in_season_other)
    return np.minimum(base * w.factor("storm", ym, mountain), 1.0)


def drift(w: World, mountain: np.ndarray, ym: int) -> np.ndarray:
    return w.params.poverty.monthly_drift * w.factor("income_drift", ym, mountain)


def log_income_line(w: World, urban: np.ndarray, ym: int) -> np.ndarray:
    day = ym_to_date(ym)
    rural = np.log(legal_value("poverty_income_line_rural_vnd", day))
    city = np.log(legal_value("poverty_income_line_urban_vnd", day))
    return np.where(urban, float(city), float(rural)).astype(float)


def income_step(w: World) -> None:
    hh, p = w.households, w.params.poverty
    here = np.flatnonzero(hh["present"])
    mountain_communes = w.communes["is_mountain"].to_numpy()
    storm = w.rng.random(len(mountain_communes)) < storm_probability(w, mountain_communes, w.ym)
    if storm.any():
        hit = np.flatnonzero(storm)
        w.log.add("storms", commune=hit.astype(np.int16), month=day_in_month(w.ym, 1))
    shocked = w.rng.random(len(here)) < shock_probability(w, here)
    recovered = w.rng.random(len(here)) < p.recovery_monthly
    change = (
        drift(w, hh["mountain"][here], w.ym)
        + p.monthly_volatility * w.rng.standard_normal(len(here))
        - p.shock_log_size * shocked
        + p.recovery_log_size * recovered
        - p.storm_log_size * storm[hh["commune"][here]]
    )
    hh["log_income"][here] = hh["log_income"][here] + change
    # Half of the shocks are a member's illness or disability, which the health agency records.
    ill_households = here[shocked & (w.rng.random(len(here)) < 0.5)]
    if len(ill_households):
        people = w.people
        members = np.flatnonzero(
            np.isin(people["household"], ill_households)
            & people["alive"]
            & people["present"]
            & people["registered"]
        )
        members = w.rng.permutation(members)
        _, first = np.unique(people["household"][members], return_index=True)
        patients = members[first]
        disability = w.rng.random(len(patients)) < 0.2
        people["chronic"][patients[~disability]] = True
        people["disabled"][patients[disability]] = True
        w.log.add(
            "health_conditions",
            person=patients.astype(np.int32),
            condition=np.where(disability, "disability", "chronic_illness"),
            diagnosis_date=day_in_month(w.ym, w.days(len(patients))),
            commune=w.households["commune"][people["household"][patients]],
        )
    # Slow improvement of living conditions: a deprivation is resolved now and then.
    resolve = w.rng.random((len(here), 12)) < 0.002
    mask = (resolve * (1 << np.arange(12))).sum(axis=1).astype(np.int16)
    hh["deprivations"][here] = hh["deprivations"][here] & ~mask


def annual_review(w: World) -> None:
    """The commune review: households below the income line are confirmed poor (≥3 of 12
    deprivations) or near-poor; every present household is screened."""
    hh, p = w.households, w.params.poverty
    if w.ym % 12 + 1 != p.review_month:
        return
    here = np.flatnonzero(hh["present"])
    measured = hh["log_income"][here] + p.review_measurement_sd * w.rng.standard_normal(len(here))
    below_line = measured <= log_income_line(w, hh["urban"][here], w.ym)
    takes_part = w.rng.random(len(here)) < p.review_take_up
    deprivations = count_deprivations(hh["deprivations"][here])
    minimum = legal_value("poverty_min_deprivations_for_poor", ym_to_date(w.ym))
    result = np.where(
        below_line, np.where(deprivations >= minimum, "poor", "near_poor"), "not_poor"
    )
    # Eligible households that do not come forward are not surveyed at all this year.
    # A household temporarily away is not found by the review (it cannot be confirmed).
    takes_part = takes_part & ~hh["away"][here]
    surveyed = (~below_line | takes_part) & ~hh["away"][here]
    day = w.days(len(here))
    w.log.add(
        "household_surveys",
        household=here[surveyed].astype(np.int32),
        survey_year=w.ym // 12,
        survey_date=day_in_month(w.ym, day[surveyed]),
        income_vnd=(np.round(np.exp(measured[surveyed]) / 10_000) * 10_000).astype(np.int64),
        deprivations=hh["deprivations"][here[surveyed]],
        result=result[surveyed].astype(str),
        commune=hh["commune"][here[surveyed]],
    )
    confirmed = here[below_line & takes_part]
    w.log.add(
        "transactions",
        service="poor_household_confirmation",
        subject=confirmed.astype(np.int32),
        child=np.full(len(confirmed), -1, np.int32),
        date=day_in_month(w.ym, day[below_line & takes_part]),
        commune=hh["commune"][confirmed],
    )
