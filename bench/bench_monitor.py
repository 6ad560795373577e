"""The monitor's sampling rule and its cost.

1. Power at the sample size (`training.SAMPLE_ROWS` each side), with Evidently's own test
   functions: the distance between two samples of one population (the noise: what a stable
   month gives) and how often a shift of a given size passes the 0.1 threshold and the noise
   floor (`drift.noise_floor`), for the normed Wasserstein distance (numbers) and the
   Jensen-Shannon distance (0/1 features), over `--draws` repetitions.
2. Wall time of `needs-model monitor` on a models folder and its feature snapshots (median of
   `--repeats` runs, each in a fresh process, peak RSS from the kernel), when `--models` is
   given.
3. With `--labels-as-of DATE`: the cost of reading matured labels as the register held them
   (`performance.labels_known_on`: linking the register as of DATE, then labelling three
   month ends of births and of poverty), in a fresh process. `make run` and the
   full-province run monitor a month end inside the champions' reference year, where no
   month end has matured yet, so step 2 does not pay it.

Usage:
    python bench/bench_monitor.py                                  # power only
    python bench/bench_monitor.py --models data/full/models --features data/full/features \\
        --raw data/full/raw --reports /tmp/monitor-bench --repeats 3
    python bench/bench_monitor.py --skip-power --labels-as-of 2025-09-30 \\
        --features data/full/features --raw data/full/raw \\
        --out bench/results/monitor-labels-full.json
Writes bench/results/monitor.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.modelling.training import SAMPLE_ROWS
from needs_model.monitoring import drift

RESULTS = Path(__file__).parent / "results" / "monitor.json"


def power(draws: int, rows: int) -> dict[str, object]:
    from evidently.legacy.calculations.stattests.registry import get_stattest
    from evidently.legacy.core import ColumnType

    rng = np.random.default_rng(0)
    out: dict[str, object] = {"rows_each_side": rows, "draws": draws}
    reference = pd.Series(rng.normal(0, 1, rows))
    numeric = get_stattest(reference, reference, ColumnType.Numerical, drift.NUMERIC_METHOD)
    floor = drift.noise_floor(reference, rows, drift.NUMERIC_METHOD)
    for shift in (0.0, 0.05, 0.1, 0.15, 0.2):
        scores = [
            numeric(
                reference, pd.Series(rng.normal(shift, 1, rows)), ColumnType.Numerical, 0.1
            ).drift_score
            for _ in range(draws)
        ]
        flagged = np.mean([s >= drift.THRESHOLD and s > floor for s in scores])
        out[f"wasserstein_shift_{shift}sd"] = {
            "median_score": float(np.median(scores)),
            "p95_score": float(np.percentile(scores, 95)),
            "flagged_share": float(flagged),
        }
    out["wasserstein_noise_floor"] = floor
    binary = pd.Series((rng.random(rows) < 0.3).astype(int).astype(str))
    categorical = get_stattest(binary, binary, ColumnType.Categorical, drift.CATEGORICAL_METHOD)
    floor = drift.noise_floor(binary, rows, drift.CATEGORICAL_METHOD)
    for share in (0.3, 0.35, 0.4, 0.45):
        scores = [
            categorical(
                binary,
                pd.Series((rng.random(rows) < share).astype(int).astype(str)),
                ColumnType.Categorical,
                0.1,
            ).drift_score
            for _ in range(draws)
        ]
        flagged = np.mean([s >= drift.THRESHOLD and s > floor for s in scores])
        out[f"jensenshannon_0.3_to_{share}"] = {
            "median_score": float(np.median(scores)),
            "flagged_share": float(flagged),
        }
    out["jensenshannon_noise_floor"] = floor
    return out


def run_monitor(models: Path, features: Path, raw: Path, reports: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "NEEDS_MODELS_DIR": str(models),
        "NEEDS_FEATURES_DIR": str(features),
        "NEEDS_RAW_DIR": str(raw),
        "NEEDS_REPORTS_DIR": str(reports),
    }
    with tempfile.TemporaryDirectory() as tmp:
        env["NEEDS_MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        env["NEEDS_MLFLOW_ARTIFACT_ROOT"] = f"{tmp}/artifacts"
        command = [sys.executable, "-m", "needs_model.cli.main", "monitor"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return {"seconds": seconds, "peak_rss_gib": peak / 2**20}


LABELS_CODE = """
import datetime as dt, json, sys, time
from pathlib import Path
from needs_model.features.snapshots import read_snapshot
from needs_model.monitoring.performance import labels_known_on
from needs_model.monitoring.run import available_snapshots
features, raw, as_of = Path(sys.argv[1]), Path(sys.argv[2]), dt.date.fromisoformat(sys.argv[3])
out = {}
started = time.perf_counter()
for service_id in ("birth_registration", "poor_household_confirmation"):
    days = [d for d in available_snapshots(features, service_id) if d <= as_of][-3:]
    rows = [read_snapshot(features, service_id, d) for d in days]
    t = time.perf_counter()
    for frame in rows:
        labels_known_on(frame, raw, service_id, as_of)
    out[service_id] = {"month_ends": [d.isoformat() for d in days],
                       "seconds": time.perf_counter() - t}
out["total_seconds"] = time.perf_counter() - started
print(json.dumps(out))
"""


def labels_cost(features: Path, raw: Path, as_of: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", LABELS_CODE, str(features), str(raw), as_of],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result | {"as_of": as_of}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=50)
    parser.add_argument("--models", type=Path, default=None)
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--reports", type=Path, default=Path("/tmp/needs-monitor-bench"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--labels-as-of", default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--skip-power", action="store_true")
    args = parser.parse_args()
    result: dict[str, object] = {}
    if not args.skip_power:
        result["power"] = power(args.draws, SAMPLE_ROWS)
    if args.labels_as_of is not None:
        result["labels_known_on"] = labels_cost(args.features, args.raw, args.labels_as_of)
    if args.models is not None:
        runs = [
            run_monitor(args.models, args.features, args.raw, args.reports)
            for _ in range(args.repeats)
        ]
        result["monitor"] = {
            "models": str(args.models),
            "features": str(args.features),
            "raw": str(args.raw),
            "repeats": args.repeats,
            "median_seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_gib": max(r["peak_rss_gib"] for r in runs),
            "runs": runs,
            "cpus": os.cpu_count(),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
