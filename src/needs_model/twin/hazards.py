"""The twin's monthly transition probabilities, as pure functions of the true state.

The simulator draws every event from these functions, and the oracle integrates the
same functions over a label horizon, so the oracle is exactly the probability the
simulator used — not an estimate fitted to what happened.
"""

from __future__ import annotations

from functools import reduce
from math import gcd

import numpy as np

from needs_model.twin.params import (
    CmeCourseParameters,
    DemographyParameters,
    LicenceParameters,
    RefresherCourseParameters,
)

# Age-specific fertility shape (births per woman-year by 5-year group from 15), the
# Vietnamese pattern peaking at 25-29; scaled to the target total fertility.
ASFR_SHAPE = np.array([0.030, 0.125, 0.135, 0.090, 0.042, 0.010, 0.002])
# Calibrated once so that the simulated TFR matches the target (see calibration.json).
CONCEPTION_SCALE = 3.3


def age_years(birth_ym: np.ndarray, ym: int) -> np.ndarray:
    """Completed years of age at month `ym` (months since year 0)."""
    return (ym - birth_ym) // 12


def death_probability(
    age: np.ndarray,
    male: np.ndarray,
    p: DemographyParameters,
    age_months: np.ndarray | None = None,
) -> np.ndarray:
    """Monthly death probability: Gompertz by completed years, the infant rate in the first
    year, and the neonatal probability at age 1 month (the first month end after the birth
    month, when the first exits are drawn; registered or not). `age_months` defaults to
    12 × age, which never meets the neonatal month."""
    annual = np.exp(p.mortality_gompertz_a + p.mortality_gompertz_b * age)
    annual = np.where(male, annual * p.mortality_male_factor, annual)
    annual = np.where(age == 0, p.infant_mortality_annual, annual)
    monthly = np.minimum(1.0 - (1.0 - np.minimum(annual, 0.9)) ** (1 / 12), 0.5)
    if age_months is None:
        return monthly
    return np.where(age_months == 1, p.neonatal_mortality, monthly)


def individual_out_migration_probability(
    age: np.ndarray, p: DemographyParameters, factor: float | np.ndarray = 1.0
) -> np.ndarray:
    young = (age >= 18) & (age <= 30)
    return np.where(young, p.young_adult_out_migration_monthly * factor, 0.0)


def household_out_migration_probability(
    mountain: np.ndarray, p: DemographyParameters, factor: float | np.ndarray = 1.0
) -> np.ndarray:
    base = np.where(
        mountain,
        p.household_out_migration_monthly * p.household_out_migration_mountain_factor,
        p.household_out_migration_monthly,
    )
    return base * factor


def temporary_absence_probability(
    age: np.ndarray, pregnant: np.ndarray, p: DemographyParameters
) -> np.ndarray:
    """A person at home leaves for a while on their own (work away), still registered here:
    adults of 18-40 who are not pregnant."""
    leaves = (age >= 18) & (age <= 40) & ~pregnant
    return np.where(leaves, p.temporary_absence_monthly, 0.0)


def household_at_home(away_now: np.ndarray, months: int, p: DemographyParameters) -> np.ndarray:
    """P(a resident household is at home, not temporarily away, after each of the next
    `months` months' absence draws), shape (n, months): the two-state chain of
    `household_absence_monthly` and `household_return_monthly` from its state now."""
    home = np.where(away_now, 0.0, 1.0)
    out = np.zeros((len(home), months))
    for k in range(months):
        home = home * (1 - p.household_absence_monthly) + (1 - home) * p.household_return_monthly
        out[:, k] = home
    return out


def bride_probability(p: DemographyParameters) -> float:
    """A single woman of 18-35 marries in a month (and joins her husband's household or a
    new one)."""
    return p.marriage_monthly_women_18_35


def groom_probability(single_women: int, single_men: int, p: DemographyParameters) -> float:
    """A single man of 20-40 is chosen as a groom in a month: the month's expected brides
    shared among the single men (the simulator picks grooms uniformly among them)."""
    if single_men == 0:
        return 0.0
    return min(single_women * bride_probability(p) / single_men, 1.0)


