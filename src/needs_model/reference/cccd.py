"""Citizen ID numbers (CCCD / personal identification number), 12 digits.

Layout ``PPP G YY RRRRRR`` (Decree 137/2015, Circular 07/2016, Law on Identification 2023):
PPP the province where the birth was registered, G the century and sex (1900s: 0 male,
1 female; 2000s: 2 male, 3 female; each later century adds 2), YY the last two digits of
the birth year, then six random digits. The number is for life; mergers do not change it.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

QUANG_NAM_CODE = 49
DA_NANG_CODE = 48

# The 63 provincial codes in use before the 2025 merger (the 34 merged provinces kept one
# of their members' codes, so this set covers numbers issued before and after 2025).
PROVINCE_CODES: frozenset[int] = frozenset(
    [
        1,
        2,
        4,
        6,
        8,
        10,
        11,
        12,
        14,
        15,
        17,
        19,
        20,
        22,
        24,
        25,
        26,
        27,
        30,
        31,
        33,
        34,
        35,
        36,
        37,
        38,
        40,
        42,
        44,
        45,
        46,
        48,
        49,
        51,
        52,
        54,
        56,
        58,
        60,
        62,
        64,
        66,
        67,
        68,
        70,
        72,
        74,
        75,
        77,
        79,
        80,
        82,
        83,
        84,
        86,
        87,
        89,
        91,
        92,
        93,
        94,
        95,
        96,
    ]
)

# ASCII digits only: `\d` also matches Arabic-Indic and fullwidth digits, and `$` a final "\n".
_CCCD_PATTERN = re.compile(r"[0-9]{12}")
FEMALE, MALE = 1, 0


def century_sex_digit(birth_year: int | np.ndarray, sex: int | np.ndarray) -> np.ndarray:
    """The G digit: 2 × (century index from 1900) + (1 if female)."""
    century_index = (np.asarray(birth_year) - 1900) // 100
    return np.asarray(2 * century_index + np.asarray(sex), dtype=np.int64)


def compose(
    province_code: np.ndarray, birth_year: np.ndarray, sex: np.ndarray, serial: np.ndarray
) -> np.ndarray:
    """CCCD numbers as int64 (render with `to_string`)."""
    province_code = np.asarray(province_code, dtype=np.int64)
    return (
        province_code * 10**9
        + century_sex_digit(birth_year, sex) * 10**8
        + (np.asarray(birth_year, dtype=np.int64) % 100) * 10**6
        + np.asarray(serial, dtype=np.int64)
    )


def to_string(numbers: np.ndarray) -> np.ndarray:
    """Zero-padded 12-character strings."""
    values = np.asarray(numbers, dtype=np.int64)
    if values.size == 0:
        return np.array([], dtype="<U12")
    return np.char.zfill(values.astype(str), 12)


class CccdIssuer:
    """Issues unique CCCD numbers; the random part is drawn from the caller's generator."""

    def __init__(self) -> None:
        self.issued_: set[int] = set()

    def issue(
        self,
        province_code: np.ndarray,
        birth_year: np.ndarray,
        sex: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        n = len(province_code)
        numbers = compose(province_code, birth_year, sex, rng.integers(0, 10**6, n))
        while True:
            # Redraw collisions with earlier numbers and within this batch.
            _, first_index = np.unique(numbers, return_index=True)
            clash = np.ones(n, dtype=bool)
            clash[first_index] = False
            clash |= np.fromiter((int(x) in self.issued_ for x in numbers), bool, n)
            if not clash.any():
                break
            k = int(clash.sum())
            numbers[clash] = compose(
                np.asarray(province_code)[clash],
                np.asarray(birth_year)[clash],
                np.asarray(sex)[clash],
                rng.integers(0, 10**6, k),
            )
        self.issued_.update(int(x) for x in numbers)
        return numbers


def explain_invalid(
    number: object, birth_year: int | None = None, sex: int | None = None
) -> str | None:
    """Why `number` is not a valid CCCD (None when it is valid).

    With `birth_year` and `sex` (0 male, 1 female) it also checks the number agrees with them.
    """
    if not isinstance(number, str):
        return "CCCD must be a string of 12 digits"
    if not _CCCD_PATTERN.fullmatch(number):
        return f"CCCD {number!r} is not exactly 12 digits"
    province = int(number[:3])
    if province not in PROVINCE_CODES:
        return f"CCCD {number} has unknown province code {number[:3]}"
    g, yy = int(number[3]), int(number[4:6])
    year_from_id = 1900 + 100 * (g // 2) + yy
    if birth_year is not None and year_from_id != birth_year:
        return f"CCCD {number} encodes birth year {year_from_id}, record says {birth_year}"
    if sex is not None and g % 2 != sex:
        return f"CCCD {number} encodes sex {'female' if g % 2 else 'male'}, record disagrees"
    return None


def is_valid(number: object, birth_year: int | None = None, sex: int | None = None) -> bool:
    return explain_invalid(number, birth_year, sex) is None


def encoded_birth_years(numbers: pd.Series) -> pd.Series:
    """The birth year each well-formed number encodes (G and YY), <NA> where the number is
    missing or not 12 ASCII digits."""
    text = numbers.astype("string")
    well_formed = text.str.fullmatch(r"[0-9]{12}").fillna(False).to_numpy(dtype=bool)
    digits = text.where(well_formed, "000000000000").fillna("000000000000")
    g = digits.str[3].astype(int).to_numpy()
    yy = digits.str[4:6].astype(int).to_numpy()
    years = pd.array(1900 + 100 * (g // 2) + yy, dtype="Int64")
    years[~well_formed] = pd.NA
    return pd.Series(years, index=numbers.index)


def invalid_reasons(
    numbers: pd.Series,
    birth_dates: pd.Series | None = None,
    sexes: pd.Series | None = None,
) -> pd.Series:
    """Vectorised `explain_invalid`: a reason per row, or <NA> where valid or missing.

    `sexes` holds "male"/"female". Missing numbers are not judged here (the contract
    decides whether a column may be missing).
    """
    text = numbers.astype("string")
    reasons = np.full(len(text), None, dtype=object)
    present = text.notna().to_numpy()
    well_formed = text.str.fullmatch(r"[0-9]{12}").fillna(False).to_numpy(dtype=bool)
    reasons[present & ~well_formed] = "CCCD is not exactly 12 digits"
    ok = present & well_formed
    digits = text.where(ok, "000000000000").fillna("000000000000")
    province = digits.str[:3].astype(int).to_numpy()
    bad_province = ok & ~np.isin(province, list(PROVINCE_CODES))
    reasons[bad_province] = "CCCD has an unknown province code"
    ok &= ~bad_province
    g = digits.str[3].astype(int).to_numpy()
    yy = digits.str[4:6].astype(int).to_numpy()
    if birth_dates is not None:
        year = pd.to_datetime(birth_dates, errors="coerce").dt.year
        known = year.notna().to_numpy()
        encoded = 1900 + 100 * (g // 2) + yy
        mismatch = ok & known & (encoded != year.fillna(0).to_numpy())
        reasons[mismatch] = "CCCD birth year disagrees with birth_date"
        ok &= ~mismatch
    if sexes is not None:
        known = sexes.notna().to_numpy()
        female = sexes.astype("string").eq("female").fillna(False).to_numpy(dtype=bool)
        mismatch = ok & known & ((g % 2 == 1) != female)
        reasons[mismatch] = "CCCD sex digit disagrees with sex"
    return pd.Series(reasons, index=numbers.index, dtype="string")
