"""Vietnamese personal names for the twin, and the spelling errors registries make."""

from __future__ import annotations

import numpy as np

from needs_model.reference.text import strip_diacritics

__all__ = ["strip_diacritics"]

KINH_FAMILY = [
    ("Nguyễn", 38.0),
    ("Trần", 11.0),
    ("Lê", 9.5),
    ("Phạm", 7.0),
    ("Huỳnh", 5.0),
    ("Phan", 4.5),
    ("Võ", 3.9),
    ("Đặng", 2.1),
    ("Bùi", 2.0),
    ("Đỗ", 1.4),
    ("Hồ", 1.3),
    ("Ngô", 1.3),
    ("Dương", 1.0),
    ("Lý", 0.5),
    ("Trương", 1.5),
    ("Đinh", 1.0),
    ("Mai", 0.8),
    ("Lương", 0.7),
]
MINORITY_FAMILY = [
    ("Bh'riu", 8),
    ("Alăng", 8),
    ("Zơrâm", 6),
    ("Bling", 5),
    ("Clâu", 5),
    ("Coor", 4),
    ("Pơloong", 4),
    ("Hồ", 15),
    ("Đinh", 8),
    ("Trần", 6),
    ("A Rất", 4),
    ("Nguyễn", 5),
]
MIDDLE_MALE = ["Văn", "Đức", "Minh", "Hữu", "Quang", "Công", "Thành", "Ngọc", "Xuân", "Anh"]
MIDDLE_FEMALE = ["Thị", "Ngọc", "Thu", "Kim", "Thanh", "Minh", "Phương", "Bảo", "Mỹ", "Hồng"]
GIVEN_MALE = [
    "Hùng",
    "Dũng",
    "Nam",
    "Tuấn",
    "Hải",
    "Long",
    "Phúc",
    "Khánh",
    "Quân",
    "Huy",
    "Bảo",
    "Tâm",
    "Sơn",
    "Thắng",
    "Lợi",
    "Phong",
    "Đạt",
    "Vinh",
    "Trung",
    "Hiếu",
    "Toàn",
    "Thịnh",
    "Tài",
    "Lộc",
]
GIVEN_FEMALE = [
    "Lan",
    "Hương",
    "Mai",
    "Hoa",
    "Linh",
    "Trang",
    "Thảo",
    "Hằng",
    "Nga",
    "Yến",
    "Vy",
    "Ngân",
    "Hà",
    "Nhung",
    "Thủy",
    "Loan",
    "Oanh",
    "Hạnh",
    "Duyên",
    "Quyên",
    "Trâm",
    "Nhi",
    "Uyên",
    "Tuyết",
]
FAMILY_NAMES = [n for n, _ in KINH_FAMILY] + [n for n, _ in MINORITY_FAMILY]
_KINH_WEIGHTS = np.array([w for _, w in KINH_FAMILY]) / sum(w for _, w in KINH_FAMILY)
_MINORITY_WEIGHTS = np.array([w for _, w in MINORITY_FAMILY]) / sum(w for _, w in MINORITY_FAMILY)


