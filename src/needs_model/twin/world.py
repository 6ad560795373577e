"""The twin's full state at one moment, shared by the process modules."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from needs_model.reference import cccd
from needs_model.twin.params import TwinParameters
from needs_model.twin.state import Columns, EventLog


def ym_to_date(ym: int) -> dt.date:
    return dt.date(ym // 12, ym % 12 + 1, 1)


def month_end(ym: int) -> dt.date:
    return ym_to_date(ym + 1) - dt.timedelta(days=1)


def day_in_month(ym: np.ndarray | int, day: np.ndarray | int) -> np.ndarray:
    """numpy datetime64[D] for day `day` (1-28) of month `ym`."""
    ym = np.asarray(ym)
    first = (ym - 1970 * 12).astype("datetime64[M]").astype("datetime64[D]")
    return first + (np.asarray(day) - 1).astype("timedelta64[D]")


@dataclass
class World:
    params: TwinParameters
    communes: pd.DataFrame
    rng: np.random.Generator
    issuer: cccd.CccdIssuer
    people: Columns
    households: Columns
    licences: Columns
    businesses: Columns
    vehicles: Columns
    log: EventLog = field(default_factory=EventLog)
    ym: int = 0
    next_number: dict[str, int] = field(default_factory=dict)
    # People and households as they were on the first day (the registry's opening rows).
    initial: dict[str, np.ndarray] = field(default_factory=dict)
    # Each year's take-up factors (birth registration, grade-1 entry), drawn in its first
    # simulated month (`demography.draw_year_factors`); the oracle integrates over undrawn years.
    year_factors: dict[int, tuple[float, float]] = field(default_factory=dict)
    # Random streams of their own, by name (`stream`), so that a process that adds draws
    # does not reshuffle every other process's draws.
    streams: dict[str, np.random.Generator] = field(default_factory=dict)
    # Process state that belongs to no person or household (a commune's latent, a year's
    # draw), by name; each process module owns its keys.
    latent: dict[str, np.ndarray] = field(default_factory=dict)

    def numbers(self, kind: str, k: int) -> np.ndarray:
        """Fresh serial numbers for agency documents of `kind` (licences, badges, ...)."""
        start = self.next_number.get(kind, 1)
        self.next_number[kind] = start + k
        return np.arange(start, start + k)

    def stream(self, name: str, key: int) -> np.random.Generator:
        """The generator of stream `name`, seeded from the run's seed and `key` (fixed per
        process) on first use: the same seed gives the same draws whatever else changes."""
        if name not in self.streams:
            entropy = self.rng.bit_generator.seed_seq.entropy  # type: ignore[attr-defined]
            self.streams[name] = np.random.default_rng([int(entropy or 0), key])
        return self.streams[name]

    def days(self, k: int) -> np.ndarray:
        return self.rng.integers(1, 29, k)

    def factor(self, rate: str, ym: int, mountain: np.ndarray) -> np.ndarray:
        """Scenario multiplier of `rate` in month `ym` for subjects in (non-)mountain areas."""
        day = ym_to_date(ym)
        in_mountain = self.params.scenario_factor(rate, day, True)
        elsewhere = self.params.scenario_factor(rate, day, False)
        return np.where(mountain, in_mountain, elsewhere)

    def person_age(
        self, index: np.ndarray | slice | None = None, ym: int | None = None
    ) -> np.ndarray:
        birth = self.people["birth_ym"] if index is None else self.people["birth_ym"][index]
        return ((self.ym if ym is None else ym) - birth) // 12

    def person_mountain(self, index: np.ndarray) -> np.ndarray:
        return self.households["mountain"][self.people["household"][index]]

    def person_absent(self, index: np.ndarray) -> np.ndarray:
        """Temporarily away: on their own, or with their whole household."""
        p = self.people
        return p["away"][index] | self.households["away"][p["household"][index]]

    def person_commune(self, index: np.ndarray) -> np.ndarray:
        return self.households["commune"][self.people["household"][index]]
