"""Fuzzing the API with schemathesis (`make test-fuzz`; CI runs it in a bounded step).

Every operation of the app's OpenAPI document is fuzzed once per caller: a key of each role
(province scope, and planners scoped to one commune and to one district), no key at all, and
keys that must open nothing (a revoked key, a forged one, and the random credentials
schemathesis draws from the security schemes). Schemathesis' examples, coverage and fuzzing
phases run from a fixed seed with a bounded number of examples, in process over ASGI, on the
served province of tests/conftest.py; part of the generated CCCDs, communes, subjects and
feature records are swapped for real ones, so that the routes answer with real data and
their response schemas are checked against it.

A response fails on a 5xx, a status code the operation does not document, a body or content
type that breaks its declared schema, and any 2xx on a non-public path to a request that
carried no valid key. The requests are counted where they reach the app; the last test
fails the run if a caller did not fuzz every operation or fewer than `MIN_REQUESTS` arrived.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api import security
from api.main import app as served_app
from needs_model.governance.access import Scope, create_key, revoke_key

pytestmark = pytest.mark.fuzz

# The same seed on the same code sends the same requests (hypothesis also draws string and
# number constants from the project's own modules, so editing them can change the data).
SEED = 20251231
# Fuzzing-phase examples per operation and caller; the examples and coverage phases add their
# own cases (about 10,000 requests in all, two to three minutes on 2 cores with the province).
MAX_EXAMPLES = 50
MIN_REQUESTS = 2_000


@dataclass(frozen=True)
class Caller:
    """Who sends the requests: a key of tests/api/conftest.py, a bad key, or none."""

    name: str
    key: str | None = None  # a name in `Api.keys`
    bad: str | None = None  # "revoked" or "forged"
    header: str = "Authorization"  # or "X-API-Key"; both are accepted


KEYED = (
    Caller("planner", key="planner"),
    Caller("planner_commune", key="planner_commune", header="X-API-Key"),
    Caller("planner_district", key="planner_district"),
    Caller("auditor", key="auditor"),
    Caller("data_scientist", key="data_scientist"),
    Caller("admin", key="admin", header="X-API-Key"),
    Caller("no_key"),
    Caller("revoked_key", bad="revoked", header="X-API-Key"),
    Caller("forged_key", bad="forged"),
)
# Sends no key of ours: schemathesis fills the security schemes with random values.
GENERATED = (Caller("generated_credentials"),)


@dataclass
class Known:
    """Real identifiers of the served province, mixed into the generated requests.

    Schemathesis builds its tests when pytest collects them, before the province exists;
    the hooks below read these lists when hypothesis draws, after `traffic` filled them.
    """

    cccds: list[str] = field(default_factory=list)
    communes: list[str] = field(default_factory=list)
    subjects: list[tuple[str, str, str]] = field(default_factory=list)  # service, cccd, subject
    records: list[dict[str, Any]] = field(default_factory=list)


KNOWN = Known()


def _fill_known(api: Any, per_group: int = 8) -> None:
    store = api.store
    groups: dict[str, list[str]] = {"commune": [], "district": [], "elsewhere": []}
    for cccd in sorted(store.by_cccd):
        person = store.people.get(cccd)
        if person is None:
            continue
        if person["commune_code"] == api.commune:
            group = "commune"
        elif person["district_code"] == api.district:
            group = "district"
        else:
            group = "elsewhere"
        if len(groups[group]) < per_group:
            groups[group].append(cccd)
    # The scoped planners must see both sides of their scope.
    assert all(groups.values()), {name: len(found) for name, found in groups.items()}
    KNOWN.cccds = [cccd for found in groups.values() for cccd in found]
    communes = store.communes.astype({"commune_code": str, "district_code": str})
    in_district = sorted(communes.loc[communes["district_code"] == api.district, "commune_code"])
    elsewhere = sorted(set(communes["commune_code"]) - set(in_district))
    KNOWN.communes = sorted({api.commune, *in_district[:3], *elsewhere[:3]})
    KNOWN.subjects = [
        (service_id, cccd, subject_id)
        for cccd in KNOWN.cccds
        for service_id, subject_id in store.by_cccd[cccd]
    ]
    KNOWN.records = [
        {
            "service_id": service_id,
            "features": {
                name: None if math.isnan(value) else float(value)
                for name, value in zip(table.model.features, table.matrix[row], strict=True)
            },
        }
        for service_id, table in sorted(store.services.items())
        for row in range(min(3, len(table.subject_ids)))
    ]


def _or_known(container: Any, name: str, values: list[str]) -> st.SearchStrategy:
    """The generated parameters, or the same with a well-formed `name` swapped for a real one
    (hypothesis chooses, so the choice is seeded and shrinks)."""
    value = container.get(name) if isinstance(container, dict) else None
    well_formed = (
        isinstance(value, str)
        and bool(values)
        and len(value) == len(values[0])
        and value.isascii()
        and value.isdigit()
    )
    if not well_formed:
        return st.just(container)
    return st.one_of(
        st.just(container), st.sampled_from(values).map(lambda real: {**container, name: real})
    )


def flatmap_path_parameters(context: schemathesis.HookContext, path: Any) -> st.SearchStrategy:
    return _or_known(path, "cccd", KNOWN.cccds)


def flatmap_query(context: schemathesis.HookContext, query: Any) -> st.SearchStrategy:
    return _or_known(query, "commune", KNOWN.communes)


def _real_outcome(outcome: Any, subject: tuple[str, str, str]) -> Any:
    """The generated outcome made about a real subject (named by subject id if that is what
    was generated, else by CCCD); its status and note are kept, its date if it is a real one,
    and its prediction id dropped (only ids this API issued are accepted)."""
    if not isinstance(outcome, dict):
        return outcome
    service_id, cccd, subject_id = subject
    keep = ("status", "note", "occurred_on")
    real = {k: v for k, v in outcome.items() if k in keep}
    real["service_id"] = service_id
    if isinstance(outcome.get("subject_id"), str) and outcome.get("cccd") is None:
        real["subject_id"] = subject_id
    else:
        real["cccd"] = cccd
    try:
        dt.date.fromisoformat(str(real.get("occurred_on")))
    except ValueError:
        real.pop("occurred_on", None)
    return real


def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy:
    """A generated body, or the same naming real citizens, feature records or subjects."""
    if not isinstance(body, dict) or not KNOWN.cccds:
        return st.just(body)
    if "cccds" in body or "records" in body:
        # A prediction request names citizens or records, never both (the schema cannot say).
        rest = {k: v for k, v in body.items() if k not in ("cccds", "records")}
        real = st.one_of(
            st.lists(st.sampled_from(KNOWN.cccds), min_size=1, max_size=3).map(
                lambda cccds: {**rest, "cccds": cccds}
            ),
            st.lists(st.sampled_from(KNOWN.records), min_size=1, max_size=3).map(
                lambda records: {**rest, "records": records}
            ),
        )
    elif isinstance(body.get("outcomes"), list) and body["outcomes"]:
        outcomes = body["outcomes"]
        real = st.lists(
            st.sampled_from(KNOWN.subjects), min_size=len(outcomes), max_size=len(outcomes)
        ).map(
            lambda subjects: {
                **body,
                "outcomes": [_real_outcome(o, s) for o, s in zip(outcomes, subjects, strict=True)],
            }
        )
    else:
        return st.just(body)
    return st.one_of(st.just(body), real)


def _schema(generated_credentials: bool) -> schemathesis.BaseSchema:
    """The served app's schema (read at import: schemathesis parametrizes at collection)."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {"with-security-parameters": generated_credentials},
        }
    )
    schema = schemathesis.openapi.from_dict(served_app.openapi(), config=config)
    for hook in (flatmap_path_parameters, flatmap_query, flatmap_body):
        schema.hook(hook)
    return schema


