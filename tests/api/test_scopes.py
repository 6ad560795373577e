"""Scopes by enumeration: every route, every role, every kind of scope, asked for data inside
and outside the scope; nothing outside ever comes back.

A response is checked by walking all of it: every CCCD-shaped string, every `commune_code`
and every subject id it holds must belong to the key's scope. Each request below is the one
most likely to leak on its route (an outside citizen, an outside commune, no commune at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from api.security import api_routes, is_public
from needs_model.governance.access import ROLES, Scope, create_key
from needs_model.scoring.snapshot import ScoredSnapshot

CCCD_SHAPE = re.compile(r"[0-9]{12}")
SERVICE = "birth_registration"


@dataclass
class Place:
    scope: Scope
    communes: set[str]


@pytest.fixture(scope="module")
def places(api) -> dict[str, Place]:
    communes = api.store.communes.astype(str)
    in_district = set(communes.loc[communes["district_code"] == api.district, "commune_code"])
    return {
        "province": Place(Scope("province"), set(communes["commune_code"])),
        "district": Place(Scope("district", api.district), in_district),
        "commune": Place(Scope("commune", api.commune), {api.commune}),
    }


@pytest.fixture(scope="module")
def scoped_keys(api, places) -> dict[tuple[str, str], str]:
    return {
        (role, level): create_key(api.engine, role, place.scope, f"{role} {level}")[1]
        for role in ROLES
        for level, place in places.items()
    }


@pytest.fixture(scope="module")
def people(api) -> dict[str, str]:
    """A scored citizen inside the commune, one elsewhere in its district, one outside it."""
    table = api.store.services[SERVICE]
    chosen: dict[str, str] = {}
    for row in table.order:
        cccd = table.contact[row]
        person = api.store.people.get(cccd) if isinstance(cccd, str) else None
        if person is None:
            continue
        if person["commune_code"] == api.commune:
            chosen.setdefault("commune", cccd)
        elif person["district_code"] == api.district:
            chosen.setdefault("district", cccd)
        else:
            chosen.setdefault("outside", cccd)
    assert set(chosen) == {"commune", "district", "outside"}
    return chosen


@pytest.fixture(scope="module")
def outcomes_everywhere(api, people) -> None:
    """Outcomes in every kind of place, recorded by a province key (for the summary)."""
    for cccd in people.values():
        outcome = {"service_id": SERVICE, "cccd": cccd, "status": "notified"}
        response = api.post("/v1/outcomes", who="admin", json={"outcomes": [outcome]})
        assert response.status_code == 201, response.text


def _walk(value: Any, key: str | None = None):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _walk(v, key)
    else:
        yield key, value


@pytest.fixture(scope="module")
def subject_communes(api) -> dict[str, str]:
    return {
        subject: table.commune[row]
        for table in api.store.services.values()
        for subject, row in table.row_of.items()
    }


def leaks(api, body: Any, place: Place, subject_communes: dict[str, str]) -> list[str]:
    """Everything in `body` that belongs outside `place` (empty: nothing leaked)."""
    found = []
    for key, value in _walk(body):
        if not isinstance(value, str):
            continue
        if key == "commune_code" and value != "province" and value not in place.communes:
            found.append(f"commune_code {value}")
        if key == "commune_code" and value == "province" and place.scope.level != "province":
            found.append("the province-wide row")
        for cccd in CCCD_SHAPE.findall(value):
            person = api.store.people.get(cccd)
            if person is not None and person["commune_code"] not in place.communes:
                found.append(f"citizen {cccd} ({key})")
        if value in subject_communes and subject_communes[value] not in place.communes:
            found.append(f"subject {value} ({key})")
    return found


OUTSIDE_BOTH = frozenset({"commune", "district"})  # refused to commune and district keys
OUTSIDE_COMMUNE = frozenset({"commune"})


def _requests(api, people: dict[str, str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Per route, the requests that try to read or write outside a commune or district
    scope; `refused` names the scopes that must get a 403 or 404 (never a 2xx)."""
    outside, inside = people["outside"], people["commune"]
    elsewhere_in_district = people["district"]
    other_commune = api.store.people.get(outside)["commune_code"]
    citizen = [
        {"cccd": outside, "refused": OUTSIDE_BOTH},
        {"cccd": elsewhere_in_district, "refused": OUTSIDE_COMMUNE},
        {"cccd": inside},
    ]

    def outcome(cccd: str) -> dict[str, Any]:
        return {"outcomes": [{"service_id": SERVICE, "cccd": cccd, "status": "notified"}]}

    return {
        ("GET", "/v1/services"): [{}],
        ("POST", "/v1/predictions"): [
            {"json": {"cccds": [outside]}, "refused": OUTSIDE_BOTH},
            {"json": {"cccds": [elsewhere_in_district]}, "refused": OUTSIDE_COMMUNE},
            {"json": {"cccds": [inside, outside]}, "refused": OUTSIDE_BOTH},
            {"json": {"cccds": [inside]}},
        ],
        ("GET", "/v1/citizens/{cccd}/needs"): citizen,
        ("GET", "/v1/citizens/{cccd}/access-log"): citizen,
        ("GET", "/v1/services/{service_id}/candidates"): [
            {"params": {"limit": 200}},
            # Contacts who are not the subject: a child's parent may live in another commune.
            {"service": "school_admission", "params": {"limit": 200}},
            {"params": {"limit": 200, "commune": other_commune}, "refused": OUTSIDE_BOTH},
            {"params": {"limit": 200, "min_band": "high"}},
        ],
        ("GET", "/v1/forecast"): [
            {"params": {"service": SERVICE}},
            {"params": {"service": SERVICE, "commune": other_commune}, "refused": OUTSIDE_BOTH},
        ],
        ("POST", "/v1/outcomes"): [
            {"json": outcome(outside), "refused": OUTSIDE_BOTH},
            {"json": outcome(elsewhere_in_district), "refused": OUTSIDE_COMMUNE},
            {"json": outcome(inside)},
        ],
        ("GET", "/v1/outcomes/summary"): [{}, {"params": {"service": SERVICE}}],
        ("GET", "/v1/audit/log"): [{"params": {"limit": 500}, "refused": OUTSIDE_BOTH}],
        # Province aggregates, no citizen's data (tests/api/test_monitoring.py); nothing is
        # monitored on this province: 404 for every key allowed to ask.
        ("GET", "/v1/monitoring"): [{"nothing_yet": True}],
        ("GET", "/v1/monitoring/{service_id}/report"): [{"nothing_yet": True}],
        ("GET", "/v1/monitoring/history"): [{"nothing_yet": True}],
        # Pages of aggregates (tests/api/test_reports.py): no citizen in them at any scope.
        ("GET", "/v1/reports"): [{"html": True}],
        ("GET", "/v1/reports/models/{service_id}"): [{"html": True}],
        ("GET", "/v1/reports/sources/{table}"): [{"html": True, "table": "registry__people"}],
        # A citizen's page: every person named in it (CCCD, subject) must be in scope.
        ("GET", "/v1/citizens/{cccd}/explanation"): [
            {**call, "params": {"service": SERVICE}, "page": True} for call in citizen
        ],
    }


