"""Data quality of the agency extracts themselves, table by table: the rows an agency
recorded in the monitored month against those it recorded in the twelve months before.

Per column of the data contract (CCCDs, names, free text, dates and row numbers are left
out: they are meant to be new every month):
- codes and other categories (string columns with an `allowed` list, or with at most
  `MAX_CATEGORIES` distinct values in the reference and `ROWS_PER_CATEGORY` reference rows
  for each): values never seen in the reference;
- nullable columns: a rise of the missing share;
- numbers: values outside the reference's range;
- volume: the rows recorded in the month, all of them and per row type (`event`), against
  the same count in each of the twelve months before (`volume_findings`).

Volume is where a change in who lives in the province shows first: an out-migration wave
is a jump in the registry's emigration rows in its first month, long before the features'
distributions move by more than sampling does. It is also where an agency that stopped
sending rows shows.

This is where a reorganisation shows: on 1 July 2025 every commune code changed (Quang Nam
into Đà Nẵng), which the features absorb through the one geography key of the converter,
and which this check reports as new categories in the raw data. A place code (`PLACE_CODES`)
is new only when no table of the province recorded it in the twelve months before: which
communes a table names follows where its events happened (a storm's damage lists name the
communes it hit), and a commune the registry knows is not a change of codes.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binom, poisson

from needs_model.extracts import contract
from needs_model.extracts.sources import read_as_of

MAX_CATEGORIES = 300
ROWS_PER_CATEGORY = 20  # reference rows per known value before a new one means something
REFERENCE_MONTHS = 12
MISSING_RISE = 0.05
OUT_OF_RANGE = 0.05
MIN_MONTH_ROWS = 30  # fewer rows in the month (a small agency, an off-season month): not judged
NEW_VALUE_SHARE = 0.01  # values new on fewer of the month's rows: not a finding
SKIPPED_SUFFIXES = ("_id", "_name", "_cccd", "cccd", "name", "_note", "_text", "_no")
# Periods (a school year, a review year) are new every year by design: not categories.
PERIOD_SUFFIXES = ("_year",)
# A share of missing values or values outside the months before counts only past what
# sampling from the months before gives at the month's size, but for 1 in 1,000.
CHANCE = 0.999
# Volume: a month's count more than a fifth beyond every month of the year before (above
# the busiest or below the quietest), and beyond what a count at that month's rate gives
# but for 1 in 1,000: Poisson, widened by the year's own dispersion (variance over mean,
# at least 1), since people move, marry and emigrate as households, not one by one. A
# fifth, as for expected demand (`thresholds.Thresholds`): the change an office's capacity
# feels. The year's own range absorbs the seasons (school enrolment in August, the
# review's surveys in the fourth quarter).
VOLUME_CHANGE = 0.2
# The column naming a row's type, counted value by value as well as in total.
ROW_TYPE_COLUMN = "event"
# Codes of the province's units: judged against every table's values, not one table's.
PLACE_CODES = ("commune_code", "province_code")


def _month_start(as_of: dt.date, months_back: int) -> dt.date:
    index = as_of.year * 12 + as_of.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)


def _checked(column: contract.Column) -> bool:
    return not (
        column.is_cccd
        or column.dtype in ("date", "bool")
        or column.name == "recorded_at"
        or column.name.endswith(SKIPPED_SUFFIXES)
        or column.name.endswith(PERIOD_SUFFIXES)
    )


def volume_findings(
    name: str, month_counts: dict[str, int], reference_counts: dict[str, list[int]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """(findings, every count beside its reference range). `month_counts`: rows in the
    month per kind ("all rows", "event=emigration"); `reference_counts`: the same kinds'
    counts in each month before, zeros included."""
    findings, counts = [], []
    for kind, before in reference_counts.items():
        now = month_counts.get(kind, 0)
        low, high = min(before), max(before)
        counts.append({"rows": kind, "month": now, "reference_low": low, "reference_high": high})
        mean = float(np.mean(before))
        spread = max(float(np.var(before, ddof=1)) / mean, 1.0) if mean > 0 else 1.0
        # Above the busiest month: P(Poisson(high) >= now), below the quietest:
        # P(Poisson(low) <= now), both on counts divided by `spread` (quasi-Poisson). A
        # kind absent all year is taken at one a month: a handful of a rare kind is no news.
        more = now > high * (1 + VOLUME_CHANGE) and (
            poisson.sf(np.ceil(now / spread) - 1, max(high, 1) / spread) < 1 - CHANCE
        )
        fewer = now < low * (1 - VOLUME_CHANGE) and (
            poisson.cdf(np.floor(now / spread), low / spread) < 1 - CHANCE
        )
        if more or fewer:
            edge = high if more else low
            findings.append(
                f"{name}: {now:,} {kind} recorded in the month, "
                f"{'more than the busiest' if more else 'fewer than the quietest'} of the "
                f"{len(before)} months before ({edge:,}; {now / edge - 1:+.0%}, "
                f"beyond {VOLUME_CHANGE:.0%} and beyond chance)"
                if edge
                else f"{name}: {now:,} {kind} recorded in the month, none in any of the "
                f"{len(before)} months before"
            )
    return findings, counts


def _monthly_counts(
    recorded: pd.Series, kinds: pd.Series | None, as_of: dt.date
) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Rows per kind in the month ending `as_of` and in each of the `REFERENCE_MONTHS`
    before it (zeros for months without rows)."""
    months = recorded.dt.to_period("M")
    current = pd.Period(as_of, "M")
    before = [current - k for k in range(REFERENCE_MONTHS, 0, -1)]
    groups: dict[str, pd.Series] = {"all rows": pd.Series(True, index=recorded.index)}
    if kinds is not None:
        for value in sorted(kinds.dropna().unique()):
            groups[f"{ROW_TYPE_COLUMN}={value}"] = kinds == value
    month_counts, reference_counts = {}, {}
    for kind, rows in groups.items():
        per_month = months[rows].value_counts()
        month_counts[kind] = int(per_month.get(current, 0))
        reference_counts[kind] = [int(per_month.get(m, 0)) for m in before]
    return month_counts, reference_counts