def draw_family(minority: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Index into FAMILY_NAMES."""
    n = len(minority)
    kinh = rng.choice(len(KINH_FAMILY), size=n, p=_KINH_WEIGHTS)
    other = len(KINH_FAMILY) + rng.choice(len(MINORITY_FAMILY), size=n, p=_MINORITY_WEIGHTS)
    return np.where(minority, other, kinh).astype(np.int16)


# Middle names concentrate: Thị for women and Văn for men carry about half of the names
# of the cohorts alive today, the others share the rest [U]. Given names follow a mild Zipf
# law over the list (weight 1 / rank**0.5: the commonest 12 %, the rarest 2.5 %) [U]. With
# Nguyễn at 38 % this gives the repetition of Vietnamese full names: namesakes of the same
# sex born the same year in one commune (`namesake_share`).
MIDDLE_FEMALE_WEIGHTS = np.array([0.5] + [0.5 / 9] * 9)
MIDDLE_MALE_WEIGHTS = np.array([0.45] + [0.55 / 9] * 9)
GIVEN_ZIPF_EXPONENT = 0.5


def _cumulative(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights / weights.sum())
    cdf[-1] = 1.0
    return cdf


def draw_middle_and_given(
    female: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indexes into MIDDLE_*/GIVEN_* of the person's sex, drawn with the weights above (one
    uniform draw each, so a person's name never depends on the others drawn with them)."""
    n = len(female)
    u_middle, u_given = rng.random(n), rng.random(n)
    middle = np.where(
        female,
        np.searchsorted(_cumulative(MIDDLE_FEMALE_WEIGHTS), u_middle, side="right"),
        np.searchsorted(_cumulative(MIDDLE_MALE_WEIGHTS), u_middle, side="right"),
    )
    zipf = 1.0 / np.arange(1, len(GIVEN_MALE) + 1) ** GIVEN_ZIPF_EXPONENT
    given = np.searchsorted(_cumulative(zipf), u_given, side="right")
    return middle.astype(np.int16), given.astype(np.int16)


def namesake_share(names: np.ndarray, birth_years: np.ndarray, communes: np.ndarray) -> float:
    """Share of people with at least one namesake (the same full name) born the same year in
    the same commune: the cases where name, birth year and commune alone cannot tell two
    people apart."""
    if len(names) == 0:
        return 0.0
    groups = np.unique(
        np.stack([names.astype(str), birth_years.astype(str), communes.astype(str)]),
        axis=1,
        return_inverse=True,
        return_counts=True,
    )
    inverse, counts = groups[1].ravel(), groups[2]
    return float(np.mean(counts[inverse] > 1))


def full_names(
    family: np.ndarray, middle: np.ndarray, given: np.ndarray, female: np.ndarray
) -> np.ndarray:
    fam = np.array(FAMILY_NAMES, dtype=object)[family]
    mid = np.where(
        female,
        np.array(MIDDLE_FEMALE, dtype=object)[middle],
        np.array(MIDDLE_MALE, dtype=object)[middle],
    )
    giv = np.where(
        female,
        np.array(GIVEN_FEMALE, dtype=object)[given],
        np.array(GIVEN_MALE, dtype=object)[given],
    )
    return fam + " " + mid + " " + giv


def misspell(text: str, rng: np.random.Generator) -> str:
    """One typing error: a dropped, doubled or swapped letter in the given name."""
    head, _, given = text.rpartition(" ")
    if len(given) < 3:
        return text + "h"
    i = int(rng.integers(1, len(given) - 1))
    kind = int(rng.integers(0, 3))
    if kind == 0:
        given = given[:i] + given[i + 1 :]
    elif kind == 1:
        given = given[:i] + given[i] + given[i:]
    else:
        given = given[: i - 1] + given[i] + given[i - 1] + given[i + 1 :]
    return f"{head} {given}".strip()


# [U] Same-sex people born in one year in one commune of the full province: 1.5 M people in
# 233 communes over ~75 birth years, half of each sex (FACTS.md).
FULL_SCALE_COHORT = 1_500_000 / 233 / 75 / 2


def _same_name_probability() -> float:
    """Probability that two people of the same sex drawn like the twin's Kinh majority share
    a full name (family x middle x given), averaged over the two sexes."""
    family = _KINH_WEIGHTS
    given = 1.0 / np.arange(1, len(GIVEN_MALE) + 1) ** GIVEN_ZIPF_EXPONENT
    given = given / given.sum()
    middle = np.mean(
        [np.sum((w / w.sum()) ** 2) for w in (MIDDLE_FEMALE_WEIGHTS, MIDDLE_MALE_WEIGHTS)]
    )
    return float(np.sum(family**2) * middle * np.sum(given**2))


def full_scale_namesake_share(cohort: float = FULL_SCALE_COHORT) -> float:
    """Expected share of people with a namesake of their sex born the same year in their
    commune, in a commune of the full province (Poisson: 1 - exp(-cohort x P(same name)))."""
    return float(1.0 - np.exp(-cohort * _same_name_probability()))


def add_namesakes(
    full_names_: np.ndarray,
    female: np.ndarray,
    birth_years: np.ndarray,
    communes: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A scaled-down province has a few people per commune and birth year, so far fewer
    namesakes than the real one: give people the name of another of their sex, birth year
    and commune until the share with a namesake reaches the full province's
    (`full_scale_namesake_share`). Returns a new array; ids and every other attribute stay."""
    out = np.asarray(full_names_, dtype=object).copy()
    n = len(out)
    if n == 0:
        return out
    missing = full_scale_namesake_share() - namesake_share(out, birth_years, communes)
    if missing <= 0:
        return out
    key = np.stack(
        [female.astype(np.int64), birth_years.astype(np.int64), communes.astype(np.int64)]
    )
    _, group, size = np.unique(key, axis=1, return_inverse=True, return_counts=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    # Each copy gives two people a namesake.
    chosen = (rng.random(n) < missing / 2) & (size[group] >= 2)
    who = np.flatnonzero(chosen)
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    offset = position[who] - start[group[who]]
    other = (offset + 1 + rng.integers(0, size[group[who]] - 1)) % size[group[who]]
    out[who] = out[order[start[group[who]] + other]]
    return out
