"""From what happened to what each agency wrote down: the contract's extracts, with the
errors real registries have, and the truth needed to measure linkage and error detection."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from needs_model.extracts import contract
from needs_model.reference.cccd import to_string
from needs_model.reference.geography import MERGER_DATE
from needs_model.twin import names
from needs_model.twin.careers import PROFESSIONS
from needs_model.twin.population import ETHNICITIES, N_DEPRIVATIONS, RELIGIONS
from needs_model.twin.recording import ExitRecorder
from needs_model.twin.world import World, day_in_month

MERGER = np.datetime64(MERGER_DATE, "D")
SUBJECT_KIND = {
    "birth_registration": "person",
    "school_admission": "person",
    "medical_license_renewal": "person",
    "tour_guide_card_renewal": "person",
    "veterinary_certificate_renewal": "person",
    "poor_household_confirmation": "household",
    "transport_business_license": "business",
}


def where_or_none(condition: np.ndarray, values: np.ndarray) -> np.ndarray:
    """`values` where `condition` holds, None elsewhere (an object array for nullable columns)."""
    out = np.full(len(condition), None, dtype=object)
    out[condition] = np.asarray(values, dtype=object)[condition]
    return out


def padded(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Document numbers such as HK000000042 (an object array; empty input gives empty output)."""
    return np.array([f"{prefix}{int(n):0{width}d}" for n in np.asarray(numbers)], dtype=object)


def household_ids(index: np.ndarray) -> np.ndarray:
    return padded("HK", np.asarray(index) + 1, 9)


def business_ids(index: np.ndarray) -> np.ndarray:
    return padded("VT", np.asarray(index) + 1, 7)


@dataclass
class Truth:
    """Injected errors and record identities, collected while the extracts are written."""

    errors: list[pd.DataFrame] = field(default_factory=list)
    identities: list[pd.DataFrame] = field(default_factory=list)

    def identity(self, table: str, record_id: np.ndarray, person: np.ndarray) -> None:
        self.identities.append(
            pd.DataFrame(
                {"table": table, "record_id": record_id, "person_id": person.astype(np.int64)}
            )
        )

    def error(
        self,
        kind: str,
        table: str,
        record_id: np.ndarray,
        column: str,
        true_value: np.ndarray,
        recorded_value: np.ndarray,
        person: np.ndarray,
        when: np.ndarray | None = None,
        until: np.ndarray | None = None,
        note: np.ndarray | None = None,
    ) -> None:
        """`when`/`until`: when a registry error starts and (late registrations) ends;
        `note`: the registry event it concerns."""
        if len(record_id):
            n = len(record_id)
            no_date = np.full(n, np.datetime64("NaT"), "datetime64[D]")
            self.errors.append(
                pd.DataFrame(
                    {
                        "when": no_date if when is None else when,
                        "until": no_date if until is None else until,
                        "note": np.full(n, None, dtype=object) if note is None else note,
                        "error_type": kind,
                        "table": table,
                        "record_id": record_id,
                        "column": column,
                        "true_value": pd.Series(true_value).astype("string").to_numpy(),
                        "recorded_value": pd.Series(recorded_value).astype("string").to_numpy(),
                        "person_id": person.astype(np.int64),
                    }
                )
            )


