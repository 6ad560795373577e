"""Benchmark the twin: wall time and peak memory of `needs-model simulate`.

Runs each size in a fresh process (peak RSS from the kernel's accounting of the child) and
writes bench/results/simulate.json. Usage:
    python bench/bench_simulate.py                 # demo (75k) x3 and full (1.5M) x1
    python bench/bench_simulate.py --sizes 75000 --repeats 5
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

RESULTS = Path(__file__).parent / "results" / "simulate.json"


def run_once(people: int, seed: int, env: dict[str, str] | None = None) -> dict[str, float]:
    """One `needs-model simulate` in a fresh process (`env`: its environment, default this
    one's): seconds, peak RSS and output size."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "raw"
        command = [
            sys.executable,
            "-m",
            "needs_model.cli.main",
            "simulate",
            "--people",
            str(people),
            "--seed",
            str(seed),
            "--out",
            str(out),
        ]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=env)
        seconds = time.perf_counter() - started
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    if peak_kib <= before:
        peak_kib = before  # ru_maxrss is the max over all children so far
    return {"seconds": seconds, "peak_rss_gib": peak_kib / 2**20, "output_mib": size / 2**20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[75_000, 1_500_000])
    parser.add_argument("--repeats", type=int, default=0, help="0: 3 for small sizes, 1 for full")
    args = parser.parse_args()
    results = []
    # Largest first is wrong for ru_maxrss (a max over children): run the sizes smallest first.
    for people in sorted(args.sizes):
        repeats = args.repeats or (3 if people < 500_000 else 1)
        runs = [run_once(people, seed=0) for _ in range(repeats)]
        row = {
            "people": people,
            "repeats": repeats,
            "median_seconds": statistics.median(r["seconds"] for r in runs),
            "peak_rss_gib": max(r["peak_rss_gib"] for r in runs),
            "output_mib": runs[0]["output_mib"],
            "runs": runs,
            "cpus": os.cpu_count(),
        }
        results.append(row)
        print(json.dumps({k: v for k, v in row.items() if k != "runs"}))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
