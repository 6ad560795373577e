"""The data scientist's loop: train and evaluate every service, promote, roll back."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import pool_members, service
from needs_model.features.snapshots import load_service
from needs_model.modelling import metrics
from needs_model.modelling.evaluate import Evaluation, evaluate, fairness
from needs_model.modelling.promotion import (
    Gate,
    current_version,
    gate_checks,
    gate_failures,
    previous_version,
    record_refusal,
    refusals,
    served_history,
    switch_current,
    write_bundle,
)
from needs_model.modelling.training import ServiceModel, TrainConfig, fit_candidates, temporal_split
from needs_model.settings import Settings


@dataclass
class TrainResult:
    service_id: str
    run_id: str
    version: str
    evaluation: Evaluation
    scorer: str = "gbm"


def _oracle_function(
    raw: Path | None, service_id: str
) -> Callable[[pd.DataFrame], pd.Series] | None:
    """The twin's oracle for evaluation only (a province's real data has none)."""
    if raw is None or not (raw / "truth").exists():
        return None
    from needs_model.twin.quality import oracle_for_rows

    return lambda rows: oracle_for_rows(raw, service_id, rows)


def train_services(
    features_dir: Path,
    service_ids: list[str],
    config: TrainConfig,
    settings: Settings,
    raw: Path | None = None,
    progress: Callable[[str], None] | None = None,
    on_error: Callable[[str, Exception], None] | None = None,
) -> list[TrainResult]:
    """Train, calibrate, evaluate and log each service (as `challenger`). A service that
    cannot be trained (its snapshots missing, a window with one class) raises, or, with
    `on_error`, is reported to it and the others are still trained."""
    from needs_model.modelling import tracking

    tracking.configure(settings)
    manifest = None
    if raw is not None and (raw / "manifest.json").exists():
        manifest = json.loads((raw / "manifest.json").read_text())
    results = []
    for service_id in service_ids:
        if progress is not None:
            progress(service_id)
        try:
            frame = load_service(features_dir, service_id)
            split = temporal_split(frame, service(service_id).horizon_months, config)
            pool = {o: load_service(features_dir, o) for o in pool_members(service_id)}
            model, fallbacks = fit_candidates(split, service_id, config, pool)
        except (FileNotFoundError, ValueError) as error:
            if on_error is None:
                raise
            on_error(service_id, error)
            continue
        evaluation = evaluate(model, split, _oracle_function(raw, service_id), config.seed)
        run_id, version = tracking.log_training(
            model, split, evaluation, settings.reports_dir, manifest, fallbacks
        )
        results.append(TrainResult(service_id, run_id, version, evaluation, model.scorer))
    write_summary(results, settings.reports_dir)
    return results


def write_summary(results: list[TrainResult], reports_dir: Path) -> None:
    lines = [
        "# Evaluation summary (test windows)",
        "",
        "| service | scored by | AUC | PR-AUC | Brier | ECE | AUC (eligible) | recall at capacity "
        "| capture ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        plan = r.evaluation.planning
        for scorer, m in r.evaluation.results.items():
            capture = plan["capture_ratio"] if scorer == "model" else None
            lines.append(
                f"| {r.service_id} | {f'model ({r.scorer})' if scorer == 'model' else scorer} | "
                f"{m['auc']:.4f} | {m['pr_auc']:.4f} | "
                f"{m['brier']:.5f} | {m['ece']:.4f} | {plan['eligible'][scorer]['auc']:.4f} | "
                f"{plan['at_capacity'][scorer]['recall']:.3f} | "
                f"{'' if capture is None else f'{capture:.3f}'} |"
            )
    reports_dir.mkdir(parents=True, exist_ok=True)
    (reports_dir / "evaluation.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


@dataclass
class PromotionResult:
    service_id: str
    promoted: bool
    version: str | None
    failures: list[str] = field(default_factory=list)
    message: str = ""


def _download(uri: str) -> Path:
    import mlflow

    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))


def promote_service(
    service_id: str, settings: Settings, gate: Gate | None = None, by: str | None = None
) -> PromotionResult:
    """Move `champion` to the newest `challenger` if it passes the gate; write the bundle.
    `by`: who promotes (recorded with the gate's checks in the bundle's metadata; default
    the operating-system user)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from needs_model.modelling import tracking

    gate = gate or Gate()
    # Kept lists that cannot be read stop the promotion before anything changes (a refusal
    # or a served version could not be added to them).
    refusals(settings.models_dir, service_id)
    served_history(settings.models_dir, service_id)
    tracking.configure(settings)
    client = MlflowClient()
    name = tracking.registered_name(service_id)
    try:
        challenger = client.get_model_version_by_alias(name, "challenger")
    except MlflowException:
        # Nothing to judge: not a refusal (`promote --strict` exits 0 on it).
        return PromotionResult(
            service_id, False, None, [], "no challenger in the registry: train first"
        )
    try:
        champion = client.get_model_version_by_alias(name, "champion")
    except MlflowException:
        champion = None
    challenger_version = str(challenger.version)
    if champion is not None and str(champion.version) == challenger_version:
        return PromotionResult(
            service_id,
            False,
            challenger_version,
            [],
            f"version {challenger_version} is already the champion",
        )
    if champion is not None and champion.tags.get("fallback_from") == challenger_version:
        return PromotionResult(
            service_id,
            False,
            str(champion.version),
            [],
            f"version {champion.version} ({champion.tags.get('scorer')}, served instead of the "
            f"refused challenger, version {challenger_version}) is already the champion",
        )
    test = pd.read_parquet(_download(f"runs:/{challenger.run_id}/data/test_rows.parquet"))
    evaluation = json.loads(
        _download(f"runs:/{challenger.run_id}/evaluation/evaluation.json").read_text()
    )
    bundle = _download(f"models:/{name}/{challenger_version}") / "artifacts" / "bundle"
    challenger_p = ServiceModel.load(bundle, service_id).predict(test)
    champion_p = None
    if champion is not None:
        old = _download(f"models:/{name}/{champion.version}") / "artifacts" / "bundle"
        champion_p = ServiceModel.load(old, service_id).predict(test)
    failures = gate_failures(evaluation, test, challenger_p, champion_p, gate)
    served_version, served_p, note = challenger_version, challenger_p, ""
    judged_by = by or _operator()
    if failures:
        refusal = {
            "version": challenger_version,
            "run_id": challenger.run_id,
            "refused_at": dt.datetime.now(dt.UTC).isoformat(),
            "refused_by": judged_by,
            "champion": None if champion is None else str(champion.version),
            "failures": failures,
            "test_window": evaluation["windows"]["test"],
            "test_auc": evaluation["results"]["model"]["auc"],
            "served_instead": None,
        }
        # The registry says why on the refused version; the models folder keeps every
        # refusal for the cards of the versions served meanwhile.
        client.set_model_version_tag(name, challenger_version, "gate", "refused")
        client.set_model_version_tag(name, challenger_version, "gate_failures", "; ".join(failures))
        fallback = _passing_fallback(
            client, str(challenger.run_id), service_id, test, evaluation, champion_p, gate
        )
        if fallback is None:
            record_refusal(settings.models_dir, service_id, refusal)
            return PromotionResult(service_id, False, challenger_version, failures)
        uri, bundle, served_p, evaluation = fallback
        import mlflow

        registered = mlflow.register_model(uri, name, await_registration_for=60)
        served_version = str(registered.version)
        for key, value in (("scorer", evaluation["scorer"]), ("fallback_from", challenger_version)):
            client.set_model_version_tag(name, served_version, key, value)
        refusal["served_instead"] = served_version
        record_refusal(settings.models_dir, service_id, refusal)
        note = (
            f" ({evaluation['scorer']}; the challenger, version {challenger_version}, was "
            f"refused: {'; '.join(failures)})"
        )
        _write_served_instead(
            settings.reports_dir / service_id,
            evaluation | {"version": served_version, "fallback_from": challenger_version},
            failures,
        )
    metadata = {
        "service_id": service_id,
        "version": served_version,
        "run_id": challenger.run_id,
        "registered_model": name,
        "promoted_at": dt.datetime.now(dt.UTC).isoformat(),
        "test_window": evaluation["windows"]["test"],
        "test_mean_prediction": float(np.mean(served_p)),
        "trained_on": _training_data(str(challenger.run_id)),
        "promoted_by": judged_by,
        "gate": {
            "passed": gate_checks(gate, champion is not None),
            "thresholds": asdict(gate),
            "champion_before": None if champion is None else str(champion.version),
            "challenger_refused": failures,
        },
    }
    write_bundle(
        settings.models_dir,
        service_id,
        served_version,
        bundle,
        metadata,
        evaluation,
        _reference_rows(str(challenger.run_id)),
    )
    switch_current(settings.models_dir, service_id, served_version)
    client.set_registered_model_alias(name, "champion", served_version)
    client.set_model_version_tag(name, served_version, "gate", "promoted")
    return PromotionResult(
        service_id, True, served_version, [], f"version {served_version}{note} is now the champion"
    )


