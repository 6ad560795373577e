"""Read the agency extracts as they stood on an as-of date.

Every read in the features stage goes through `read_as_of`, which keeps only rows whose
`recorded_at` is on or before the as-of date: this one filter is what makes features
point-in-time (the leakage tests change the future and check nothing moves).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from needs_model.extracts import contract


def read_as_of(
    raw: Path, agency: str, name: str, as_of: dt.date, columns: list[str] | None = None
) -> pd.DataFrame:
    """Rows of `agency/name` recorded on or before `as_of` (all columns by default)."""
    t = contract.table(agency, name)
    dataset = ds.dataset(raw / t.path, format="parquet")
    wanted = columns if columns is None else list(dict.fromkeys([*columns, "recorded_at"]))
    table = dataset.to_table(
        columns=wanted, filter=ds.field("recorded_at") <= pa.scalar(as_of, pa.date32())
    )
    frame = table.to_pandas()
    for column in t.columns:
        if column.dtype == "date" and column.name in frame:
            frame[column.name] = pd.to_datetime(frame[column.name]).astype("datetime64[ns]")
    return frame