def test_every_route_is_enumerated(api, people):
    routes = {
        (method, r.path)
        for r in api_routes(api.client.app)
        if not is_public(r.path)
        for method in r.methods
    }
    assert routes == set(_requests(api, people)), "a new route needs its scope requests here"


@pytest.mark.usefixtures("outcomes_everywhere")
@pytest.mark.parametrize("level", ["commune", "district", "province"])
@pytest.mark.parametrize("role", ROLES)
def test_nothing_outside_the_scope_comes_back(
    api, places, scoped_keys, people, subject_communes, role, level
):
    place = places[level]
    headers = {"Authorization": f"Bearer {scoped_keys[role, level]}"}
    answered = 0
    for (method, path), calls in _requests(api, people).items():
        for call in calls:
            concrete = path.replace("{service_id}", call.get("service", SERVICE))
            concrete = concrete.replace("{cccd}", call.get("cccd", ""))
            concrete = concrete.replace("{table}", call.get("table", ""))
            kwargs = {k: v for k, v in call.items() if k in ("json", "params")}
            response = api.client.request(method, concrete, headers=headers, **kwargs)
            assert response.status_code < 500, (method, concrete, response.text)
            if level in call.get("refused", ()) and response.status_code != 403:
                # Refused whole, whatever the role: 404 (citizens) or 403 (communes, the log).
                assert response.status_code in (403, 404), (role, level, method, concrete, call)
            if response.status_code == 200 and call.get("page"):
                answered += 1
                text = response.text
                found = leaks(api, {"page": text}, place, subject_communes)
                found += [
                    f"subject {token}"
                    for token in set(re.findall(r"\b[A-Z]{2,}\d{6,}\b", text))
                    if token in subject_communes and subject_communes[token] not in place.communes
                ]
                assert not found, (role, level, concrete, found[:5])
            elif response.status_code in (200, 201) and call.get("html"):
                # A page: no CCCD (twelve digits) anywhere in it.
                assert not re.search(r"(?<!\d)\d{12}(?!\d)", response.text), (role, concrete)
            elif response.status_code in (200, 201):
                answered += 1
                found = leaks(api, response.json(), place, subject_communes)
                assert not found, (role, level, method, concrete, call, found[:5])
            elif (
                level == "province" and response.status_code == 404 and not call.get("nothing_yet")
            ):
                pytest.fail(f"a province key got 404 on {method} {concrete} {call}")
    assert answered > 0


def test_outside_citizens_are_refused_not_filtered(api, scoped_keys, people):
    """A commune key asking for an outside citizen gets the unknown-citizen 404, and a mixed
    batch is refused whole (never answered for the inside half only)."""
    headers = {"Authorization": f"Bearer {scoped_keys['planner', 'commune']}"}
    mixed = api.client.post(
        "/v1/predictions", headers=headers, json={"cccds": [people["commune"], people["outside"]]}
    )
    assert mixed.status_code == 404 and mixed.json()["error"]["field"] == "cccds[1]"
    inside = api.client.post(
        "/v1/predictions", headers=headers, json={"cccds": [people["commune"]]}
    )
    assert inside.status_code == 200 and inside.json()["predictions"]


