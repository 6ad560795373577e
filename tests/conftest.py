"""Shared small provinces, simulated once per test session (seconds, not minutes)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest

from api.store import Store, load_store
from needs_model.catalogue.services import service
from needs_model.features.snapshots import build_snapshots, load_service, month_ends
from needs_model.modelling.promotion import Gate, switch_current, write_bundle
from needs_model.modelling.training import FAST, fit_service, temporal_split
from needs_model.modelling.workflow import promote_service, train_services
from needs_model.monitoring.run import monitor
from needs_model.scoring.batch import score
from needs_model.scoring.snapshot import ScoredSnapshot
from needs_model.settings import Settings, get_settings
from needs_model.twin.province import simulate_province
from needs_model.twin.simulate import SimulationSpec
from needs_model.twin.world import World


@pytest.fixture(scope="session", autouse=True)
def _service_state_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory):
    """Servers and CLI commands started by tests keep their audit checkpoints and database in
    a temporary folder (they inherit this environment), never in the checkout's data/."""
    folder = tmp_path_factory.mktemp("service-state")
    saved = {k: os.environ.get(k) for k in ("NEEDS_AUDIT_CHECKPOINT_DIR", "NEEDS_DATABASE_URL")}
    os.environ["NEEDS_AUDIT_CHECKPOINT_DIR"] = str(folder / "checkpoints")
    os.environ["NEEDS_DATABASE_URL"] = f"sqlite:///{folder}/service.db"
    get_settings.cache_clear()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    get_settings.cache_clear()


def simulate_to(out: Path, people: int, seed: int, start: str, end: str) -> World:
    """The same function `needs-model simulate` calls (extracts, truth, calibration)."""
    spec = SimulationSpec(people=people, seed=seed, start=start, end=end)
    return simulate_province(spec, out).world


@pytest.fixture(scope="session")
def province(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """20,000 people over the whole default period, written as extracts."""
    out = tmp_path_factory.mktemp("province")
    return simulate_to(out, 20_000, 3, "2021-01", "2025-12"), out


@pytest.fixture(scope="session")
def snapshots(province: tuple[World, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Quarterly feature snapshots of `province`, 2021-06 to 2025-09 (training data)."""
    _, raw = province
    out = tmp_path_factory.mktemp("features")
    days = [d for d in month_ends(dt.date(2021, 4, 1), dt.date(2025, 9, 30)) if d.month % 3 == 0]
    build_snapshots(raw, days, out)
    return out


@pytest.fixture(scope="session")
def merger_province(tmp_path_factory: pytest.TempPathFactory) -> tuple[World, Path]:
    """A short run across the 2025-07-01 merger."""
    out = tmp_path_factory.mktemp("merger")
    return simulate_to(out, 6_000, 5, "2025-03", "2025-10"), out


# A served, scored small province: models trained with the production `fit_service` on
# `province`, written as verified bundles (no MLflow: scoring and the API read bundles, not
# the registry). Services the small province cannot train (too few vets, transport
# businesses) stay unserved, which scoring and the API must handle.
SERVED = (
    "birth_registration",
    "school_admission",
    "medical_license_renewal",
    "poor_household_confirmation",
)
AS_OF = dt.date(2025, 12, 31)


@dataclass
class Served:
    raw: Path
    settings: Settings
    snapshot: Path
    store: Store


@pytest.fixture(scope="session")
def served(province, snapshots, tmp_path_factory) -> Served:
    _, raw = province
    root = tmp_path_factory.mktemp("served")
    settings = Settings(
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
        scores_dir=root / "scores",
        database_url=f"sqlite:///{root}/service.db",
        audit_signing_key="test-signing-key",
        audit_checkpoint_dir=root / "checkpoints",
        max_batch=20,
        max_body_bytes=20_000,
        # Generous budgets for the shared keys; tests of the budgets make keys of their own.
        requests_per_minute=1_000_000,
        personal_reads_per_day=10_000_000,
    )
    config = replace(FAST, test_months=6, valid_months=6)
    for service_id in SERVED:
        frame = load_service(snapshots, service_id)
        split = temporal_split(frame, service(service_id).horizon_months, config)
        model = fit_service(split, service_id, config)
        source = root / "fitted" / service_id
        model.save(source)
        write_bundle(settings.models_dir, service_id, "1", source, {"test": True}, {})
        switch_current(settings.models_dir, service_id, "1")
    snapshot = score(raw, AS_OF, settings.models_dir, settings.scores_dir, top_per_commune=5)
    return Served(raw, settings, snapshot, load_store(snapshot, settings.models_dir))


@pytest.fixture(scope="session")
def subjects(served) -> dict[str, pd.DataFrame]:
    snapshot = ScoredSnapshot(served.snapshot)
    return {s: snapshot.read("subjects", s) for s in SERVED}


# --- a model as served in production, for the auditors' reports ----------------------
REPORTED_SERVICE = "school_admission"  # hundreds of positives on the small province
PROMOTER = "Trần Thị Mai (Sở Giáo dục)"
MONITORED = dt.date(2025, 9, 30)


@pytest.fixture(scope="session")
def promoted(province, snapshots, tmp_path_factory) -> Settings:
    """A promoted, monitored model on the small province, through the production path
    (MLflow, the gate, the bundle, one monitoring run): what a model card reads."""
    _, raw = province
    root = tmp_path_factory.mktemp("reports_state")
    settings = Settings(
        raw_dir=raw,
        linked_dir=root / "linked",
        features_dir=snapshots,
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
    )
    config = replace(FAST, test_months=6, valid_months=6)
    train_services(snapshots, [REPORTED_SERVICE], config, settings, raw)
    # The small province's test window is small: a lenient gate so that a version is
    # served (what the card shows of the gate is read back from the bundle either way).
    gate = Gate(auc_tolerance=1.0, brier_tolerance=1.0, max_ece=1.0, max_group_gap=1.0)
    result = promote_service(REPORTED_SERVICE, settings, gate, by=PROMOTER)
    assert result.promoted, result.failures
    results, errors = monitor(MONITORED, [REPORTED_SERVICE], settings, snapshots, log=False)
    assert results and not errors, errors
    return settings
