"""Every rate the twin draws from, in one place, with where its value comes from.

Values marked [U] are calibration choices, not published figures; `calibration.json`
reports how the resulting province compares with the published ones. Scenarios (a storm
season, a new poverty line, an out-migration wave) are `Scenario` entries that scale a
named rate over a date range, so drift experiments need no change to the simulator.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Scenario:
    """Multiply rate `rate` by `factor` for months in [start, end], optionally only in the
    mountain districts. Rates: storm, out_migration, in_migration, conception, income_drift,
    renewal (licence renewals before expiry)."""

    name: str
    rate: str
    factor: float
    start: dt.date
    end: dt.date
    mountain_only: bool = False


@dataclass(frozen=True)
class DemographyParameters:
    total_fertility_target: float = 1.95  # national TFR 1.91-2.01, 2022-2024 [V]
    urban_fertility_factor: float = 0.82  # urban 1.67 vs rural 2.08 (2024) [V]
    mountain_fertility_factor: float = 1.25  # [U] higher fertility in mountain districts
    unmarried_conception_factor: float = 0.06  # [U]
    parity2_conception_factor: float = 0.35  # [U] the two-child norm
    postpartum_months_without_conception: int = 3  # [U]
    # Conceptions outside 15-49 are rare: at 13-14 at this share of the 15-19 rate, at 50-51
    # at this share of the 45-49 rate [U].
    fertile_ages: tuple[int, int] = (13, 51)
    early_fertility_factor: float = 0.1  # [U]
    late_fertility_factor: float = 0.3  # [U]
    # Monthly loss by month of gestation g = 0..9: early loss in months 1-4, then late loss
    # (stillbirth) 0.2 % a month in months 5-9, about 1 % of pregnancies reaching month 5 [U].
    pregnancy_loss_by_gestation: tuple[float, ...] = (0.0, 0.03, 0.03, 0.025, 0.02) + (0.002,) * 5
    birth_hazard_by_gestation: dict[int, float] = field(
        default_factory=lambda: {8: 0.08, 9: 0.85, 10: 1.0}
    )  # [U] ~8% born a month early, ~13% a month late
    antenatal_registration_by_gestation: dict[int, float] = field(
        default_factory=lambda: {2: 0.45, 3: 0.55, 4: 0.5}
    )  # [U] share of remaining pregnancies first seen at antenatal care in that month
    antenatal_mountain_factor: float = 0.6  # [U]
    facility_birth_share: float = 0.95  # [U]
    facility_birth_share_mountain: float = 0.75  # [U]
    # Monthly probability that a birth not yet registered is registered, by the child's age
    # in months (age 0 = month of birth). With these and the yearly factor, 83.6% register
    # within 60 days on the demo province (bench/twin_process_figures.py) [U].
    birth_registration_by_age_months: tuple[float, ...] = (0.45, 0.62, 0.45, 0.3, 0.2)
    birth_registration_mountain_factor: float = 0.7  # [U] distance to the commune office
    birth_registration_facility_factor: float = 1.15  # [U] the facility nudges parents
    # A year's take-up: each January the odds of every registration hazard that year are
    # multiplied by a factor drawn log-normal with mean 1 and this spread (campaigns, the
    # commune office's staffing) [U].
    birth_registration_yearly_sd: float = 0.15  # [U]
    # Gompertz mortality: annual rate exp(a + b * age), male factor; infant mortality.
    mortality_gompertz_a: float = -9.85  # [U] gives a crude death rate near 6-7 per mille
    mortality_gompertz_b: float = 0.088
    mortality_male_factor: float = 1.45
    # Infants: a neonatal death probability at the first month end after the birth month
    # (registered or not), then an annual rate for the rest of the first year; together an
    # infant mortality near 12 per mille, half of it neonatal [U].
    neonatal_mortality: float = 0.006  # [U]
    infant_mortality_annual: float = 0.0065  # [U] after the first month
    marriage_monthly_women_18_35: float = 0.012  # [U]
    marriage_new_household_share: float = 0.35  # [U] the couple sets up its own household
    household_out_migration_monthly: float = 0.0009  # [U]
    household_out_migration_mountain_factor: float = 0.6  # [U]
    young_adult_out_migration_monthly: float = (
        0.0035  # [U] ages 18-30, to cities / industrial zones
    )
    household_in_migration_monthly: float = 0.0007  # [U] per resident household
    internal_move_monthly: float = 0.0008  # [U] household moves to another commune
    # How the registry learns of deaths (ExtractWriter.registry_people): relatives report a
    # death days to weeks after it (a log-normal lag with a tail past a month, longer in the
    # mountains), and some deaths are never reported while the household stays on [U].
    death_registration_median_days: float = 7.0  # [U]
    # Relatives report a death within 15 days (Law on Civil Status 2014, art. 33; not in
    # FACTS.md [U]); a later report is written to truth/errors as late.
    death_registration_deadline_days: int = 15
    death_registration_median_days_mountain: float = 20.0  # [U] distance to the commune office
    death_registration_lag_sigma: float = 1.0  # [U] log-normal spread of the lag
    death_never_registered: float = 0.03  # [U]
    death_never_registered_mountain: float = 0.10  # [U]
    # Ghost residents: an out-migrant's departure (a household's, or a person's on their own)
    # reaches the registry late (an exponential lag in months) or never; until then the
    # registry keeps them resident [U].
    departure_recorded_late: float = 0.3  # [U]
    departure_lag_mean_months: float = 8.0  # [U]
    departure_never_recorded: float = 0.1  # [U]
    # Temporary absence, still registered and still a member of the household: adults of
    # 18-40 working away on their own, and whole households away (seasonal work); each month
    # a person or household at home leaves with these probabilities and one away comes back
    # with the return probability. A woman away conceives no child here; a household away is
    # not reviewed for poverty and its children do not enter grade 1 here [U].
    temporary_absence_monthly: float = 0.004  # [U] ages 18-40, not pregnant
    temporary_return_monthly: float = 0.12  # [U] about 8 months away on average
    household_absence_monthly: float = 0.0015  # [U]
    household_return_monthly: float = 0.15  # [U] about 7 months away on average


@dataclass(frozen=True)
class SchoolParameters:
    admission_month: int = 8  # grade-1 admission round (recorded in August) [U]
    # Probability of entering grade 1 at the round of the calendar year the child turns k.
    entry_by_age: dict[int, float] = field(
        default_factory=lambda: {6: 0.965, 7: 0.75, 8: 0.6, 9: 0.5}
    )  # [U]; delays allowed up to 3 years (Circular 28/2020 art. 33)
    # Entry later than the law allows (after 9) is rare: ages 10 and 11 of the few left [U].
    # No entry at 5: the entry age is 6 by calendar year and only later entry is provided for
    # (Education Law 2019 art. 28(1)(a), Circular 28/2020 art. 33; FACTS.md).
    late_entry_by_age: dict[int, float] = field(default_factory=lambda: {10: 0.3, 11: 0.2})
    # A year's take-up: each January the odds of entry at that year's round are multiplied by
    # a factor drawn log-normal with mean 1 and this spread [U].
    yearly_take_up_sd: float = 0.15  # [U]
    disability_factor: float = 0.55  # [U]
    remote_minority_factor: float = 0.93  # [U] ethnic-minority children in mountain communes


@dataclass(frozen=True)
class LicenceParameters:
    """A profession whose practice document expires and is renewed (or not)."""

    holders_per_10k: float  # [U]
    validity_months: int
    # Monthly renewal probability by months to expiry (positive: before expiry).
    renewal_by_months_to_expiry: dict[int, float]
    lapse_after_months: int  # not renewed this many months after expiry: practice ends
    quit_monthly: float  # leaves the profession, for reasons the agencies never record [U]
    requirement_met_factor: float  # CME hours / refresher course done
    requirement_missing_factor: float
    engagement_floor: float  # renewal factor for the least engaged holder [U]
    retirement_age: int
    retirement_factor: float
    # Mean CME hours per month (medical: the holder's rate of completing courses) [U]; 0 if
    # nothing accrues.
    requirement_rate_mean: float
    requirement_rate_sd: float
    # After a recorded lapse the holder may go on practising unrecorded and apply for a new
    # licence (a new issue, not a renewal): monthly probability x engagement, within this
    # many months of the lapse; past them the holder has left the profession [U].
    reapply_monthly: float = 0.0
    reapply_within_months: int = 0


@dataclass(frozen=True)
class RefresherCourseParameters:
    """The refresher course a tour guide's card renewal asks for: each month, a holder who has
    not taken it for the current card takes it with a probability that rises as expiry
    approaches (none in the card's first year), drawn month by month, never ahead.

    [U] With these, a holder has taken it (renewing first aside) with probability 21 % two
    years before expiry, 59 % when the renewal window opens (6 months before), 72 % at expiry
    and 76 % in the last month of grace: near the pre-drawn date it replaces (uniform 1-7
    years into the card: 59 % at the window's opening, 67 % at expiry), with the courses now
    taken in the card's last two years rather than spread past its expiry.
    """

    # (at most this many months to expiry, monthly probability); the tightest band applies.
    by_months_to_expiry: tuple[tuple[int, float], ...] = ((48, 0.01), (24, 0.035), (6, 0.06))


@dataclass(frozen=True)
class CmeCourseParameters:
    """Medical CME as it happens and as it is reported: hours come in lumps when a course is
    completed, not month by month; the licence's renewal needs 120 hours per 5-year cycle
    (Circular 32/2023/TT-BYT, FACTS.md), met in the month the true hours reach it.

    Each month a holder completes a course with probability (the holder's latent CME hours per
    month, `LicenceParameters.requirement_rate_*`) / (the mean course length), capped at 1;
    the course's hours are drawn from `hours`. The licensing agency records a course when its
    certificate is sent in: some never are, a few are recorded with the hours of another
    course length.
    """

    # (hours, share of courses) [U]: short refreshers to multi-week programmes.
    hours: tuple[tuple[int, float], ...] = ((4, 0.25), (8, 0.35), (16, 0.2), (24, 0.12), (40, 0.08))
    unreported_share: float = 0.12  # [U] courses whose certificate never reaches the agency
    misrecorded_share: float = 0.03  # [U] recorded with another course length's hours

    @property
    def mean_hours(self) -> float:
        return sum(h * share for h, share in self.hours)


# [U] Monthly renewal probability by months to expiry: early renewals (12 to 7 months
# before, a holder who moves or changes practice renews then), the window (6 before to 3
# after expiry).
RENEWAL_WINDOW = {
    12: 0.003,
    11: 0.003,
    10: 0.004,
    9: 0.004,
    8: 0.005,
    7: 0.006,
    6: 0.05,
    5: 0.07,
    4: 0.1,
    3: 0.15,
    2: 0.25,
    1: 0.35,
    0: 0.4,
    -1: 0.3,
    -2: 0.3,
    -3: 0.3,
}


@dataclass(frozen=True)
class CareerParameters:
    medical: LicenceParameters = LicenceParameters(
        holders_per_10k=30.0,
        validity_months=60,
        renewal_by_months_to_expiry=RENEWAL_WINDOW,
        lapse_after_months=3,
        quit_monthly=0.002,
        requirement_met_factor=1.0,
        requirement_missing_factor=0.3,
        engagement_floor=0.35,
        retirement_age=62,
        retirement_factor=0.5,
        requirement_rate_mean=2.1,
        requirement_rate_sd=0.55,
        reapply_monthly=0.03,
        reapply_within_months=36,
    )
    tour_guide: LicenceParameters = LicenceParameters(
        holders_per_10k=10.0,
        validity_months=60,
        renewal_by_months_to_expiry=RENEWAL_WINDOW,
        lapse_after_months=3,
        quit_monthly=0.005,
        requirement_met_factor=1.0,
        requirement_missing_factor=0.25,
        engagement_floor=0.2,
        retirement_age=60,
        retirement_factor=0.5,
        requirement_rate_mean=0.0,
        requirement_rate_sd=0.0,
        reapply_monthly=0.02,
        reapply_within_months=36,
    )
    tour_guide_refresher: RefresherCourseParameters = RefresherCourseParameters()
    medical_cme: CmeCourseParameters = CmeCourseParameters()
    # [U] A profession's renewal propensity this year (agency campaigns, fee changes, the
    # economy): every renewal hazard of the profession x a factor drawn in January from
    # these (factor, probability) pairs, one draw per profession and year.
    renewal_year_factors: tuple[tuple[float, float], ...] = ((0.75, 0.25), (1.0, 0.5), (1.3, 0.25))
    veterinary: LicenceParameters = LicenceParameters(
        holders_per_10k=2.5,
        validity_months=60,
        renewal_by_months_to_expiry=RENEWAL_WINDOW,
        lapse_after_months=3,
        quit_monthly=0.003,
        requirement_met_factor=1.0,
        requirement_missing_factor=1.0,
        engagement_floor=0.3,
        retirement_age=60,
        retirement_factor=0.6,
        requirement_rate_mean=0.0,
        requirement_rate_sd=0.0,
        reapply_monthly=0.03,
        reapply_within_months=36,
    )
    transport_businesses_per_10k: float = 8.0  # [U]
    vehicles_per_business_mean: float = 3.5  # [U]
    vehicle_service_life_years: tuple[int, int] = (20, 25)  # passenger / freight (Decree 10/2020)
    badge_renewal_by_months_to_expiry: dict[int, float] = field(
        default_factory=lambda: {2: 0.25, 1: 0.45, 0: 0.55, -1: 0.5}
    )  # [U]
    badge_lapse_after_months: int = 1
    fleet_expansion_monthly: float = 0.012  # [U] scaled by the business's growth latent
    vehicle_replacement_share: float = 0.6  # [U] a retired vehicle is replaced
    business_closure_monthly: float = 0.003  # [U]


@dataclass(frozen=True)
class PovertyParameters:
    # Log monthly income per person (VND): mean by area, spread, for the start of 2021.
    log_income_mean_urban: float = 15.55  # [U] ~ 5.7M VND
    log_income_mean_rural: float = 14.87  # [U] ~ 2.9M VND
    log_income_mean_mountain: float = 14.40  # [U] ~ 1.8M VND
    log_income_sd: float = 0.42  # [U]
    # Nominal income growth = inflation + real growth; the poverty lines are nominal and
    # fixed until the dated 2027 rise (catalogue/legal.py). Together ~8 % a year, which keeps
    # the fall of the poverty rate of about 1 point a year (FACTS.md: 6.63 % end 2022,
    # 5.57 % end 2023).
    monthly_inflation: float = 0.0027  # [U] ~3.3 % a year (consumer prices, 2022-2024)
    monthly_drift: float = 0.0038  # [U] real growth ~4.7 % a year
    monthly_volatility: float = 0.035  # [U]
    # Down shocks (illness, disability, job loss): monthly probability x vulnerability.
    shock_monthly: float = 0.006  # [U]
    shock_log_size: float = 0.22  # [U]
    illness_share_of_shocks: float = 0.5  # [U] recorded by the health agency
    recovery_monthly: float = 0.01  # [U] a new job / recovered member
    recovery_log_size: float = 0.15  # [U]
    # Storms (Sep-Nov): a district's storm (floods, landslides) hits every commune of the
    # district; a typhoon making landfall hits every lowland / coastal (non-mountain)
    # commune at once. Monthly probabilities in season, per district (a mountain district:
    # most of its communes are mountain communes). In a commune hit, each household loses
    # income with `storm_damage_share` (crops, boats, a damaged house), by storm_log_size.
    storm_district_monthly_mountain: float = 0.12  # [U]
    storm_district_monthly_other: float = 0.01  # [U]
    storm_coast_monthly: float = 0.04  # [U] a typhoon season hits the coast most years
    storm_season_months: tuple[int, ...] = (9, 10, 11)
    storm_damage_share: float = 0.4  # [U]
    storm_log_size: float = 0.22  # [U]
    # The annual review (Decree 07/2021 as amended by Decree 30/2025), in December:
    # households on the list, households that apply and households proposed by village
    # heads / commune staff enter; a scorecard screens them; the flagged are surveyed in
    # full; the commune's discretion shifts where its line falls.
    review_month: int = 12
    # Applying: apply_max x year factor x Phi((line - log income - apply_offset) / apply_scale).
    apply_max: float = 0.75  # [U]
    apply_offset: float = -0.25  # [U] households a little above the line apply too
    apply_scale: float = 0.25  # [U]
    # The year's factor on applying (campaigns, news, a bad year), drawn in January,
    # uniform on [1 - spread, 1 + spread] (mean 1). apply_max x (1 + spread) must stay <= 1.
    apply_year_factor_spread: float = 0.25  # [U]
    # Proposed: 1 - exp(-(base + per deprivation x count + illness + storm + mountain)), on
    # signals the village head sees: deprivations, an illness or disability recorded in the
    # 12 months to the review, a storm on the commune in those 12 months, a mountain commune.
    propose_base: float = 0.03  # [U]
    propose_per_deprivation: float = 0.05  # [U]
    propose_illness: float = 0.3  # [U]
    propose_storm: float = 0.15  # [U]
    propose_mountain: float = 0.03  # [U]
    # Scorecard: deprivations x weight + income weight x (log line - log income) + noise,
    # written as whole points (score x points per unit, rounded); flagged for the full
    # survey when its points reach the threshold's.
    scorecard_deprivation_weight: float = 0.25  # [U]
    scorecard_income_weight: float = 3.0  # [U]
    scorecard_sd: float = 0.8  # [U]
    scorecard_threshold: float = -1.0  # [U]
    scorecard_points_per_unit: int = 10  # [U] the form is scored in whole points
    review_measurement_sd: float = 0.15  # [U] survey error on income
    commune_discretion_sd: float = 0.05  # [U] a commune's shift of its effective line (log)
    deprivation_base_probability: float = 0.10  # [U] per indicator, average household
    deprivation_mountain_odds: float = 2.8  # [U]
    deprivation_low_income_odds: float = 3.2  # [U]
    # A deprivation is resolved (better housing, a latrine, insurance) at this monthly rate,
    # applied once a year after the review.
    deprivation_monthly_resolution: float = 0.002  # [U]


@dataclass(frozen=True)
class ErrorRates:
    """Real-world registry errors injected into the extracts (each a probability)."""

    name_without_diacritics: float = 0.03
    name_misspelt: float = 0.01
    birth_date_typo: float = 0.02
    duplicate_registry_record: float = 0.01
    missing_cccd: float = 0.03
    cccd_typo: float = 0.005  # one digit mistyped: invalid, unknown, or another person's number
    late_move_registration: float = 0.10  # move recorded 1-6 months late
    stale_address: float = 0.03  # move never recorded by the registry
    # [U] a parent the registry knows, whose number was never entered in the person's record
    # (drawn per person and parent: every row of the person lacks it)
    missing_parent_cccd: float = 0.03
    # Recording lags (`ExtractWriter.lag`): days from the event to the agency's system are
    # lognormal, median half the table's typical scale (a few days), so most rows arrive
    # within a week and a tail arrives a month or more late [U]. sigma 1.0: the 95th
    # percentile is 5.2x the median, the 99th 10x (a median of 3.5 days: 18 and 36 days).
    recording_lag_sigma: float = 1.0  # [U]
    recording_lag_mountain_factor: float = 2.0  # [U] fewer staff, longer trips to the office
    recording_lag_max_days: int = 365  # [U] the longest a record waits to be entered
    # Batch uploads: a commune enters a whole month of one table's records at once on a day
    # early the next month (per table, commune and month) [U].
    batch_upload_monthly: float = 0.05  # [U] lowland communes
    batch_upload_monthly_mountain: float = 0.2  # [U] mountain communes
    batch_upload_last_day: int = 12  # [U] the upload falls on day 1..this of the next month
    # [U] a damaged household the commune's storm-damage list leaves out (not reported,
    # or the list never reached the welfare agency); drawn per household and storm.
    storm_damage_unlisted: float = 0.15
    # [U] days a commune typically takes to send its storm-damage list (an assessment visit
    # to each household first).
    storm_damage_lag_days: int = 30
    # [U] days a service transaction typically takes to reach the service register
    transaction_lag_days: int = 6
    # Hard cases for linking (`ExtractWriter.person_columns`), each from its own stream:
    # [U] a desk that did not take the CCCD often copies the rest carelessly too: a record
    # without a CCCD also has a misspelt name or a birth-date typo (half each) at this rate.
    second_error_with_missing_cccd: float = 0.25
    # [U] in the 12 months after a move the new commune's desks do not have the person's
    # papers: this extra share of records (carrying the new commune) lacks the CCCD.
    missing_cccd_after_move: float = 0.15
    missing_cccd_after_move_months: int = 12
    # [U] the registry corrects a person's name or birth date (a day-level slip, never the
    # year the CCCD encodes) at one of their later registry rows; earlier rows, and every
    # agency record recorded before it, carry the old value. Per person with two or more
    # registry rows.
    registry_correction: float = 0.02


@dataclass(frozen=True)
class TwinParameters:
    demography: DemographyParameters = DemographyParameters()
    school: SchoolParameters = SchoolParameters()
    careers: CareerParameters = CareerParameters()
    poverty: PovertyParameters = PovertyParameters()
    errors: ErrorRates = ErrorRates()
    scenarios: tuple[Scenario, ...] = ()
    people_per_household_target: float = 3.4  # FACTS.md: 442,673 households, ~1.5M people

    def with_scenarios(self, *scenarios: Scenario) -> TwinParameters:
        return replace(self, scenarios=self.scenarios + scenarios)

    def scenario_factor(self, rate: str, month: dt.date, mountain: bool) -> float:
        factor = 1.0
        for s in self.scenarios:
            if s.rate == rate and s.start <= month <= s.end and (mountain or not s.mountain_only):
                factor *= s.factor
        return factor
