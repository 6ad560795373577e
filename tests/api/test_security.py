"""Keys, roles (deny by default, every route walked) and scopes."""

from __future__ import annotations

import pytest
from fastapi.routing import APIRoute

from api.main import create_app
from api.security import PUBLIC_PATHS, check_every_route_declares_roles, declared_roles, language
from needs_model.access import Principal, ScopeError, authenticate, parse_scope, revoke_key

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
}


def _routes(app):
    return {
        (method, r.path): r
        for r in app.routes
        if isinstance(r, APIRoute)
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
