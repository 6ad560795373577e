"""The auditors' pages over the API: the index and the data sheets for auditors, data
scientists and admins, the model card for every role (planners included), every read in
the audit log, a policy that lets nothing run or be fetched; and, in a real browser, an
auditor browsing from the index to a card whose every image renders, offline."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine
from needs_model.modelling.promotion import REFUSALS_FILE, current_version, record_refusal
from tests.api.conftest import own_database
from tests.api.test_docs_offline import Visit, chromium, serving  # noqa: F401 (fixture)
from tests.conftest import PROMOTER, REPORTED_SERVICE

ROLES = ("planner", "auditor", "data_scientist", "admin")


def _settings(promoted, folder):
    return own_database(promoted, folder).model_copy(
        update={"audit_signing_key": "test-signing-key"}
    )


@pytest.fixture(scope="module")
def app(promoted, served, tmp_path_factory):
    settings = _settings(promoted, tmp_path_factory.mktemp("reports-api"))
    engine = make_engine(settings.database_url)
    keys = {role: create_key(engine, role, Scope("province"))[1] for role in ROLES}
    with TestClient(create_app(settings, store=served.store, engine=engine)) as client:
        yield client, keys, engine


def _get(app, path, role):
    client, keys, _ = app
    return client.get(path, headers={"Authorization": f"Bearer {keys[role]}"})


def test_auditors_read_the_index_a_card_and_a_sheet_and_each_read_is_logged(app):
    _, _, engine = app
    index = _get(app, "/v1/reports", "auditor")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert f'href="/v1/reports/models/{REPORTED_SERVICE}"' in index.text
    assert 'href="/v1/reports/sources/registry__people"' in index.text
    card = _get(app, f"/v1/reports/models/{REPORTED_SERVICE}", "auditor")
    assert card.status_code == 200 and PROMOTER in card.text
    assert f"/v1/monitoring/{REPORTED_SERVICE}/report?as_of=2025-09-30" in card.text
    sheet = _get(app, "/v1/reports/sources/registry__people", "auditor")
    assert sheet.status_code == 200 and "registry/people" in sheet.text
    policy = card.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    actions = [e["action"] for e in audit.read(engine, after_seq=0, limit=100)]
    assert {"read_reports_index", "read_model_card", "read_data_sheet"} <= set(actions)


def test_planners_read_the_model_card_only(app):
    assert _get(app, f"/v1/reports/models/{REPORTED_SERVICE}", "planner").status_code == 200
    assert _get(app, "/v1/reports", "planner").status_code == 403
    assert _get(app, "/v1/reports/sources/registry__people", "planner").status_code == 403


def test_a_challenger_refused_after_the_card_was_read_is_on_the_card_read_next(app, promoted):
    path = f"/v1/reports/models/{REPORTED_SERVICE}"
    before = _get(app, path, "auditor")
    assert before.status_code == 200 and "Challengers the gate refused" not in before.text
    served = current_version(promoted.models_dir, REPORTED_SERVICE)
    refusal = {
        "version": "9",
        "refused_at": "2027-06-30T08:00:00+00:00",
        "refused_by": "retrain --if-needed",
        "champion": served,
        "failures": ["calibration: ECE above the gate's floor on 4 of 6 month ends"],
        "test_window": ["2026-01-31", "2026-06-30"],
        "test_auc": 0.9,
        "served_instead": None,
    }
    record_refusal(promoted.models_dir, REPORTED_SERVICE, refusal)
    try:
        after = _get(app, path, "auditor")
        assert "calibration: ECE above the gate&#x27;s floor on 4 of 6 month ends" in after.text
    finally:
        (promoted.models_dir / REPORTED_SERVICE / REFUSALS_FILE).unlink()


def test_what_is_not_there_is_named(app):
    missing = _get(app, "/v1/reports/models/birth_registration", "auditor")
    assert missing.status_code == 404 and "birth_registration: no model is served" in missing.text
    unknown = _get(app, "/v1/reports/sources/health__x", "auditor")
    assert unknown.status_code == 404 and "unknown table 'health__x'" in unknown.text
    assert _get(app, "/v1/reports/sources/..%2Fetc", "auditor").status_code in (404, 422)


# --- a real browser: from the index to a card, offline -------------------------------------


@pytest.fixture(scope="module")
def live(promoted, served, tmp_path_factory) -> Iterator[tuple[str, str]]:
    settings = _settings(promoted, tmp_path_factory.mktemp("reports-browser"))
    engine = make_engine(settings.database_url)
    key = create_key(engine, "auditor", Scope("province"))[1]
    with serving(create_app(settings, store=served.store, engine=engine)) as origin:
        yield origin, key


@pytest.mark.browser
def test_an_auditor_browses_from_the_index_to_a_model_card_offline(chromium, live):  # noqa: F811
    origin, key = live
    visit = Visit(chromium, origin)
    # As an auditor would: the sign-in form, then the index from the cookie.
    page = visit.open("/v1/reports/sign-in")
    page.fill("input[name=key]", key)
    page.get_by_role("button", name=re.compile("Sign in")).click()
    page.wait_for_url(re.compile("/v1/reports$"))
    page.get_by_role("link", name=re.compile("Tuyển sinh|School", re.I)).first.click()
    page.wait_for_url(re.compile(f"/v1/reports/models/{REPORTED_SERVICE}$"))
    page.wait_for_load_state("networkidle")
    widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/model-card.png", full_page=True)
    visit.context.close()
    assert len(widths) >= 6 and all(w > 0 for w in widths), widths
    assert visit.refused == [] and visit.failed == []
    assert all(visit.same_origin(u) for u in visit.requests), visit.requests
    assert visit.problems() == []


# --- one citizen's explanation --------------------------------------------------------------


@pytest.fixture(scope="module")
def served_app(served, tmp_path_factory):
    settings = own_database(served.settings, tmp_path_factory.mktemp("explanation-api"))
    engine = make_engine(settings.database_url)
    keys = {role: create_key(engine, role, Scope("province"))[1] for role in ROLES}
    with TestClient(create_app(settings, store=served.store, engine=engine)) as client:
        yield client, keys, engine


def _prepared(served) -> str:
    table = served.store.services["birth_registration"]
    return next(
        str(table.subject_ids[r])
        for r in table.order
        if str(table.subject_ids[r]) in table.dossiers
    )


def test_an_auditor_reads_a_citizens_explanation_and_the_read_is_logged(served, served_app):
    cccd = _prepared(served)
    path = f"/v1/citizens/{cccd}/explanation?service=birth_registration&purpose=complaint"
    page = _get(served_app, path, "auditor")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "If a record is wrong" in page.text and cccd in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    (entry,) = audit.read(served_app[2], subject=cccd, actions=["explain_citizen"])
    assert entry["purpose"] == "complaint" and entry["role"] == "auditor"
    # The page lists the read that produced it.
    assert "GET /v1/citizens/{cccd}/explanation" in page.text


def test_only_auditors_and_admins_read_explanations(served, served_app):
    cccd = _prepared(served)
    path = f"/v1/citizens/{cccd}/explanation?service=birth_registration"
    assert _get(served_app, path, "planner").status_code == 403
    assert _get(served_app, path, "data_scientist").status_code == 403
    assert _get(served_app, path, "admin").status_code == 200


def test_a_citizen_without_that_service_or_a_bad_service_is_named(served, served_app):
    cccd = _prepared(served)
    other = _get(
        served_app,
        f"/v1/citizens/{cccd}/explanation?service=veterinary_certificate_renewal",
        "auditor",
    )
    assert other.status_code == 404 and "veterinary_certificate_renewal" in other.text
    bad = _get(served_app, f"/v1/citizens/{cccd}/explanation?service=passport", "auditor")
    assert bad.status_code == 422


@pytest.fixture(scope="module")
def live_served(served, tmp_path_factory) -> Iterator[tuple[str, str]]:
    settings = own_database(served.settings, tmp_path_factory.mktemp("explanation-browser"))
    engine = make_engine(settings.database_url)
    key = create_key(engine, "auditor", Scope("province"))[1]
    with serving(create_app(settings, store=served.store, engine=engine)) as origin:
        yield origin, key


@pytest.mark.browser
def test_an_auditor_opens_a_citizens_explanation_offline(chromium, served, live_served):  # noqa: F811
    origin, key = live_served
    cccd = _prepared(served)
    visit = Visit(chromium, origin)
    visit.context.set_extra_http_headers({"Authorization": f"Bearer {key}"})
    page = visit.open(f"/v1/citizens/{cccd}/explanation?service=birth_registration")
    page.get_by_text("If a record is wrong").wait_for()
    page.wait_for_load_state("networkidle")
    widths = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
    Path("test-artifacts").mkdir(exist_ok=True)
    page.screenshot(path="test-artifacts/citizen-explanation.png", full_page=True)
    # Its links lead to the data sheets and the model card, which open too.
    page.get_by_role("link", name="registry/people").first.click()
    page.wait_for_url(re.compile("/v1/reports/sources/registry__people$"))
    visit.context.close()
    assert widths and all(w > 0 for w in widths), widths
    assert visit.refused == [] and visit.failed == []
    assert all(visit.same_origin(u) for u in visit.requests), visit.requests
    assert visit.problems() == []


# --- signing in from a browser ----------------------------------------------------------------


def test_signing_in_keeps_the_key_in_a_cookie_that_only_reads_pages(app):
    client, keys, engine = app
    form = client.get("/v1/reports/sign-in")
    assert form.status_code == 200 and 'name="key"' in form.text
    client.cookies.clear()
    answer = client.post(
        "/v1/reports/sign-in",
        content=f"key={keys['auditor']}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/v1/reports"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/v1" in cookie
    # A page reads with the cookie alone; a write does not.
    index = client.get("/v1/reports")
    assert index.status_code == 200 and "Sign out" in index.text
    write = client.post("/v1/outcomes", json={"outcomes": []})
    assert write.status_code == 401
    assert "sign_in" in [e["action"] for e in audit.read(engine, after_seq=0, limit=1000)]
    out = client.post("/v1/reports/sign-out", follow_redirects=False)
    assert out.status_code == 303 and 'needs_key=""' in out.headers["set-cookie"]
    client.cookies.clear()
    assert client.get("/v1/reports").status_code == 401


def test_a_wrong_key_is_told_on_the_form_and_a_planner_lands_on_a_card(app):
    client, keys, _ = app
    client.cookies.clear()
    wrong = client.post(
        "/v1/reports/sign-in",
        content="key=needs_0000_nothing",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert wrong.status_code == 401 and "Not signed in: the key is unknown." in wrong.text
    planner = client.post(
        "/v1/reports/sign-in",
        content=f"key={keys['planner']}",
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert planner.headers["location"] == f"/v1/reports/models/{REPORTED_SERVICE}"
    client.cookies.clear()
