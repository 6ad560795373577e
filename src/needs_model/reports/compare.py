"""A challenger beside the champion it would replace: what a data scientist reads before
`promote` (notebooks/02-retrain-and-compare.ipynb), from the same records the gate and the
model card read: the served bundle for the champion, the registry's `challenger` for the
challenger.

Both are judged on their own test windows as evaluated when trained; the gate itself
re-scores both on the challenger's window (`promote`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from needs_model.modelling.promotion import (
    REFERENCE_FILE,
    current_version,
    own_gap,
    verify_bundle,
)
from needs_model.modelling.training import ServiceModel
from needs_model.reports.explanations import global_explanation, plain_name
from needs_model.reports.page import signed_estimate, signed_interval
from needs_model.settings import Settings

METRICS = {
    "auc": "AUC",
    "pr_auc": "PR-AUC",
    "brier": "Brier",
    "ece": "ECE",
    "precision_at_5pct": "precision @5%",
    "recall_at_5pct": "recall @5%",
}


@dataclass(frozen=True)
class Contender:
    role: str  # "champion" or "challenger"
    version: str
    run_id: str | None
    evaluation: dict[str, Any]
    model: ServiceModel
    reference: pd.DataFrame | None

    @property
    def label(self) -> str:
        return f"{self.role} v{self.version}"


def _artifact(uri: str) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))


def contenders(service_id: str, settings: Settings) -> list[Contender]:
    """The served champion (when one is served) and the registry's newest challenger.
    ValueError naming the cause when there is no challenger."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from needs_model.modelling import tracking

    out = []
    served = current_version(settings.models_dir, service_id)
    if served is not None:
        folder = settings.models_dir / service_id / served
        verify_bundle(folder)
        metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
        out.append(
            Contender(
                "champion",
                served,
                metadata.get("run_id"),
                json.loads((folder / "evaluation.json").read_text(encoding="utf-8")),
                ServiceModel.load(folder, service_id),
                pd.read_parquet(folder / REFERENCE_FILE)
                if (folder / REFERENCE_FILE).exists()
                else None,
            )
        )
    tracking.configure(settings)
    name = tracking.registered_name(service_id)
    try:
        version = MlflowClient().get_model_version_by_alias(name, "challenger")
    except MlflowException as error:
        raise ValueError(f"{service_id}: no challenger in the registry (train first)") from error
    run_id = str(version.run_id)
    bundle = _artifact(f"models:/{name}/{version.version}") / "artifacts" / "bundle"
    try:
        reference: pd.DataFrame | None = pd.read_parquet(
            _artifact(f"runs:/{run_id}/data/reference_rows.parquet")
        )
    except (MlflowException, OSError):
        reference = None
    out.append(
        Contender(
            "challenger",
            str(version.version),
            run_id,
            json.loads(_artifact(f"runs:/{run_id}/evaluation/evaluation.json").read_text()),
            ServiceModel.load(bundle, service_id),
            reference,
        )
    )
    return out


def metrics_table(contenders: list[Contender]) -> pd.DataFrame:
    """One column per contender: the test window's metrics on all rows and on the rows the
    rule calls eligible, the capture ratio at the planners' capacity and the gap to the
    twin's oracle (missing where an evaluation does not hold it)."""
    rows: dict[str, dict[str, float | str | None]] = {}
    for c in contenders:
        results = c.evaluation.get("results", {})
        model = results.get("model", {})
        planning = c.evaluation.get("planning") or {}
        eligible = planning.get("eligible", {}).get("model", {})
        column: dict[str, float | str | None] = {}
        for key, name in METRICS.items():
            column[f"{name} (all rows)"] = model.get(key)
        for key in ("auc", "ece"):
            column[f"{METRICS[key]} (eligible rows)"] = eligible.get(key)
        column["capture ratio at capacity"] = planning.get("capture_ratio")
        oracle = results.get("oracle", {}).get("auc")
        column["oracle AUC - AUC"] = (
            None if oracle is None or model.get("auc") is None else oracle - model["auc"]
        )
        window = c.evaluation.get("windows", {}).get("test", [])
        column["test window"] = f"{min(window)} … {max(window)}" if window else None
        rows[c.label] = column
    return pd.DataFrame(rows, dtype=object)


def fairness_table(contenders: list[Contender]) -> pd.DataFrame:
    """Each group's calibration gap (predicted - observed) and its 95 % interval, and the gap
    beyond the rest's (`promotion.own_gap`), per contender."""
    frames = []
    for c in contenders:
        rows = [
            {
                "attribute": g["attribute"],
                "group": g["group"],
                f"{c.label} gap": g["mean_predicted"] - g["observed_rate"],
                f"{c.label} 95% CI": signed_interval(g.get("calibration_gap_ci")),
                f"{c.label} beyond the rest's (95% CI)": signed_estimate(own_gap(g)),
            }
            for g in c.evaluation.get("fairness", [])
        ]
        if rows:
            frames.append(pd.DataFrame(rows).set_index(["attribute", "group"]))
    return pd.concat(frames, axis=1) if frames else pd.DataFrame()


def importance_table(contenders: list[Contender]) -> pd.DataFrame:
    """Mean |SHAP| per feature for each contender, on the same rows (the challenger's
    reference year, else the champion's): the exact contributions each would return."""
    rows = next((c.reference for c in reversed(contenders) if c.reference is not None), None)
    if rows is None:
        return pd.DataFrame()
    columns = {}
    for c in contenders:
        e = global_explanation(c.model, rows)
        columns[c.label] = pd.Series(e.mean_abs, index=e.features)
    table = pd.DataFrame(columns).fillna(0.0)
    table.index = [f"{f} ({plain_name(f, 'en')})" for f in table.index]
    return table.sort_values(contenders[-1].label, ascending=False)


def calibration_curves(contenders: list[Contender]) -> dict[str, pd.DataFrame]:
    """Each contender's calibration by decile on its test window (predicted, observed, n)."""
    return {c.label: pd.DataFrame(c.evaluation.get("calibration_curve") or []) for c in contenders}
