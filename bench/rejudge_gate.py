"""Each service's newest challenger in a store judged again by today's gate, on its own test
rows: what its stored evaluation was refused for, and what the gate says now.

    python bench/rejudge_gate.py --store data/full [--service S ...]

The store is a folder holding `mlflow.db` and `artifacts/` (as `data/full` or a scenario's
`store`). Fairness is recomputed from the challenger's test rows (`evaluate.fairness`, seed
0, as the gate's fallbacks do), so a change of the gate's rule is judged on the same rows
and predictions the challenger was refused on. The champion comparison is left out: the
question is the challenger's own checks. Nothing in the store is changed.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from needs_model.catalogue.services import SERVICE_IDS
from needs_model.modelling.evaluate import fairness
from needs_model.modelling.promotion import Gate, gate_failures, own_gap
from needs_model.modelling.training import ServiceModel
from needs_model.settings import Settings


def rejudge(service_id: str) -> dict[str, list[str]] | None:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from needs_model.modelling import tracking

    def download(uri: str) -> Path:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))

    client = MlflowClient()
    name = tracking.registered_name(service_id)
    try:
        challenger = client.get_model_version_by_alias(name, "challenger")
    except MlflowException:
        return None
    test = pd.read_parquet(download(f"runs:/{challenger.run_id}/data/test_rows.parquet"))
    stored = json.loads(
        download(f"runs:/{challenger.run_id}/evaluation/evaluation.json").read_text()
    )
    bundle = download(f"models:/{name}/{challenger.version}") / "artifacts" / "bundle"
    p = ServiceModel.load(bundle, service_id).predict(test)
    y = test["label"].to_numpy(dtype=float)
    today = {**stored, "fairness": fairness(test, y, p, seed=0)}
    return {
        "stored evaluation": gate_failures(stored, test, p, None, Gate()),
        "today's gate": gate_failures(today, test, p, None, Gate()),
        "judged groups (gap; beyond the rest's, 95% CI)": [
            f"{g['attribute']}={g['group']}: {g['mean_predicted'] - g['observed_rate']:+.4f}; "
            f"{j[0]:+.4f} ({j[1][0]:+.4f}..{j[1][1]:+.4f})"
            for g in today["fairness"]
            if (j := own_gap(g)) is not None
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--service", action="append", choices=SERVICE_IDS)
    args = parser.parse_args()
    from needs_model.modelling import tracking

    tracking.configure(
        Settings(
            mlflow_tracking_uri=f"sqlite:///{args.store.resolve()}/mlflow.db",
            mlflow_artifact_root=args.store / "artifacts",
        )
    )
    for service_id in args.service or SERVICE_IDS:
        judged = rejudge(service_id)
        if judged is None:
            print(f"{service_id}: no challenger")
            continue
        for when, lines in judged.items():
            empty = "none" if when.startswith("judged") else "passes"
            print(f"{service_id}, {when}: {'' if lines else empty}")
            for line in lines:
                print(f"  - {line}")


if __name__ == "__main__":
    main()
