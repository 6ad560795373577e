"""Benchmark linking + features (all seven services) for one monthly snapshot.

Each measurement runs in a fresh process (`python -c ...`) so peak RSS is the kernel's
accounting of that child alone; the time excludes interpreter start-up and imports (the
stage is timed inside the child). Usage:
    python bench/bench_features.py --raw data/raw --repeats 3
    python bench/bench_features.py --raw data/full --repeats 1
Writes bench/results/features-<name of raw folder>.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import datetime as dt, json, resource, sys, time
from pathlib import Path
from needs_model.linking.profiles import build_profiles
from needs_model.features.build import build_features
from needs_model.linking.consistency import consistency_report
from needs_model.catalogue.services import SERVICE_IDS
raw, as_of = Path(sys.argv[1]), dt.date.fromisoformat(sys.argv[2])
started = time.perf_counter()
profiles = build_profiles(raw, as_of)
rows = {s: len(build_features(profiles, s)) for s in SERVICE_IDS}
link_and_features = time.perf_counter() - started
consistency_report(profiles.links, raw, as_of)
with_consistency = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps({"seconds": link_and_features, "with_consistency_seconds": with_consistency,
                  "peak_rss_gib": peak, "rows": rows, "people": len(profiles.people)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--as-of", default="2025-06-30")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for _ in range(args.repeats):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.raw), args.as_of],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    result = {
        "raw": str(args.raw),
        "as_of": args.as_of,
        "repeats": args.repeats,
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "median_with_consistency_seconds": statistics.median(
            r["with_consistency_seconds"] for r in runs
        ),
        "peak_rss_gib": max(r["peak_rss_gib"] for r in runs),
        "people": runs[0]["people"],
        "rows": runs[0]["rows"],
        "runs": runs,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))
    out = Path(__file__).parent / "results" / f"features-{args.raw.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
