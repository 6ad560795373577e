"""The province on its first simulated day: households, people, ethnicity, names, IDs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from needs_model.reference import cccd
from needs_model.twin import names
from needs_model.twin.params import TwinParameters
from needs_model.twin.state import Columns

PERSON_COLUMNS: dict[str, type | str] = {
    "birth_ym": "i4",
    "birth_day": "i1",
    "sex": "i1",
    "ethnicity": "i1",
    "religion": "i1",
    "household": "i4",
    "alive": "?",
    "present": "?",
    "married": "?",
    "spouse": "i4",
    "parity": "i1",
    "last_birth_ym": "i4",
    "gestation": "i1",
    "conception_ym": "i4",
    "antenatal": "?",
    "mother": "i4",  # the registered mother (-1: not known to the registry)
    "father": "i4",  # the registered father (-1: not known to the registry)
    "late_spouse": "i4",  # the spouse who died (a widow's child within 300 days is his)
    "registered": "?",
    "cccd": "i8",
    "cccd_ym": "i4",
    "birth_province": "i2",
    "facility_birth": "?",
    "grade1": "?",
    "disabled": "?",
    "chronic": "?",
    "occupation": "i1",
    "family": "i2",
    "middle": "i2",
    "given": "i2",
    "education": "i1",
    "exit_ym": "i4",
    "away": "?",  # temporarily away on their own (still a registered member of the household)
}
HOUSEHOLD_COLUMNS: dict[str, type | str] = {
    "commune": "i2",
    "urban": "?",
    "mountain": "?",
    "vulnerability": "f4",
    "log_income": "f8",
    "deprivations": "i2",
    "present": "?",
    "created_ym": "i4",
    "exit_ym": "i4",
    "away": "?",  # the whole household temporarily away (still registered here)
    # The poverty review (twin/poverty.py): on the poor / near-poor list since the last
    # review; the last month a member's illness or disability became known.
    "on_poverty_list": "?",
    "illness_ym": "i4",
}

ETHNICITIES = ["Kinh", "Hoa", "Cơ Tu", "Xơ Đăng", "Giẻ Triêng", "Co"]
RELIGIONS = ["Không", "Phật giáo", "Công giáo", "Cao Đài", "Tin Lành"]
_RELIGION_WEIGHTS = np.array([0.84, 0.10, 0.03, 0.02, 0.01])
# Minority shares by mountain district (FACTS.md: minorities in the western districts) [U].
MINORITY_MIX: dict[str, dict[str, float]] = {
    "Tây Giang": {"Cơ Tu": 0.9},
    "Đông Giang": {"Cơ Tu": 0.75},
    "Nam Giang": {"Cơ Tu": 0.4, "Giẻ Triêng": 0.35},
    "Phước Sơn": {"Giẻ Triêng": 0.3, "Xơ Đăng": 0.3},
    "Bắc Trà My": {"Co": 0.3, "Xơ Đăng": 0.25},
    "Nam Trà My": {"Xơ Đăng": 0.9},
    "Hiệp Đức": {"Xơ Đăng": 0.05},
    "Tiên Phước": {"Co": 0.03},
    "Hội An": {"Hoa": 0.02},
}
N_DEPRIVATIONS = 12
OTHER_BIRTH_PROVINCES = np.array([48, 51, 46, 1, 79, 52, 44])  # in-migrants' birth provinces


def ym_of(year: int, month: int) -> int:
    return year * 12 + month - 1


def empty_people(capacity: int) -> Columns:
    return Columns(PERSON_COLUMNS, capacity)


def empty_households(capacity: int) -> Columns:
    return Columns(HOUSEHOLD_COLUMNS, capacity)


def draw_ethnicity(district: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(len(district), dtype=np.int8)
    u = rng.random(len(district))
    for name, mix in MINORITY_MIX.items():
        here = district == name
        lower = 0.0
        for ethnicity, share in mix.items():
            chosen = here & (u >= lower) & (u < lower + share)
            out[chosen] = ETHNICITIES.index(ethnicity)
            lower += share
    return out


# The month the income parameters describe (the poverty review calibration, FACTS.md).
INCOME_CALIBRATION_YM = ym_of(2021, 1)


def burn_in_income_shift(start_ym: int, params: TwinParameters) -> float:
    """Log income to add to the calibrated distribution for a twin starting at `start_ym`:
    before 2021-01 the opening incomes are deflated by the twin's own nominal growth
    (inflation plus real drift), so that a burn-in arrives at 2021 near the calibrated
    incomes; from 2021-01 on nothing (later starts keep the 2021 distribution, as ever)."""
    p = params.poverty
    months = min(start_ym - INCOME_CALIBRATION_YM, 0)
    return months * (p.monthly_inflation + p.monthly_drift)


def initial_log_income(
    urban: np.ndarray, mountain: np.ndarray, params: TwinParameters, rng: np.random.Generator
) -> np.ndarray:
    """Opening log incomes as calibrated for 2021-01 (`burn_in_income_shift` moves them)."""
    p = params.poverty
    mean = np.where(urban, p.log_income_mean_urban, p.log_income_mean_rural)
    mean = np.where(mountain & ~urban, p.log_income_mean_mountain, mean)
    return mean + rng.normal(0.0, p.log_income_sd, len(urban))


def draw_deprivations(
    mountain: np.ndarray,
    log_income: np.ndarray,
    params: TwinParameters,
    rng: np.random.Generator,
) -> np.ndarray:
    """12 deprivation indicators (Decree 07/2021) as a bitmask, correlated with area and income."""
    p = params.poverty
    base_odds = p.deprivation_base_probability / (1 - p.deprivation_base_probability)
    odds = base_odds * np.where(mountain, p.deprivation_mountain_odds, 1.0)
    low_income = log_income < np.log(2_200_000)
    odds = odds * np.where(low_income, p.deprivation_low_income_odds, 1.0)
    odds = odds * np.exp(rng.normal(0, 0.6, len(mountain)))  # household heterogeneity
    prob = odds / (1 + odds)
    bits = rng.random((len(mountain), N_DEPRIVATIONS)) < prob[:, None]
    return (bits * (1 << np.arange(N_DEPRIVATIONS))).sum(axis=1).astype(np.int16)


def count_deprivations(mask: np.ndarray) -> np.ndarray:
    bits = (np.asarray(mask, dtype=np.int32)[:, None] >> np.arange(N_DEPRIVATIONS)) & 1
    return bits.sum(axis=1)


def _draw_compositions(
    n_households: int, rng: np.random.Generator, mountain: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Household type (0 single, 1 couple, 2 nuclear, 3 three generations, 4 single parent),
    number of children, of grandparents, and whether the woman has a partner."""
    kind = rng.choice(5, size=n_households, p=[0.12, 0.18, 0.45, 0.19, 0.06])
    children = rng.choice([1, 2, 3, 4], size=n_households, p=[0.40, 0.44, 0.13, 0.03])
    children = children + (mountain & (rng.random(n_households) < 0.45))
    children = np.where(np.isin(kind, [2, 3, 4]), children, 0)
    grandparents = np.where(kind == 3, rng.choice([1, 2], size=n_households, p=[0.5, 0.5]), 0)
    has_partner = np.isin(kind, [1, 2, 3])
    return kind, children, grandparents, has_partner


