"""Measure the pipeline's outputs against the twin's truth (linkage, error detection).

Lives with the twin because it reads `truth/`; nothing in the pipeline imports it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.extracts import contract


@dataclass(frozen=True)
class LinkQuality:
    records: int
    linkable: int
    linked: int
    correct: int

    @property
    def precision(self) -> float:
        return self.correct / self.linked if self.linked else 1.0

    @property
    def recall(self) -> float:
        return self.correct / self.linkable if self.linkable else 1.0


def true_cccd_of_records(raw: Path) -> pd.DataFrame:
    """(source table, record_id) -> the true person's CCCD."""
    identities = pd.read_parquet(raw / "truth" / "identities.parquet")
    people = pd.read_parquet(raw / "truth" / "people.parquet", columns=["person_id", "cccd"])
    out = identities.merge(people, on="person_id", how="left")
    return out.rename(columns={"table": "source", "cccd": "true_cccd"})


def link_quality(raw: Path, linked: pd.DataFrame, registry_cccds: pd.Series) -> LinkQuality:
    """Precision and recall of `linked` (source, record_id, linked_cccd)."""
    truth = true_cccd_of_records(raw)
    merged = linked.merge(
        truth[["source", "record_id", "true_cccd"]],
        on=["source", "record_id"],
        how="left",
        validate="one_to_one",
    )
    linkable = merged["true_cccd"].isin(set(registry_cccds))
    made = merged["linked_cccd"].notna()
    correct = made & (merged["linked_cccd"] == merged["true_cccd"])
    return LinkQuality(len(merged), int(linkable.sum()), int(made.sum()), int(correct.sum()))


# Which report type should flag each injected error.
EXPECTED_REPORT_TYPE = {
    "name_without_diacritics": ("name",),
    "name_misspelt": ("name",),
    "birth_date_typo": ("birth_date",),
    "missing_cccd": ("missing_cccd",),
    "cccd_typo": ("cccd_mismatch",),
    "duplicate_registry_record": ("duplicate_record",),
    "stale_address": ("household_address", "address"),
    "late_move_registration": ("household_address", "address"),
}
RECORD_ERRORS = (
    "name_without_diacritics",
    "name_misspelt",
    "birth_date_typo",
    "missing_cccd",
    "cccd_typo",
    "duplicate_registry_record",
)
ADDRESS_ERRORS = ("stale_address", "late_move_registration")
# Agencies record within days; a move is visible in the household book within five days.
OBSERVATION_LAG = pd.Timedelta(days=7)


@dataclass(frozen=True)
class DetectionQuality:
    by_type: pd.DataFrame  # error_type, live, detected, recall
    reported: int
    true_positive: int
    not_observable: int  # address errors no other record reveals (marriage moves, late rows)

    @property
    def precision(self) -> float:
        return self.true_positive / self.reported if self.reported else 1.0

    @property
    def recall(self) -> float:
        live = int(self.by_type["live"].sum())
        return int(self.by_type["detected"].sum()) / live if live else 1.0


def _recorded_at(raw: Path, tables: list[str]) -> pd.DataFrame:
    parts = []
    for table in tables:
        key = contract.table(*table.split("/")).key
        frame = pd.read_parquet(raw / f"{table}.parquet", columns=[key, "recorded_at"])
        parts.append(frame.rename(columns={key: "record_id"}).assign(table=table))
    out = pd.concat(parts, ignore_index=True)
    out["recorded_at"] = pd.to_datetime(out["recorded_at"])
    return out


