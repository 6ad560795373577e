"""The layout of scored snapshots: the one module that names their files.

A scored snapshot is the folder `<scores_dir>/<as_of>/`, complete when `_SUCCESS` is there:

- `subjects/<service>.parquet`, `contributions/<service>.parquet`,
  `dossiers/<service>.parquet`: one file per served service;
- `people.parquet`, `consistency.parquet`, `forecast.parquet`, `index.parquet`,
  `communes.parquet` and `manifest.json`.

`scoring.batch` writes it through `start_snapshot` and `publish` (built in a hidden
`.partial-…` folder, then renamed into place in one step, so a reader never sees half a
snapshot); the API, benchmarks, notebooks and tests read it through `ScoredSnapshot`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

PerService = Literal["subjects", "contributions", "dossiers"]
Shared = Literal["people", "consistency", "forecast", "index", "communes"]
PER_SERVICE: tuple[PerService, ...] = ("subjects", "contributions", "dossiers")
SUCCESS = "_SUCCESS"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ScoredSnapshot:
    """One scored snapshot folder (complete or being built)."""

    folder: Path

    def path(self, part: PerService | Shared, service_id: str | None = None) -> Path:
        if part in PER_SERVICE:
            if service_id is None:
                raise ValueError(f"{part} is per service: name the service")
            return self.folder / part / f"{service_id}.parquet"
        return self.folder / f"{part}.parquet"

    def read(
        self,
        part: PerService | Shared,
        service_id: str | None = None,
        columns: list[str] | None = None,
    ) -> pd.DataFrame:
        return pd.read_parquet(self.path(part, service_id), columns=columns)

    def write(
        self, frame: pd.DataFrame, part: PerService | Shared, service_id: str | None = None
    ) -> None:
        frame.to_parquet(self.path(part, service_id), index=False)

    @property
    def complete(self) -> bool:
        return (self.folder / SUCCESS).exists() and (self.folder / MANIFEST).exists()

    def manifest(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads((self.folder / MANIFEST).read_text(encoding="utf-8"))
        return loaded

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        (self.folder / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def plain(value: Any) -> Any:
    """A value read back from a snapshot as plain Python: None for every kind of missing,
    Python numbers for NumPy's."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def start_snapshot(scores_dir: Path, as_of: dt.date) -> ScoredSnapshot:
    """An empty hidden folder to build `as_of`'s snapshot in (this process's own)."""
    partial = scores_dir / f".partial-{as_of.isoformat()}-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    for part in PER_SERVICE:
        (partial / part).mkdir(parents=True)
    return ScoredSnapshot(partial)


def publish(partial: ScoredSnapshot, scores_dir: Path, as_of: dt.date) -> ScoredSnapshot:
    """Mark `partial` complete and rename it to `<scores_dir>/<as_of>`, replacing an older
    snapshot of the same date (swapped aside first, so the date is never missing)."""
    (partial.folder / SUCCESS).touch()
    final = scores_dir / as_of.isoformat()
    if final.exists():
        retired = scores_dir / f".retired-{as_of.isoformat()}-{os.getpid()}"
        os.replace(final, retired)
        os.replace(partial.folder, final)
        shutil.rmtree(retired)
    else:
        os.replace(partial.folder, final)
    return ScoredSnapshot(final)


def latest_snapshot(scores_dir: Path) -> Path | None:
    """The newest complete scored snapshot in `scores_dir` (None if there is none)."""
    done = sorted(
        p.parent for p in scores_dir.glob(f"*/{SUCCESS}") if not p.parent.name.startswith(".")
    )
    return done[-1] if done else None
