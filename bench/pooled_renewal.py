"""What pooling the three practice renewals does ([realism]: "small populations are a
modelling problem, not a reason to serve nothing").

For each practice-renewal service, on the same temporal split `needs-model train` uses, fits
the service's own gradient-boosted trees (`gbm`) and the `pooled` trees (the same grid, also
trained on the other renewals' rows on the same month ends: `training.train_candidates`),
calibrates each on the validation window and evaluates both on the test window with the
package's `evaluate.evaluate`: AUC and PR-AUC on all rows and on the rule-eligible rows,
ECE, and the capture ratio at the planners' capacity against the twin's oracle.

Usage: python bench/pooled_renewal.py [--features data/features] [--raw data/raw]
       [--config fast|default|full] [--json bench/results/pooled-renewal.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from needs_model.catalogue.features import features_for
from needs_model.catalogue.services import pool_members, service
from needs_model.features.snapshots import load_service
from needs_model.modelling.evaluate import evaluate
from needs_model.modelling.training import (
    FAST,
    FULL,
    Calibrator,
    ServiceModel,
    TrainConfig,
    temporal_split,
    train_candidates,
)
from needs_model.modelling.workflow import _oracle_function

SERVICES = ("medical_license_renewal", "tour_guide_card_renewal", "veterinary_certificate_renewal")
CONFIGS = {"fast": FAST, "default": TrainConfig(), "full": FULL}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--config", choices=sorted(CONFIGS), default="default")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = CONFIGS[args.config]
    rows = []
    print(
        "| service | training positives (own / pooled) | scorer | AUC | PR-AUC "
        "| AUC (eligible) | ECE | capture ratio |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for service_id in SERVICES:
        frame = load_service(args.features, service_id)
        split = temporal_split(frame, service(service_id).horizon_months, config)
        pool = {other: load_service(args.features, other) for other in pool_members(service_id)}
        candidates = {c.scorer: c for c in train_candidates(split, service_id, config, pool)}
        y_valid = split.valid["label"].to_numpy()
        pooled_from = candidates["pooled"].params["pooled_from"]
        own = int(split.train["label"].sum())
        features = features_for(service_id)
        pooled_positives = sum(int(v["positives"]) for v in pooled_from.values())
        for scorer in ("gbm", "pooled"):
            c = candidates[scorer]
            calibrator = Calibrator.fit(c.valid_margin, y_valid)
            model = ServiceModel(service_id, c.booster, calibrator, features, c.params)
            e = evaluate(model, split, _oracle_function(args.raw, service_id), config.seed)
            m, plan = e.results["model"], e.planning
            row = {
                "service": service_id,
                "scorer": scorer,
                "train_positives_own": own,
                "train_positives_pooled": pooled_positives,
                "auc": m["auc"],
                "pr_auc": m["pr_auc"],
                "ece": m["ece"],
                "auc_eligible": plan["eligible"]["model"]["auc"],
                "capture_ratio": plan["capture_ratio"],
            }
            rows.append(row)
            capture = row["capture_ratio"]
            print(
                f"| {service_id if scorer == 'gbm' else ''} | "
                f"{f'{own} / {pooled_positives}' if scorer == 'gbm' else ''} | {scorer} | "
                f"{row['auc']:.4f} | {row['pr_auc']:.4f} | {row['auc_eligible']:.4f} | "
                f"{row['ece']:.4f} | {'n/a' if capture is None else f'{capture:.3f}'} |"
            )
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"config": args.config, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
