"""GET /v1/monitoring and the Evidently page: auditors and data scientists read them,
planners do not, every read is in the audit log, and the page may load nothing."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine

PAGE = "<html><script>window.drawDashboard = 1</script><body>drift</body></html>"


@pytest.fixture(scope="module")
def app(served, tmp_path_factory):
    folder = tmp_path_factory.mktemp("monitoring-api")
    settings = served.settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'service.db'}",
            "audit_checkpoint_dir": folder / "checkpoints",
            "reports_dir": folder / "reports",
        }
    )
    engine = make_engine(settings.database_url)
    keys = {
        role: create_key(engine, role, Scope("province"))[1]
        for role in ("planner", "auditor", "data_scientist")
    }
    with TestClient(create_app(settings, store=served.store, engine=engine)) as client:
        yield client, keys, settings, engine


def _get(app, path, role):
    client, keys, _, _ = app
    return client.get(path, headers={"Authorization": f"Bearer {keys[role]}"})


def _write_run(settings, as_of):
    root = settings.reports_dir / "monitoring"
    (root / as_of / "birth_registration").mkdir(parents=True)
    (root / as_of / "birth_registration" / "report.html").write_text(PAGE, encoding="utf-8")
    status = {
        "as_of": as_of,
        "generated_at": "2026-12-05T00:00:00+00:00",
        "services": {
            "birth_registration": {
                "status": "warn",
                "reasons": ["3 of 10 features drifted"],
                "champion_version": "4",
                "summary": f"{as_of}/birth_registration/summary.json",
                "report": f"{as_of}/birth_registration/report.html",
            }
        },
        "not_monitored": [],
    }
    for path in (root / as_of / "status.json", root / "latest.json"):
        path.write_text(json.dumps(status), encoding="utf-8")


def test_monitoring_before_any_run_is_a_clear_404(app):
    response = _get(app, "/v1/monitoring", "auditor")
    assert response.status_code == 404
    assert "needs-model monitor" in response.text


def test_auditors_and_data_scientists_read_the_status_and_the_page(app):
    _, _, settings, engine = app
    _write_run(settings, "2025-09-30")
    for role in ("auditor", "data_scientist"):
        body = _get(app, "/v1/monitoring", role).json()
        assert body["services"]["birth_registration"]["status"] == "warn"
        assert body["runs"] == ["2025-09-30"]
    page = _get(app, "/v1/monitoring/birth_registration/report", "auditor")
    assert page.status_code == 200 and page.text == PAGE
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src" not in policy
    actions = [e["action"] for e in audit.read(engine, after_seq=0, limit=100)]
    assert actions.count("read_monitoring") == 2 and "read_monitoring_report" in actions


def test_planners_are_refused(app):
    assert _get(app, "/v1/monitoring", "planner").status_code == 403
    assert _get(app, "/v1/monitoring/birth_registration/report", "planner").status_code == 403


def test_a_service_or_date_not_monitored_is_a_404_naming_it(app):
    response = _get(app, "/v1/monitoring/school_admission/report", "auditor")
    assert response.status_code == 404 and "school_admission" in response.text
    response = _get(app, "/v1/monitoring?as_of=2024-01-31", "auditor")
    assert response.status_code == 404 and "2024-01-31" in response.text
    assert _get(app, "/v1/monitoring/nothing/report", "auditor").status_code == 422
