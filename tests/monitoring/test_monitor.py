"""`needs-model monitor` end to end on the small province: a champion trained and promoted
through MLflow on the snapshots up to mid-2024 keeps a sample of its last year in its
bundle; monitoring a later month end writes Evidently's page and a summary, nests a run
under the champion's, and flags what was broken on purpose."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

from needs_model.catalogue.services import pool_members, service
from needs_model.features.build import horizon_end
from needs_model.features.snapshots import read_snapshot, snapshot_file
from needs_model.linking.link import linked_transactions
from needs_model.modelling.promotion import REFERENCE_FILE, BundleError, Gate, verify_bundle
from needs_model.modelling.training import FAST
from needs_model.modelling.workflow import promote_service, train_services
from needs_model.monitoring.kept import LATEST, MONITORING_DIR
from needs_model.monitoring.performance import (
    labels_known_on,
    matured_window,
    recording_lag_days,
)
from needs_model.monitoring.replay import replay
from needs_model.monitoring.run import available_snapshots, monitor
from needs_model.monitoring.status import RETRAIN, WARN
from needs_model.monitoring.thresholds import Thresholds
from needs_model.settings import Settings

SERVICE = "medical_license_renewal"  # a three-month horizon: labels mature within the run
TRAINED_THROUGH = dt.date(2024, 6, 30)


@pytest.fixture(scope="module")
def champion(province, snapshots, tmp_path_factory):
    """(settings, the features folder the champion was trained on, every snapshot)."""
    _, raw = province
    root = tmp_path_factory.mktemp("monitoring")
    settings = Settings(
        raw_dir=raw,
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
    )
    early = root / "features-early"
    for service_id in (SERVICE, *pool_members(SERVICE)):
        for day in available_snapshots(snapshots, service_id):
            if day <= TRAINED_THROUGH:
                target = snapshot_file(early, service_id, day)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(snapshot_file(snapshots, service_id, day), target)
    config = replace(FAST, test_months=6, valid_months=6)
    train_services(early, [SERVICE], config, settings, raw)
    # Fairness and calibration are the gate's business (tests/modelling): here, any champion.
    result = promote_service(SERVICE, settings, Gate(max_ece=1.0, max_group_gap=1.0))
    assert result.promoted, result
    return settings, snapshots


def _copy_features(snapshots, root):
    target = root / "features"
    shutil.copytree(snapshots / SERVICE, target / SERVICE)
    return target


def test_the_bundle_keeps_the_year_it_was_trained_up_to_under_its_checksums(champion):
    settings, snapshots = champion
    folder = settings.models_dir / SERVICE / "1"
    reference = pd.read_parquet(folder / REFERENCE_FILE)
    trained = [d for d in available_snapshots(snapshots, SERVICE) if d <= TRAINED_THROUGH]
    newest = max(trained)
    year = {str(d) for d in trained if (newest.year - d.year) * 12 + newest.month - d.month < 12}
    assert set(reference["as_of"].dt.date.astype(str)) == year
    windows = json.loads((folder / "evaluation.json").read_text())["windows"]
    assert windows["reference"] == sorted(year)
    assert REFERENCE_FILE in (folder / "SHA256SUMS").read_text()
    original = (folder / REFERENCE_FILE).read_bytes()
    try:
        (folder / REFERENCE_FILE).write_bytes(original[:-10] + b"0" * 10)
        with pytest.raises(BundleError, match=REFERENCE_FILE):
            verify_bundle(folder)
    finally:
        (folder / REFERENCE_FILE).write_bytes(original)


def test_a_month_end_is_monitored_with_matured_labels_after_the_test_window(champion):
    settings, snapshots = champion
    as_of = available_snapshots(snapshots, SERVICE)[-1]
    results, errors = monitor(as_of, [SERVICE], settings, snapshots)
    assert errors == [] and len(results) == 1
    folder = settings.reports_dir / MONITORING_DIR / as_of.isoformat() / SERVICE
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["status"] == results[0].status
    test_end = max(summary["champion"]["test_window"])
    assert summary["matured_dates"] and min(summary["matured_dates"]) > test_end
    assert summary["performance"]["rows"] > 0
    # Read as the register held them on the as-of date, after its recording lag.
    lag = summary["labels"]["recording_lag_days"]
    assert summary["labels"]["read"] == f"the register's rows recorded by {as_of.isoformat()}"
    assert lag == recording_lag_days(settings.raw_dir, SERVICE, as_of) > 0
    for day in summary["matured_dates"]:
        ends = horizon_end(dt.date.fromisoformat(day), service(SERVICE).horizon_months)
        assert ends + dt.timedelta(days=lag) <= as_of
    assert (folder / "report.html").stat().st_size > 1_000_000  # Evidently's page, inlined
    latest = json.loads((settings.reports_dir / MONITORING_DIR / LATEST).read_text())
    assert latest["as_of"] == as_of.isoformat()
    assert latest["services"][SERVICE]["status"] == summary["status"]
    # The run is nested under the champion's training run.
    run = MlflowClient(settings.mlflow_tracking_uri).get_run(summary["mlflow_run_id"])
    assert run.data.tags["mlflow.parentRunId"] == summary["champion"]["run_id"]
    assert run.data.tags["monitoring.status"] == summary["status"]
    assert {k: float(v) for k, v in run.data.params.items()} == {
        f"threshold.{k}": v for k, v in summary["thresholds"].items()
    }
    assert run.data.metrics["expected_demand"] == pytest.approx(
        summary["drift"]["expected_demand"]["current"]
    )


def test_labels_that_stop_matching_the_scores_ask_for_retraining(champion, tmp_path):
    settings, snapshots = champion
    # Without the register, the monitor reads the labels the snapshots hold (said in the
    # summary), so swapping them there is a shift the monitor must see.
    settings = settings.model_copy(update={"raw_dir": tmp_path / "no-extracts"})
    features = _copy_features(snapshots, tmp_path)
    as_of = available_snapshots(features, SERVICE)[-1]
    first = monitor(as_of, [SERVICE], settings, features, log=False)[0][0]
    assert first.status != RETRAIN, first.reasons
    summary = json.loads((first.folder / "summary.json").read_text())
    for day in summary["matured_dates"]:
        path = snapshot_file(features, SERVICE, dt.date.fromisoformat(day))
        rows = pd.read_parquet(path)
        rows["label"] = 1.0 - rows["label"]  # who renewed and who did not, swapped
        rows.to_parquet(path, index=False)
    (result,), _ = monitor(as_of, [SERVICE], settings, features, log=False)
    assert result.status == RETRAIN
    summary = json.loads((result.folder / "summary.json").read_text())
    # The small province's few renewals, swapped, are too few negatives for the AUC to be
    # judged (`Thresholds.auc_min_positives`): calibration says it, month by month.
    performance = summary["performance"]
    assert min(performance["positives"], performance["rows"] - performance["positives"]) < 20
    assert not any(r.startswith("matured AUC") for r in result.reasons), result.reasons
    assert result.reasons[0].startswith("calibration: ECE above the gate's floor on 3 of 3")
    assert summary["labels"] == {
        "read": "as the snapshots hold them (no register under the raw folder)",
        "recording_lag_days": 0,
    }


@pytest.mark.parametrize("service_id", ["birth_registration", "poor_household_confirmation"])
def test_matured_labels_are_those_the_register_held_on_the_as_of_date(
    service_id, province, snapshots
):
    """A delivery recorded after the monitoring date is not known on it: the matured labels
    are read from the register's rows recorded by then, whatever the snapshots hold (a
    person's service through the links, a household's through the register's numbers)."""
    _, raw = province
    day = max(
        d
        for d in available_snapshots(snapshots, service_id)
        if read_snapshot(snapshots, service_id, d)["label"].notna().any()
    )
    rows = read_snapshot(snapshots, service_id, day)
    rows = rows[rows["label"].notna()]
    horizon_ends = horizon_end(day, service(service_id).horizon_months)
    # On the horizon's last day, deliveries of its last weeks are still on their way.
    early = labels_known_on(rows, raw, service_id, horizon_ends)
    late = labels_known_on(rows, raw, service_id, dt.date(2030, 1, 1))
    assert (late["label"] == rows["label"].to_numpy()).all()  # the whole register: as built
    missing = rows["subject_id"][(late["label"] == 1) & (early["label"] == 0)]
    assert (early["label"] <= late["label"]).all() and len(missing) > 0
    # Each of them: every register row of the delivery was recorded after that day.
    register = pd.read_parquet(raw / "services" / "transactions.parquet")
    if service_id == "birth_registration":
        linked = linked_transactions(raw, dt.date(2030, 1, 1), recorded_by=dt.date(2030, 1, 1))
        register = linked.rename(columns={"linked_cccd": "subject"}).merge(
            register[["transaction_id", "recorded_at"]], on="transaction_id"
        )
    else:
        register = register.rename(columns={"subject_household_id": "subject"})
    theirs = register[
        register["subject"].isin(missing)
        & (register["service_id"] == service_id)
        & (pd.to_datetime(register["delivered_on"]) > pd.Timestamp(day))
        & (pd.to_datetime(register["delivered_on"]) <= pd.Timestamp(horizon_ends))
    ]
    assert set(theirs["subject"]) == set(missing)
    assert (pd.to_datetime(theirs["recorded_at"]) > pd.Timestamp(horizon_ends)).all()


