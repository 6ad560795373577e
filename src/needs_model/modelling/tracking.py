"""MLflow: every training run, its evaluation, and the registered, servable model.

The logged model is a pyfunc that holds the booster, the calibrator and the feature order,
so what is logged is what is served: `mlflow.pyfunc.load_model("models:/needs-<service>@
champion")` returns calibrated probabilities from a DataFrame of the catalogue's features.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema

from needs_model.modelling.evaluate import Evaluation, write_report
from needs_model.modelling.training import ServiceModel, Split, sample_rows
from needs_model.settings import Settings

EXPERIMENT = "needs"


def registered_name(service_id: str) -> str:
    return f"needs-{service_id}"


class StoreError(ValueError):
    """The MLflow store keeps its runs' artifacts elsewhere than the configured artifact
    root (a store copied or moved): new runs would be written there, unseen."""


def configure(settings: Settings) -> str:
    """Point MLflow at the configured store; create the experiment if needed. Raises
    `StoreError` when the store's experiment keeps its artifacts elsewhere than configured:
    MLflow would write every new run there, and a copy of the store would fill, or depend
    on, the folder of the store it was copied from."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    if settings.mlflow_tracking_uri.startswith("sqlite:///"):
        Path(settings.mlflow_tracking_uri.removeprefix("sqlite:///")).parent.mkdir(
            parents=True, exist_ok=True
        )
    configured = settings.mlflow_artifact_root.resolve().as_uri()
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        settings.mlflow_artifact_root.mkdir(parents=True, exist_ok=True)
        experiment_id = mlflow.create_experiment(EXPERIMENT, artifact_location=configured)
    elif experiment.artifact_location.rstrip("/") != configured.rstrip("/"):
        kept = experiment.artifact_location
        folder = url2pathname(urlparse(kept).path)
        raise StoreError(
            f"the MLflow store {settings.mlflow_tracking_uri} keeps the runs of experiment "
            f"'{EXPERIMENT}' in {kept}, not in the configured artifact root {configured}: a "
            f"store copied or moved? New runs would be written to the former. Set "
            f"NEEDS_MLFLOW_ARTIFACT_ROOT={folder} to go on with it there, or start a new store"
        )
    else:
        experiment_id = str(experiment.experiment_id)
    # Runs go to this experiment (and its artifact root), never to ./mlruns.
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def code_version() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def signature(features: list[str]) -> ModelSignature:
    """Explicit: every feature a double (MLflow's example check fails on categoricals)."""
    return ModelSignature(
        inputs=Schema([ColSpec("double", name, required=False) for name in features]),
        outputs=Schema([ColSpec("double", "probability")]),
    )


def data_fingerprint(split: Split) -> str:
    digest = hashlib.sha256()
    for part in (split.train, split.valid, split.test):
        digest.update(
            pd.util.hash_pandas_object(part[["subject_id", "as_of", "label"]], index=False)
            .to_numpy()
            .tobytes()
        )
    return digest.hexdigest()[:16]


def _log_model(
    model: ServiceModel, bundle: Path, artifact_name: str, registered: str | None
) -> Any:
    with warnings.catch_warnings():
        # No input example on purpose: the explicit signature is the contract, and an
        # example row would be a real citizen's features.
        warnings.filterwarnings("ignore", message=".*input example.*")
        return mlflow.pyfunc.log_model(
            name=artifact_name,
            python_model=str(Path(__file__).with_name("mlflow_model.py")),
            artifacts={"bundle": str(bundle)},
            signature=signature(model.features),
            registered_model_name=registered,
            pip_requirements=[],
            await_registration_for=60,
        )


def log_training(
    model: ServiceModel,
    split: Split,
    evaluation: Evaluation,
    reports_dir: Path,
    raw_manifest: dict[str, object] | None,
    fallbacks: Sequence[ServiceModel] = (),
) -> tuple[str, str]:
    """One MLflow run per service; registers a new version and aliases it `challenger`.
    The simpler scorers (`fallbacks`, most complex first) are logged in the same run as
    unregistered models, tagged `fallback.<scorer>` with their URI, for promotion to try
    when the challenger fails the gate. Returns (run id, model version)."""
    name = registered_name(model.service_id)
    with mlflow.start_run(run_name=f"train-{model.service_id}") as run:
        mlflow.set_tags(
            {
                "service_id": model.service_id,
                "code_version": code_version(),
                "data_fingerprint": data_fingerprint(split),
            }
        )
        params = {k: v for k, v in model.params.items() if k != "config"}
        config = model.params["config"]
        assert isinstance(config, dict)
        params["monotone_constraints"] = str(params.get("monotone_constraints"))
        mlflow.log_params(
            {
                **params,
                **{f"config.{k}": v for k, v in config.items()},
                "features": ",".join(model.features),
            }
        )
        mlflow.log_dict(split.windows, "data/windows.json")
        if raw_manifest is not None:
            mlflow.log_dict(raw_manifest, "data/raw_manifest.json")
        for prefix, block in (
            ("", evaluation.results),
            ("eligible.", evaluation.planning["eligible"]),
            ("capacity.", evaluation.planning["at_capacity"]),
        ):
            for scorer, values in block.items():
                mlflow.log_metrics(
                    {f"{prefix}{scorer}.{k}": float(v) for k, v in values.items() if pd.notna(v)}
                )
        if evaluation.planning["capture_ratio"] is not None:
            mlflow.log_metric("capture_ratio", float(evaluation.planning["capture_ratio"]))
        for path in write_report(evaluation, reports_dir / model.service_id):
            mlflow.log_artifact(str(path), "evaluation")
        gains = model.booster.feature_importance("gain")
        mlflow.log_dict(
            {f: float(g) for f, g in zip(model.features, gains, strict=True)},
            "evaluation/feature_importance.json",
        )
        with tempfile.TemporaryDirectory() as tmp:
            bundle = Path(tmp) / "bundle"
            model.params["service_id"] = model.service_id
            model.save(bundle)
            test_rows = Path(tmp) / "test_rows.parquet"
            split.test.assign(**evaluation.baseline_scores).to_parquet(test_rows, index=False)
            mlflow.log_artifact(str(test_rows), "data")
            # What monitoring compares the population with: the year of month ends up to
            # the newest one trained with (`Split.recent`), sampled once here so that every
            # later comparison uses the same rows.
            reference = Path(tmp) / "reference_rows.parquet"
            sample_rows(split.recent).to_parquet(reference, index=False)
            mlflow.log_artifact(str(reference), "data")
            info = _log_model(model, bundle, "model", name)
            for fallback in fallbacks:
                # pyfunc artifacts keep their folder's name: "bundle", as for the challenger
                folder = Path(tmp) / fallback.scorer / "bundle"
                fallback.params["service_id"] = fallback.service_id
                fallback.save(folder)
                logged = _log_model(fallback, folder, f"fallback_{fallback.scorer}", None)
                mlflow.set_tag(f"fallback.{fallback.scorer}", logged.model_uri)
            mlflow.set_tag("fallbacks", ",".join(f.scorer for f in fallbacks))
        version = str(info.registered_model_version)
        client = MlflowClient()
        client.set_registered_model_alias(name, "challenger", version)
        m = evaluation.model
        for key in ("auc", "pr_auc", "brier", "ece"):
            client.set_model_version_tag(name, version, f"test.{key}", f"{m[key]:.5f}")
        client.set_model_version_tag(name, version, "run_id", run.info.run_id)
    return run.info.run_id, version
