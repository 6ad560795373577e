"""`needs-model retrain --if-needed`: it retrains only what the latest monitoring marked
`retrain`, says when nothing was, and refuses to guess when no monitoring has run.
`needs-model monitor-replay`: the kept months decided again under other thresholds."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from needs_model.cli.main import app
from needs_model.settings import get_settings

runner = CliRunner()


@pytest.fixture
def settings(province, snapshots, tmp_path, monkeypatch):
    _, raw = province
    for name, value in {
        "NEEDS_RAW_DIR": raw,
        "NEEDS_FEATURES_DIR": snapshots,
        "NEEDS_MODELS_DIR": tmp_path / "models",
        "NEEDS_REPORTS_DIR": tmp_path / "reports",
        "NEEDS_MLFLOW_ARTIFACT_ROOT": tmp_path / "artifacts",
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("NEEDS_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def no_vet_renewals(settings, snapshots, tmp_path, monkeypatch):
    """The snapshots, with no veterinarian ever renewing: a service whose windows hold a
    single class, which cannot be trained however far its validation window reaches."""
    folder = tmp_path / "features"
    folder.mkdir()
    for service_dir in snapshots.iterdir():
        if service_dir.name == "veterinary_certificate_renewal":
            (folder / service_dir.name).mkdir()
            for path in service_dir.glob("*.parquet"):
                frame = pd.read_parquet(path)
                frame["label"] = frame["label"].where(frame["label"].isna(), 0.0)
                frame.to_parquet(folder / service_dir.name / path.name, index=False)
        else:
            (folder / service_dir.name).symlink_to(service_dir.resolve())
    monkeypatch.setenv("NEEDS_FEATURES_DIR", str(folder))
    get_settings.cache_clear()
    return folder


def _latest(settings, statuses: dict[str, str]) -> None:
    folder = settings.reports_dir / "monitoring"
    folder.mkdir(parents=True)
    services = {
        s: {"status": v, "reasons": [], "champion_version": "1", "summary": "", "report": ""}
        for s, v in statuses.items()
    }
    status = {"as_of": "2025-09-30", "generated_at": "", "services": services}
    (folder / "latest.json").write_text(json.dumps(status | {"not_monitored": []}))


def test_without_monitoring_nothing_is_guessed(settings):
    result = runner.invoke(app, ["retrain", "--if-needed", "--fast"])
    assert result.exit_code == 1 and "no monitoring has run" in result.output


def test_nothing_marked_retrain_trains_nothing(settings):
    _latest(settings, {"birth_registration": "warn", "school_admission": "ok"})
    result = runner.invoke(app, ["retrain", "--if-needed", "--fast"])
    assert result.exit_code == 0, result.output
    assert "Nothing to retrain" in result.output
    assert MlflowClient(settings.mlflow_tracking_uri).search_registered_models() == []


def test_only_the_flagged_service_is_retrained_and_goes_through_the_gate(settings):
    _latest(settings, {"birth_registration": "retrain", "school_admission": "warn"})
    result = runner.invoke(app, ["retrain", "--if-needed", "--fast"])
    assert result.exit_code == 0, result.output
    assert "Retraining birth_registration (marked `retrain` on 2025-09-30)" in result.output
    registered = MlflowClient(settings.mlflow_tracking_uri).search_registered_models()
    assert [m.name for m in registered] == ["needs-birth_registration"]
    # Whatever the gate decided, it decided: promoted (a champion alias) or refused, said.
    assert "birth_registration: version 1" in result.output or "refused" in result.output


def test_a_service_that_cannot_be_trained_does_not_keep_the_others_from_the_gate(
    no_vet_renewals, settings
):
    _latest(
        settings, {"veterinary_certificate_renewal": "retrain", "birth_registration": "retrain"}
    )
    result = runner.invoke(app, ["retrain", "--if-needed", "--fast"])
    assert result.exit_code == 1, result.output
    assert "Not retrained: veterinary_certificate_renewal" in result.output
    assert "birth_registration: version 1" in result.output or "refused" in result.output
    registered = MlflowClient(settings.mlflow_tracking_uri).search_registered_models()
    assert "needs-birth_registration" in [m.name for m in registered]


def test_a_service_that_cannot_be_trained_does_not_keep_the_others_from_training(
    no_vet_renewals, settings
):
    services = ["veterinary_certificate_renewal", "birth_registration"]
    args = [a for s in services for a in ("--service", s)]
    result = runner.invoke(app, ["train", "--fast", *args])
    assert result.exit_code == 1, result.output
    assert "veterinary_certificate_renewal" in result.output and "Traceback" not in result.output
    assert "Not trained: veterinary_certificate_renewal" in result.output
    registered = MlflowClient(settings.mlflow_tracking_uri).search_registered_models()
    assert [m.name for m in registered] == ["needs-birth_registration"]


def test_a_retrain_keeps_the_inputs_a_data_scientist_chose(settings):
    from needs_model.modelling.promotion import Gate
    from needs_model.modelling.workflow import promote_service

    chosen = ["rule_birth_due", "household_poor_last_review"]
    args = [a for name in chosen for a in ("--feature", name)]
    result = runner.invoke(app, ["train", "--service", "birth_registration", "--fast", *args])
    assert result.exit_code == 0, result.output
    assert promote_service("birth_registration", settings, Gate(max_ece=1.0, max_group_gap=1.0))
    _latest(settings, {"birth_registration": "retrain"})
    result = runner.invoke(app, ["retrain", "--if-needed", "--fast"])
    assert result.exit_code == 0, result.output
    client = MlflowClient(settings.mlflow_tracking_uri)
    versions = client.search_model_versions("name='needs-birth_registration'")
    assert sorted(int(v.version) for v in versions) == [1, 2]
    for v in versions:
        assert client.get_run(v.run_id).data.params["features"] == ",".join(chosen)


def test_chosen_inputs_are_checked_before_training(settings):
    result = runner.invoke(app, ["train", "--fast", "--feature", "rule_birth_due"])
    assert result.exit_code == 2 and "add --service" in result.output
    result = runner.invoke(
        app,
        ["train", "--fast", "--service", "birth_registration", "--feature", "days_to_expiry"],
    )
    assert result.exit_code == 2 and "no feature days_to_expiry" in result.output
    assert MlflowClient(settings.mlflow_tracking_uri).search_registered_models() == []


@pytest.fixture
def kept_months(tmp_path, monkeypatch):
    """Two months kept by the monitor (tests/monitoring/test_replay.py), under the default
    thresholds: the births' feature drifted by 0.6 standard deviations in January."""
    from tests.monitoring.test_replay import _keep, _record

    _keep(tmp_path, "2026-01-31", {"births": _record(effect=0.6), "schools": _record()})
    _keep(tmp_path, "2026-02-28", {"births": _record(), "schools": _record()})
    monkeypatch.setenv("NEEDS_REPORTS_DIR", str(tmp_path))
    monkeypatch.delenv("NEEDS_MONITOR_THRESHOLDS", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_replaying_kept_months_counts_the_alarms_each_way_and_writes_them(
    kept_months, tmp_path, monkeypatch
):
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text('{"medium_effect_numeric": 0.7}')
    out = tmp_path / "replayed.json"
    args = ["monitor-replay", "--thresholds", str(thresholds), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Alarms: 1 of 4 service-months as kept, 0 of 4 under these thresholds; 1 decided" in (
        result.output
    )
    written = json.loads(out.read_text())
    assert written["thresholds"]["medium_effect_numeric"] == 0.7
    changed = [m for m in written["months"] if m["kept"] != m["now"]]
    assert [(m["as_of"], m["service_id"], m["now"]["status"]) for m in changed] == [
        ("2026-01-31", "births", "ok")
    ]
    # NEEDS_MONITOR_THRESHOLDS names the file when --thresholds does not.
    monkeypatch.setenv("NEEDS_MONITOR_THRESHOLDS", str(thresholds))
    get_settings.cache_clear()
    assert "0 of 4 under these thresholds" in runner.invoke(app, ["monitor-replay"]).output


def test_replay_refuses_thresholds_and_dates_it_cannot_use(kept_months, tmp_path):
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text('{"medium_effect": 0.7}')
    result = runner.invoke(app, ["monitor-replay", "--thresholds", str(thresholds)])
    assert result.exit_code == 2 and "unknown threshold(s) medium_effect" in result.output
    result = runner.invoke(app, ["monitor-replay", "--from", "January"])
    assert result.exit_code == 2 and "--from 'January' is not a date" in result.output
    assert "Traceback" not in result.output


def test_replay_without_kept_months_says_so(kept_months):
    result = runner.invoke(app, ["monitor-replay", "--from", "2027-01-01"])
    assert result.exit_code == 1 and "no monitored month to decide again" in result.output
