"""`needs-model report`: the index, a card per served service and a sheet per extract, as
files whose links all lead somewhere, written whole."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from needs_model.cli.main import app
from needs_model.extracts import contract
from needs_model.settings import get_settings
from tests.conftest import REPORTED_SERVICE as SERVICE

runner = CliRunner()


def _environment(monkeypatch, settings) -> None:
    for name, value in {
        "NEEDS_RAW_DIR": settings.raw_dir,
        "NEEDS_LINKED_DIR": settings.linked_dir,
        "NEEDS_FEATURES_DIR": settings.features_dir,
        "NEEDS_MODELS_DIR": settings.models_dir,
        "NEEDS_REPORTS_DIR": settings.reports_dir,
        "NEEDS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "NEEDS_MLFLOW_ARTIFACT_ROOT": settings.mlflow_artifact_root,
    }.items():
        monkeypatch.setenv(name, str(value))
    get_settings.cache_clear()


def test_the_report_command_writes_a_set_whose_links_all_lead_somewhere(promoted, monkeypatch):
    _environment(monkeypatch, promoted)
    try:
        result = runner.invoke(app, ["report"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert f"Wrote 1 model card(s), {len(contract.TABLES)} data sheet(s)" in result.output
    out = promoted.reports_dir
    pages = [out / "index.html", out / "models" / f"{SERVICE}.html"]
    pages += sorted((out / "sources").glob("*.html"))
    assert len(pages) == 2 + len(contract.TABLES)
    for path in pages:
        html = path.read_text(encoding="utf-8")
        for href in re.findall(r'href="([^"]+)"', html):
            assert (path.parent / href).resolve().exists(), (path.name, href)
    assert not list(out.rglob(".*.partial"))


def test_asking_for_a_service_that_is_not_served_is_an_error(promoted, monkeypatch):
    _environment(monkeypatch, promoted)
    try:
        result = runner.invoke(app, ["report", "--service", "birth_registration"])
        unknown = runner.invoke(app, ["report", "--service", "passport"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1 and "birth_registration: no model is served" in result.output
    assert unknown.exit_code == 2 and "unknown service(s) passport" in unknown.output


def test_each_version_keeps_its_own_card(promoted, tmp_path):
    import json
    import shutil

    from needs_model.modelling.promotion import switch_current
    from needs_model.reports.build import write_reports

    # A second version served after the first (the same bundle under another number: what
    # is tested is which card says what, not the model).
    models = tmp_path / "models"
    shutil.copytree(promoted.models_dir, models, symlinks=True)
    shutil.copytree(models / SERVICE / "1", models / SERVICE / "2")
    history = json.loads((models / SERVICE / "history.json").read_text())
    (models / SERVICE / "history.json").write_text(
        json.dumps([*history, {"version": "2", "at": "2026-12-05T08:00:00+00:00"}])
    )
    switch_current(models, SERVICE, "2")
    settings = promoted.model_copy(update={"models_dir": models})
    out = tmp_path / "set"
    write_reports(settings, out)
    old = (out / "models" / SERVICE / "v1.html").read_text(encoding="utf-8")
    new = (out / "models" / SERVICE / "v2.html").read_text(encoding="utf-8")
    assert "This version is no longer served." in old and "(version 1)" in old
    assert "This version is no longer served." not in new and "(version 2)" in new
    current = (out / "models" / f"{SERVICE}.html").read_text(encoding="utf-8")
    assert "(version 2)" in current and f'href="../models/{SERVICE}/v1.html"' in current
    # A version card's links lead somewhere from its own folder.
    for href in re.findall(r'href="([^"]+)"', old):
        if not href.startswith("../../monitoring"):
            assert (out / "models" / SERVICE / href).resolve().exists(), href
