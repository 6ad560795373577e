"""Data quality of the agency extracts themselves, table by table: the rows an agency
recorded in the monitored month against those it recorded in the twelve months before.

Per column of the data contract (CCCDs, names, free text, dates and row numbers are left
out: they are meant to be new every month):
- codes and other categories (string columns with an `allowed` list, or with at most
  `MAX_CATEGORIES` distinct values in the reference and `ROWS_PER_CATEGORY` reference rows
  for each): values never seen in the reference;
- nullable columns: a rise of the missing share;
- numbers: values outside the reference's range.

This is where a reorganisation shows: on 1 July 2025 every commune code changed (Quang Nam
into Đà Nẵng), which the features absorb through the one geography key of the converter,
and which this check reports as new categories in the raw data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from scipy.stats import binom

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


def table_quality(raw: Path, table: contract.Table, as_of: dt.date) -> dict[str, Any]:
    """One table's findings for the month ending `as_of` (rows counted both sides)."""
    columns = [c for c in table.columns if _checked(c)]
    frame = read_as_of(raw, table.agency, table.name, as_of, [c.name for c in columns])
    recorded = pd.to_datetime(frame["recorded_at"])
    month_start = pd.Timestamp(_month_start(as_of, 0))
    reference_start = pd.Timestamp(_month_start(as_of, REFERENCE_MONTHS))
    current = frame[recorded >= month_start]
    reference = frame[(recorded >= reference_start) & (recorded < month_start)]
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
    return {
        "table": name,
        "agency": table.agency,
        "rows": {"month": len(current), "reference": len(reference)},
        "judged": len(current) >= MIN_MONTH_ROWS and len(reference) > 0,
        "findings": findings,
    }


def source_quality(raw: Path, as_of: dt.date) -> list[dict[str, Any]]:
    """Every table of the contract present in `raw`."""
    return [
        table_quality(raw, table, as_of) for table in contract.TABLES if (raw / table.path).exists()
    ]