def build_initial_population(
    n_people: int,
    communes: pd.DataFrame,
    start_ym: int,
    params: TwinParameters,
    rng: np.random.Generator,
    issuer: cccd.CccdIssuer,
    native_share: float = 0.93,
) -> tuple[Columns, Columns]:
    """Households of realistic composition spread over the communes by population weight."""
    # Draw compositions for a first guess of the household count, then size the province so
    # that the people (not the households) match the request.
    guess = max(round(n_people / params.people_per_household_target), 1)
    kind, children, grandparents, has_partner = _draw_compositions(
        guess, rng, np.zeros(guess, bool)
    )
    mean_size = float((1 + has_partner + children + grandparents).mean())
    n_households = max(round(n_people / mean_size), 1)
    weights = communes["population_weight"].to_numpy()
    commune = rng.choice(len(communes), size=n_households, p=weights / weights.sum())
    urban = communes["is_urban"].to_numpy()[commune]
    mountain = communes["is_mountain"].to_numpy()[commune]
    district = communes["district_name"].to_numpy()[commune]
    kind, children, grandparents, has_partner = _draw_compositions(n_households, rng, mountain)

    mother_age = np.where(
        kind == 1, rng.integers(22, 85, n_households), rng.integers(24, 55, n_households)
    ).astype(float)
    mother_age = np.where(kind == 0, rng.integers(20, 92, n_households), mother_age)
    # Couples: the older members are the (grand)parents; the "head" is the man when present.
    sizes = 1 + has_partner + children + grandparents

    hh = np.repeat(np.arange(n_households), sizes)
    position = np.arange(len(hh)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    role_partner = has_partner[hh] & (position == 1)
    n_before_children = 1 + has_partner[hh]
    child_rank = position - n_before_children
    is_child = (child_rank >= 0) & (child_rank < children[hh])
    is_grandparent = child_rank >= children[hh]

    n = len(hh)
    age = mother_age[hh].copy()
    sex = np.ones(n, dtype=np.int8)  # position 0: the woman (mother / single adult)
    single_sex = rng.integers(0, 2, n).astype(np.int8)
    sex = np.where((position == 0) & (kind[hh] == 0), single_sex, sex)
    age = np.where(role_partner, age + np.clip(rng.normal(3, 2.5, n), -3, 12), age)
    sex = np.where(role_partner, 0, sex)
    # Children: the eldest born when the mother was 19-30, then every 1.5-5 years.
    first_gap = rng.uniform(20, 32, n)
    spacing = rng.uniform(1.5, 5, n)
    child_age = mother_age[hh] - first_gap - child_rank * spacing
    child_age = np.where(child_age < 0, rng.uniform(0, 6, n), child_age)
    age = np.where(is_child, child_age, age)
    sex = np.where(is_child, rng.integers(0, 2, n), sex)
    gp_age = mother_age[hh] + rng.uniform(24, 32, n)
    age = np.where(is_grandparent, np.minimum(gp_age, 99), age)
    sex = np.where(is_grandparent, np.where(child_rank == children[hh], 1, 0), sex)
    age = np.clip(age, 0, 99.9)

    months_old = np.floor(age * 12).astype(np.int32) + rng.integers(0, 12, n)
    birth_ym = start_ym - 1 - months_old
    birth_year = birth_ym // 12

    people = empty_people(int(n * 1.4) + 1024)
    hh_ethnicity = draw_ethnicity(district, rng)
    ethnicity = hh_ethnicity[hh]
    # A few Kinh spouses in minority households and vice versa.
    mixed = rng.random(n) < 0.04
    ethnicity = np.where(mixed & role_partner, 0, ethnicity).astype(np.int8)
    minority = ethnicity >= 2
    family = names.draw_family(minority, rng)
    # Children take the father's family name (position 1) or the mother's when single.
    first_index = np.cumsum(sizes) - sizes
    father_family = np.where(
        has_partner, family[np.minimum(first_index + 1, n - 1)], family[first_index]
    )
    family = np.where(is_child, father_family[hh], family).astype(np.int16)
    middle, given = names.draw_middle_and_given(sex == 1, rng)
    native = rng.random(n) < native_share
    birth_province = np.where(
        native, cccd.QUANG_NAM_CODE, rng.choice(OTHER_BIRTH_PROVINCES, n)
    ).astype(np.int16)
    numbers = issuer.issue(birth_province, birth_year, sex, rng)
    education = np.clip(
        rng.choice(4, n, p=[0.25, 0.35, 0.28, 0.12]) - (mountain[hh] & (rng.random(n) < 0.5)), 0, 3
    )
    parity = np.zeros(n, dtype=np.int8)
    mothers = (position == 0) & (sex == 1)
    parity[mothers] = children[hh][mothers]
    older_women = (sex == 1) & (age >= 45) & ~mothers
    parity[older_women] = rng.poisson(2.2, older_women.sum())
    last_birth = np.full(n, -1, dtype=np.int32)
    youngest_child_ym = pd.Series(np.where(is_child, birth_ym, -1)).groupby(hh).transform("max")
    last_birth[mothers] = youngest_child_ym.to_numpy()[mothers]

    people.append(
        birth_ym=birth_ym,
        birth_day=rng.integers(1, 29, n),
        sex=sex,
        ethnicity=ethnicity,
        religion=rng.choice(len(RELIGIONS), n, p=_RELIGION_WEIGHTS),
        household=hh,
        alive=np.ones(n, bool),
        present=np.ones(n, bool),
        married=(position <= 1) & has_partner[hh] | (is_grandparent & (grandparents[hh] == 2)),
        spouse=np.full(n, -1),
        parity=parity,
        last_birth_ym=last_birth,
        gestation=np.full(n, -1),
        conception_ym=np.full(n, -1),
        mother=np.full(n, -1),
        father=np.full(n, -1),
        late_spouse=np.full(n, -1),
        registered=np.ones(n, bool),
        cccd=numbers,
        cccd_ym=birth_ym,
        birth_province=birth_province,
        facility_birth=rng.random(n) < 0.8,
        grade1=is_child & (birth_year <= start_ym // 12 - 7),
        disabled=rng.random(n) < np.where(age < 15, 0.015, 0.035),
        chronic=rng.random(n) < np.clip((age - 30) / 100, 0.02, 0.45),
        family=family,
        middle=middle,
        given=given,
        education=education,
        exit_ym=np.full(n, -1),
    )
    couples = np.flatnonzero(role_partner)
    people["spouse"][couples] = couples - 1
    people["spouse"][couples - 1] = couples
    # The household's composition says whose children its children are: the woman at position
    # 0 is their mother, the man at position 1 (nuclear and three-generation households) their
    # father; a single parent's children have no father in the household, so none is
    # recorded. The grandparents' link to the couple is not drawn (it could be either
    # side), so the couple get no parents.
    children_index = np.flatnonzero(is_child)
    people["mother"][children_index] = first_index[hh[children_index]]
    with_father = children_index[has_partner[hh[children_index]]]
    people["father"][with_father] = first_index[hh[with_father]] + 1

    households = empty_households(int(n_households * 1.4) + 1024)
    calibrated = initial_log_income(urban, mountain, params, rng)
    log_income = calibrated + burn_in_income_shift(start_ym, params)
    households.append(
        commune=commune,
        urban=urban,
        mountain=mountain,
        vulnerability=rng.gamma(2.0, 0.5, n_households),
        log_income=log_income,
        # Living conditions go with the real income (the calibrated, undeflated one).
        deprivations=draw_deprivations(mountain, calibrated, params, rng),
        present=np.ones(n_households, bool),
        created_ym=np.full(n_households, start_ym - 1),
        exit_ym=np.full(n_households, -1),
    )
    return people, households