def conception_probability(
    age: np.ndarray,
    married: np.ndarray,
    parity: np.ndarray,
    urban: np.ndarray,
    mountain: np.ndarray,
    p: DemographyParameters,
    factor: float | np.ndarray = 1.0,
) -> np.ndarray:
    group = np.clip((age - 15) // 5, 0, 6)
    annual = ASFR_SHAPE[group] * p.total_fertility_target / (5 * ASFR_SHAPE.sum())
    monthly = annual / 12 * CONCEPTION_SCALE
    monthly = monthly * np.where(married, 1.0, p.unmarried_conception_factor)
    monthly = monthly * np.where(parity >= 2, p.parity2_conception_factor, 1.0)
    monthly = monthly * np.where(urban, p.urban_fertility_factor, 1.0)
    monthly = monthly * np.where(mountain, p.mountain_fertility_factor, 1.0)
    monthly = monthly * np.where(age < 15, p.early_fertility_factor, 1.0)
    monthly = monthly * np.where(age > 49, p.late_fertility_factor, 1.0)
    youngest, oldest = p.fertile_ages
    fertile = (age >= youngest) & (age <= oldest)
    return np.where(fertile, np.minimum(monthly * factor, 0.5), 0.0)


def with_odds_factor(probability: np.ndarray, factor: float | np.ndarray) -> np.ndarray:
    """`probability` with its odds multiplied by `factor` (a year's take-up propensity)."""
    raised = probability * factor
    return raised / (1.0 - probability + raised)


def yearly_factor_draw(rng: np.random.Generator, sd: float) -> float:
    """A year's propensity factor: log-normal with mean 1 and log-spread `sd`."""
    return float(np.exp(sd * rng.standard_normal() - sd**2 / 2))


def yearly_factor_nodes(sd: float, n: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Hermite nodes and weights of the factor `yearly_factor_draw` draws: the oracle's
    expectation over a year whose factor is not drawn yet."""
    x, weight = np.polynomial.hermite.hermgauss(n)
    return np.exp(sd * np.sqrt(2) * x - sd**2 / 2), weight / np.sqrt(np.pi)


def pregnancy_loss_probability(gestation: np.ndarray, p: DemographyParameters) -> np.ndarray:
    table = np.array(p.pregnancy_loss_by_gestation)
    return np.where(gestation < len(table), table[np.minimum(gestation, len(table) - 1)], 0.0)


def birth_probability(gestation: np.ndarray, p: DemographyParameters) -> np.ndarray:
    out = np.zeros(gestation.shape)
    for g, prob in p.birth_hazard_by_gestation.items():
        out = np.where(gestation == g, prob, out)
    return np.where(gestation > max(p.birth_hazard_by_gestation), 1.0, out)


def birth_registration_probability(
    age_months: np.ndarray,
    mountain: np.ndarray,
    facility_birth: np.ndarray,
    p: DemographyParameters,
    year_factor: float = 1.0,
) -> np.ndarray:
    table = np.array(p.birth_registration_by_age_months)
    base = table[np.minimum(age_months, len(table) - 1)]
    base = base * np.where(mountain, p.birth_registration_mountain_factor, 1.0)
    base = base * np.where(facility_birth, p.birth_registration_facility_factor, 1.0)
    return with_odds_factor(np.minimum(base, 0.95), year_factor)


def licence_renewal_probability(
    months_to_expiry: np.ndarray,
    requirement_met: np.ndarray,
    engagement: np.ndarray,
    age: np.ndarray,
    p: LicenceParameters,
    year_factor: float = 1.0,
) -> np.ndarray:
    """Monthly renewal probability of a licence in force: the table by months to expiry,
    x requirement, engagement, retirement and the profession's factor for the year."""
    base = np.zeros(months_to_expiry.shape)
    for months, prob in p.renewal_by_months_to_expiry.items():
        base = np.where(months_to_expiry == months, prob, base)
    base = base * np.where(requirement_met, p.requirement_met_factor, p.requirement_missing_factor)
    base = base * (p.engagement_floor + (1 - p.engagement_floor) * engagement)
    base = base * np.where(age >= p.retirement_age, p.retirement_factor, 1.0)
    return np.minimum(base * year_factor, 0.97)


def licence_reapply_probability(engagement: np.ndarray, p: LicenceParameters) -> np.ndarray:
    """A holder practising on after a recorded lapse applies for a new licence this month."""
    return p.reapply_monthly * (p.engagement_floor + (1 - p.engagement_floor) * engagement)


def refresher_course_probability(
    months_to_expiry: np.ndarray, p: RefresherCourseParameters
) -> np.ndarray:
    """A tour guide who has not taken the refresher course for the current card takes it
    this month."""
    out = np.zeros(months_to_expiry.shape)
    for at_most, prob in sorted(p.by_months_to_expiry, reverse=True):
        out = np.where(months_to_expiry <= at_most, prob, out)
    return out


def cme_course_probability(rate: np.ndarray, p: CmeCourseParameters) -> np.ndarray:
    """A medical licence holder completes a CME course this month: the holder's mean CME hours
    per month over the mean course length."""
    return np.minimum(rate / p.mean_hours, 1.0)


def cme_requirement_hazards(
    hours_now: np.ndarray,
    course_probability: np.ndarray,
    required: int,
    p: CmeCourseParameters,
    months: int,
) -> np.ndarray:
    """P(the true CME hours first reach `required` in month k | not before), k = 1..months,
    from `hours_now` at the as-of month end, integrating the course process month by month
    (a course with `course_probability`, its hours drawn from `p.hours`). Shape (n, months);
    rows already at `required` get 1. Hours are tracked exactly, in units of the greatest
    common divisor of the course lengths."""
    unit = reduce(gcd, [h for h, _ in p.hours])
    levels = -(-required // unit)
    n = len(hours_now)
    deficit = -(-np.maximum(required - hours_now.astype(np.int64), 0) // unit)
    pmf = np.zeros((n, levels + 1))
    pmf[np.arange(n), np.minimum(deficit, levels)] = 1.0
    c = course_probability[:, None]
    met_before = pmf[:, 0].copy()
    out = np.ones((n, months))
    for month in range(months):
        updated = (1.0 - c) * pmf
        for hours, share in p.hours:
            step = min(hours // unit, levels)
            shifted = np.zeros_like(pmf)
            shifted[:, 0] = pmf[:, : step + 1].sum(axis=1)
            shifted[:, 1 : levels + 1 - step] = pmf[:, step + 1 :]
            updated += c * share * shifted
        pmf = updated
        met = pmf[:, 0]
        waiting = met_before < 1.0
        out[waiting, month] = (met[waiting] - met_before[waiting]) / (1.0 - met_before[waiting])
        met_before = met.copy()
    return out


def licence_quit_probability(
    engagement: np.ndarray, age: np.ndarray, p: LicenceParameters
) -> np.ndarray:
    quit = p.quit_monthly * (1.5 - engagement)
    return np.where(age >= p.retirement_age, quit * 4, quit)


def badge_renewal_probability(months_to_expiry: np.ndarray, table: dict[int, float]) -> np.ndarray:
    out = np.zeros(months_to_expiry.shape)
    for months, prob in table.items():
        out = np.where(months_to_expiry == months, prob, out)
    return out


def first_event_with_requirement(
    met_hazards: np.ndarray,
    missing_hazards: np.ndarray,
    requirement: np.ndarray,
    exits: np.ndarray,
    met_at_start: np.ndarray,
) -> np.ndarray:
    """P(event in one of H months) when the event's hazard depends on a requirement that is
    met already or gets met at a monthly rate (and then stays met).

    Each month, exits are drawn first; a subject still present then has the event with
    `met_hazards` if its requirement is met, `missing_hazards` if not; then a subject whose
    requirement is still not met meets it with probability `requirement` (counting from the
    next month). Arrays have shape (n, H); `met_at_start` is the as-of state, shape (n,).
    """
    met = met_at_start.astype(float)
    missing = 1.0 - met
    probability = np.zeros(len(met))
    for month in range(met_hazards.shape[1]):
        met = met * (1.0 - exits[:, month])
        missing = missing * (1.0 - exits[:, month])
        probability += met * met_hazards[:, month] + missing * missing_hazards[:, month]
        met = met * (1.0 - met_hazards[:, month])
        missing = missing * (1.0 - missing_hazards[:, month])
        newly = missing * requirement[:, month]
        met, missing = met + newly, missing - newly
    return probability


def survive(*exit_probabilities: np.ndarray) -> np.ndarray:
    """Probability of none of several independent exits."""
    out = np.ones_like(exit_probabilities[0], dtype=float)
    for q in exit_probabilities:
        out = out * (1.0 - q)
    return out


def first_event_within(hazards: np.ndarray, exits: np.ndarray) -> np.ndarray:
    """P(event in one of H months) for rows of monthly hazards and exit probabilities.

    Each month, exits are drawn first; a subject still present then has the event with
    that month's hazard. `hazards` and `exits` have shape (n, H).
    """
    still_at_risk = np.ones(hazards.shape[0])
    probability = np.zeros(hazards.shape[0])
    for month in range(hazards.shape[1]):
        present = still_at_risk * (1.0 - exits[:, month])
        probability += present * hazards[:, month]
        still_at_risk = present * (1.0 - hazards[:, month])
    return probability
