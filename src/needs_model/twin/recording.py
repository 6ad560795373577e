"""When the registry learns that someone died or left: late, or never.

Deaths are reported by relatives days to weeks after they happen (longer in the mountain
communes, far from the commune office) and some are never reported while the household
stays on; an out-migrant's departure (a whole household's, or a person's on their own)
reaches the registry months later or never, and until then the registry keeps them
resident: the ghost residents the scored populations hold. The rates are
`DemographyParameters` (death_registration_*, death_never_registered*, departure_*).

Every draw comes from the recorder's own random stream, one draw per person and per
household made up front, so that adding this recording moved no other draw of the extracts,
and a household's members and its own book share one fate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from needs_model.twin.world import World

DAYS_PER_MONTH = 30.44
LATE_DEATH = "late_death_registration"
UNREGISTERED_DEATH = "unregistered_death"
LATE_DEPARTURE = "late_departure_registration"
UNRECORDED_DEPARTURE = "unrecorded_departure"


@dataclass(frozen=True)
class ExitRecording:
    """Per registry row: when it was recorded (NaT where never), whether it never was, and
    the truth error it carries (None for rows recorded as they happened)."""

    recorded_at: np.ndarray
    never: np.ndarray
    error: np.ndarray


def _kinds(never: np.ndarray, never_kind: str, late: np.ndarray, late_kind: str) -> np.ndarray:
    """The truth error of each row: `never_kind` where never recorded, else `late_kind` where
    late, else None."""
    out = np.full(len(never), None, dtype=object)
    out[late] = late_kind
    out[never] = never_kind
    return out


def _ym(dates: np.ndarray) -> np.ndarray:
    months = dates.astype("datetime64[M]").astype(np.int64)
    return months + 1970 * 12


class ExitRecorder:
    """Draws, once per person and per household, how their exit reaches the registry."""

    def __init__(self, w: World, rng: np.random.Generator) -> None:
        self.w = w
        n_people, n_households = w.people.n, w.households.n
        self.death_u = rng.random(n_people)
        self.death_z = rng.standard_normal(n_people)
        self.person_u = rng.random(n_people)
        self.person_lag = rng.exponential(1.0, n_people)
        self.household_u = rng.random(n_households)
        self.household_lag = rng.exponential(1.0, n_households)
        emigrations = pd.DataFrame(w.log.frame("registry_households"))
        emigrations = emigrations[emigrations["event"] == "emigration"]
        self.household_emigrations = set(
            zip(
                emigrations["household"].to_numpy().astype(np.int64),
                _ym(emigrations["event_date"].to_numpy().astype("datetime64[D]")),
                strict=True,
            )
        )
        self._people_exits: pd.DataFrame | None = None

    def _departure(
        self, event_date: np.ndarray, u: np.ndarray, lag: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        d = self.w.params.demography
        never = u < d.departure_never_recorded
        late = ~never & (u < d.departure_never_recorded + d.departure_recorded_late)
        days = np.maximum(np.round(lag * d.departure_lag_mean_months * DAYS_PER_MONTH), 30)
        recorded = event_date + np.where(late, days, 0).astype("timedelta64[D]")
        return recorded, never, late

    def people(self, rows: pd.DataFrame) -> ExitRecording:
        """Rows of the registry's person log (person, event, event_date, household, commune,
        recorded_at): deaths and emigrations get their recording; other rows keep theirs."""
        w, d = self.w, self.w.params.demography
        event = rows["event"].to_numpy()
        person = rows["person"].to_numpy().astype(np.int64)
        household = rows["household"].to_numpy().astype(np.int64)
        event_date = rows["event_date"].to_numpy().astype("datetime64[D]")
        recorded = rows["recorded_at"].to_numpy().astype("datetime64[D]").copy()
        never = np.zeros(len(rows), bool)
        error = np.full(len(rows), None, dtype=object)

        death = event == "death"
        mountain = w.communes["is_mountain"].to_numpy()[rows["commune"].to_numpy()[death]]
        median = np.where(
            mountain, d.death_registration_median_days_mountain, d.death_registration_median_days
        )
        lag = np.round(
            median * np.exp(d.death_registration_lag_sigma * self.death_z[person[death]])
        )
        # Never reported only while the household stays on: a household the death empties is
        # closed, and its closure goes through the same report.
        stays = w.households["exit_ym"][household[death]] != _ym(event_date[death])
        unreported = stays & (
            self.death_u[person[death]]
            < np.where(mountain, d.death_never_registered_mountain, d.death_never_registered)
        )
        recorded[death] = event_date[death] + lag.astype("timedelta64[D]")
        never[np.flatnonzero(death)[unreported]] = True
        overdue = lag > d.death_registration_deadline_days
        error[death] = _kinds(unreported, UNREGISTERED_DEATH, overdue, LATE_DEATH)

        left = event == "emigration"
        with_household = np.array(
            [
                (h, m) in self.household_emigrations
                for h, m in zip(household[left], _ym(event_date[left]), strict=True)
            ],
            dtype=bool,
        )
        u = np.where(with_household, self.household_u[household[left]], self.person_u[person[left]])
        lag_months = np.where(
            with_household, self.household_lag[household[left]], self.person_lag[person[left]]
        )
        recorded[left], never[left], late = self._departure(event_date[left], u, lag_months)
        error[left] = _kinds(never[left], UNRECORDED_DEPARTURE, late, LATE_DEPARTURE)
        recorded[never] = np.datetime64("NaT")
        exits = death | left
        self._people_exits = pd.DataFrame(
            {
                "household": household[exits],
                "event_date": event_date[exits],
                "exit_recorded_at": recorded[exits],
                "exit_never": never[exits],
            }
        )
        return ExitRecording(recorded, never, error)

    def households(self, rows: pd.DataFrame) -> ExitRecording:
        """Rows of the household book (household, event, event_date, recorded_at): an
        emigration shares its members' draw; a book closed because its last member died or
        left is closed when (and if) that exit is recorded. Call `people` first."""
        if self._people_exits is None:
            raise RuntimeError("record the people's exits before the households'")
        event = rows["event"].to_numpy()
        household = rows["household"].to_numpy().astype(np.int64)
        event_date = rows["event_date"].to_numpy().astype("datetime64[D]")
        recorded = rows["recorded_at"].to_numpy().astype("datetime64[D]").copy()
        never = np.zeros(len(rows), bool)
        error = np.full(len(rows), None, dtype=object)

        left = event == "emigration"
        recorded[left], never[left], late = self._departure(
            event_date[left], self.household_u[household[left]], self.household_lag[household[left]]
        )
        error[left] = _kinds(never[left], UNRECORDED_DEPARTURE, late, LATE_DEPARTURE)

        closed = np.flatnonzero(event == "dissolved")
        last_exits = (
            self._people_exits.groupby(["household", "event_date"])
            .agg(exit_recorded_at=("exit_recorded_at", "max"), exit_never=("exit_never", "any"))
            .reset_index()
        )
        matched = pd.DataFrame(
            {"household": household[closed], "event_date": event_date[closed]}
        ).merge(last_exits, on=["household", "event_date"], how="left")
        found = matched["exit_never"].notna().to_numpy()
        unrecorded = found & matched["exit_never"].fillna(False).to_numpy(bool)
        later = matched["exit_recorded_at"].to_numpy().astype("datetime64[D]")
        recorded[closed[found]] = np.maximum(recorded[closed[found]], later[found])
        never[closed[unrecorded]] = True
        recorded[never] = np.datetime64("NaT")
        return ExitRecording(recorded, never, error)