keyed = _schema(generated_credentials=False)
random_credentials = _schema(generated_credentials=True)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=False,  # the seed fixes the data, under hypothesis' `ci` profile too
    database=None,
    print_blob=False,
    suppress_health_check=list(HealthCheck),
)


class _CountingApp:
    """The app under test, counting the HTTP requests that reach it."""

    def __init__(self, app: Any) -> None:
        self.app, self.received = app, 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            self.received += 1
        await self.app(scope, receive, send)


@dataclass
class Traffic:
    app: _CountingApp
    keys: dict[str, str] = field(repr=False)  # caller key name or bad-key kind -> key
    valid_keys: frozenset[str] = field(repr=False)
    sent: Counter[tuple[str, str]] = field(default_factory=Counter)

    def headers(self, caller: Caller) -> dict[str, str]:
        name = caller.key or caller.bad
        if name is None:
            return {}
        if caller.header == "X-API-Key":
            return {"X-API-Key": self.keys[name]}
        return {"Authorization": f"Bearer {self.keys[name]}"}

    def checks(self) -> list[Callable[..., Any]]:
        return [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            self.no_success_without_a_valid_key,
        ]

    def no_success_without_a_valid_key(
        self, ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
    ) -> None:
        if not 200 <= response.status_code < 300:
            return
        # Read at call time: public is whatever the app declares public today.
        path = case.operation.path
        if path in security.PUBLIC_PATHS or path.startswith(security.PUBLIC_PREFIXES):
            return
        sent = " ".join(str(value) for value in response.request.headers.values())
        if not any(key in sent for key in self.valid_keys):
            raise AssertionError(f"{response.status_code} on {path} without a valid API key")


