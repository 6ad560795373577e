"""Struct-of-arrays storage for the twin's entities (people, households, licences, ...).

The simulator is vectorised: each entity kind is a set of equally long NumPy columns that
grow as entities are born, arrive or are founded.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt


class Columns:
    """Equal-length NumPy columns with amortised appends."""

    def __init__(self, dtypes: Mapping[str, npt.DTypeLike], capacity: int = 1024) -> None:
        self._dtypes = {name: np.dtype(t) for name, t in dtypes.items()}
        self._data = {name: np.zeros(capacity, dtype=t) for name, t in self._dtypes.items()}
        self.n = 0

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name][: self.n]

    def __setitem__(self, name: str, values: np.ndarray) -> None:
        self._data[name][: self.n] = values

    @property
    def names(self) -> list[str]:
        return list(self._dtypes)

    def append(self, **columns: np.ndarray) -> np.ndarray:
        """Append rows; columns not given are zero. Returns the new rows' indices."""
        lengths = {len(np.atleast_1d(v)) for v in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"columns of unequal length: {lengths}")
        (k,) = lengths
        unknown = set(columns) - set(self._dtypes)
        if unknown:
            raise KeyError(f"unknown columns {sorted(unknown)}")
        if self.n + k > len(next(iter(self._data.values()))):
            capacity = max(int((self.n + k) * 1.5), 1024)
            for name, array in self._data.items():
                grown = np.zeros(capacity, dtype=array.dtype)
                grown[: self.n] = array[: self.n]
                self._data[name] = grown
        for name, values in columns.items():
            self._data[name][self.n : self.n + k] = values
        index = np.arange(self.n, self.n + k)
        self.n += k
        return index


# Column types of every event table, so that a table with no events (a short run with no
# December review, say) still has its columns.
LOG_SCHEMAS: dict[str, dict[str, str]] = {
    "registry_people": {
        "person": "i4",
        "event_date": "M8[D]",
        "event": "U32",
        "household": "i4",
        "commune": "i2",
        "married": "?",
        "alive": "?",
        "present": "?",
    },
    "registry_households": {
        "household": "i4",
        "event_date": "M8[D]",
        "event": "U32",
        "commune": "i2",
        "present": "?",
    },
    "health_births": {"child": "i4", "mother": "i4", "birth_date": "M8[D]", "commune": "i2"},
    "health_pregnancies": {
        "mother": "i4",
        "visit_date": "M8[D]",
        "expected_due_date": "M8[D]",
        "commune": "i2",
    },
    "health_conditions": {
        "person": "i4",
        "condition": "U32",
        "diagnosis_date": "M8[D]",
        "commune": "i2",
    },
    "education_enrolments": {"person": "i4", "enrol_date": "M8[D]", "commune": "i2"},
    "licences": {
        "licence": "i4",
        "kind": "i1",
        "person": "i4",
        "event": "U32",
        "event_date": "M8[D]",
        "issue_ym": "i4",
        "expiry_ym": "i4",
        "commune": "i2",
    },
    "cme_courses": {
        "licence": "i4",
        "person": "i4",
        "course_date": "M8[D]",
        "cme_hours": "i4",  # as recorded by the agency
        "true_hours": "i4",
        "reported": "?",  # the certificate reached the agency
        "commune": "i2",
    },
    "refresher_courses": {"licence": "i4", "person": "i4", "course_date": "M8[D]", "commune": "i2"},
    "businesses": {
        "business": "i4",
        "owner": "i4",
        "event": "U32",
        "event_date": "M8[D]",
        "commune": "i2",
    },
    "badges": {
        "vehicle": "i4",
        "business": "i4",
        "event": "U32",
        "event_date": "M8[D]",
        "issue_ym": "i4",
        "expiry_ym": "i4",
    },
    "household_surveys": {
        "household": "i4",
        "survey_year": "i8",
        "survey_date": "M8[D]",
        "entry_route": "U16",
        "scorecard_points": "i8",
        "flagged": "?",
        "income_vnd": "i8",
        "deprivations": "i2",
        "result": "U32",
        "commune": "i2",
    },
    "transactions": {
        "service": "U64",
        "subject": "i4",
        "child": "i4",
        "date": "M8[D]",
        "commune": "i2",
    },
    "storms": {"commune": "i2", "month": "M8[D]"},
    "storm_damage": {"household": "i4", "commune": "i2", "storm_date": "M8[D]"},
    "truth_births": {"child": "i4", "mother": "i4", "ym": "i4"},
}


class EventLog:
    """What happened, as columnar chunks per table; concatenated once at the end."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)

    def add(self, table: str, **columns: np.ndarray | int | float | str) -> None:
        lengths = {len(v) for v in columns.values() if isinstance(v, np.ndarray)}
        if len(lengths) > 1:
            raise ValueError(f"{table}: columns of unequal length {lengths}")
        n = lengths.pop() if lengths else 1
        if n == 0:
            return
        self._chunks[table].append(
            {k: v if isinstance(v, np.ndarray) else np.full(n, v) for k, v in columns.items()}
        )

    def tables(self) -> list[str]:
        return sorted(self._chunks)

    def frame(self, table: str) -> dict[str, np.ndarray]:
        chunks = self._chunks.get(table, [])
        if not chunks:
            return {k: np.array([], dtype=t) for k, t in LOG_SCHEMAS.get(table, {}).items()}
        return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