def _operator() -> str:
    """Who runs this process: NEEDS_OPERATOR when set (a name for the record), else the
    operating-system user."""
    import getpass
    import os

    return os.environ.get("NEEDS_OPERATOR") or getpass.getuser()


def _write_served_instead(folder: Path, served: dict[str, Any], refusals: list[str]) -> None:
    """Beside the challenger's report: the fallback served instead, and why (served.json,
    served.md)."""
    folder.mkdir(parents=True, exist_ok=True)
    record = served | {"challenger_refused": refusals}
    (folder / "served.json").write_text(json.dumps(record, indent=2, default=float))
    m = served["results"]["model"]
    lines = [
        f"# {served['service_id']}: served instead of the challenger",
        "",
        f"Version {served['version']} ({served['scorer']}) is served: the challenger, version "
        f"{served['fallback_from']}, was refused by the gate:",
        "",
        *(f"- {r}" for r in refusals),
        "",
        "On the same test window the served scorer has AUC "
        f"{m['auc']:.4f}, PR-AUC {m['pr_auc']:.4f}, Brier {m['brier']:.5f}, ECE {m['ece']:.4f}.",
    ]
    (folder / "served.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _reference_rows(run_id: str) -> bytes | None:
    """The reference year's sample the run kept for monitoring (runs logged before it was
    kept have none: their bundles cannot be monitored until retrained)."""
    from mlflow.exceptions import MlflowException

    try:
        return _download(f"runs:/{run_id}/data/reference_rows.parquet").read_bytes()
    except (MlflowException, OSError):
        return None


def _training_data(run_id: str) -> dict[str, Any] | None:
    """The manifest of the extracts the run was trained on (for a twin: people, seed,
    period), so a served bundle says where it came from without the registry."""
    from mlflow.exceptions import MlflowException

    try:
        return dict(json.loads(_download(f"runs:/{run_id}/data/raw_manifest.json").read_text()))
    except (MlflowException, OSError, ValueError):
        return None


def _passing_fallback(
    client: Any,
    run_id: str,
    service_id: str,
    test: pd.DataFrame,
    evaluation: dict[str, Any],
    champion_p: np.ndarray | None,
    gate: Gate,
) -> tuple[str, Path, np.ndarray, dict[str, Any]] | None:
    """The first of the run's simpler scorers (most complex first) that passes the whole
    gate on the same test rows: (its model URI, bundle, test predictions, evaluation)."""

    tags = client.get_run(run_id).data.tags
    y = test["label"].to_numpy(dtype=float)
    for scorer in filter(None, tags.get("fallbacks", "").split(",")):
        uri = tags[f"fallback.{scorer}"]
        bundle = _download(uri) / "artifacts" / "bundle"
        p = ServiceModel.load(bundle, service_id).predict(test)
        own = {
            "service_id": service_id,
            "windows": evaluation["windows"],
            "results": {"model": metrics.summary(y, p)},
            "fairness": fairness(test, y, p, seed=0),
            "scorer": scorer,
        }
        if not gate_failures(own, test, p, champion_p, gate):
            return uri, bundle, p, own
    return None


def rollback_service(service_id: str, settings: Settings) -> PromotionResult:
    from mlflow import MlflowClient

    from needs_model.modelling import tracking

    previous = previous_version(settings.models_dir, service_id)
    if previous is None:
        return PromotionResult(
            service_id,
            False,
            current_version(settings.models_dir, service_id),
            ["no earlier served version to roll back to"],
        )
    tracking.configure(settings)  # a store that keeps its runs elsewhere: before the switch
    switch_current(settings.models_dir, service_id, previous)
    MlflowClient().set_registered_model_alias(
        tracking.registered_name(service_id), "champion", previous
    )
    return PromotionResult(service_id, True, previous, [], f"rolled back to version {previous}")
