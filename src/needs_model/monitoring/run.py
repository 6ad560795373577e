"""`needs-model monitor`: each served service's month end against its champion's reference.

For a service and a monitoring date it writes `reports/monitoring/<as_of>/<service>/`
(`report.html`: Evidently's page, readable offline; `summary.json`: the figures, the status
and its reasons), logs a monitoring run nested under the champion's training run in MLflow,
and `reports/monitoring/<as_of>/status.json` and `reports/monitoring/latest.json` hold every
service's status for the API.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import SERVICE_SOURCES, service
from needs_model.extracts import contract
from needs_model.features.snapshots import read_snapshot, snapshot_file
from needs_model.modelling.promotion import (
    REFERENCE_FILE,
    Gate,
    current_version,
    load_served,
)
from needs_model.modelling.training import sample_rows
from needs_model.monitoring import drift
from needs_model.monitoring.kept import MONITORING_DIR, latest_file, latest_status, status_file
from needs_model.monitoring.performance import (
    labels_known_on,
    matured_performance,
    matured_window,
    recording_lag_days,
)
from needs_model.monitoring.sources import source_quality
from needs_model.monitoring.status import OK, RETRAIN, decide
from needs_model.monitoring.thresholds import Thresholds
from needs_model.settings import Settings


class MonitoringError(ValueError):
    """A service cannot be monitored (no champion, no reference, no snapshot)."""


@dataclass(frozen=True)
class ServiceResult:
    service_id: str
    status: str
    reasons: list[str]
    folder: Path


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (dt.date, Path)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(payload, indent=2, default=_json_default), encoding="utf-8")
    os.replace(partial, path)


def available_snapshots(features_dir: Path, service_id: str) -> list[dt.date]:
    return sorted(
        dt.date.fromisoformat(f.stem) for f in (features_dir / service_id).glob("*.parquet")
    )


def monitor_service(
    service_id: str,
    as_of: dt.date,
    settings: Settings,
    features_dir: Path,
    thresholds: Thresholds | None = None,
    gate: Gate | None = None,
    source_tables: list[dict[str, Any]] | None = None,
) -> tuple[ServiceResult, dict[str, Any]]:
    """Monitor one service on `as_of` (thresholds and gate: the defaults unless given)."""
    thresholds = thresholds or Thresholds()
    gate = gate or Gate()
    version = current_version(settings.models_dir, service_id)
    if version is None:
        raise MonitoringError(f"{service_id}: no model is served (promote one first)")
    folder = settings.models_dir / service_id / version
    model = load_served(settings.models_dir, service_id)
    if not (folder / REFERENCE_FILE).exists():
        raise MonitoringError(
            f"{service_id}: the served version {version} was promoted before models kept "
            "their reference year; retrain and promote to monitor it"
        )
    if not snapshot_file(features_dir, service_id, as_of).exists():
        raise MonitoringError(
            f"{service_id}: no feature snapshot for {as_of} under {features_dir}; build it "
            f"with `needs-model features --as-of {as_of}`"
        )
    metadata = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
    evaluation = json.loads((folder / "evaluation.json").read_text(encoding="utf-8"))
    # The reference year, scored once: its seasonal part is compared, all of it gives the
    # band of expected demand.
    reference_year = pd.read_parquet(folder / REFERENCE_FILE)
    reference_year["_probability"] = model.predict(reference_year)
    reference = drift.seasonal_reference(reference_year, as_of.month)
    current = sample_rows(read_snapshot(features_dir, service_id, as_of))

    # The served model's own inputs (a data scientist may have chosen others than the
    # catalogue's defaults, `TrainConfig.features`).
    scored_reference = drift.scored_columns(
        reference, model.features, reference["_probability"].to_numpy()
    )
    scored_current = drift.scored_columns(current, model.features, model.predict(current))
    snapshot, empty = drift.evidently_report(scored_reference, scored_current, model.features)
    summary = drift.summarise(snapshot, scored_reference, scored_current, model.features)
    summary["expected_demand"] = drift.expected_demand(
        reference_year["_probability"],
        pd.to_datetime(reference_year["as_of"]),
        scored_current["probability"],
    )
    gains = dict(zip(model.features, model.booster.feature_importance("gain"), strict=True))
    total = sum(gains.values()) or 1.0
    for entry in summary["features"]:
        entry["gain_share"] = float(gains.get(entry["column"], 0.0) / total)

    # Matured labels count only after the champion's test window: before it, they are
    # what it was judged on.
    test_end = dt.date.fromisoformat(max(evaluation["windows"]["test"]))
    later = [d for d in available_snapshots(features_dir, service_id) if d > test_end]
    # The labels as the register held them on the as-of date, after its recording lag;
    # without the register (a monitor reading snapshots only), as the snapshots hold them.
    from_register = (settings.raw_dir / contract.table("services", "transactions").path).exists()
    lag = recording_lag_days(settings.raw_dir, service_id, as_of) if from_register else 0
    window = matured_window(service_id, as_of, later, lag)
    performance = None
    if window.dates:
        rows = pd.concat(
            [read_snapshot(features_dir, service_id, d) for d in window.dates], ignore_index=True
        )
        if from_register:
            rows = labels_known_on(rows, settings.raw_dir, service_id, as_of)
        rows = rows[rows["label"].notna()]
        if len(rows) and rows["label"].nunique() == 2:
            performance = matured_performance(model, rows, evaluation["results"]["model"], gate)
            performance["dates"] = [d.isoformat() for d in window.dates]

    tables = [t for t in source_tables or [] if t["table"] in SERVICE_SOURCES[service_id]]
    out = settings.reports_dir / MONITORING_DIR / as_of.isoformat() / service_id
    drift.save_html(snapshot, out / "report.html")
    measured = {
        "champion": {
            "version": version,
            "run_id": metadata.get("run_id"),
            "scorer": evaluation.get("scorer"),
            "test_window": evaluation["windows"]["test"],
        },
        "methods": {
            "numeric": drift.NUMERIC_METHOD,
            "categorical": drift.CATEGORICAL_METHOD,
            "probability": drift.SCORE_METHOD,
            "threshold": drift.THRESHOLD,
            "noise_floor": (
                f"{drift.NOISE_PERCENTILE}th percentile of the distance over {drift.NOISE_DRAWS} "
                "pairs of samples drawn from the reference, of its size and of the current size"
            ),
        },
        "reference": {
            "rows": len(reference),
            "month_ends": sorted(pd.to_datetime(reference["as_of"]).dt.date.astype(str).unique()),
            # The same calendar month, or (too few rows in it) the whole year.
            "seasonal": len(reference) < len(reference_year),
        },
        "drift": {k: v for k, v in summary.items() if k != "quality"},
        # The findings are judged by `decide`, from these measurements and the tables'.
        "quality": {"features": summary["quality"], "not_compared": empty},
        "sources": tables,
        "performance": performance,
        "matured_dates": [d.isoformat() for d in window.dates],
        "labels": {
            "read": (
                f"the register's rows recorded by {as_of.isoformat()}"
                if from_register
                else "as the snapshots hold them (no register under the raw folder)"
            ),
            "recording_lag_days": lag,
        },
        "horizon_months": service(service_id).horizon_months,
        "report": "report.html",
    }
    decided = decide(measured, thresholds)
    # `decide` gives the quality block back with its findings: in the status's place.
    record = {
        "service_id": service_id,
        "as_of": as_of.isoformat(),
        **decided,
        **measured,
        "quality": decided["quality"],
    }
    _write_json(out / "summary.json", record)
    return ServiceResult(service_id, decided["status"], decided["reasons"], out), record


def log_to_mlflow(record: dict[str, Any], folder: Path, settings: Settings) -> str:
    """A monitoring run nested under the champion's training run (its lineage)."""
    import mlflow

    from needs_model.modelling import tracking

    tracking.configure(settings)
    tags = {
        "service_id": record["service_id"],
        "monitoring.as_of": record["as_of"],
        "monitoring.status": record["status"],
        "champion.version": record["champion"]["version"],
    }
    parent = record["champion"]["run_id"]
    if parent:
        tags["mlflow.parentRunId"] = parent
    with mlflow.start_run(
        run_name=f"monitor-{record['service_id']}-{record['as_of']}", tags=tags
    ) as run:
        metrics = {
            "drifted_feature_share": record["drift"]["drifted_share"],
            "status_retrain": float(record["status"] == RETRAIN),
            "status_ok": float(record["status"] == OK),
        }
        for name, block in record["drift"]["prediction"].items():
            metrics[f"{name}_drift"] = block["score"]
        demand = record["drift"].get("expected_demand", {})
        if demand.get("current") == demand.get("current"):  # not NaN
            metrics["expected_demand"] = float(demand["current"])
            metrics["expected_demand_change"] = float(demand["relative_change"])
        performance = record["performance"]
        if performance is not None:
            for key in ("auc", "ece", "brier"):
                value = performance["summary"].get(key)
                if value is not None and value == value:
                    metrics[f"matured.{key}"] = float(value)
        mlflow.log_metrics(metrics)
        # What decided the status (a province may set its own: `thresholds.load_thresholds`).
        mlflow.log_params({f"threshold.{k}": v for k, v in record["thresholds"].items()})
        mlflow.log_artifact(str(folder / "summary.json"), "monitoring")
        mlflow.log_artifact(str(folder / "report.html"), "monitoring")
        return str(run.info.run_id)


