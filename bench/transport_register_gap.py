"""What the vehicle register's features do to the transport model's gap to the oracle.

Simulates a transport-rich province (`tests/twin/conftest.many_licence_holders`), builds the
`transport_business_license` features and labels at every month end, trains the production
`fit_service` twice on the same temporal split (all catalogue features; without the
register's features: year of manufacture, fleet, service life) and prints AUC / PR-AUC /
Brier of both next to the twin's oracle on the test window.

Usage:
    python bench/transport_register_gap.py --people 40000 --businesses-per-10k 150 --seed 11
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

from needs_model.catalogue.features import features_for
from needs_model.catalogue.services import service
from needs_model.features.build import attach_labels, build_features
from needs_model.features.snapshots import data_end, month_ends
from needs_model.linking.profiles import build_profiles
from needs_model.modelling import metrics, training
from needs_model.twin.province import simulate_province
from needs_model.twin.quality import oracle_for_rows
from needs_model.twin.simulate import SimulationSpec

SERVICE = "transport_business_license"
REGISTER_FEATURES = (
    "passenger_vehicles",
    "oldest_vehicle_age_years",
    "months_to_nearest_service_life_end",
    "vehicles_reaching_service_life_in_horizon",
    "renewable_badges_expiring_in_horizon",
    "badges_expired_last_2_months",
    "vehicles_added_24m",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=40_000)
    parser.add_argument("--businesses-per-10k", type=float, default=150.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--out", type=Path, default=Path("/tmp/transport-register-gap"))
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "twin"))
    from conftest import many_licence_holders

    raw = args.out / "raw"
    spec = SimulationSpec(people=args.people, seed=args.seed, start="2021-01", end="2025-12")
    simulate_province(spec, raw, many_licence_holders(30.0, args.businesses_per_10k))
    end = data_end(raw)
    frames = []
    for as_of in month_ends(dt.date(2021, 6, 1), dt.date(2025, 9, 30)):
        profiles = build_profiles(raw, as_of)
        frames.append(attach_labels(build_features(profiles, SERVICE), raw, SERVICE, as_of, end))
    frame = pd.concat(frames, ignore_index=True)
    config = training.TrainConfig()
    split = training.temporal_split(frame, service(SERVICE).horizon_months, config)
    test = split.test
    y = test["label"].to_numpy()
    oracle = oracle_for_rows(raw, SERVICE, test).to_numpy()
    result: dict[str, object] = {
        "spec": vars(args) | {"out": str(args.out)},
        "rows": {k: len(getattr(split, k)) for k in ("train", "valid", "test")},
        "test_positives": int(y.sum()),
        "oracle": metrics.summary(y, oracle),
    }
    with_register = training.fit_service(split, SERVICE, config)
    result["with_register"] = metrics.summary(y, with_register.predict(test))
    without = [f for f in features_for(SERVICE) if f not in REGISTER_FEATURES]
    with mock.patch.object(training, "features_for", lambda _: without):
        without_register = training.fit_service(split, SERVICE, config)
    result["without_register"] = metrics.summary(y, without_register.predict(test))
    keys = ("auc", "pr_auc", "brier")
    print("| scorer | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name in ("oracle", "with_register", "without_register"):
        row = result[name]
        assert isinstance(row, dict)
        print(f"| {name} | " + " | ".join(f"{row[k]:.4f}" for k in keys) + " |")
    print(json.dumps(result, indent=1, default=lambda v: float(np.asarray(v))))


if __name__ == "__main__":
    main()
