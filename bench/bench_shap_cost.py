"""Exact TreeSHAP cost versus tree depth, on the demo's poverty training window.

Trains the same number of trees with depth 5 (what Needs ships) and unbounded depth
(num_leaves 255), then times LightGBM's `pred_contrib` on 2,000 rows (median of 5).
Usage: python bench/bench_shap_cost.py --features data/features
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np

from needs_model.catalogue.features import features_for
from needs_model.features.snapshots import load_service
from needs_model.modelling.training import FULL, temporal_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--trees", type=int, default=300)
    args = parser.parse_args()
    service_id = "poor_household_confirmation"
    split = temporal_split(load_service(args.features, service_id), 12, FULL)
    names = features_for(service_id)
    x, y = split.train[names].to_numpy(float), split.train["label"].to_numpy()
    rows = split.test[names].to_numpy(float)[:2000]
    out = {}
    for label, depth, leaves in (("depth 5", 5, 31), ("unbounded", -1, 255)):
        booster = lgb.train(
            {
                "objective": "binary",
                "max_depth": depth,
                "num_leaves": leaves,
                "min_data_in_leaf": 5,
                "verbosity": -1,
                "seed": 0,
                "num_threads": 2,
            },
            lgb.Dataset(x, y),
            num_boost_round=args.trees,
        )
        times = []
        for _ in range(5):
            started = time.perf_counter()
            contributions = booster.predict(rows, pred_contrib=True)
            times.append(time.perf_counter() - started)
        assert np.allclose(contributions.sum(axis=1), booster.predict(rows, raw_score=True))
        out[label] = {"ms_per_row": 1000 * statistics.median(times) / len(rows)}
        print(label, f"{out[label]['ms_per_row']:.3f} ms per row ({args.trees} trees)")
    result = Path(__file__).parent / "results" / "shap_cost.json"
    result.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
