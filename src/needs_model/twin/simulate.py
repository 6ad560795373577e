"""The month-by-month loop of the twin, and where it writes what it knows."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from needs_model.reference import cccd
from needs_model.reference.geography import quang_nam_communes
from needs_model.twin import careers, demography, oracle, poverty
from needs_model.twin.params import TwinParameters
from needs_model.twin.population import build_initial_population, ym_of
from needs_model.twin.state import Columns
from needs_model.twin.world import World, month_end

DEFAULT_PEOPLE = 75_000


# The first month the twin can start from: its opening households were reviewed under the
# poverty rules in force the month before (catalogue/legal.py knows them from 2011).
EARLIEST_START = "2011-02"


@dataclass(frozen=True)
class SimulationSpec:
    people: int = DEFAULT_PEOPLE
    seed: int = 0
    start: str = "2021-01"
    end: str = "2025-12"

    @property
    def start_ym(self) -> int:
        ym = _parse_month(self.start)
        if ym < _parse_month(EARLIEST_START):
            raise ValueError(
                f"--start {self.start} is before {EARLIEST_START}: the twin knows the poverty "
                "rules from 2011 only (Decision 09/2011), and the households it starts with "
                "were reviewed the month before"
            )
        return ym

    @property
    def end_ym(self) -> int:
        return _parse_month(self.end)


def _parse_month(text: str) -> int:
    try:
        year, month = (int(x) for x in text.split("-"))
        if not 1 <= month <= 12:
            raise ValueError
    except ValueError as error:
        raise ValueError(f"month {text!r} is not YYYY-MM") from error
    return ym_of(year, month)


class OracleWriter:
    """Streams month-end oracle tables to truth/oracle/<service>.parquet."""

    SCHEMA = pa.schema(
        [("as_of", pa.date32()), ("subject_id", pa.int32()), ("probability", pa.float32())]
    )

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writers: dict[str, pq.ParquetWriter] = {}

    def write(self, as_of: dt.date, tables: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        for service_id, (subjects, probability) in tables.items():
            if service_id not in self.writers:
                self.directory.mkdir(parents=True, exist_ok=True)
                self.writers[service_id] = pq.ParquetWriter(
                    self.directory / f"{service_id}.parquet", self.SCHEMA
                )
            table = pa.table(
                {
                    "as_of": pa.array(np.full(len(subjects), np.datetime64(as_of, "D"))),
                    "subject_id": pa.array(subjects.astype(np.int32)),
                    "probability": pa.array(np.clip(probability, 0, 1).astype(np.float32)),
                },
                schema=self.SCHEMA,
            )
            self.writers[service_id].write_table(table)

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def new_world(spec: SimulationSpec, params: TwinParameters) -> World:
    rng = np.random.default_rng(spec.seed)
    communes = quang_nam_communes()
    issuer = cccd.CccdIssuer()
    people, households = build_initial_population(
        spec.people, communes, spec.start_ym, params, rng, issuer
    )
    world = World(
        params=params,
        communes=communes,
        rng=rng,
        issuer=issuer,
        people=people,
        households=households,
        licences=Columns(careers.LICENCE_COLUMNS, 4096),
        businesses=Columns(careers.BUSINESS_COLUMNS, 1024),
        vehicles=Columns(careers.VEHICLE_COLUMNS, 4096),
        ym=spec.start_ym,
    )
    world.initial = {
        "people": np.arange(people.n),
        "household": people["household"].copy(),
        "married": people["married"].copy(),
        "households": np.arange(households.n),
        "household_commune": households["commune"].copy(),
    }
    careers.init_careers(world, spec.people)
    initial_pregnancies(world)
    demography.initial_absences(world)
    return world


def initial_pregnancies(w: World) -> None:
    """Women already pregnant on the first day, at every stage of pregnancy."""
    from needs_model.twin import hazards

    p = w.people
    age = w.person_age()
    women = np.flatnonzero((p["sex"] == 1) & (age >= 15) & (age <= 49))
    hh = p["household"][women]
    monthly = hazards.conception_probability(
        age[women],
        p["married"][women],
        p["parity"][women],
        w.households["urban"][hh],
        w.households["mountain"][hh],
        w.params.demography,
    )
    pregnant = women[w.rng.random(len(women)) < monthly * 8.5]
    gestation = w.rng.integers(0, 9, len(pregnant))
    p["gestation"][pregnant] = gestation
    p["conception_ym"][pregnant] = w.ym - 1 - gestation
    p["antenatal"][pregnant] = (gestation >= 3) & (w.rng.random(len(pregnant)) < 0.85)


def step_month(w: World, n_people_start: int) -> None:
    demography.draw_year_factors(w)
    demography.exits(w)
    demography.absences(w)
    demography.births(w)
    demography.birth_registrations(w)
    demography.conceptions(w)
    demography.marriages(w)
    demography.internal_moves(w)
    demography.arrivals(w)
    demography.school_admissions(w)
    careers.licences_step(w, n_people_start)
    careers.transport_step(w, n_people_start)
    poverty.income_step(w)
    poverty.annual_review(w)


def record_month_stats(w: World) -> None:
    """Month-end counts the calibration table needs (population, women by age group, broad
    age groups, men, ethnic minorities)."""
    p = w.people
    here = p["alive"] & p["present"]
    age = w.person_age()
    women = here & (p["sex"] == 1) & (age >= 15) & (age <= 49)
    w.log.add(
        "truth_month_stats",
        ym=np.array([w.ym]),
        population=np.array([here.sum()]),
        households=np.array([w.households["present"].sum()]),
        aged_0_14=np.array([(here & (age <= 14)).sum()]),
        aged_15_64=np.array([(here & (age >= 15) & (age <= 64)).sum()]),
        aged_65_plus=np.array([(here & (age >= 65)).sum()]),
        men=np.array([(here & (p["sex"] == 0)).sum()]),
        ethnic_minority=np.array([(here & (p["ethnicity"] >= 2)).sum()]),
        **{
            f"women_{15 + 5 * g}": np.array([(women & ((age - 15) // 5 == g)).sum()])
            for g in range(7)
        },
    )


def run(
    spec: SimulationSpec,
    params: TwinParameters,
    truth_dir: Path | None,
    progress: Callable[[int, int], None] | None = None,
) -> World:
    """Simulate month by month; writes the month-end oracle under `truth_dir` if given."""
    if spec.end_ym < spec.start_ym:
        raise ValueError(f"--end {spec.end} is before --start {spec.start}")
    if spec.people < 500:
        raise ValueError("--people must be at least 500 to keep every service populated")
    w = new_world(spec, params)
    writer = OracleWriter(truth_dir / "oracle") if truth_dir is not None else None
    months = range(spec.start_ym, spec.end_ym + 1)
    try:
        for i, ym in enumerate(months):
            w.ym = ym
            step_month(w, spec.people)
            record_month_stats(w)
            if writer is not None:
                writer.write(month_end(ym), oracle.month_end_oracle(w))
            if progress is not None:
                progress(i + 1, len(months))
    finally:
        if writer is not None:
            writer.close()
    return w
