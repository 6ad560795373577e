"""Where could a latency stall of the API come from? Three probes, each timed in this process.

- `gc`: a full garbage collection over the loaded scored snapshot, before and after
  `gc.freeze()` (what the API's lifespan does after loading it);
- `fsync`: 4 KiB appends, each fsynced, for `--seconds` (the disk under the audit log);
- `appends`: `--appends` audit-log appends to a fresh database (the per-request write).

Usage: PYTHONPATH=. python bench/probe_stalls.py [--scores data/scores] [--models models]
       [--seconds 40] [--appends 120000]
"""

from __future__ import annotations

import argparse
import gc
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from api.store import load_store
from needs_model.governance import audit
from needs_model.governance.db import make_engine
from needs_model.scoring.snapshot import latest_snapshot


def summary(milliseconds: list[float]) -> str:
    values = np.array(milliseconds)
    return (
        f"n {len(values)}, median {np.median(values):.2f} ms, p99 {np.percentile(values, 99):.2f}"
        f" ms, max {values.max():.1f} ms, over 50 ms: {(values > 50).sum()}"
    )


def probe_gc(scores: Path, models: Path) -> None:
    snapshot = latest_snapshot(scores)
    if snapshot is None:
        raise SystemExit(f"no scored snapshot in {scores} (run make run first)")
    store = load_store(snapshot, models)
    tracked = len(gc.get_objects())
    before = []
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        before.append((time.perf_counter() - started) * 1000)
    gc.freeze()
    after = []
    for _ in range(3):
        started = time.perf_counter()
        gc.collect()
        after.append((time.perf_counter() - started) * 1000)
    print(
        f"gc: {tracked:,} tracked objects with {snapshot} loaded ({len(store.services)} services)"
    )
    print(
        f"gc: full collection {np.median(before):.1f} ms before freeze, "
        f"{np.median(after):.2f} ms after (median of 3)"
    )


def probe_fsync(folder: Path, seconds: float) -> None:
    path = folder / "fsync-probe"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    timings = []
    end = time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            os.write(descriptor, b"x" * 4096)
            started = time.perf_counter()
            os.fsync(descriptor)
            timings.append((time.perf_counter() - started) * 1000)
            time.sleep(0.005)
    finally:
        os.close(descriptor)
    print(f"fsync over {seconds:.0f} s: {summary(timings)}")


def probe_appends(folder: Path, count: int) -> None:
    engine = make_engine(f"sqlite:///{folder}/audit.db")
    timings = []
    for i in range(count):
        started = time.perf_counter()
        audit.append(
            engine,
            key_id="probe",
            role="planner",
            action="predict",
            route="POST /v1/predictions",
            subjects=[f"0491{i:08d}"],
            details={"predictions": [f"pr_{i}"]},
            personal_reads=1,
        )
        timings.append((time.perf_counter() - started) * 1000)
    print(f"audit appends: {summary(timings)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scores", type=Path, default=Path("data/scores"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--appends", type=int, default=120_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir="data") as folder:
        probe_fsync(Path(folder), args.seconds)
        probe_appends(Path(folder), args.appends)
    probe_gc(args.scores, args.models)


if __name__ == "__main__":
    main()
