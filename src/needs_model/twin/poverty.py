"""Household income with shocks, storms and growth, and the annual poverty review as it is
run (Decree 07/2021/NĐ-CP amended by Decree 30/2025/NĐ-CP).

Every probability a draw uses is a function here, called identically by the simulator and
by the oracle (`twin/oracle.py`): the storm hazard per commune, the year's factor on
applying, applying, being proposed, the scorecard and the survey's result. Draws come from
the poverty stream (`World.stream`), month by month; nothing is drawn ahead.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from needs_model.catalogue.legal import legal_value, legal_value_or
from needs_model.twin.population import count_deprivations
from needs_model.twin.world import World, day_in_month, ym_to_date

STREAM = ("poverty", 101)
ENTRY_ROUTES = ("on_list", "applied", "proposed")
NO_MONTH = -(10**6)  # "never" for a month column
FIRST_FACTOR_YEAR = 2000  # the year factors are kept for years 2000-2199, by year - 2000


def rng(w: World) -> np.random.Generator:
    return w.stream(*STREAM)


def shock_probability(w: World, households: np.ndarray) -> np.ndarray:
    p = w.params.poverty
    return np.minimum(p.shock_monthly * w.households["vulnerability"][households], 0.5)


def _mountain_districts(w: World) -> tuple[np.ndarray, np.ndarray]:
    """Each commune's district index and whether that district is a mountain district
    (most of its communes are mountain communes)."""
    codes, district = np.unique(w.communes["district_code"].to_numpy(), return_inverse=True)
    mountain_communes = np.bincount(district, w.communes["is_mountain"].to_numpy().astype(float))
    share = mountain_communes / np.bincount(district, minlength=len(codes))
    return district, share > 0.5


def district_storm_probability(w: World, ym: int) -> np.ndarray:
    """P(a storm hits district d in month ym), for every district."""
    p = w.params.poverty
    _, mountain = _mountain_districts(w)
    if ym % 12 + 1 not in p.storm_season_months:
        return np.zeros(len(mountain))
    base = np.where(mountain, p.storm_district_monthly_mountain, p.storm_district_monthly_other)
    return np.minimum(base * w.factor("storm", ym, mountain), 1.0)


def coast_storm_probability(w: World, ym: int) -> float:
    """P(a typhoon hits every lowland / coastal commune in month ym)."""
    p = w.params.poverty
    if ym % 12 + 1 not in p.storm_season_months:
        return 0.0
    return float(min(p.storm_coast_monthly * w.factor("storm", ym, np.array([False]))[0], 1.0))


def storm_probability(w: World, ym: int) -> np.ndarray:
    """The marginal P(commune c is hit in month ym): its district's storm or the coast's
    typhoon. Communes of one district share the event, so hits are correlated; each
    household's own chance is this marginal."""
    district, _ = _mountain_districts(w)
    coastal = ~w.communes["is_mountain"].to_numpy()
    miss = (1 - district_storm_probability(w, ym)[district]) * (
        1 - coast_storm_probability(w, ym) * coastal
    )
    return 1 - miss


def drift(w: World, mountain: np.ndarray, ym: int) -> np.ndarray:
    """Nominal monthly log growth: inflation plus real growth (the scenario factor
    `income_drift` scales the real part)."""
    p = w.params.poverty
    return p.monthly_inflation + p.monthly_drift * w.factor("income_drift", ym, mountain)


def _log_by_area(urban: np.ndarray, rural_vnd: float, urban_vnd: float) -> np.ndarray:
    return np.where(urban, float(np.log(urban_vnd)), float(np.log(rural_vnd))).astype(float)


def log_income_line(w: World, urban: np.ndarray, ym: int) -> np.ndarray:
    day = ym_to_date(ym)
    return _log_by_area(
        urban,
        legal_value("poverty_income_line_rural_vnd", day),
        legal_value("poverty_income_line_urban_vnd", day),
    )


