"""The command line: clear errors and exit codes, never a traceback."""

import shutil

from typer.testing import CliRunner

from needs_model.cli.main import app

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
    for name in (
        "people.parquet",
        "households.parquet",
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
        ):
            result = runner.invoke(app, command)
            assert result.exit_code == 2, (command, result.output)
            assert "passport_renewal" in result.output and "Traceback" not in result.output
        # A known service with nothing served before it: a clear refusal, not a traceback.
        result = runner.invoke(app, ["rollback", "--service", "birth_registration"])
        assert result.exit_code == 1, result.output
        assert "birth_registration" in result.output and "Traceback" not in result.output
    finally:
        get_settings.cache_clear()