def test_a_month_end_matures_after_its_horizon_and_the_registers_lag(province):
    _, raw = province
    as_of = dt.date(2025, 9, 30)
    lag = recording_lag_days(raw, SERVICE, as_of)
    register = pd.read_parquet(raw / "services" / "transactions.parquet")
    recorded = pd.to_datetime(register["recorded_at"])
    year = register[
        (register["service_id"] == SERVICE)
        & (recorded <= pd.Timestamp(as_of))
        & (recorded > pd.Timestamp(as_of) - pd.Timedelta(days=365))
    ]
    days = (pd.to_datetime(year["recorded_at"]) - pd.to_datetime(year["delivered_on"])).dt.days
    assert (days <= lag).mean() >= 0.99 and (days < lag - 1).mean() < 0.99
    month_ends = [dt.date(2025, 3, 31), dt.date(2025, 5, 31), dt.date(2025, 6, 30)]
    # Three-month horizons: 2025-06-30's ends on the as-of date, 2025-05-31's 30 days
    # before it, 2025-03-31's 92 days before.
    assert matured_window(SERVICE, as_of, month_ends).dates == month_ends
    assert matured_window(SERVICE, as_of, month_ends, lag_days=30).dates == month_ends[:2]
    assert matured_window(SERVICE, as_of, month_ends, lag_days=31).dates == month_ends[:1]
    assert matured_window(SERVICE, as_of, month_ends, lag_days=93).dates == []


