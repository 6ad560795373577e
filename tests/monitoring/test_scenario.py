"""One scenario end to end on the small twin: a champion trained before a baby boom, then
the same province with and without the boom, monitored quarter by quarter. The boom is
seen by the statistic it should move, expected demand, in the first month end whose horizon
holds its births; the province without it raises nothing at the same dates."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import replace

import pytest

from needs_model.features.snapshots import build_snapshots, month_ends, snapshot_file
from needs_model.modelling.promotion import Gate
from needs_model.modelling.training import FAST
from needs_model.modelling.workflow import promote_service, train_services
from needs_model.monitoring.run import available_snapshots, monitor
from needs_model.monitoring.status import OK
from needs_model.settings import Settings
from needs_model.twin.params import Scenario, TwinParameters
from needs_model.twin.province import simulate_province
from needs_model.twin.simulate import SimulationSpec

SERVICE = "birth_registration"
TRAINED_THROUGH = dt.date(2024, 3, 31)
BOOM = Scenario("baby boom", "conception", 3.0, dt.date(2024, 4, 1), dt.date(2025, 3, 31))
MONITORED = [dt.date(2024, 6, 30), dt.date(2024, 9, 30), dt.date(2024, 12, 31)]


def _province(root, params):
    """20,000 people from 2012-02 (a burn-in: ten years of records before the first
    snapshot, as the agencies' tables hold) to 2025-03."""
    spec = SimulationSpec(people=20_000, seed=3, start="2012-02", end="2025-03")
    simulate_province(spec, root / "raw", params)
    return root / "raw"


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    """(raw, features): the province without the boom; quarterly snapshots from 2022 to
    train on, and the monitored month ends."""
    root = tmp_path_factory.mktemp("plain")
    raw = _province(root, TwinParameters())
    days = [d for d in month_ends(dt.date(2022, 3, 1), TRAINED_THROUGH) if d.month % 3 == 0]
    build_snapshots(raw, days + MONITORED, root / "features")
    return raw, root / "features"


@pytest.fixture(scope="module")
def boom(tmp_path_factory):
    """(raw, features): the same province (size, seed, start) with the boom from April 2024."""
    root = tmp_path_factory.mktemp("boom")
    raw = _province(root, TwinParameters().with_scenarios(BOOM))
    build_snapshots(raw, MONITORED, root / "features")
    return raw, root / "features"


@pytest.fixture(scope="module")
def champion(plain, tmp_path_factory):
    """Settings of a store whose birth-registration champion was trained on the plain
    province up to March 2024 and promoted (any champion: the gate is tested elsewhere)."""
    raw, features = plain
    root = tmp_path_factory.mktemp("scenario-champion")
    settings = Settings(
        raw_dir=raw,
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
    )
    early = root / "features"
    for day in available_snapshots(features, SERVICE):
        if day <= TRAINED_THROUGH:
            target = snapshot_file(early, SERVICE, day)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(snapshot_file(features, SERVICE, day), target)
    train_services(early, [SERVICE], replace(FAST, test_months=6, valid_months=6), settings, raw)
    assert promote_service(SERVICE, settings, Gate(max_ece=1.0, max_group_gap=1.0)).promoted
    return settings


def _statuses(settings, raw, features):
    settings = settings.model_copy(update={"raw_dir": raw})
    out = {}
    for day in MONITORED:
        (result,), errors = monitor(day, [SERVICE], settings, features, log=False)
        assert errors == []
        out[day] = (result.status, result.reasons)
    return out


def test_the_province_without_the_boom_raises_nothing(champion, plain):
    statuses = _statuses(champion, *plain)
    assert all(status == OK for status, _ in statuses.values()), statuses


def test_the_boom_is_seen_by_expected_demand_once_its_births_are_within_the_horizon(champion, boom):
    statuses = _statuses(champion, *boom)
    # Conceptions from April 2024 are births from January 2025: the first month end whose
    # two-month horizon holds them is December's, and that is where demand must move.
    status, reasons = statuses[dt.date(2024, 12, 31)]
    assert status != OK, statuses
    assert any(r.startswith("expected demand moved +") for r in reasons), reasons
