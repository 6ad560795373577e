"""Validate a folder of agency extracts against the data contract.

File-level problems (a missing table, a missing or mistyped column, an unreadable file)
raise `ContractViolation` listing every problem. Row-level problems never stop the run:
each offending row is copied to a quarantine file with its reasons and counted; the
extracts themselves are never modified, and every row is either valid or quarantined.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from needs_model.extracts import contract
from needs_model.reference import cccd

EARLIEST_DATE = pd.Timestamp("1900-01-01")
LATEST_DATE = pd.Timestamp("2100-01-01")


class ContractViolation(Exception):
    """File-level problems: the folder cannot be read as the contract says."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass
class TableReport:
    table: str
    rows: int
    valid: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class ValidationReport:
    folder: str
    tables: list[TableReport]

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables)

    def to_markdown(self) -> str:
        lines = [
            f"# Validation of `{self.folder}`",
            "",
            f"{self.rows:,} rows in {len(self.tables)} tables; {self.quarantined:,} quarantined "
            "(copied with their reasons to `quarantine/`; the extracts are unchanged).",
            "",
            "| table | rows | valid | quarantined |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {t.table} | {t.rows:,} | {t.valid:,} | {t.quarantined:,} |" for t in self.tables
        ]
        lines += ["", "## Reasons", "", "| table | reason | rows |", "|---|---|---:|"]
        for t in self.tables:
            lines += [
                f"| {t.table} | {reason} | {n:,} |" for reason, n in sorted(t.reasons.items())
            ]
        return "\n".join(lines) + "\n"


def _type_matches(actual: pa.DataType, expected: pa.DataType) -> bool:
    if actual.equals(expected):
        return True
    if pa.types.is_date(expected):
        return pa.types.is_date(actual) or pa.types.is_timestamp(actual)
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_string(expected):
        return (
            pa.types.is_string(actual)
            or pa.types.is_large_string(actual)
            or pa.types.is_dictionary(actual)
        )
    if pa.types.is_floating(expected):
        return pa.types.is_floating(actual) or pa.types.is_integer(actual)
    return False


def schema_problems(folder: Path, t: contract.Table) -> list[str]:
    """File-level problems visible from the Parquet footer alone (cheap: no row is read)."""
    path = folder / t.path
    if not path.exists():
        return [f"{t.agency}/{t.name}: missing table (expected file {t.path})"]
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        return [f"{t.agency}/{t.name}: unreadable Parquet file {t.path} ({error})"]
    problems = []
    for column in t.columns:
        if column.name not in schema.names:
            problems.append(f"{t.agency}/{t.name}: missing column '{column.name}'")
            continue
        actual = schema.field(column.name).type
        expected = contract.ARROW_TYPES[column.dtype]
        if not _type_matches(actual, expected):
            problems.append(
                f"{t.agency}/{t.name}: column '{column.name}' has type {actual}, "
                f"the contract says {column.dtype}"
            )
    return problems


def read_table(folder: Path, t: contract.Table) -> tuple[pa.Table | None, list[str]]:
    """The table, or the file-level problems that make it unusable."""
    problems = schema_problems(folder, t)
    if problems:
        return None, problems
    try:
        return pq.read_table(folder / t.path), []
    except (pa.ArrowException, OSError) as error:
        return None, [f"{t.agency}/{t.name}: unreadable Parquet file {t.path} ({error})"]