def min_deprivations_for_poor(ym: int) -> float:
    """Deprivations that make a household under the line poor; infinity before 2016, when
    income alone counted (Decision 09/2011)."""
    return legal_value_or("poverty_min_deprivations_for_poor", ym_to_date(ym), np.inf)


def log_income_floor(w: World, urban: np.ndarray, ym: int) -> np.ndarray:
    """The log income at or under which a household is poor whatever its deprivations
    (Decisions 09/2011 and 59/2015, 2011-2020); minus infinity while none is in force."""
    day = ym_to_date(ym)
    rural = legal_value_or("poverty_income_floor_rural_vnd", day, 0.0)
    city = legal_value_or("poverty_income_floor_urban_vnd", day, 0.0)
    with np.errstate(divide="ignore"):  # log(0) = -inf: no floor
        return _log_by_area(urban, rural, city)


# -- the review's stages: each probability as the simulator draws it ---------------------
def year_factor(w: World, year: int) -> float | None:
    """The year's factor on applying, or None before it is drawn (in January)."""
    factors = w.latent.get("apply_year_factor")
    index = year - FIRST_FACTOR_YEAR
    if factors is None or not 0 <= index < len(factors) or np.isnan(factors[index]):
        return None
    return float(factors[index])


def apply_probability(w: World, gap: np.ndarray, factor: float) -> np.ndarray:
    """P(apply | log line - true log income = gap, the year's factor). Linear in the factor,
    so a factor not yet drawn is integrated by its mean, 1."""
    p = w.params.poverty
    return factor * p.apply_max * ndtr((gap - p.apply_offset) / p.apply_scale)


def propose_probability(
    w: World, deprivations: np.ndarray, illness: np.ndarray, storm: np.ndarray, mountain: np.ndarray
) -> np.ndarray:
    """P(proposed by the village head / commune staff | the signals they see)."""
    p = w.params.poverty
    rate = (
        p.propose_base
        + p.propose_per_deprivation * deprivations
        + p.propose_illness * illness
        + p.propose_storm * storm
        + p.propose_mountain * mountain
    )
    return 1 - np.exp(-rate)


def scorecard_mean(w: World, deprivations: np.ndarray, gap: np.ndarray) -> np.ndarray:
    p = w.params.poverty
    return p.scorecard_deprivation_weight * deprivations + p.scorecard_income_weight * gap


def scorecard_points(w: World, score: np.ndarray) -> np.ndarray:
    """The score as the form records it: whole points."""
    return np.round(score * w.params.poverty.scorecard_points_per_unit).astype(np.int64)