def test_a_feature_broken_upstream_is_named(champion, tmp_path):
    settings, snapshots = champion
    features = _copy_features(snapshots, tmp_path)
    as_of = available_snapshots(features, SERVICE)[-1]
    rows = read_snapshot(features, SERVICE, as_of)
    rows["age_years"] = rows["age_years"] + 25  # a birth-date column read in the wrong century
    rows.to_parquet(snapshot_file(features, SERVICE, as_of), index=False)
    (result,), _ = monitor(as_of, [SERVICE], settings, features, log=False)
    assert result.status in (WARN, RETRAIN)
    assert any(r.startswith("age_years:") and "outside the reference" in r for r in result.reasons)
    summary = json.loads((result.folder / "summary.json").read_text())
    drifted = [f["column"] for f in summary["drift"]["features"] if f["drifted"]]
    assert drifted == ["age_years"], drifted


def test_a_month_replayed_under_other_thresholds_is_what_monitoring_under_them_gives(
    champion, tmp_path
):
    """`replay` decides from what a summary kept: monitoring the same month end again under
    other thresholds gives the same status and reasons, and the summary says which."""
    settings, snapshots = champion
    features = _copy_features(snapshots, tmp_path)
    as_of = available_snapshots(features, SERVICE)[-1]
    rows = read_snapshot(features, SERVICE, as_of)
    rows["age_years"] = rows["age_years"] + 25  # as above: a finding and a drift to judge
    rows.to_parquet(snapshot_file(features, SERVICE, as_of), index=False)
    kept_in, again_in = (
        settings.model_copy(update={"reports_dir": tmp_path / name}) for name in ("kept", "again")
    )
    (kept,), _ = monitor(as_of, [SERVICE], kept_in, features, log=False)
    # Drift judged only past effects no shift reaches; values outside the range only when
    # all of them are (ages under 55 or so stay inside it).
    other = Thresholds(
        feature_drift_share=1.0,
        medium_effect_numeric=10.0,
        large_effect_numeric=10.0,
        out_of_range_share=1.0,
    )
    (replayed,) = replay(kept_in.reports_dir, other).months
    (again,), _ = monitor(as_of, [SERVICE], again_in, features, log=False, thresholds=other)
    assert (replayed.status, replayed.reasons) == (again.status, again.reasons)
    assert (replayed.kept_status, replayed.kept_reasons) == (kept.status, kept.reasons)
    assert replayed.changed  # the thresholds mattered: the comparison is not of two defaults
    assert any(r.startswith("age_years:") for r in replayed.reasons_gone)
    summary = json.loads((again.folder / "summary.json").read_text())
    assert summary["thresholds"] == other.as_dict()


def test_what_cannot_be_monitored_is_said(champion, tmp_path):
    settings, snapshots = champion
    results, errors = monitor(
        dt.date(2031, 1, 31), [SERVICE, "school_admission"], settings, snapshots, log=False
    )
    assert results == []
    assert any("no feature snapshot for 2031-01-31" in e for e in errors)
    assert any("school_admission: no model is served" in e for e in errors)
    np.testing.assert_equal(len(errors), 2)


def test_a_store_that_keeps_its_runs_elsewhere_stops_monitoring_before_a_report(champion, tmp_path):
    """Each monitoring run is logged under the champion's run; a store whose experiment
    keeps its artifacts elsewhere than configured stops the monitoring before anything is
    written (not after the first service's report)."""
    from needs_model.modelling.tracking import StoreError

    settings, snapshots = champion
    elsewhere = settings.model_copy(
        update={"mlflow_artifact_root": tmp_path / "artifacts", "reports_dir": tmp_path / "r"}
    )
    day = max(available_snapshots(snapshots, SERVICE))
    with pytest.raises(StoreError, match="keeps the runs of experiment 'needs'"):
        monitor(day, [SERVICE], elsewhere, snapshots)
    assert not (tmp_path / "r").exists()
