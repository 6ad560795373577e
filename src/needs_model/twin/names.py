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


def draw_middle_and_given(
    female: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    n = len(female)
    middle = rng.integers(0, len(MIDDLE_MALE), n).astype(np.int16)
    given = rng.integers(0, len(GIVEN_MALE), n).astype(np.int16)
    return middle, given


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