def test_scoped_auditors_are_refused_the_province_audit_log(api, scoped_keys):
    for level in ("commune", "district"):
        headers = {"Authorization": f"Bearer {scoped_keys['auditor', level]}"}
        response = api.client.get("/v1/audit/log", headers=headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "out_of_scope"
    headers = {"Authorization": f"Bearer {scoped_keys['auditor', 'province']}"}
    assert api.client.get("/v1/audit/log", headers=headers).status_code == 200


def test_scoped_candidates_reach_every_inside_subject(api, scoped_keys, places):
    """The filter is the scope, not a truncation: paging a district key's list returns
    exactly the district's subjects."""
    headers = {"Authorization": f"Bearer {scoped_keys['planner', 'district']}"}
    table = api.store.services[SERVICE]
    expected = {
        str(table.subject_ids[r])
        for r in range(len(table.subject_ids))
        if table.commune[r] in places["district"].communes
    }
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        body = api.client.get(
            f"/v1/services/{SERVICE}/candidates", headers=headers, params=params
        ).json()
        seen += [c["subject_id"] for c in body["candidates"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == expected


def test_a_subject_outside_the_scope_is_not_returned_through_an_inside_contact(
    api, scoped_keys, people, subject_communes
):
    """A contact inside the commune can be linked to a subject recorded elsewhere (a household
    head registered here whose household is surveyed in another commune): that subject's
    score and dossier stay outside a commune key's reach."""
    inside = people["commune"]
    table = api.store.services["poor_household_confirmation"]
    household = next(
        s for s, commune in subject_communes.items() if s in table.row_of and commune != api.commune
    )
    links = api.store.by_cccd.setdefault(inside, [])
    links.append(("poor_household_confirmation", household))
    try:
        headers = {"Authorization": f"Bearer {scoped_keys['planner', 'commune']}"}
        for response in (
            api.client.post("/v1/predictions", headers=headers, json={"cccds": [inside]}),
            api.client.get(f"/v1/citizens/{inside}/needs", headers=headers),
        ):
            assert response.status_code == 200, response.text
            assert household not in response.text
        province = {"Authorization": f"Bearer {scoped_keys['planner', 'province']}"}
        seen = api.client.post("/v1/predictions", headers=province, json={"cccds": [inside]})
        assert household in seen.text  # the link is real: a province key does see it
    finally:
        links.remove(("poor_household_confirmation", household))


def test_subjects_without_a_recorded_commune_are_served_to_the_province_only(served, tmp_path):
    """A subject whose commune is unknown (it happens in real snapshots) is listed for a
    province key and for no commune or district key, and never breaks a scoped query."""
    import shutil

    import pandas as pd
    from fastapi.testclient import TestClient

    from api.main import create_app
    from api.store import load_store
    from needs_model.governance.db import make_engine

    snapshot = tmp_path / served.snapshot.name
    shutil.copytree(served.snapshot, snapshot)
    path = ScoredSnapshot(snapshot).path("subjects", SERVICE)
    frame = pd.read_parquet(path)
    top = frame["probability"].idxmax()
    lost = str(frame.loc[top, "subject_id"])
    commune = str(frame.loc[top, "commune_code"])
    frame["commune_code"] = frame["commune_code"].astype("string")
    frame["district_code"] = frame["district_code"].astype("string")
    frame.loc[top, ["commune_code", "district_code"]] = pd.NA
    frame.to_parquet(path, index=False)
    store = load_store(snapshot, served.settings.models_dir)
    engine = make_engine(f"sqlite:///{tmp_path}/service.db")
    keys = {
        level: create_key(engine, "planner", scope)[1]
        for level, scope in (
            ("province", Scope("province")),
            ("commune", Scope("commune", commune)),
        )
    }
    app = create_app(served.settings, store=store, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        route = f"/v1/services/{SERVICE}/candidates"

        def listed(level: str, **params: Any) -> list[str]:
            headers = {"Authorization": f"Bearer {keys[level]}"}
            response = client.get(route, headers=headers, params={"limit": 200, **params})
            assert response.status_code == 200, response.text
            return [c["subject_id"] for c in response.json()["candidates"]]

        assert lost == listed("province")[0]
        assert lost not in listed("commune")
        assert lost not in listed("province", commune=commune)
        headers = {"Authorization": f"Bearer {keys['commune']}"}
        cccd = store.services[SERVICE].contact[store.services[SERVICE].row_of[lost]]
        for response in (
            client.post("/v1/predictions", headers=headers, json={"cccds": [cccd]}),
            client.get("/v1/forecast", headers=headers, params={"service": SERVICE}),
        ):
            assert response.status_code in (200, 404), response.text
            assert lost not in response.text or response.status_code == 404