def _read(raw: Path, table: contract.Table, as_of: dt.date) -> pd.DataFrame:
    """The checked columns of the rows recorded from the first reference month to `as_of`."""
    columns = [c.name for c in table.columns if _checked(c)]
    frame = read_as_of(raw, table.agency, table.name, as_of, columns)
    start = pd.Timestamp(_month_start(as_of, REFERENCE_MONTHS))
    return frame[pd.to_datetime(frame["recorded_at"]) >= start]


def _reference(frame: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The rows of `_read`'s frame recorded before the month."""
    return frame[pd.to_datetime(frame["recorded_at"]) < pd.Timestamp(_month_start(as_of, 0))]


def place_codes_before(frames: list[pd.DataFrame], as_of: dt.date) -> dict[str, set[str]]:
    """Every place code any of the tables recorded in the twelve months before the month."""
    known: dict[str, set[str]] = {name: set() for name in PLACE_CODES}
    for frame in frames:
        reference = _reference(frame, as_of)
        for name in PLACE_CODES:
            if name in reference:
                known[name] |= set(reference[name].dropna().unique())
    return known


def table_quality(
    raw: Path,
    table: contract.Table,
    as_of: dt.date,
    place_codes: dict[str, set[str]] | None = None,
    frame: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One table's findings for the month ending `as_of` (rows counted both sides). A place
    code is new when it is in none of `place_codes` (the province's tables' codes of the
    months before; by default this table's own) either. `frame`, when given, is `_read`'s."""
    columns = [c for c in table.columns if _checked(c)]
    frame = _read(raw, table, as_of) if frame is None else frame
    recorded = pd.to_datetime(frame["recorded_at"])
    current = frame[recorded >= pd.Timestamp(_month_start(as_of, 0))]
    reference = _reference(frame, as_of)
    findings: list[str] = []
    name = f"{table.agency}/{table.name}"
    if len(current) >= MIN_MONTH_ROWS and len(reference):
        for column in columns:
            now, before = current[column.name], reference[column.name]
            if column.nullable:
                missing, missing_before = now.isna(), before.isna().mean()
                rise = missing.mean() - missing_before
                by_chance = binom.ppf(CHANCE, len(now), missing_before)
                if rise >= MISSING_RISE and missing.sum() > by_chance:
                    findings.append(
                        f"{name}: {column.name} missing on {missing.mean():.1%} of the "
                        f"month's rows against {missing_before:.1%} before (+{rise:.1%})"
                    )
            if column.dtype == "string":
                known = set(before.dropna().unique())
                if column.allowed is None and (
                    len(known) > MAX_CATEGORIES or len(before) < ROWS_PER_CATEGORY * len(known)
                ):
                    # Too many values to be categories, or too few rows to have seen them
                    # all: a small agency's commune codes are new by chance every month.
                    continue
                if place_codes is not None and column.name in place_codes:
                    known |= place_codes[column.name]
                new = now[now.notna() & ~now.isin(known)]
                # New values on a handful of rows are the population (an in-migrant of a
                # rare ethnicity), not a change of codes; a value the contract forbids is
                # always a finding.
                forbidden = column.allowed is not None and not set(new.unique()) <= set(
                    column.allowed
                )
                rare = len(new) < NEW_VALUE_SHARE * len(now)
                if len(new) and (forbidden or not rare):
                    examples = ", ".join(sorted(map(str, new.unique()))[:5])
                    findings.append(
                        f"{name}: {column.name} has {new.nunique():,} value(s) never recorded "
                        f"in the {REFERENCE_MONTHS} months before, on {len(new) / len(now):.1%} "
                        f"of the month's rows (e.g. {examples})"
                    )
            elif column.dtype in ("int64", "float64"):
                values = now.dropna()
                low, high = before.min(), before.max()
                outside = ((values < low) | (values > high)).mean() if len(values) else 0.0
                if outside >= OUT_OF_RANGE:
                    findings.append(
                        f"{name}: {column.name} outside its range of the months before "
                        f"({low:g}..{high:g}) on {outside:.1%} of the month's rows"
                    )
    volume: list[dict[str, Any]] = []
    if len(reference):
        # Judged even on a small month: a month with (almost) no rows is the finding.
        # `frame` holds the reference months and this one only (`_read`).
        month_counts, reference_counts = _monthly_counts(
            recorded, frame.get(ROW_TYPE_COLUMN), as_of
        )
        more, volume = volume_findings(name, month_counts, reference_counts)
        findings += more
    return {
        "table": name,
        "agency": table.agency,
        "rows": {"month": len(current), "reference": len(reference)},
        "judged": len(current) >= MIN_MONTH_ROWS and len(reference) > 0,
        "findings": findings,
        "volume": volume,
    }


def source_quality(raw: Path, as_of: dt.date) -> list[dict[str, Any]]:
    """Every table of the contract present in `raw`, place codes judged province-wide."""
    tables = [table for table in contract.TABLES if (raw / table.path).exists()]
    frames = [_read(raw, table, as_of) for table in tables]
    places = place_codes_before(frames, as_of)
    return [
        table_quality(raw, table, as_of, places, frame)
        for table, frame in zip(tables, frames, strict=True)
    ]
