"""GET /v1/monitoring and the Evidently page: auditors and data scientists read them,
planners do not, every read is in the audit log, and the page may load nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from needs_model.catalogue.features import features_for
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine
from needs_model.monitoring import drift
from tests.api.conftest import own_database
from tests.api.test_docs_offline import Visit, chromium, serving  # noqa: F401 (fixture)
from tests.monitoring.test_drift import SERVICE, _rows

PAGE = "<html><script>window.drawDashboard = 1</script><body>drift</body></html>"


def _own_state(served, folder):
    """The served province's settings with a database and reports folder of its own."""
    return own_database(served.settings, folder).model_copy(
        update={"reports_dir": folder / "reports"}
    )


@pytest.fixture(scope="module")
def app(served, tmp_path_factory):
    settings = _own_state(served, tmp_path_factory.mktemp("monitoring-api"))
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
    (root / as_of / "birth_registration").mkdir(parents=True, exist_ok=True)
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
        "sources": [
            {
                "table": "registry/people",
                "agency": "registry",
                "rows": {"month": 1200, "reference": 14000},
                "judged": True,
                "findings": ["registry/people: province_code has 1 value(s) never recorded"],
            }
        ],
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
        (table,) = body["sources"]
        assert table["table"] == "registry/people" and table["findings"][0].endswith("recorded")
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


def test_the_history_gives_each_services_months_as_given_and_is_logged(app):
    _, _, settings, engine = app
    _write_run(settings, "2025-09-30")
    _write_run(settings, "2025-10-31")
    body = _get(app, "/v1/monitoring/history", "data_scientist").json()
    assert body["runs"][-2:] == ["2025-09-30", "2025-10-31"]
    births = body["services"]["birth_registration"]
    assert (births["months"], births["warn"], births["retrain"]) == (len(body["runs"]),) * 2 + (0,)
    last = births["statuses"][-1]
    assert last["as_of"] == "2025-10-31" and last["reasons"] == ["3 of 10 features drifted"]
    one = _get(app, "/v1/monitoring/history?from=2025-10-01&to=2025-10-31", "auditor").json()
    assert one["runs"] == ["2025-10-31"] and one["services"]["birth_registration"]["months"] == 1
    other = _get(app, "/v1/monitoring/history?service=school_admission", "auditor").json()
    assert other["services"] == {}
    logged = [e for e in audit.read(engine, after_seq=0, limit=500) if "history" in e["action"]]
    assert [e["action"] for e in logged] == ["read_monitoring_history"] * 3


def test_the_history_refuses_a_backward_range_and_names_an_empty_one(app):
    _, _, settings, _ = app
    _write_run(settings, "2025-11-30")
    backward = _get(app, "/v1/monitoring/history?from=2025-12-31&to=2025-01-31", "auditor")
    assert backward.status_code == 422 and "from 2025-12-31 is after to 2025-01-31" in backward.text
    empty = _get(app, "/v1/monitoring/history?to=2020-01-31", "auditor")
    assert empty.status_code == 404 and "to 2020-01-31" in empty.text
    assert _get(app, "/v1/monitoring/history?from=2025-13-01", "auditor").status_code == 422
    assert _get(app, "/v1/monitoring/history", "planner").status_code == 403
    # A run that cannot be read is named (within the reports folder), the others served.
    (settings.reports_dir / "monitoring" / "2025-12-31").mkdir()
    (settings.reports_dir / "monitoring" / "2025-12-31" / "status.json").write_text("{")
    body = _get(app, "/v1/monitoring/history?from=2025-11-01", "auditor").json()
    assert body["runs"] == ["2025-11-30"]
    (problem,) = body["unreadable"]
    assert problem.startswith("2025-12-31: monitoring/2025-12-31/status.json is not JSON")
    assert str(settings.reports_dir) not in problem


# --- a real browser: Evidently's page under its policy, offline ---------------------------


@pytest.fixture(scope="module")
def live_report(served, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """A real Evidently page of a monitoring run, served over HTTP by the app; (origin, key)."""
    settings = _own_state(served, tmp_path_factory.mktemp("monitoring-browser"))
    _write_run(settings, "2025-09-30")
    reference, current = _rows(3000, 1), _rows(3000, 2, age_shift=4.0)
    rng = np.random.default_rng(0)
    snapshot, _ = drift.evidently_report(
        drift.scored_columns(reference, features_for(SERVICE), rng.beta(1, 20, 3000)),
        drift.scored_columns(current, features_for(SERVICE), rng.beta(1, 20, 3000)),
        features_for(SERVICE),
    )
    drift.save_html(
        snapshot, settings.reports_dir / "monitoring" / "2025-09-30" / SERVICE / "report.html"
    )
    engine = make_engine(settings.database_url)
    key = create_key(engine, "auditor", Scope("province"))[1]
    with serving(create_app(settings, store=served.store, engine=engine)) as origin:
        yield origin, key


@pytest.mark.browser
def test_the_drift_report_renders_offline_under_its_csp(chromium, live_report):  # noqa: F811
    origin, key = live_report
    visit = Visit(chromium, origin)
    visit.context.set_extra_http_headers({"Authorization": f"Bearer {key}"})
    page = visit.open(f"/v1/monitoring/{SERVICE}/report")
    page.get_by_text("age_years").first.wait_for(timeout=60_000)
    page.wait_for_load_state("networkidle")
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/monitoring-report.png", full_page=False)
    visit.context.close()
    assert visit.refused == [] and visit.failed == []
    assert all(visit.same_origin(u) for u in visit.requests), visit.requests
    assert visit.problems() == []
