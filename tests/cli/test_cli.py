"""The command line: clear errors and exit codes, never a traceback."""

import datetime as dt
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.store import load_store
from needs_model.cli.main import app
from needs_model.modelling.promotion import current_version
from needs_model.scoring.snapshot import ScoredSnapshot
from needs_model.settings import get_settings

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("simulate", "validate", "contract-docs"):
        assert command in result.output


def test_simulate_refuses_to_overwrite_without_asking(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "something").write_text("x")
    result = runner.invoke(app, ["simulate", "--people", "1000", "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "--overwrite" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_simulate_rejects_a_bad_month(tmp_path):
    result = runner.invoke(app, ["simulate", "--start", "2021-13", "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "YYYY-MM" in result.output
    assert not (tmp_path / "raw").exists()


def test_simulate_says_how_early_it_can_start(tmp_path):
    result = runner.invoke(app, ["simulate", "--start", "2010-06", "--out", str(tmp_path / "raw")])
    assert result.exit_code == 2
    assert "2011-02" in result.output and "09/2011" in result.output
    assert not (tmp_path / "raw").exists()


def test_simulate_then_validate_end_to_end(tmp_path):
    out = tmp_path / "raw"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--people",
            "1500",
            "--start",
            "2021-01",
            "--end",
            "2021-12",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "_SUCCESS").exists() and (out / "calibration.json").exists()
    assert not (tmp_path / ".raw.partial").exists()
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "raw_validation" / "report.md").exists()


def test_validate_reports_a_broken_folder_without_traceback(province, tmp_path):
    _, raw = province
    target = tmp_path / "raw"
    shutil.copytree(raw, target)
    (target / "registry" / "households.parquet").unlink()
    result = runner.invoke(app, ["validate", str(target)])
    assert result.exit_code == 1
    assert "registry/households: missing table" in result.output
    assert "Traceback" not in result.output


def test_validate_a_missing_folder(tmp_path):
    result = runner.invoke(app, ["validate", str(tmp_path / "nowhere")])
    assert result.exit_code == 1
    assert "is not a folder" in result.output


def test_link_and_features_on_the_twin(province, tmp_path):
    _, raw = province
    result = runner.invoke(
        app, ["link", "--raw", str(raw), "--as-of", "2024-06-30", "--out", str(tmp_path / "linked")]
    )
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "linked" / "people.parquet").exists()  # profiles are not kept
    for name in (
        "links.parquet",
        "consistency.parquet",
        "consistency.md",
        "consistency.html",
    ):
        assert (tmp_path / "linked" / name).exists(), name
    result = runner.invoke(
        app,
        [
            "features",
            "--raw",
            str(raw),
            "--as-of",
            "2024-06-30",
            "--out",
            str(tmp_path / "features"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "features" / "school_admission" / "2024-06-30.parquet").exists()


def test_link_and_features_on_a_broken_copy(province, tmp_path):
    _, raw = province
    target = tmp_path / "raw"
    shutil.copytree(raw, target, ignore=shutil.ignore_patterns("truth"))
    (target / "health" / "births.parquet").write_bytes(b"broken")
    for command in ("link", "features"):
        result = runner.invoke(
            app,
            [
                command,
                "--raw",
                str(target),
                "--as-of",
                "2024-06-30",
                "--out",
                str(tmp_path / command),
            ],
        )
        assert result.exit_code == 1, (command, result.output)
        assert "health/births: unreadable Parquet file" in result.output
        assert "Traceback" not in result.output


def test_features_need_a_month_end_and_a_date(province, tmp_path):
    _, raw = province
    result = runner.invoke(app, ["features", "--raw", str(raw), "--as-of", "2024-06-15"])
    assert result.exit_code == 2 and "month end" in result.output
    result = runner.invoke(app, ["link", "--raw", str(raw), "--as-of", "June"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_model_commands_refuse_an_unknown_service(tmp_path, monkeypatch):
    monkeypatch.setenv("NEEDS_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("NEEDS_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow.db")
    from needs_model.settings import get_settings

    get_settings.cache_clear()
    try:
        for command in (
            ["train", "--service", "passport_renewal", "--features", str(tmp_path)],
            ["promote", "--service", "passport_renewal"],
            ["rollback", "--service", "passport_renewal"],
            ["monitor", "--service", "passport_renewal"],
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 2, (command, result.output)
            assert "passport_renewal" in result.output and "Traceback" not in result.output
        # A known service with nothing served before it: a clear refusal, not a traceback.
        result = runner.invoke(app, ["rollback", "--service", "birth_registration"])
        assert result.exit_code == 1, result.output
        assert "birth_registration" in result.output and "Traceback" not in result.output
        result = runner.invoke(app, ["monitor"])
        assert result.exit_code == 1 and "no served model" in result.output, result.output
    finally:
        get_settings.cache_clear()


def _invoke(tmp_path, monkeypatch, *commands, **settings):
    """Run commands with the models folder and the MLflow store under tmp_path (`settings`
    overrides them: NEEDS_<NAME>=value), the settings read afresh."""
    environment = {
        "NEEDS_MODELS_DIR": tmp_path / "models",
        "NEEDS_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
        "NEEDS_MLFLOW_ARTIFACT_ROOT": tmp_path / "artifacts",
    } | {f"NEEDS_{name.upper()}": value for name, value in settings.items()}
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()
    try:
        return [runner.invoke(app, list(command)) for command in commands]
    finally:
        get_settings.cache_clear()


def test_promote_stops_before_anything_on_refusals_it_cannot_read(tmp_path, monkeypatch):
    kept = tmp_path / "models" / "birth_registration" / "refusals.json"
    kept.parent.mkdir(parents=True)
    kept.write_text('[{"version": "2"')
    (result,) = _invoke(tmp_path, monkeypatch, ["promote", "--service", "birth_registration"])
    assert result.exit_code == 1, result.output
    assert "birth_registration/refusals.json is not JSON" in result.output
    assert "nothing was promoted" in result.output and "Traceback" not in result.output
    assert str(tmp_path) not in result.output  # named within the models folder
    assert kept.read_text() == '[{"version": "2"'
    assert not (tmp_path / "mlflow.db").exists()  # stopped before the registry was opened


def test_rollback_and_promote_stop_on_a_history_they_cannot_read(tmp_path, monkeypatch):
    kept = tmp_path / "models" / "birth_registration" / "history.json"
    kept.parent.mkdir(parents=True)
    kept.write_text("[1, 2")
    rollback, promote = _invoke(
        tmp_path,
        monkeypatch,
        ["rollback", "--service", "birth_registration"],
        ["promote", "--service", "birth_registration"],
    )
    for result, what in ((rollback, "rolled back"), (promote, "promoted")):
        assert result.exit_code == 1, result.output
        assert "birth_registration/history.json is not JSON" in result.output
        assert f"nothing was {what}" in result.output and "Traceback" not in result.output
        assert str(tmp_path) not in result.output
    assert kept.read_text() == "[1, 2"
    assert not (tmp_path / "mlflow.db").exists()  # stopped before the registry was opened


def test_model_commands_stop_on_a_store_that_keeps_its_runs_elsewhere(tmp_path, monkeypatch):
    from needs_model.modelling import tracking
    from needs_model.settings import Settings

    store = tmp_path / "store"
    tracking.configure(
        Settings(
            mlflow_tracking_uri=f"sqlite:///{store}/mlflow.db",
            mlflow_artifact_root=store / "artifacts",
        )
    )
    trained, promoted = _invoke(
        tmp_path,
        monkeypatch,
        ["train", "--service", "birth_registration", "--features", str(tmp_path)],
        ["promote", "--service", "birth_registration"],
        mlflow_tracking_uri=f"sqlite:///{store}/mlflow.db",
        mlflow_artifact_root=tmp_path / "elsewhere",
    )
    results = {"trained": trained, "promoted": promoted}
    for what, result in results.items():
        assert result.exit_code == 1, (what, result.output)
        assert "keeps the runs of experiment 'needs'" in result.output, result.output
        assert f"NEEDS_MLFLOW_ARTIFACT_ROOT={store / 'artifacts'}" in result.output
        assert "nothing was" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "elsewhere").exists()


def test_promote_without_a_challenger_says_so_and_is_no_refusal(tmp_path, monkeypatch):
    (result,) = _invoke(
        tmp_path, monkeypatch, ["promote", "--strict", "--service", "birth_registration"]
    )
    assert result.exit_code == 0, result.output  # --strict exits 3 only on a refusal
    assert "no challenger in the registry: train first" in result.output
    assert "refused" not in result.output
    assert not (tmp_path / "models" / "birth_registration" / "refusals.json").exists()


@pytest.fixture
def pipeline_settings(province, tmp_path, monkeypatch):
    """Every folder a command uses, from the environment (no path on any command line)."""
    _, raw = province
    folders = {
        "NEEDS_RAW_DIR": raw,
        "NEEDS_LINKED_DIR": tmp_path / "linked",
        "NEEDS_FEATURES_DIR": tmp_path / "features",
        "NEEDS_SCORES_DIR": tmp_path / "scores",
        "NEEDS_MODELS_DIR": tmp_path / "models",
        "NEEDS_REPORTS_DIR": tmp_path / "reports",
        "NEEDS_MLFLOW_ARTIFACT_ROOT": tmp_path / "mlflow" / "artifacts",
    }
    for name, value in folders.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("NEEDS_MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path}/mlflow/mlflow.db")
    (tmp_path / "mlflow").mkdir()
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output)
    return result.output


TWO = ("--service", "birth_registration", "--service", "medical_license_renewal")
FIRST, LAST = dt.date(2024, 1, 31), dt.date(2025, 9, 30)


def _one_pass() -> None:
    """`make run` without simulate and serve: the folders come from the settings."""
    _run("validate", str(get_settings().raw_dir), "--report", str(get_settings().reports_dir))
    _run("link", "--as-of", "2024-12-31")
    _run("features", "--as-of", FIRST.isoformat(), "--through", LAST.isoformat())
    _run("train", "--fast", *TWO)
    _run("promote", *TWO)
    _run("score")
    _run("monitor")


# Two whole passes (features for 21 month ends, training, scoring, monitoring) take three to
# four minutes: the slow suite, which CI runs in a step of its own.
@pytest.mark.slow
def test_a_second_make_run_pass_reuses_what_the_first_wrote(pipeline_settings):
    settings = pipeline_settings
    _one_pass()
    linked = settings.linked_dir / "2024-12-31"
    assert {p.name for p in linked.iterdir()} == {
        "links.parquet",
        "consistency.parquet",
        "consistency.md",
        "consistency.html",
    }
    features = {
        p.relative_to(settings.features_dir): p.read_bytes()
        for p in settings.features_dir.rglob("*.parquet")
    }
    assert len(features) == 7 * 21  # every service, every month end of 2024-01..2025-09
    (first_folder,) = [p for p in settings.scores_dir.iterdir()]
    first = ScoredSnapshot(first_folder)
    assert first_folder.name == "2025-12-31"  # the data's end, by default
    # What the gate let through is the province's business (on this small one the medical
    # licences may be refused); births always pass, and what is served is what is scored.
    served = {s for s in TWO[1::2] if current_version(settings.models_dir, s) is not None}
    assert "birth_registration" in served
    assert first.manifest()["models"] == {s: "1" for s in served}
    # The monitor ran on the newest snapshot for every served service.
    latest = json.loads((settings.reports_dir / "monitoring" / "latest.json").read_text())
    assert latest["as_of"] == LAST.isoformat() and set(latest["services"]) == served
    assert latest["not_monitored"] == []
    first_scores = {s: first.read("subjects", s) for s in first.manifest()["models"]}

    _one_pass()
    # Nothing half-written or left aside; the same date's snapshot replaced in place.
    assert [p.name for p in settings.scores_dir.iterdir()] == ["2025-12-31"]
    assert not list(settings.features_dir.rglob(".*"))
    again = {
        p.relative_to(settings.features_dir): p.read_bytes()
        for p in settings.features_dir.rglob("*.parquet")
    }
    assert again == features  # the same extracts give the same bytes
    second = ScoredSnapshot(settings.scores_dir / "2025-12-31")
    # The second training registered version 2; the same data and seed give the same model,
    # which passes the gate against itself and is served.
    assert second.manifest()["models"] == {s: "2" for s in served}
    for service_id, before in first_scores.items():
        after = second.read("subjects", service_id)
        assert (after["model_version"] == "2").all()
        pd.testing.assert_frame_equal(
            before.drop(columns="model_version"), after.drop(columns="model_version")
        )
    # The API starts on what the second pass wrote.
    store = load_store(second.folder, settings.models_dir)
    assert set(store.services) == served

    output = _run("rollback", "--service", "birth_registration")
    assert "rolled back to version 1" in output
    _run("score")
    models = ScoredSnapshot(settings.scores_dir / "2025-12-31").manifest()["models"]
    assert models == {s: "1" if s == "birth_registration" else "2" for s in served}


def test_score_with_nothing_served_says_so(pipeline_settings):
    result = runner.invoke(app, ["score"])
    assert result.exit_code == 1, result.output
    assert "train and promote first" in result.output and "Traceback" not in result.output


def test_keys_commands_and_their_errors(tmp_path):
    for args, message in (
        (["--role", "mayor"], "--role 'mayor' is not one of"),
        (["--role", "planner", "--scope", "district:999"], "999"),
        (["--role", "planner", "--expires", "2020-01-01"], "in the past"),
        (["--role", "planner", "--expires", "soon"], "not a duration"),
    ):
        result = runner.invoke(app, ["keys", "create", *args])
        assert result.exit_code == 2, (args, result.output)
        assert message in result.output and "Traceback" not in result.output
    key_file = tmp_path / "key"
    result = runner.invoke(
        app, ["keys", "create", "--role", "auditor", "--label", "cli test", "--out", str(key_file)]
    )
    assert result.exit_code == 0, result.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    secret = key_file.read_text().strip()
    key_id = result.output.split("Created key ")[1].split()[0]
    listed = runner.invoke(app, ["keys", "list"], env={"COLUMNS": "250"}).output
    assert key_id in listed and "cli test" in listed and secret not in listed
    assert key_id in _run("keys", "list")  # whole even on a narrow terminal
    assert f"Revoked {key_id}" in _run("keys", "revoke", key_id)
    result = runner.invoke(app, ["keys", "revoke", key_id])
    assert result.exit_code == 1 and f"no active key {key_id}" in result.output


def test_the_docs_commands_write_the_committed_docs(tmp_path):
    root = Path(__file__).resolve().parents[2]
    for command, committed in (
        ("features-docs", root / "docs" / "features.md"),
        ("contract-docs", root / "docs" / "data-contract.md"),
    ):
        _run(command, "--out", str(tmp_path / committed.name))
        assert (tmp_path / committed.name).read_bytes() == committed.read_bytes(), command


def test_every_command_is_invoked_by_some_test():
    """A new command comes with a test through the CLI (this folder or tests/api)."""
    import typer.main

    group = typer.main.get_command(app)
    names = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        sub = getattr(command, "commands", None)
        names += [f'"{name}", "{s}"' for s in sub] if sub else [f'"{name}"']
    tests = Path(__file__).resolve().parents[1]
    sources = "".join(p.read_text(encoding="utf-8") for p in tests.rglob("test_*.py"))
    sources = sources.replace("\n", " ")
    missing = [n for n in names if f"({n}" not in sources and f"[{n}" not in sources]
    assert not missing
