"""One citizen's explanation: the contributions are the served model's exact ones and add up
to the score the batch gave; the page shows the score, the reasons in both languages, every
source with its date, the dossier with its sources, what to do if a record is wrong and the
access log; the command reads with an auditor's key, within its scope, and logs the read."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from needs_model.cli.main import app
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine
from needs_model.reports.citizen import CaseError, citizen_file, render_citizen_file
from needs_model.scoring.snapshot import ScoredSnapshot
from needs_model.settings import get_settings

runner = CliRunner()


def _prepared_subject(served, service_id: str) -> str:
    """The highest-scored subject with a prepared dossier."""
    snapshot = ScoredSnapshot(served.snapshot)
    subjects = snapshot.read("subjects", service_id).sort_values("probability", ascending=False)
    prepared = set(snapshot.read("dossiers", service_id)["subject_id"].astype(str))
    return next(s for s in subjects["subject_id"].astype(str) if s in prepared)


def test_the_contributions_are_exact_and_add_up_to_the_batch_score(served):
    cccd = _prepared_subject(served, "birth_registration")
    file = citizen_file(served.snapshot, served.settings.models_dir, cccd, "birth_registration")
    (case,) = [c for c in file.cases if c.subject_id == cccd]
    margin = case.contributions.sum()
    assert margin == pytest.approx(
        float(case.model.margin(pd.DataFrame([case.values], columns=case.features))[0])
    )
    assert float(case.model.calibrator(np.array([margin]))[0]) == pytest.approx(
        case.probability, abs=1e-9
    )
    assert case.prepared and case.relation is None


def test_the_page_shows_why_from_which_records_and_what_to_do(served):
    cccd = _prepared_subject(served, "birth_registration")
    file = citizen_file(served.snapshot, served.settings.models_dir, cccd, "birth_registration")
    html = render_citizen_file(file, [])
    (case,) = [c for c in file.cases if c.subject_id == cccd]
    assert f"{case.probability:.1%}" in html
    for vi, en in zip(case.reasons["vi"], case.reasons["en"], strict=True):
        assert vi.text.replace("'", "&#x27;") in html and en.text.replace("'", "&#x27;") in html
    manifest = ScoredSnapshot(served.snapshot).manifest()
    for table_name in manifest["service_sources"]["birth_registration"]:
        assert table_name in html and manifest["sources"][table_name] in html
    assert "If a record is wrong" in html and "91/2025/QH15" in html
    assert "No one has read this person&#x27;s data." in html
    assert "it never denies a service" in html
    # The prefilled values are the dossier's.
    dossier = ScoredSnapshot(served.snapshot).read("dossiers", "birth_registration")
    row = dossier[dossier["subject_id"].astype(str) == cccd].iloc[0]
    assert str(row["mother.full_name"]) in html
    assert re.search(r'<img src="data:image/png;base64,', html)


def test_a_parent_sees_their_childs_case_with_the_relation(served):
    snapshot = ScoredSnapshot(served.snapshot)
    subjects = snapshot.read("subjects", "school_admission")
    row = subjects[subjects["contact_cccd"].notna()].iloc[0]
    file = citizen_file(
        served.snapshot, served.settings.models_dir, str(row["contact_cccd"]), "school_admission"
    )
    child = next(c for c in file.cases if c.subject_id == str(row["subject_id"]))
    assert child.relation == row["contact_relation"]
    assert f"Subject {child.subject_id} ({child.relation})" in render_citizen_file(file, [])


def test_a_citizen_without_a_case_is_named_not_guessed(served):
    with pytest.raises(
        CaseError, match="000000000000 is neither a subject nor a contact of birth_registration"
    ):
        citizen_file(
            served.snapshot, served.settings.models_dir, "000000000000", "birth_registration"
        )


@pytest.fixture
def cli_settings(served, tmp_path, monkeypatch):
    for name, value in {
        "NEEDS_MODELS_DIR": served.settings.models_dir,
        "NEEDS_SCORES_DIR": served.settings.scores_dir,
        "NEEDS_REPORTS_DIR": tmp_path / "reports",
    }.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("NEEDS_DATABASE_URL", f"sqlite:///{tmp_path}/service.db")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


def test_explain_reads_with_an_auditors_key_and_logs_the_read(served, cli_settings, tmp_path):
    cccd = _prepared_subject(served, "birth_registration")
    engine = make_engine(cli_settings.database_url)
    auditor = create_key(engine, "auditor", Scope("province"))[1]
    planner = create_key(engine, "planner", Scope("province"))[1]
    out = tmp_path / "case.html"
    args = ["explain", "--cccd", cccd, "--service", "birth_registration", "--out", str(out)]
    refused = runner.invoke(app, [*args, "--key", planner])
    assert refused.exit_code == 1 and "a planner's key cannot read" in refused.output
    assert not out.exists()
    done = runner.invoke(app, [*args, "--key", auditor, "--purpose", "complaint 12/2026"])
    assert done.exit_code == 0, done.output
    (entry,) = audit.read(engine, subject=cccd, actions=["explain_citizen"])
    assert entry["role"] == "auditor" and entry["purpose"] == "complaint 12/2026"
    html = out.read_text(encoding="utf-8")
    # The page's access log holds the read that wrote it.
    assert "explain_citizen" in html and "complaint 12/2026" in html
    wrong = runner.invoke(app, [*args, "--key", "needs_x_y"])
    assert wrong.exit_code == 1 and "the key is unknown" in wrong.output


def test_explain_stays_within_the_keys_scope(served, cli_settings, tmp_path):
    cccd = _prepared_subject(served, "birth_registration")
    person = served.store.people.get(cccd)
    engine = make_engine(cli_settings.database_url)
    elsewhere = next(c for c in served.store.commune_codes if c != person["commune_code"])
    key = create_key(engine, "auditor", Scope("commune", elsewhere))[1]
    result = runner.invoke(
        app,
        [
            "explain",
            "--cccd",
            cccd,
            "--service",
            "birth_registration",
            "--key",
            key,
            "--out",
            str(tmp_path / "x.html"),
        ],
    )
    assert result.exit_code == 1 and f"in the scope commune:{elsewhere}" in result.output
    assert audit.read(engine, subject=cccd) == []