def flag_probability(w: World, deprivations: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """P(the scorecard's points reach the threshold's): the score is at least the threshold
    less half a point (rounding to whole points)."""
    p = w.params.poverty
    threshold_points = scorecard_points(w, np.array([p.scorecard_threshold]))[0]
    lowest_score = (threshold_points - 0.5) / p.scorecard_points_per_unit
    return ndtr((scorecard_mean(w, deprivations, gap) - lowest_score) / p.scorecard_sd)


def below_line_probability(w: World, gap: np.ndarray, discretion: np.ndarray) -> np.ndarray:
    """P(the survey finds the household at or under the line | true gap, the commune's
    discretion): measured log income <= log line + discretion."""
    return ndtr((gap + discretion) / w.params.poverty.review_measurement_sd)


def commune_discretion(w: World) -> np.ndarray:
    return w.latent["commune_discretion"]


def storm_in_window(w: World, communes: np.ndarray, review_ym: int) -> np.ndarray:
    """A storm hit the commune in the 12 months up to the review (as known now)."""
    return w.latent["commune_storm_ym"][communes] > review_ym - 12


def illness_in_window(w: World, households: np.ndarray, review_ym: int) -> np.ndarray:
    return w.households["illness_ym"][households] > review_ym - 12


def ensure_state(w: World) -> None:
    """The review's latents, drawn once on the first month: each commune's discretion, and
    the list left by the review before the run (everyone surveyed then: below the line as
    measured, with the commune's discretion)."""
    if "commune_discretion" in w.latent:
        return
    p, hh, g = w.params.poverty, w.households, rng(w)
    n_communes = len(w.communes)
    w.latent["commune_discretion"] = p.commune_discretion_sd * g.standard_normal(n_communes)
    w.latent["commune_storm_ym"] = np.full(n_communes, NO_MONTH, np.int64)
    w.latent["apply_year_factor"] = np.full(200, np.nan)
    hh["illness_ym"] = np.full(hh.n, NO_MONTH, np.int32)
    here = np.flatnonzero(hh["present"])
    gap = log_income_line(w, hh["urban"][here], w.ym - 1) - hh["log_income"][here]
    measured_below = g.random(len(here)) < below_line_probability(
        w, gap, commune_discretion(w)[hh["commune"][here]]
    )
    hh["on_poverty_list"][here] = measured_below


def draw_year_factor(w: World) -> None:
    """The year's factor on applying, drawn on the first simulated month of each year."""
    year = w.ym // 12
    if year_factor(w, year) is None:
        spread = w.params.poverty.apply_year_factor_spread
        factor = rng(w).uniform(1 - spread, 1 + spread)
        w.latent["apply_year_factor"][year - FIRST_FACTOR_YEAR] = factor


def income_step(w: World) -> None:
    """A month of income: growth, noise, shocks (half a recorded illness or disability),
    recoveries and storms."""
    ensure_state(w)
    draw_year_factor(w)
    hh, p, g = w.households, w.params.poverty, rng(w)
    here = np.flatnonzero(hh["present"])
    district, _ = _mountain_districts(w)
    district_hit = g.random(district.max() + 1) < district_storm_probability(w, w.ym)
    coast_hit = g.random() < coast_storm_probability(w, w.ym)
    storm = district_hit[district] | (coast_hit & ~w.communes["is_mountain"].to_numpy())
    if storm.any():
        hit = np.flatnonzero(storm)
        w.latent["commune_storm_ym"][hit] = w.ym
        w.log.add("storms", commune=hit.astype(np.int16), month=day_in_month(w.ym, 1))
    damaged = storm[hh["commune"][here]] & (g.random(len(here)) < p.storm_damage_share)
    if damaged.any():
        # The commune lists its damaged households for relief (the extract writer decides
        # which lists reach the welfare agency): no draw here, so the world is unchanged.
        w.log.add(
            "storm_damage",
            household=here[damaged].astype(np.int32),
            commune=hh["commune"][here[damaged]].astype(np.int16),
            storm_date=day_in_month(w.ym, 1),
        )
    shocked = g.random(len(here)) < shock_probability(w, here)
    recovered = g.random(len(here)) < p.recovery_monthly
    change = (
        drift(w, hh["mountain"][here], w.ym)
        + p.monthly_volatility * g.standard_normal(len(here))
        - p.shock_log_size * shocked
        + p.recovery_log_size * recovered
        - p.storm_log_size * damaged
    )
    hh["log_income"][here] = hh["log_income"][here] + change
    # Part of the shocks are a member's illness or disability, which the health agency
    # records and the village head knows of.
    ill_households = here[shocked & (g.random(len(here)) < p.illness_share_of_shocks)]
    hh["illness_ym"][ill_households] = w.ym
    if len(ill_households):
        people = w.people
        members = np.flatnonzero(
            np.isin(people["household"], ill_households)
            & people["alive"]
            & people["present"]
            & people["registered"]
        )
        members = g.permutation(members)
        _, first = np.unique(people["household"][members], return_index=True)
        patients = members[first]
        disability = g.random(len(patients)) < 0.2
        people["chronic"][patients[~disability]] = True
        people["disabled"][patients[disability]] = True
        w.log.add(
            "health_conditions",
            person=patients.astype(np.int32),
            condition=np.where(disability, "disability", "chronic_illness"),
            diagnosis_date=day_in_month(w.ym, g.integers(1, 29, len(patients))),
            commune=w.households["commune"][people["household"][patients]],
        )


def annual_review(w: World) -> None:
    """The December review. Entry: on the list, applied (as the true situation worsens,
    times the year's factor) or proposed (visible signals); a scorecard screens the
    entrants; the flagged are surveyed in full (income with error, 12 deprivations) and
    found poor (>= 3 deprivations) or near-poor at or under the line as the commune applies
    it, else not poor; the unflagged are not poor and leave the list. Living conditions then
    improve a little (a deprivation resolved now and then), after the survey: between two
    reviews a household's deprivations do not change."""
    hh, p, g = w.households, w.params.poverty, rng(w)
    if w.ym % 12 + 1 != p.review_month:
        return
    here = np.flatnonzero(hh["present"])
    n = len(here)
    gap = log_income_line(w, hh["urban"][here], w.ym) - hh["log_income"][here]
    deprivations = count_deprivations(hh["deprivations"][here])
    factor = year_factor(w, w.ym // 12)
    assert factor is not None  # drawn in this month's income step
    on_list = hh["on_poverty_list"][here]
    applied = g.random(n) < apply_probability(w, gap, factor)
    proposed = g.random(n) < propose_probability(
        w,
        deprivations,
        illness_in_window(w, here, w.ym),
        storm_in_window(w, hh["commune"][here], w.ym),
        hh["mountain"][here],
    )
    # A household temporarily away is not found by the review (it cannot be confirmed).
    entered = (on_list | applied | proposed) & ~hh["away"][here]
    route = np.where(on_list, "on_list", np.where(applied, "applied", "proposed"))
    score = scorecard_mean(w, deprivations, gap) + p.scorecard_sd * g.standard_normal(n)
    points = scorecard_points(w, score)
    flagged = entered & (points >= scorecard_points(w, np.array([p.scorecard_threshold]))[0])
    discretion = commune_discretion(w)[hh["commune"][here]]
    error = p.review_measurement_sd * g.standard_normal(n)
    below = flagged & (error <= gap + discretion)
    # As the commune measures it: under the floor (before 2021) poor whatever it lacks;
    # between the floor and the line poor by deprivations (from 2016), else near-poor.
    floor_gap = log_income_floor(w, hh["urban"][here], w.ym) - hh["log_income"][here]
    poor = (deprivations >= min_deprivations_for_poor(w.ym)) | (error <= floor_gap + discretion)
    result = np.where(below, np.where(poor, "poor", "near_poor"), "not_poor")
    day = g.integers(1, 29, n)
    income = np.exp(hh["log_income"][here] + error)
    w.log.add(
        "household_surveys",
        household=here[entered].astype(np.int32),
        survey_year=w.ym // 12,
        survey_date=day_in_month(w.ym, day[entered]),
        entry_route=route[entered].astype(str),
        scorecard_points=points[entered],
        flagged=flagged[entered],
        income_vnd=(np.round(income[entered] / 10_000) * 10_000).astype(np.int64),
        deprivations=hh["deprivations"][here[entered]],
        result=result[entered].astype(str),
        commune=hh["commune"][here[entered]],
    )
    hh["on_poverty_list"][here] = below
    confirmed = here[below]
    w.log.add(
        "transactions",
        service="poor_household_confirmation",
        subject=confirmed.astype(np.int32),
        child=np.full(len(confirmed), -1, np.int32),
        date=day_in_month(w.ym, day[below]),
        commune=hh["commune"][confirmed],
    )
    resolve = g.random((n, 12)) < 1 - (1 - p.deprivation_monthly_resolution) ** 12
    mask = (resolve * (1 << np.arange(12))).sum(axis=1).astype(np.int16)
    hh["deprivations"][here] = hh["deprivations"][here] & ~mask