@pytest.fixture(scope="module")
def traffic(api) -> Traffic:
    assert api.client.app.openapi() == served_app.openapi(), "the fuzzed schema is not served"
    _fill_known(api)
    revoked_id, revoked = create_key(api.engine, "admin", Scope("province"), label="revoked")
    assert revoke_key(api.engine, revoked_id)
    admin_id = api.keys["admin"].split("_")[1]
    forged = f"needs_{admin_id}_{'A' * 43}"  # a real key id with a wrong secret
    assert forged != api.keys["admin"]
    return Traffic(
        app=_CountingApp(api.client.app),
        keys={**api.keys, "revoked": revoked, "forged": forged},
        valid_keys=frozenset(api.keys.values()),
    )


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    document = served_app.openapi()
    return [
        (method.upper(), path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    components = served_app.openapi()["components"]["schemas"]
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_success_response_declares_the_fields_it_returns() -> None:
    """A bare `object` schema would let `response_schema_conformance` pass anything."""
    loose = []
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            if not status.startswith("2"):
                continue
            content = response.get("content", {})
            if "text/html" in content and "application/json" not in content:
                continue  # a page (Evidently's report), not a JSON body
            schema = content.get("application/json", {}).get("schema", {})
            if not _resolve(schema).get("properties"):
                loose.append(f"{method} {path} {status}")
    assert not loose, f"success responses without a declared body: {loose}"


@pytest.mark.parametrize("caller", KEYED, ids=lambda caller: caller.name)
@keyed.parametrize()
@HYPOTHESIS
def test_every_operation_keeps_its_contract(case, caller: Caller, traffic: Traffic) -> None:
    traffic.sent[(caller.name, case.operation.label)] += 1
    case.call_and_validate(
        app=traffic.app, headers=traffic.headers(caller), checks=traffic.checks()
    )


@pytest.mark.parametrize("caller", GENERATED, ids=lambda caller: caller.name)
@random_credentials.parametrize()
@HYPOTHESIS
def test_random_credentials_open_nothing(case, caller: Caller, traffic: Traffic) -> None:
    traffic.sent[(caller.name, case.operation.label)] += 1
    case.call_and_validate(app=traffic.app, checks=traffic.checks())


def test_the_run_fuzzed_every_operation_as_every_caller(traffic: Traffic) -> None:
    """Runs last (pytest keeps the file's order): the size of the run just made."""
    expected = {(c.name, f"{m} {p}") for c in KEYED + GENERATED for m, p, _ in _operations()}
    missing = sorted(expected - set(traffic.sent))
    assert not missing, f"never fuzzed (caller, operation): {missing}"
    received = traffic.app.received
    assert received >= MIN_REQUESTS, f"{received} requests reached the app, not {MIN_REQUESTS}"
