"""Benchmark a full retrain (all seven services, the full setting) from feature snapshots.

Each repeat runs `needs-model train` in a fresh process against a throw-away MLflow store,
timing the whole command (MLflow logging and evaluation included). Writes
bench/results/train-<features folder>.json and copies the last run's evaluation reports.
Usage: python bench/bench_train.py --features data/features --raw data/raw --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    results = Path(__file__).parent / "results"
    results.mkdir(parents=True, exist_ok=True)
    runs = []
    for _ in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            env = {
                **os.environ,
                "NEEDS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db",
                "NEEDS_MLFLOW_ARTIFACT_ROOT": f"{tmp}/artifacts",
                "NEEDS_REPORTS_DIR": f"{tmp}/reports",
                "NEEDS_MODELS_DIR": f"{tmp}/models",
            }
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "needs_model.cli.main",
                    "train",
                    "--features",
                    str(args.features),
                    "--raw",
                    str(args.raw),
                ],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
            runs.append({"seconds": seconds, "peak_rss_gib_so_far": peak})
            target = results / f"evaluation-{args.features.name}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(tmp) / "reports", target)
    summary = {
        "features": str(args.features),
        "repeats": args.repeats,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_gib": max(r["peak_rss_gib_so_far"] for r in runs),
        "runs": runs,
    }
    print(json.dumps(summary))
    (results / f"train-{args.features.name}.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