def monitor(
    as_of: dt.date,
    service_ids: list[str],
    settings: Settings,
    features_dir: Path | None = None,
    log: bool = True,
    thresholds: Thresholds | None = None,
) -> tuple[list[ServiceResult], list[str]]:
    """Monitor each service (thresholds: the defaults unless given); (results, the services
    that could not be, with why)."""
    features_dir = features_dir or settings.features_dir
    if log:
        from needs_model.modelling import tracking

        # A store that keeps its runs elsewhere stops the monitoring before anything is
        # written (tracking.StoreError).
        tracking.configure(settings)
    # The agencies' own tables, once for every service (when the extracts are at hand).
    tables = source_quality(settings.raw_dir, as_of) if settings.raw_dir.exists() else []
    results, errors = [], []
    records = {}
    for service_id in service_ids:
        try:
            result, record = monitor_service(
                service_id, as_of, settings, features_dir, thresholds, source_tables=tables
            )
        except MonitoringError as error:
            errors.append(str(error))
            continue
        if log:
            record["mlflow_run_id"] = log_to_mlflow(record, result.folder, settings)
            _write_json(result.folder / "summary.json", record)
        results.append(result)
        records[service_id] = {
            "status": record["status"],
            "reasons": record["reasons"],
            "notes": record["notes"],
            "champion_version": record["champion"]["version"],
            "summary": f"{as_of.isoformat()}/{service_id}/summary.json",
            "report": f"{as_of.isoformat()}/{service_id}/report.html",
        }
    status = {
        "as_of": as_of.isoformat(),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(),
        "services": records,
        "not_monitored": errors,
        "sources": tables,
    }
    _write_json(status_file(settings.reports_dir, as_of.isoformat()), status)
    previous = latest_status(settings.reports_dir)
    if previous is None or previous["as_of"] <= as_of.isoformat():
        _write_json(latest_file(settings.reports_dir), status)
    return results, errors
