"""Keys, roles (deny by default, every route walked) and scopes."""

from __future__ import annotations

import datetime as dt

import pytest

from api.main import create_app
from api.security import (
    PUBLIC_PATHS,
    api_routes,
    check_every_route_declares_roles,
    declared_roles,
    language,
)
from needs_model.governance.access import (
    Principal,
    Scope,
    ScopeError,
    authenticate,
    parse_scope,
    revoke_key,
)

ALL = {"planner", "auditor", "data_scientist", "admin"}
# Who may call what, written from the issue (not read from the code).
EXPECTED_ROLES = {
    ("GET", "/v1/services"): ALL,
    ("POST", "/v1/predictions"): ALL,
    ("GET", "/v1/citizens/{cccd}/needs"): {"planner", "admin"},
    ("GET", "/v1/services/{service_id}/candidates"): {"planner", "admin"},
    ("GET", "/v1/forecast"): {"planner", "data_scientist", "admin"},
    ("POST", "/v1/outcomes"): {"planner", "admin"},
    ("GET", "/v1/outcomes/summary"): ALL,
    ("GET", "/v1/audit/log"): {"auditor", "admin"},
    ("GET", "/v1/citizens/{cccd}/access-log"): {"auditor", "admin"},
    ("GET", "/v1/monitoring"): {"auditor", "data_scientist", "admin"},
    ("GET", "/v1/monitoring/{service_id}/report"): {"auditor", "data_scientist", "admin"},
    ("GET", "/v1/monitoring/history"): {"auditor", "data_scientist", "admin"},
    ("GET", "/v1/reports"): {"auditor", "data_scientist", "admin"},
    ("GET", "/v1/reports/models/{service_id}"): {"planner", "auditor", "data_scientist", "admin"},
    ("GET", "/v1/reports/sources/{table}"): {"auditor", "data_scientist", "admin"},
    ("GET", "/v1/citizens/{cccd}/explanation"): {"auditor", "admin"},
}


def _routes(app):
    return {
        (method, r.path): r
        for r in api_routes(app)
        for method in r.methods
        if r.path not in PUBLIC_PATHS
    }


def test_every_route_declares_exactly_the_roles_the_issue_gives(api):
    routes = _routes(api.client.app)
    assert set(routes) == set(EXPECTED_ROLES)
    for key, route in routes.items():
        assert set(declared_roles(route) or ()) == EXPECTED_ROLES[key], key


def test_a_route_without_declared_roles_is_refused_when_the_app_is_built(served):
    app = create_app(served.settings, store=served.store, engine=object())

    @app.get("/v1/forgotten")
    def forgotten() -> dict[str, str]:
        return {"leak": "yes"}

    with pytest.raises(RuntimeError, match="/v1/forgotten"):
        check_every_route_declares_roles(app)


def test_a_router_route_without_declared_roles_is_refused_too(served):
    """Routes arrive through routers: the check must look inside them."""
    from fastapi import APIRouter

    app = create_app(served.settings, store=served.store, engine=object())
    router = APIRouter(tags=["forgotten"])

    @router.get("/v1/forgotten-in-a-router")
    def forgotten() -> dict[str, str]:
        return {"leak": "yes"}

    app.include_router(router)
    with pytest.raises(RuntimeError, match="/v1/forgotten-in-a-router"):
        check_every_route_declares_roles(app)


def _request(api, method, path, who):
    cccd = next(iter(api.store.by_cccd))
    concrete = path.replace("{cccd}", cccd).replace("{service_id}", "birth_registration")
    if method == "GET":
        params = {"service": "birth_registration"} if path == "/v1/forecast" else {}
        return api.get(concrete, who=who, params=params)
    payload = (
        {"cccds": [cccd]}
        if path == "/v1/predictions"
        else {
            "outcomes": [{"service_id": "birth_registration", "cccd": cccd, "status": "notified"}]
        }
    )
    return api.post(concrete, who=who, json=payload)


