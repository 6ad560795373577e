"""Vietnamese text normalisation shared by the twin and the linker."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd


def strip_diacritics(text: str) -> str:
    """ "Nguyễn Thị Hương" -> "Nguyen Thi Huong" (đ/Đ included), as many systems still write."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def name_key(names: pd.Series) -> pd.Series:
    """Diacritic-insensitive, case-insensitive, space-normalised names for matching."""
    unique = pd.Series(names.dropna().unique())
    keys = unique.map(lambda s: " ".join(strip_diacritics(str(s)).lower().split()))
    mapping = dict(zip(unique, keys, strict=True))
    return names.map(mapping).astype(object)


def similarity(a: str, b: str) -> float:
    """Normalised Levenshtein similarity in [0, 1]."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    previous = np.arange(len(b) + 1)
    for i, ca in enumerate(a, start=1):
        current = np.empty(len(b) + 1, dtype=np.int64)
        current[0] = i
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        previous = current
    return 1.0 - float(previous[-1]) / max(len(a), len(b))