def detection_quality(raw: Path, report: pd.DataFrame, as_of: dt.date) -> DetectionQuality:
    """Recall of the injected errors live on `as_of`, and precision of the report rows of
    the types that such errors produce."""
    as_of_ts = pd.Timestamp(as_of)
    errors = pd.read_parquet(raw / "truth" / "errors.parquet")
    people = pd.read_parquet(raw / "truth" / "people.parquet", columns=["person_id", "cccd"])
    errors = errors.merge(people, on="person_id", how="left")

    record_errors = errors[errors["error_type"].isin(RECORD_ERRORS)]
    record_errors = record_errors.merge(
        _recorded_at(raw, sorted(record_errors["table"].unique())),
        on=["table", "record_id"],
        how="left",
    )
    record_errors = record_errors[record_errors["recorded_at"] <= as_of_ts]

    address = errors[errors["error_type"].isin(ADDRESS_ERRORS)].copy()
    address["when"] = pd.to_datetime(address["when"])
    address["until"] = pd.to_datetime(address["until"])
    started = address["when"] + OBSERVATION_LAG <= as_of_ts
    not_fixed = address["until"].isna() | (address["until"] > as_of_ts)
    # A stale address lasts until the person's next registry row (which carries the truth).
    registry = pd.read_parquet(raw / "registry" / "people.parquet", columns=["cccd", "recorded_at"])
    registry["recorded_at"] = pd.to_datetime(registry["recorded_at"])
    registry = registry[registry["recorded_at"] <= as_of_ts]
    last_row = registry.groupby("cccd")["recorded_at"].max()
    later_row = address["cccd"].map(last_row) > address["when"]
    live_address = address[started & not_fixed & ~(later_row & address["until"].isna())]
    # Only whole-household moves reach the household book; a bride's late marriage row is
    # invisible until it is recorded (no other extract shows her new household).
    observable = live_address["note"].eq("moved")
    not_observable = int((~observable).sum())
    live_address = live_address[observable]

    flagged_records: dict[str, set[str]] = {}
    for kind in {t for types in EXPECTED_REPORT_TYPE.values() for t in types}:
        rows = report[report["type"] == kind]
        ids = set(rows["record_id"].dropna()) | set(rows["other_record_id"].dropna())
        flagged_records[kind] = ids
    address_report = report[report["type"].isin(["household_address", "address"])]
    flagged_people = set(address_report["cccd"].dropna())

    rows = []
    for kind in RECORD_ERRORS:
        live = record_errors[record_errors["error_type"] == kind]
        (expected,) = EXPECTED_REPORT_TYPE[kind]
        detected = live["record_id"].isin(flagged_records[expected])
        rows.append((kind, len(live), int(detected.sum())))
    for kind in ADDRESS_ERRORS:
        live = live_address[live_address["error_type"] == kind]
        rows.append((kind, len(live), int(live["cccd"].isin(flagged_people).sum())))
    by_type = pd.DataFrame(rows, columns=["error_type", "live", "detected"])
    by_type["recall"] = by_type["detected"] / by_type["live"].where(by_type["live"] > 0)

    # Precision over the report rows that injected errors produce.
    error_types = {t for types in EXPECTED_REPORT_TYPE.values() for t in types}
    judged = report[report["type"].isin(error_types)]
    true_ids: dict[str, set[str]] = {}
    for kind in RECORD_ERRORS:
        (expected,) = EXPECTED_REPORT_TYPE[kind]
        ids = set(record_errors.loc[record_errors["error_type"] == kind, "record_id"])
        true_ids[expected] = true_ids.get(expected, set()) | ids
    live_people = set(live_address["cccd"]) | set(address.loc[started & not_fixed, "cccd"])
    correct = 0
    for row in judged.itertuples():
        if row.type in ("household_address", "address"):
            correct += row.cccd in live_people
        else:
            ids = true_ids.get(row.type, set())
            correct += (row.record_id in ids) or (row.other_record_id in ids)
    return DetectionQuality(by_type, len(judged), int(correct), not_observable)


def oracle_for_rows(raw: Path, service_id: str, rows: pd.DataFrame) -> pd.Series:
    """The twin's true P(label) for feature rows (subject_id, as_of) of one service.

    Rows outside the oracle's risk set on that date (a licence holder who has quit, a woman
    who has left, a child too young for the next round) get 0: the twin knows they cannot
    have the event in the horizon.
    """
    from needs_model.catalogue.services import service
    from needs_model.twin.oracle import oracle

    kind = service(service_id).subject_kind
    if kind == "person":
        ids = pd.read_parquet(raw / "truth" / "people.parquet", columns=["person_id", "cccd"])
        to_subject = ids.dropna().set_index("cccd")["person_id"]
    elif kind == "household":
        ids = pd.read_parquet(raw / "truth" / "households.parquet")
        to_subject = ids.set_index("household_id")["household_subject_id"]
    else:
        ids = pd.read_parquet(raw / "truth" / "businesses.parquet")
        to_subject = ids.set_index("business_id")["business_subject_id"]
    out = pd.Series(np.nan, index=rows.index)
    for as_of, part in rows.groupby(rows["as_of"].dt.date):
        table = oracle(as_of, service_id, raw).set_index("subject_id")["probability"]
        subject = part["subject_id"].map(to_subject)
        out[part.index] = subject.map(table).fillna(0.0).to_numpy(dtype=float)
    return out