@pytest.mark.parametrize("route", sorted(EXPECTED_ROLES))
def test_each_role_is_allowed_or_denied_per_route(api, route):
    method, path = route
    for role in sorted(ALL):
        response = _request(api, method, path, role)
        if role in EXPECTED_ROLES[route]:
            assert response.status_code != 403, (route, role, response.text)
            assert response.status_code < 500
        else:
            assert response.status_code == 403, (route, role, response.text)
            assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("route", sorted(EXPECTED_ROLES))
def test_missing_or_wrong_keys_get_401_on_every_route(api, route):
    method, path = route
    assert _request(api, method, path, None).status_code == 401
    wrong = api.keys["admin"][:-4] + "AAAA"
    call = api.client.get if method == "GET" else api.client.post
    concrete = path.replace("{cccd}", "049183332434").replace("{service_id}", "x")
    response = call(concrete, headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_health_needs_no_key_and_names_versions_and_as_of(api):
    body = api.client.get("/health").json()
    assert body["status"] == "ok"
    assert body["data_as_of"] == "2025-12-31"
    assert set(body["models"]) == set(api.store.services)
    assert "transport_business_license" in body["not_served"]


def test_keys_are_stored_hashed_and_revocation_takes_effect(api):
    from sqlalchemy import text

    key = api.keys["data_scientist"]
    key_id, secret = key.split("_")[1], key.split("_", 2)[2]
    with api.engine.connect() as connection:
        stored = connection.execute(text("SELECT * FROM api_keys")).all()
    assert stored and all(secret not in str(tuple(row)) for row in stored)
    assert isinstance(authenticate(api.engine, key), Principal)
    assert api.get("/v1/services", who="data_scientist").status_code == 200
    assert revoke_key(api.engine, key_id)
    assert authenticate(api.engine, key) == "revoked"
    response = api.get("/v1/services", who="data_scientist")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "this API key was revoked"


def test_scopes_parse_and_refuse_unknown_units():
    assert str(parse_scope("province")) == "province"
    assert parse_scope("commune:20380", {"20380"}).allows("20380", "504")
    assert not parse_scope("commune:20380").allows("20383", "504")
    assert parse_scope("district:504").allows("20999", "504")
    for bad in ("commune:2038", "district:5040", "city:1", "commune:99999"):
        with pytest.raises(ScopeError):
            parse_scope(bad, {"20380"}, {"504"})


def test_language_follows_accept_language_with_vietnamese_by_default():
    class Request:
        def __init__(self, header):
            self.headers = {"accept-language": header} if header is not None else {}

    assert language(Request(None)) == "vi"
    assert language(Request("en-GB,en;q=0.9")) == "en"
    assert language(Request("fr, en;q=0.5, vi;q=0.8")) == "vi"
    assert language(Request("de")) == "vi"


# --- Budgets, quotas and expiry ([hardening] 5) ---


def _key(api, role="planner", **budgets) -> str:
    from needs_model.governance.access import Scope, create_key

    return create_key(api.engine, role, Scope("province"), "budget test", **budgets)[1]


def test_a_key_over_its_request_budget_gets_429_with_retry_after_and_one_log_entry(api):
    from needs_model.governance import audit

    key = _key(api, requests_per_minute=5)
    headers = {"Authorization": f"Bearer {key}"}
    before = audit.head(api.engine)
    statuses = [api.client.get("/v1/services", headers=headers).status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    refused = api.client.get("/v1/services", headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 12  # a token every 12 s
    entries = audit.read(api.engine, after_seq=before, actions=["rate_limited"])
    assert len(entries) == 1  # logged once a minute per key, not once per refusal
    assert entries[0]["key_id"] == key.split("_")[1]
    other = api.get("/v1/services", who="planner")  # budgets are per key
    assert other.status_code == 200


def test_the_daily_quota_of_personal_records_is_enforced_and_logged(api):
    from needs_model.governance import audit

    key = _key(api, personal_reads_per_day=30)
    headers = {"Authorization": f"Bearer {key}"}
    route = "/v1/services/birth_registration/candidates"
    first = api.client.get(route, headers=headers, params={"limit": 25})
    assert first.status_code == 200 and len(first.json()["candidates"]) == 25
    second = api.client.get(route, headers=headers, params={"limit": 25})
    assert second.status_code == 200  # 25 read before it: under the quota when asked
    before = audit.head(api.engine)
    refused = api.client.get(route, headers=headers, params={"limit": 1})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "quota_exceeded"
    assert 0 < int(refused.headers["retry-after"]) <= 86_400
    [entry] = audit.read(api.engine, after_seq=before)
    assert entry["action"] == "quota_exceeded" and entry["key_id"] == key.split("_")[1]
    # Routes without personal data still answer; by-CCCD predictions count as personal.
    assert api.client.get("/v1/services", headers=headers).status_code == 200
    cccd = next(iter(api.store.by_cccd))
    by_cccd = api.client.post("/v1/predictions", headers=headers, json={"cccds": [cccd]})
    assert by_cccd.status_code == 429


def test_an_expired_key_is_refused(api):
    from sqlalchemy import text

    key = _key(
        api, role="data_scientist", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    )
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/services", headers=headers).status_code == 200
    with api.engine.begin() as connection:
        connection.execute(
            text("UPDATE api_keys SET expires_at = :t WHERE key_id = :k"),
            {"t": "2020-01-01T00:00:00+00:00", "k": key.split("_")[1]},
        )
    refused = api.client.get("/v1/services", headers=headers)
    assert refused.status_code == 401
    assert "expired" in refused.json()["error"]["message"]
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    assert authenticate(api.engine, key, now=later) == "expired"
    with pytest.raises(ValueError, match="not in the future"):
        _key(api, expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))


def test_cli_keys_expire_and_can_be_written_to_a_private_file(tmp_path, monkeypatch):
    import stat

    from typer.testing import CliRunner

    from needs_model.cli.main import app as cli
    from needs_model.governance.access import list_keys
    from needs_model.governance.db import make_engine
    from needs_model.settings import get_settings

    url = f"sqlite:///{tmp_path}/keys.db"
    monkeypatch.setenv("NEEDS_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        out = tmp_path / "keys" / "serve.key"
        made = runner.invoke(
            cli,
            ["keys", "create", "--role", "admin", "--expires", "12h", "--out", str(out)],
        )
        assert made.exit_code == 0, made.output
        key = out.read_text().strip()
        assert key.startswith("needs_") and key not in made.output  # never printed
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        default = runner.invoke(cli, ["keys", "create", "--role", "planner"])
        assert default.exit_code == 0
        for bad in ("0d", "yesterday", "2020-01-01", "-3d"):
            refused = runner.invoke(cli, ["keys", "create", "--role", "planner", "--expires", bad])
            assert refused.exit_code == 2, (bad, refused.output)
        rows = {r["role"]: r for r in list_keys(make_engine(url))}
        now = dt.datetime.now(dt.UTC)
        admin_expiry = dt.datetime.fromisoformat(str(rows["admin"]["expires_at"]))
        planner_expiry = dt.datetime.fromisoformat(str(rows["planner"]["expires_at"]))
        assert dt.timedelta(hours=11) < admin_expiry - now <= dt.timedelta(hours=12)
        assert dt.timedelta(days=89) < planner_expiry - now <= dt.timedelta(days=90)
    finally:
        get_settings.cache_clear()


def test_the_rate_limiter_refills_a_token_at_a_time():
    from api.security import RateLimiter

    limiter = RateLimiter(default_per_minute=60)
    principal = Principal("k", "planner", Scope("province"))
    assert all(limiter.retry_after(principal, now=0.0) is None for _ in range(60))
    assert limiter.retry_after(principal, now=0.0) == 1
    assert limiter.retry_after(principal, now=1.0) is None  # one token a second
    assert limiter.retry_after(principal, now=1.0) == 1