def row_reasons(t: contract.Table, frame: pd.DataFrame) -> pd.Series:
    """'; '-joined reasons per row ('' when the row is valid)."""
    out = np.full(len(frame), "", dtype=object)

    def add(mask: pd.Series | np.ndarray, text: str) -> None:
        index = np.flatnonzero(np.asarray(mask, dtype=bool))
        out[index] = [f"{o}; {text}" if o else text for o in out[index]]

    for column in t.columns:
        values = frame[column.name]
        if column.dtype == "date":
            values = pd.to_datetime(values, errors="coerce")
            frame[column.name] = values
            add(
                values.notna() & ((values < EARLIEST_DATE) | (values > LATEST_DATE)),
                f"{column.name} outside 1900-2100",
            )
        if not column.nullable:
            add(values.isna(), f"missing required {column.name}")
        if column.allowed is not None:
            add(
                values.notna() & ~values.isin(column.allowed),
                f"{column.name} not one of {'/'.join(column.allowed)}",
            )
        if column.is_cccd:
            invalid = cccd.invalid_reasons(values).notna()
            add(invalid, f"invalid CCCD in {column.name}")
    if t.cccd_birth is not None:
        id_col, birth_col, sex_col = t.cccd_birth
        mismatch = cccd.invalid_reasons(frame[id_col], frame[birth_col], frame[sex_col]).notna()
        mismatch &= cccd.invalid_reasons(frame[id_col]).isna()
        add(mismatch, f"{id_col} disagrees with {birth_col}/{sex_col}")
        born = pd.to_datetime(frame[birth_col], errors="coerce").dt.year
        for parent_col, parent_sex in t.parent_cccds:
            parent = frame[parent_col]
            usable = (parent.notna() & cccd.invalid_reasons(parent).isna()).to_numpy(dtype=bool)
            sexes = pd.Series(parent_sex, index=frame.index)
            wrong_sex = cccd.invalid_reasons(parent, sexes=sexes).notna().to_numpy(dtype=bool)
            other = "man" if parent_sex == "female" else "woman"
            add(usable & wrong_sex, f"{parent_col} encodes a {other}")
            year = cccd.encoded_birth_years(parent)
            not_before = (
                year.notna() & born.notna() & (year.fillna(0) >= born.fillna(0))
            ).to_numpy(dtype=bool)
            add(usable & not_before, f"{parent_col} born in or after the person's {birth_col}")
            own = parent.astype("string").eq(frame[id_col].astype("string"))
            add(
                usable & own.fillna(False).to_numpy(dtype=bool),
                f"{parent_col} is the person's own {id_col}",
            )
    for earlier, later in t.date_order:
        a, b = (
            pd.to_datetime(frame[earlier], errors="coerce"),
            pd.to_datetime(frame[later], errors="coerce"),
        )
        add(a.notna() & b.notna() & (b < a), f"{later} before {earlier}")
    add(frame[t.key].duplicated(keep="first") & frame[t.key].notna(), f"duplicate {t.key}")
    return pd.Series(out, index=frame.index, dtype=object)


def default_report_dir(folder: Path) -> Path:
    """Where a folder's validation report and quarantine go unless told: `<folder>_validation`
    beside it."""
    return folder.with_name(f"{folder.name}_validation")


def validate_folder(folder: Path, report_dir: Path) -> ValidationReport:
    """Check every contract table in `folder`; quarantine bad rows under `report_dir`."""
    if not folder.is_dir():
        raise ContractViolation([f"{folder} is not a folder of extracts"])
    loaded: dict[str, tuple[contract.Table, pa.Table]] = {}
    problems: list[str] = []
    for t in contract.TABLES:
        data, table_problems = read_table(folder, t)
        problems += table_problems
        if data is not None:
            loaded[t.path] = (t, data)
    if problems:
        raise ContractViolation(problems)
    quarantine = report_dir / "quarantine"
    quarantine.mkdir(parents=True, exist_ok=True)
    reports = []
    for t, data in loaded.values():
        frame = data.select([c.name for c in t.columns]).to_pandas()
        reasons = row_reasons(t, frame.copy())
        bad = reasons != ""
        counts: dict[str, int] = {}
        for text in reasons[bad]:
            for reason in text.split("; "):
                counts[reason] = counts.get(reason, 0) + 1
        target = quarantine / f"{t.agency}__{t.name}.parquet"
        if bad.any():
            data.filter(pa.array(bad.to_numpy())).append_column(
                "quarantine_reason", pa.array(reasons[bad].to_numpy(), pa.string())
            ).to_pandas().to_parquet(target, index=False)
        elif target.exists():
            target.unlink()
        reports.append(
            TableReport(
                f"{t.agency}/{t.name}", len(frame), int((~bad).sum()), int(bad.sum()), counts
            )
        )
    report = ValidationReport(str(folder), reports)
    (report_dir / "report.json").write_text(
        json.dumps([asdict(t) for t in reports], ensure_ascii=False, indent=2), encoding="utf-8"
    )
    (report_dir / "report.md").write_text(report.to_markdown(), encoding="utf-8")
    return report