class ExtractWriter:
    def __init__(self, w: World, out: Path) -> None:
        self.w, self.out = w, out
        seed = int(w.rng.integers(0, 2**31))
        self.rng = np.random.default_rng([seed, 7])
        # The parents' numbers came to the registry extract later: their omissions draw from
        # a stream of their own, so adding them moved no other draw of the extracts.
        self.parent_rng = np.random.default_rng([seed, 8])
        # When deaths and departures reach the registry: a stream of its own as well.
        self.exit_recorder = ExitRecorder(w, np.random.default_rng([seed, 9]))
        # The vehicle register's capacity classes: a stream of their own, one draw per vehicle.
        self.vehicle_rng = np.random.default_rng([seed, 10])
        # Recording lags and batch uploads draw from their own stream too.
        self.lag_rng = np.random.default_rng([seed, 11])
        # The hard cases for linking (two errors, a move, a registry correction) likewise.
        self.hard_rng = np.random.default_rng([seed, 12])
        # Which damaged households the communes' storm-damage lists leave out: its own too.
        self.storm_rng = np.random.default_rng([seed, 13])
        self.corrections: pd.DataFrame | None = None
        self._moves: pd.DataFrame | None = None
        self.truth = Truth()
        p = w.people
        self.cccd = where_or_none(p["cccd"] > 0, to_string(p["cccd"]))
        self.birth_date = day_in_month(p["birth_ym"], p["birth_day"])
        # Namesakes as dense as in the full province's communes (see names.add_namesakes).
        self.name = names.add_namesakes(
            names.full_names(p["family"], p["middle"], p["given"], p["sex"] == 1),
            p["sex"] == 1,
            self.birth_date.astype("datetime64[Y]").astype(np.int64),
            w.person_commune(np.arange(p.n)),
            self.hard_rng,
        )
        self.sex = np.where(p["sex"] == 1, "female", "male")
        legacy = w.communes["commune_code"].to_numpy().astype(object)
        self.legacy_code = legacy
        self.new_code = w.communes["commune_code_2025"].to_numpy().astype(object)

    # -- helpers ------------------------------------------------------------------------
    def lag(
        self, dates: np.ndarray, max_days: int, *, commune: np.ndarray | None = None
    ) -> np.ndarray:
        """Recording dates of events on `dates`: a lognormal lag whose median is half the
        table's typical scale `max_days` (the uniform lag it replaced had that median) with a
        month-long tail (`ErrorRates.recording_lag_*`). Given the event's `commune`, mountain
        communes record later and some communes enter a whole month of this table's records
        at once early the next month (`ErrorRates.batch_upload_*`)."""
        e = self.w.params.errors
        dates = np.asarray(dates).astype("datetime64[D]")
        n = len(dates)
        scale = np.full(n, max(max_days / 2.0, 0.5))
        mountain = np.zeros(n, dtype=bool)
        if commune is not None:
            commune = np.asarray(commune).astype(np.int64)
            mountain = self.w.communes["is_mountain"].to_numpy(dtype=bool)[commune]
            scale = np.where(mountain, scale * e.recording_lag_mountain_factor, scale)
        days = np.floor(scale * np.exp(e.recording_lag_sigma * self.lag_rng.standard_normal(n)))
        recorded = dates + np.minimum(days, e.recording_lag_max_days).astype("timedelta64[D]")
        if commune is None or n == 0:
            return recorded
        month = dates.astype("datetime64[M]")
        keys, which = np.unique(
            np.stack([commune, month.astype(np.int64)]), axis=1, return_inverse=True
        )
        which = which.ravel()
        key_mountain = self.w.communes["is_mountain"].to_numpy(dtype=bool)[keys[0]]
        rate = np.where(key_mountain, e.batch_upload_monthly_mountain, e.batch_upload_monthly)
        batched = self.lag_rng.random(keys.shape[1]) < rate
        upload_day = self.lag_rng.integers(0, e.batch_upload_last_day, keys.shape[1])
        next_month = (keys[1] + 1).astype("datetime64[M]").astype("datetime64[D]")
        upload = next_month + upload_day.astype("timedelta64[D]")
        in_batch = batched[which]
        recorded[in_batch] = upload[which][in_batch]
        return recorded

    def communes(self, commune: np.ndarray, recorded_at: np.ndarray) -> dict[str, np.ndarray]:
        after = recorded_at >= MERGER
        return {
            "commune_code": np.where(after, self.new_code[commune], self.legacy_code[commune]),
            "province_code": np.where(after, "48", "49").astype(object),
        }

    def person_columns(
        self,
        table: str,
        prefix: str,
        person: np.ndarray,
        recorded_at: np.ndarray,
        record_id: np.ndarray,
        inject: bool = True,
    ) -> dict[str, np.ndarray]:
        """CCCD (missing before it was issued), name and birth date, with injected errors."""
        p = self.w.people
        issued = day_in_month(p["cccd_ym"][person], 1) <= recorded_at
        cccd = where_or_none(issued & (p["cccd"][person] > 0), self.cccd[person])
        name = self.name[person].copy()
        birth = self.birth_date[person].copy()
        self.truth.identity(table, record_id, person)
        if table == "registry/people" and self.corrections is None:
            self.corrections = self._draw_corrections(person, recorded_at)
        self._before_corrections(table, prefix, person, recorded_at, record_id, name, birth)
        if inject:
            e = self.w.params.errors
            n = len(person)
            missing = (self.rng.random(n) < e.missing_cccd) & pd.notna(cccd)
            after_move = self._recently_moved(person, recorded_at) & (
                self.hard_rng.random(n) < e.missing_cccd_after_move
            )
            only_after_move = after_move & ~missing & pd.notna(cccd)
            missing |= only_after_move
            self.truth.error(
                "missing_cccd",
                table,
                record_id[missing],
                f"{prefix}cccd",
                cccd[missing],
                np.full(missing.sum(), None),
                person[missing],
                note=where_or_none(only_after_move[missing], np.full(missing.sum(), "after_move")),
            )
            cccd[missing] = None
            typo = (self.rng.random(n) < e.cccd_typo) & pd.notna(cccd)
            idx = np.flatnonzero(typo)
            mistyped = np.array([self._cccd_typo(str(x)) for x in cccd[idx]], dtype=object)
            self.truth.error(
                "cccd_typo",
                table,
                record_id[idx],
                f"{prefix}cccd",
                cccd[idx],
                mistyped,
                person[idx],
            )
            cccd[idx] = mistyped
            plain = self.rng.random(n) < e.name_without_diacritics
            stripped = np.array([names.strip_diacritics(x) for x in name[plain]], dtype=object)
            changed = stripped != name[plain]
            idx = np.flatnonzero(plain)[changed]
            self.truth.error(
                "name_without_diacritics",
                table,
                record_id[idx],
                f"{prefix}full_name",
                name[idx],
                stripped[changed],
                person[idx],
            )
            name[idx] = stripped[changed]
            typo = (self.rng.random(n) < e.name_misspelt) & ~plain
            idx = np.flatnonzero(typo)
            spelt = np.array([names.misspell(x, self.rng) for x in name[idx]], dtype=object)
            keep = spelt != name[idx]
            self.truth.error(
                "name_misspelt",
                table,
                record_id[idx[keep]],
                f"{prefix}full_name",
                name[idx[keep]],
                spelt[keep],
                person[idx[keep]],
            )
            name[idx[keep]] = spelt[keep]
            idx = np.flatnonzero(self.rng.random(n) < e.birth_date_typo)
            wrong = self._date_typos(birth[idx])
            self.truth.error(
                "birth_date_typo",
                table,
                record_id[idx],
                f"{prefix}birth_date",
                birth[idx],
                wrong,
                person[idx],
            )
            birth[idx] = wrong
            self._second_errors(
                table, prefix, person, record_id, missing, name, birth, typo_rows=idx
            )
        return {f"{prefix}cccd": cccd, f"{prefix}full_name": name, f"{prefix}birth_date": birth}

    def _second_errors(
        self,
        table: str,
        prefix: str,
        person: np.ndarray,
        record_id: np.ndarray,
        missing: np.ndarray,
        name: np.ndarray,
        birth: np.ndarray,
        typo_rows: np.ndarray,
    ) -> None:
        """A record without its CCCD that also has a misspelt name or a birth-date typo
        (`ErrorRates.second_error_with_missing_cccd`), in place on `name` and `birth`."""
        e = self.w.params.errors
        n = len(person)
        clean = missing & (name == self.name[person])
        clean[typo_rows] = False
        second = clean & (self.hard_rng.random(n) < e.second_error_with_missing_cccd)
        on_name = self.hard_rng.random(n) < 0.5
        idx = np.flatnonzero(second & on_name)
        spelt = np.array([names.misspell(x, self.hard_rng) for x in name[idx]], dtype=object)
        keep = spelt != name[idx]
        idx, spelt = idx[keep], spelt[keep]
        self.truth.error(
            "name_misspelt",
            table,
            record_id[idx],
            f"{prefix}full_name",
            name[idx],
            spelt,
            person[idx],
            note=np.full(len(idx), "with_missing_cccd", dtype=object),
        )
        name[idx] = spelt
        idx = np.flatnonzero(second & ~on_name)
        wrong = self._date_typos(birth[idx], self.hard_rng)
        self.truth.error(
            "birth_date_typo",
            table,
            record_id[idx],
            f"{prefix}birth_date",
            birth[idx],
            wrong,
            person[idx],
            note=np.full(len(idx), "with_missing_cccd", dtype=object),
        )
        birth[idx] = wrong

    def _recently_moved(self, person: np.ndarray, recorded_at: np.ndarray) -> np.ndarray:
        """Whether each person moved (or married into another household) in the
        `ErrorRates.missing_cccd_after_move_months` before the record."""
        if self._moves is None:
            log = pd.DataFrame(self.w.log.frame("registry_people"))
            if log.empty:
                log = pd.DataFrame({"person": [], "event": [], "event_date": []})
            moves = log[log["event"].isin(["moved", "marriage"])]
            self._moves = pd.DataFrame(
                {
                    "person": moves["person"].to_numpy().astype(np.int64),
                    "moved_on": moves["event_date"].to_numpy().astype("datetime64[ns]"),
                }
            ).sort_values("moved_on", kind="stable")
        records = pd.DataFrame(
            {
                "row": np.arange(len(person)),
                "person": np.asarray(person).astype(np.int64),
                "recorded_at": np.asarray(recorded_at).astype("datetime64[ns]"),
            }
        ).sort_values("recorded_at", kind="stable")
        last = pd.merge_asof(
            records, self._moves, left_on="recorded_at", right_on="moved_on", by="person"
        ).sort_values("row")
        window = pd.Timedelta(
            days=int(30.4375 * self.w.params.errors.missing_cccd_after_move_months)
        )
        since = last["recorded_at"] - last["moved_on"]
        return (since <= window).fillna(False).to_numpy(dtype=bool)

    def _draw_corrections(self, person: np.ndarray, recorded_at: np.ndarray) -> pd.DataFrame:
        """Registry corrections: person, corrected_on (the recorded date of one of the
        person's later registry rows), column and the old (wrong) value."""
        e = self.w.params.errors
        rows = pd.DataFrame({"person": person, "recorded_at": recorded_at}).drop_duplicates()
        first = rows.groupby("person")["recorded_at"].transform("min")
        later = rows[rows["recorded_at"] > first]
        people = later["person"].unique()
        chosen = people[self.hard_rng.random(len(people)) < e.registry_correction]
        later = later[later["person"].isin(chosen)]
        pick = later.groupby("person", sort=True).sample(n=1, random_state=self.hard_rng)
        pick = pick.sort_values("person").reset_index(drop=True)
        person_ids = pick["person"].to_numpy().astype(np.int64)
        on_name = self.hard_rng.random(len(pick)) < 0.5
        old_name = np.array(
            [names.misspell(x, self.hard_rng) for x in self.name[person_ids]], dtype=object
        )
        old_birth = self._date_typos(self.birth_date[person_ids], self.hard_rng, same_year=True)
        # A shift across New Year would change the year the CCCD encodes: correct the name.
        year = self.birth_date[person_ids].astype("datetime64[Y]")
        on_name |= old_birth.astype("datetime64[Y]") != year
        return pd.DataFrame(
            {
                "person": person_ids,
                "corrected_on": pick["recorded_at"].to_numpy().astype("datetime64[D]"),
                "column": np.where(on_name, "full_name", "birth_date"),
                "old_name": old_name,
                "old_birth": old_birth,
            }
        )

    def _before_corrections(
        self,
        table: str,
        prefix: str,
        person: np.ndarray,
        recorded_at: np.ndarray,
        record_id: np.ndarray,
        name: np.ndarray,
        birth: np.ndarray,
    ) -> None:
        """Rows recorded before the person's registry correction carry the old value (in
        place on `name` and `birth`); logged as `name_before_correction` /
        `birth_date_before_correction` with the correction date as `until`."""
        if self.corrections is None or self.corrections.empty or len(person) == 0:
            return
        c = self.corrections.set_index("person")
        position = c.index.get_indexer(np.asarray(person).astype(np.int64))
        has = position >= 0
        safe = np.where(has, position, 0)
        corrected_on = c["corrected_on"].to_numpy().astype("datetime64[D]")[safe]
        before = has & (np.asarray(recorded_at).astype("datetime64[D]") < corrected_on)
        column = c["column"].to_numpy()[safe]
        for kind, values, old in (
            ("full_name", name, c["old_name"].to_numpy()[safe]),
            ("birth_date", birth, c["old_birth"].to_numpy().astype("datetime64[D]")[safe]),
        ):
            idx = np.flatnonzero(before & (column == kind))
            if table != "registry/people":
                self.truth.error(
                    f"{'name' if kind == 'full_name' else kind}_before_correction",
                    table,
                    record_id[idx],
                    f"{prefix}{kind}",
                    values[idx],
                    old[idx],
                    person[idx],
                    until=corrected_on[idx],
                )
            else:
                self.truth.error(
                    "registry_correction",
                    table,
                    record_id[idx],
                    kind,
                    values[idx],
                    old[idx],
                    person[idx],
                    until=corrected_on[idx],
                )
            values[idx] = old[idx]

    def parent_columns(self, record_id: np.ndarray, person: np.ndarray) -> dict[str, np.ndarray]:
        """mother_cccd and father_cccd of registry rows: the parent the twin records (see
        `population` and `demography.births`), missing where none is recorded or where the
        number was never entered in the person's record (`ErrorRates.missing_parent_cccd`)."""
        p, e = self.w.people, self.w.params.errors
        out = {}
        for relation in ("mother", "father"):
            column = f"{relation}_cccd"
            parent = p[relation][person]
            numbers = where_or_none(parent >= 0, self.cccd[np.maximum(parent, 0)])
            never_entered = self.parent_rng.random(p.n) < e.missing_parent_cccd
            omitted = never_entered[person] & pd.notna(numbers)
            self.truth.error(
                "missing_parent_cccd",
                "registry/people",
                record_id[omitted],
                column,
                numbers[omitted],
                np.full(omitted.sum(), None),
                person[omitted],
            )
            numbers[omitted] = None
            out[column] = numbers
        return out

    def _cccd_typo(self, number: str) -> str:
        """One mistyped digit, never the same number."""
        position = int(self.rng.integers(0, 12))
        digit = int(number[position])
        replacement = (digit + int(self.rng.integers(1, 10))) % 10
        return number[:position] + str(replacement) + number[position + 1 :]

    def _date_typos(
        self,
        dates: np.ndarray,
        rng: np.random.Generator | None = None,
        same_year: bool = False,
    ) -> np.ndarray:
        """A day/month swap, a shift of 1-3 days or (unless `same_year`) of a year."""
        rng = self.rng if rng is None else rng
        frame = pd.DatetimeIndex(dates.astype("datetime64[s]"))
        day, month, year = frame.day.to_numpy(), frame.month.to_numpy(), frame.year.to_numpy()
        kind = rng.integers(0, 2 if same_year else 3, len(dates))
        swap = (kind == 0) & (day <= 12) & (day != month)
        out = dates.copy()
        swapped = (
            pd.to_datetime(
                pd.DataFrame({"year": year[swap], "month": day[swap], "day": month[swap]})
            )
            .to_numpy()
            .astype("datetime64[D]")
            if swap.any()
            else np.array([], "datetime64[D]")
        )
        out[swap] = swapped
        shift_day = ~swap & (kind != 2)
        shift = rng.choice([-3, -2, -1, 1, 2, 3], len(dates))
        out[shift_day] = dates[shift_day] + shift[shift_day].astype("timedelta64[D]")
        shift_year = ~swap & (kind == 2)
        out[shift_year] = dates[shift_year] + (365 * np.sign(shift[shift_year])).astype(
            "timedelta64[D]"
        )
        return out

    def write(self, t: contract.Table, columns: dict[str, np.ndarray]) -> int:
        frame = pd.DataFrame({c.name: columns[c.name] for c in t.columns})
        frame = frame.sort_values(["recorded_at", t.key], kind="stable").reset_index(drop=True)
        arrays = []
        for c in t.columns:
            values = frame[c.name]
            if c.dtype == "date":
                arrays.append(pa.array(values.to_numpy().astype("datetime64[D]"), pa.date32()))
            elif c.dtype == "string":
                arrays.append(
                    pa.array(values.astype(object).where(values.notna(), None), pa.string())
                )
            else:
                arrays.append(pa.array(values, contract.ARROW_TYPES[c.dtype]))
        target = self.out / t.path
        target.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_arrays(arrays, schema=t.schema), target)
        return len(frame)

    @staticmethod
    def ids(prefix: str, n: int, start: int = 1) -> np.ndarray:
        return padded(prefix, np.arange(start, start + n), 9)

    def _recorded_late(self, kind: str, rows: pd.DataFrame, which: np.ndarray) -> None:
        """Truth for registry person rows (`record_id`, person, event, event_date,
        recorded_at) whose event reached the registry late, or never while live."""
        late = rows.loc[which]
        self.truth.error(
            kind,
            "registry/people",
            late["record_id"].to_numpy(),
            "recorded_at",
            late["event_date"].to_numpy(),
            late["recorded_at"].to_numpy(),
            late["person"].to_numpy(),
            when=late["event_date"].to_numpy().astype("datetime64[D]"),
            until=late["recorded_at"].to_numpy().astype("datetime64[D]"),
            note=late["event"].to_numpy().astype(object),
        )

    # -- tables -------------------------------------------------------------------------
    def registry_people(self) -> int:
        w, p, e = self.w, self.w.people, self.w.params.errors
        t = contract.table("registry", "people")
        init = w.initial["people"]
        reg_date = self.birth_date[init] + self.rng.integers(0, 50, len(init)).astype(
            "timedelta64[D]"
        )
        opening = pd.DataFrame(
            {
                "person": init,
                "event": "initial",
                "event_date": reg_date,
                "household": w.initial["household"],
                "commune": w.initial["household_commune"][w.initial["household"]],
                "married": w.initial["married"],
                "alive": True,
                "present": True,
            }
        )
        logged = pd.DataFrame(w.log.frame("registry_people"))
        rows = pd.concat([opening, logged], ignore_index=True)
        rows["recorded_at"] = rows["event_date"].to_numpy().astype("datetime64[D]")
        exits = self.exit_recorder.people(rows)
        rows["recorded_at"] = exits.recorded_at
        rows["never_recorded"] = exits.never
        moves = rows["event"].isin(["moved", "marriage"]).to_numpy()
        late = moves & (self.rng.random(len(rows)) < e.late_move_registration)
        rows.loc[late, "recorded_at"] = rows.loc[late, "event_date"].to_numpy().astype(
            "datetime64[D]"
        ) + self.rng.integers(30, 181, late.sum()).astype("timedelta64[D]")
        stale = (rows["event"] == "moved").to_numpy() & (
            self.rng.random(len(rows)) < e.stale_address
        )
        record_id = self.ids("RP", len(rows))
        rows["record_id"] = record_id
        self._recorded_late("late_move_registration", rows, late)
        self.truth.error(
            "stale_address",
            "registry/people",
            record_id[stale],
            "commune_code",
            self.legacy_code[rows.loc[stale, "commune"].to_numpy()],
            np.full(stale.sum(), None),
            rows.loc[stale, "person"].to_numpy(),
            when=rows.loc[stale, "event_date"].to_numpy().astype("datetime64[D]"),
            note=rows.loc[stale, "event"].to_numpy().astype(object),
        )
        for kind in np.unique(exits.error[exits.error != None]):  # noqa: E711
            self._recorded_late(str(kind), rows, exits.error == kind)
        rows = rows[~stale]
        # Duplicate records: the same person registered twice, often with a variant name.
        dup = rows[
            (rows["event"] == "initial").to_numpy()
            & (self.rng.random(len(rows)) < e.duplicate_registry_record)
        ].copy()
        dup["record_id"] = self.ids("RD", len(dup))
        rows = pd.concat([rows, dup], ignore_index=True)
        # Deaths never reported and departures never recorded: the registry has no such row.
        rows = rows[~rows["never_recorded"].to_numpy(bool)].reset_index(drop=True)
        person = rows["person"].to_numpy()
        recorded = rows["recorded_at"].to_numpy().astype("datetime64[D]")
        cols = self.person_columns(
            "registry/people", "", person, recorded, rows["record_id"].to_numpy(), inject=False
        )
        is_dup = rows["record_id"].str.startswith("RD").to_numpy()
        plain = is_dup & (self.rng.random(len(rows)) < 0.5)
        cols["full_name"][plain] = [names.strip_diacritics(x) for x in cols["full_name"][plain]]
        no_id = is_dup & (self.rng.random(len(rows)) < 0.5)
        cols["cccd"][no_id] = None
        self.truth.error(
            "duplicate_registry_record",
            "registry/people",
            rows["record_id"].to_numpy()[is_dup],
            "record_id",
            np.full(is_dup.sum(), None),
            rows["record_id"].to_numpy()[is_dup],
            person[is_dup],
        )
        status = np.where(
            ~rows["alive"].to_numpy(bool),
            "deceased",
            np.where(~rows["present"].to_numpy(bool), "moved_out", "resident"),
        )
        return self.write(
            t,
            {
                **cols,
                **self.parent_columns(rows["record_id"].to_numpy(), person),
                "record_id": rows["record_id"].to_numpy(),
                "sex": self.sex[person],
                "ethnicity": np.array(ETHNICITIES, dtype=object)[p["ethnicity"][person]],
                "religion": np.array(RELIGIONS, dtype=object)[p["religion"][person]],
                "household_id": household_ids(rows["household"].to_numpy()),
                **self.communes(rows["commune"].to_numpy(), recorded),
                "marital_status": np.where(rows["married"].to_numpy(bool), "married", "single"),
                "status": status,
                "event": rows["event"].to_numpy(),
                "event_date": rows["event_date"].to_numpy().astype("datetime64[D]"),
                "recorded_at": recorded,
            },
        )

    def registry_households(self) -> int:
        w = self.w
        init = w.initial["households"]
        opening = pd.DataFrame(
            {
                "household": init,
                "event": "initial",
                "event_date": day_in_month(w.households["created_ym"][init], 1)
                - self.rng.integers(0, 3650, len(init)).astype("timedelta64[D]"),
                "commune": w.initial["household_commune"],
                "present": True,
            }
        )
        rows = pd.concat(
            [opening, pd.DataFrame(w.log.frame("registry_households"))], ignore_index=True
        )
        event_date = rows["event_date"].to_numpy().astype("datetime64[D]")
        # The household book and the people in it are one residence database, written in
        # the same act: its rows are recorded when the registry's person rows are (on the
        # event date, or when a death or departure reaches the registry), so no resident is
        # ever in a book the registry does not yet show.
        rows["recorded_at"] = event_date
        exits = self.exit_recorder.households(rows)
        rows["recorded_at"] = exits.recorded_at
        rows = rows[~exits.never].reset_index(drop=True)
        event_date = rows["event_date"].to_numpy().astype("datetime64[D]")
        recorded = rows["recorded_at"].to_numpy().astype("datetime64[D]")
        commune = rows["commune"].to_numpy()
        # A book closed because nobody is left in it (its last member died, left or married
        # out) is `dissolved`; the members' own rows (death, emigration, marriage) say why.
        event = rows["event"].to_numpy()
        dissolved = event == "dissolved"
        present = rows["present"].to_numpy(bool)
        return self.write(
            contract.table("registry", "households"),
            {
                "record_id": self.ids("RH", len(rows)),
                "household_id": household_ids(rows["household"].to_numpy()),
                **self.communes(commune, recorded),
                "area_type": np.where(w.communes["is_urban"].to_numpy()[commune], "urban", "rural"),
                "status": np.where(
                    dissolved, "dissolved", np.where(present, "resident", "moved_out")
                ),
                "event": event,
                "event_date": event_date,
                "recorded_at": recorded,
            },
        )

    def simple_person_table(
        self,
        agency: str,
        name: str,
        log_table: str,
        person_key: str,
        prefix: str,
        date_key: str,
        extra: dict[str, object],
    ) -> int:
        log = self.w.log.frame(log_table)
        if not log:
            log = {
                person_key: np.array([], np.int32),
                date_key: np.array([], "datetime64[D]"),
                "commune": np.array([], np.int16),
            }
        t = contract.table(agency, name)
        person = log[person_key]
        event_date = log[date_key].astype("datetime64[D]")
        recorded = self.lag(event_date, 7, commune=log["commune"])
        record_id = self.ids(f"{agency[:2].upper()}{name[:2].upper()}", len(person))
        columns = {
            "record_id": record_id,
            **self.person_columns(f"{agency}/{name}", prefix, person, recorded, record_id),
            **self.communes(log["commune"], recorded),
            "recorded_at": recorded,
        }
        for column, value in extra.items():
            columns[column] = value(log) if callable(value) else np.full(len(person), value)
        return self.write(t, columns)

    def licence_table(self, profession_kind: int) -> int:
        w = self.w
        agency, name, number_column = {
            1: ("licensing", "medical_licenses", "license_no"),
            2: ("tourism", "guide_cards", "card_no"),
            3: ("agriculture", "vet_certificates", "certificate_no"),
        }[profession_kind]
        log = pd.DataFrame(w.log.frame("licences"))
        log = log[log["kind"] == profession_kind]
        rows = log[
            ["licence", "person", "event", "event_date", "issue_ym", "expiry_ym", "commune"]
        ].copy()
        # Requirement rows: CME course certificates sent in (medical), refresher courses
        # (tour guides).
        extra = {
            1: ("cme_courses", "cme_course", "course_date"),
            2: ("refresher_courses", "refresher_course", "course_date"),
        }.get(profession_kind)
        if extra is not None:
            log_table, event, date_column = extra
            added = pd.DataFrame(w.log.frame(log_table))
            if "reported" in added:
                added = added[added["reported"]].drop(columns=["reported", "true_hours"])
            if len(added):
                added = added.rename(columns={date_column: "event_date"}).assign(event=event)
                rows = pd.concat([rows, added], ignore_index=True)
        rows = rows.sort_values(["licence", "event_date"], kind="stable")
        # Rows without their own issue/expiry carry the licence in force (last issued before).
        rows[["issue_ym", "expiry_ym"]] = rows.groupby("licence")[["issue_ym", "expiry_ym"]].ffill()
        rows = rows.dropna(subset=["issue_ym"]).reset_index(drop=True)
        event_date = rows["event_date"].to_numpy().astype("datetime64[D]")
        recorded = self.lag(event_date, 10)
        person = rows["person"].to_numpy().astype(np.int64)
        record_id = self.ids(f"L{profession_kind}", len(rows))
        licence = rows["licence"].to_numpy().astype(np.int64)
        columns: dict[str, np.ndarray] = {
            "record_id": record_id,
            number_column: padded(f"{name[:2].upper()}-", licence + 1, 6),
            **self.person_columns(f"{agency}/{name}", "", person, recorded, record_id),
            "event": rows["event"].to_numpy(),
            "issue_date": day_in_month(rows["issue_ym"].to_numpy().astype(np.int64), 15),
            "expiry_date": day_in_month(rows["expiry_ym"].to_numpy().astype(np.int64), 15),
            "event_date": event_date,
            **self.communes(rows["commune"].to_numpy().astype(np.int64), recorded),
            "recorded_at": recorded,
        }
        if profession_kind == 1:
            hours = rows.get("cme_hours", pd.Series(np.nan, index=rows.index))
            columns["cme_hours"] = hours.astype("Int64").to_numpy()
        if profession_kind == 2:
            card = np.array(["international", "domestic", "on_site"], dtype=object)
            columns["card_type"] = card[np.searchsorted([0.6, 0.94], (licence * 0.6180339) % 1.0)]
        return self.write(contract.table(agency, name), columns)

    def transport(self) -> tuple[int, int]:
        w = self.w
        log = w.log.frame("businesses")
        event_date = log["event_date"].astype("datetime64[D]")
        recorded = self.lag(event_date, 10)
        record_id = self.ids("TB", len(event_date))
        n_business = self.write(
            contract.table("transport", "businesses"),
            {
                "record_id": record_id,
                "business_id": business_ids(log["business"]).astype(object),
                **self.person_columns(
                    "transport/businesses",
                    "owner_",
                    log["owner"].astype(np.int64),
                    recorded,
                    record_id,
                ),
                "event": log["event"],
                "event_date": event_date,
                **self.communes(log["commune"], recorded),
                "recorded_at": recorded,
            },
        )
        badges = w.log.frame("badges")
        vehicle = badges["vehicle"].astype(np.int64)
        issue = day_in_month(badges["issue_ym"].astype(np.int64), 1)
        event_date = badges["event_date"].astype("datetime64[D]")
        n_badges = self.write(
            contract.table("transport", "vehicle_badges"),
            {
                "record_id": self.ids("TV", len(vehicle)),
                "badge_no": padded("PH-", np.arange(1, len(vehicle) + 1), 7),
                "business_id": business_ids(badges["business"]).astype(object),
                "plate_no": padded("92H-", w.vehicles["number"][vehicle], 5),
                "vehicle_type": np.where(w.vehicles["freight"][vehicle], "freight", "passenger"),
                "manufacture_year": w.vehicles["made_ym"][vehicle].astype(np.int64) // 12,
                "capacity_class": self.capacity_classes()[vehicle],
                "event": badges["event"],
                "issue_date": issue,
                "expiry_date": day_in_month(badges["expiry_ym"].astype(np.int64), 1),
                "recorded_at": np.maximum(self.lag(event_date, 10), issue),
            },
        )
        return n_business, n_badges

    def capacity_classes(self) -> np.ndarray:
        """Each vehicle's capacity class in the register, by vehicle id ([U] shares: most
        passenger vehicles are small, freight spread over the three payload classes)."""
        v = self.w.vehicles
        u = self.vehicle_rng.random(len(v["freight"]))
        passenger = np.array(contract.CAPACITY_CLASSES["passenger"], dtype=object)
        freight = np.array(contract.CAPACITY_CLASSES["freight"], dtype=object)
        return np.where(
            v["freight"],
            freight[np.searchsorted([0.45, 0.85], u)],
            passenger[np.searchsorted([0.55, 0.85], u)],
        )

    def household_surveys(self) -> int:
        """One row per household that entered a review: how it entered, its scorecard score
        and whether it was flagged; income and deprivations only where it was surveyed in
        full (flagged), null otherwise."""
        log = self.w.log.frame("household_surveys")
        survey_date = log["survey_date"].astype("datetime64[D]")
        recorded = self.lag(survey_date, 20)
        flagged = log["flagged"].astype(bool)
        bits = (log["deprivations"].astype(np.int32)[:, None] >> np.arange(N_DEPRIVATIONS)) & 1
        return self.write(
            contract.table("welfare", "household_surveys"),
            {
                "record_id": self.ids("WS", len(survey_date)),
                "household_id": household_ids(log["household"]).astype(object),
                "survey_year": log["survey_year"].astype(np.int64),
                "entry_route": log["entry_route"].astype(object),
                "scorecard_points": log["scorecard_points"].astype(np.int64),
                "flagged_for_survey": flagged,
                "per_capita_income_vnd": where_or_none(flagged, log["income_vnd"]),
                **{
                    f"deprived_{n}": where_or_none(flagged, bits[:, i].astype(bool))
                    for i, n in enumerate(contract.DEPRIVATION_INDICATORS)
                },
                "deprivation_count": where_or_none(flagged, bits.sum(axis=1).astype(np.int64)),
                "review_result": log["result"],
                "survey_date": survey_date,
                **self.communes(log["commune"], recorded),
                "recorded_at": recorded,
            },
        )

    def storm_damage(self) -> int:
        """The communes' lists of households damaged by a storm, as the welfare agency
        receives them: a share of the damaged households left out, the rest recorded after
        an assessment lag (later in the mountains, some communes in one batch)."""
        e = self.w.params.errors
        log = self.w.log.frame("storm_damage")
        listed = self.storm_rng.random(len(log["household"])) >= e.storm_damage_unlisted
        household = log["household"][listed]
        commune = log["commune"][listed]
        storm_date = log["storm_date"][listed].astype("datetime64[D]")
        recorded = self.lag(storm_date, e.storm_damage_lag_days, commune=commune)
        return self.write(
            contract.table("welfare", "storm_damage"),
            {
                "record_id": self.ids("WD", len(household)),
                "household_id": household_ids(household).astype(object),
                "storm_date": storm_date,
                **self.communes(commune, recorded),
                "recorded_at": recorded,
            },
        )

    def transactions(self) -> int:
        """The service register: every delivered service, recorded after a lag like any
        agency's row; a person subject is written down with CCCD, name and birth date and
        the same injected identity errors as every other agency (`person_columns`), so labels
        have to be linked like any other extract."""
        log = pd.DataFrame(self.w.log.frame("transactions"))
        service = log["service"].to_numpy().astype(str)
        kind = np.array([SUBJECT_KIND[s] for s in service], dtype=object)
        subject = log["subject"].to_numpy().astype(np.int64)
        person = kind == "person"
        delivered = log["date"].to_numpy().astype("datetime64[D]")
        commune = log["commune"].to_numpy().astype(np.int64)
        recorded = self.lag(delivered, self.w.params.errors.transaction_lag_days, commune=commune)
        record_id = self.ids("TX", len(log))
        identity = self.person_columns(
            "services/transactions",
            "subject_",
            subject[person],
            recorded[person],
            record_id[person],
        )
        subject_columns: dict[str, np.ndarray] = {}
        for column, values in identity.items():
            if column == "subject_birth_date":
                full = np.full(len(log), np.datetime64("NaT"), "datetime64[D]")
            else:
                full = np.full(len(log), None, dtype=object)
            full[person] = values
            subject_columns[column] = full
        child = log["child"].to_numpy().astype(np.int64)
        return self.write(
            contract.table("services", "transactions"),
            {
                "transaction_id": record_id,
                "service_id": service,
                "subject_kind": kind,
                **subject_columns,
                "subject_household_id": where_or_none(kind == "household", household_ids(subject)),
                "subject_business_id": where_or_none(kind == "business", business_ids(subject)),
                "child_cccd": where_or_none(child >= 0, self.cccd[np.maximum(child, 0)]),
                "delivered_on": delivered,
                **self.communes(commune, recorded),
                "recorded_at": recorded,
            },
        )

    def write_all(self) -> dict[str, int]:
        counts = {
            "registry/people": self.registry_people(),
            "registry/households": self.registry_households(),
            "health/pregnancies": self.simple_person_table(
                "health",
                "pregnancies",
                "health_pregnancies",
                "mother",
                "mother_",
                "visit_date",
                {
                    "visit_date": lambda g: g["visit_date"].astype("datetime64[D]"),
                    "expected_due_date": lambda g: g["expected_due_date"].astype("datetime64[D]"),
                },
            ),
            "health/births": self.simple_person_table(
                "health",
                "births",
                "health_births",
                "mother",
                "mother_",
                "birth_date",
                {
                    "birth_certificate_no": lambda g: padded("CS-", g["child"], 8),
                    "child_sex": lambda g: self.sex[g["child"]],
                    "child_birth_date": lambda g: g["birth_date"].astype("datetime64[D]"),
                },
            ),
            "health/conditions": self.simple_person_table(
                "health",
                "conditions",
                "health_conditions",
                "person",
                "",
                "diagnosis_date",
                {
                    "condition": lambda g: g["condition"],
                    "diagnosis_date": lambda g: g["diagnosis_date"].astype("datetime64[D]"),
                },
            ),
            "education/enrolments": self.simple_person_table(
                "education",
                "enrolments",
                "education_enrolments",
                "person",
                "",
                "enrol_date",
                {
                    "sex": lambda g: self.sex[g["person"]],
                    "grade": 1,
                    "school_year": lambda g: np.array(
                        [
                            f"{y}-{y + 1}"
                            for y in g["enrol_date"].astype("datetime64[Y]").astype(int) + 1970
                        ],
                        dtype=object,
                    ),
                    "enrol_date": lambda g: g["enrol_date"].astype("datetime64[D]"),
                },
            ),
        }
        for profession in PROFESSIONS:
            table = {
                1: "licensing/medical_licenses",
                2: "tourism/guide_cards",
                3: "agriculture/vet_certificates",
            }
            counts[table[profession.kind]] = self.licence_table(profession.kind)
        counts["transport/businesses"], counts["transport/vehicle_badges"] = self.transport()
        counts["welfare/household_surveys"] = self.household_surveys()
        counts["services/transactions"] = self.transactions()
        # Last: its draws of the lag stream came after every other table's.
        counts["welfare/storm_damage"] = self.storm_damage()
        self.write_truth()
        return counts

    def write_truth(self) -> None:
        w, p = self.w, self.w.people
        truth = self.out / "truth"
        truth.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(
            {
                "person_id": np.arange(p.n),
                "cccd": self.cccd,
                "full_name": self.name,
                "birth_date": self.birth_date,
                "sex": self.sex,
                "ethnicity": np.array(ETHNICITIES, dtype=object)[p["ethnicity"]],
                "religion": np.array(RELIGIONS, dtype=object)[p["religion"]],
                "household_id": household_ids(p["household"]),
                "mother_id": p["mother"],
                "father_id": p["father"],
                "alive": p["alive"],
                "present": p["present"],
            }
        ).to_parquet(truth / "people.parquet", index=False)
        hh = w.households
        pd.DataFrame(
            {
                "household_subject_id": np.arange(hh.n),
                "household_id": household_ids(np.arange(hh.n)),
                "commune_code": self.legacy_code[hh["commune"]],
                "is_mountain": hh["mountain"],
                "is_urban": hh["urban"],
            }
        ).to_parquet(truth / "households.parquet", index=False)
        b = w.businesses
        pd.DataFrame(
            {
                "business_subject_id": np.arange(b.n),
                "business_id": business_ids(np.arange(b.n)),
                "owner_person_id": b["owner"],
            }
        ).to_parquet(truth / "businesses.parquet", index=False)
        empty_errors = pd.DataFrame(
            columns=[
                "when",
                "until",
                "note",
                "error_type",
                "table",
                "record_id",
                "column",
                "true_value",
                "recorded_value",
                "person_id",
            ]
        )
        errors = (
            pd.concat(self.truth.errors, ignore_index=True) if self.truth.errors else empty_errors
        )
        errors.insert(0, "error_id", np.arange(len(errors)))
        errors.to_parquet(truth / "errors.parquet", index=False)
        pd.concat(self.truth.identities, ignore_index=True).to_parquet(
            truth / "identities.parquet", index=False
        )
        births = pd.DataFrame(w.log.frame("truth_births"))
        births.rename(
            columns={"child": "child_person_id", "mother": "mother_person_id"}
        ).to_parquet(truth / "births.parquet", index=False)
        storms = (
            pd.DataFrame(w.log.frame("storms"))
            if w.log.frame("storms")
            else pd.DataFrame(
                {"commune": pd.Series(dtype="int16"), "month": pd.Series(dtype="datetime64[s]")}
            )
        )
        storms.assign(
            commune_code=self.legacy_code[storms["commune"].to_numpy().astype(int)]
        ).to_parquet(truth / "storms.parquet", index=False)


def write_extracts(w: World, out: Path) -> dict[str, int]:
    """Write every contract table and truth/ under `out`; returns rows per table."""
    return ExtractWriter(w, out).write_all()
