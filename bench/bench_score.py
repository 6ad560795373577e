"""Benchmark batch scoring (`needs-model score`) and its prediction step.

1. The whole command in a fresh process (profiles, features, predictions, TreeSHAP for the
   subjects planners see, dossiers, consistency flags, forecasts, writing the snapshot),
   wall time and peak memory, median of `--repeats`.
2. Predictions alone: `scoring.predict` (Booster raw margin + calibration) against LightGBM's
   bare `Booster.predict` on the same matrix, per service, median of 5 alternating runs;
   the ratio is what the target (<= 1.5x) is about.

Usage: python bench/bench_score.py --raw data/full --repeats 1
Writes bench/results/score-<raw folder name>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
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

from needs_model.features.build import build_features
from needs_model.features.snapshots import data_end
from needs_model.linking.profiles import build_profiles
from needs_model.scoring.batch import load_champions, predict
from needs_model.scoring.snapshot import ScoredSnapshot


def whole_command(raw: Path, models: Path, repeats: int) -> list[dict[str, float]]:
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "NEEDS_MODELS_DIR": str(models), "NEEDS_SCORES_DIR": tmp}
            started = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "needs_model.cli.main", "score", "--raw", str(raw)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            seconds = time.perf_counter() - started
            (snapshot,) = [p for p in Path(tmp).iterdir() if not p.name.startswith(".")]
            manifest = ScoredSnapshot(snapshot).manifest()
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
        runs.append(
            {"seconds": round(seconds, 2), "peak_gib_so_far": round(peak, 2)}
            | {f"stage_{k}": v for k, v in manifest["seconds"].items()}
            | {"subjects": sum(c["subjects"] for c in manifest["counts"].values())}
            | {"explained": sum(c["explained"] for c in manifest["counts"].values())}
        )
    return runs


def prediction_ratio(raw: Path, models: Path, as_of: dt.date) -> dict[str, dict[str, float]]:
    champions, _ = load_champions(models)
    profiles = build_profiles(raw, as_of)
    out = {}
    for service_id, champion in champions.items():
        model = champion.model
        matrix = model.matrix(build_features(profiles, service_id))
        ours, bare = [], []
        for _ in range(5):
            tick = time.perf_counter()
            predict(model, matrix)
            ours.append(time.perf_counter() - tick)
            tick = time.perf_counter()
            model.booster.predict(matrix)
            bare.append(time.perf_counter() - tick)
        out[service_id] = {
            "rows": int(matrix.shape[0]),
            "needs_predict_s": round(statistics.median(ours), 4),
            "bare_booster_predict_s": round(statistics.median(bare), 4),
            "ratio": round(statistics.median(ours) / statistics.median(bare), 3),
        }
    rows = sum(v["rows"] for v in out.values())
    total_ours = sum(v["needs_predict_s"] for v in out.values())
    total_bare = sum(v["bare_booster_predict_s"] for v in out.values())
    out["all_services"] = {
        "rows": rows,
        "needs_predict_s": round(total_ours, 4),
        "bare_booster_predict_s": round(total_bare, 4),
        "ratio": round(total_ours / total_bare, 3),
    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    as_of = data_end(args.raw)
    runs = whole_command(args.raw, args.models, args.repeats)
    ratios = prediction_ratio(args.raw, args.models, as_of)
    result = {
        "raw": str(args.raw),
        "as_of": as_of.isoformat(),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "date": dt.date.today().isoformat(),
        "score_seconds_median": statistics.median(r["seconds"] for r in runs),
        "runs": runs,
        "predictions": ratios,
        "ratio_median_over_services": float(
            np.median([v["ratio"] for k, v in ratios.items() if k != "all_services"])
        ),
    }
    out = Path(__file__).parent / "results" / f"score-{args.raw.name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
