"""POST /v1/predictions: scores, reasons, SHAP identities, minimised fields, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from api.security import SIGN_IN_URL, SIGN_OUT_URL
from needs_model.scoring.explain import SENSITIVE, sentence


def _high(subjects, service_id, column="subject_id"):
    frame = subjects[service_id].sort_values("probability", ascending=False)
    return str(frame[column].iloc[0])


def test_by_cccd_returns_the_batch_score_with_reasons_sources_and_version(api, subjects):
    cccd = _high(subjects, "birth_registration")
    response = api.post("/v1/predictions", json={"cccds": [cccd], "purpose": "outreach"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == "2025-12-31"
    assert "never" in body["notice"] or "không" in body["notice"]
    birth = next(p for p in body["predictions"] if p["service_id"] == "birth_registration")
    row = subjects["birth_registration"].set_index("subject_id").loc[cccd]
    assert birth["probability"] == pytest.approx(row["probability"], abs=1e-6)
    assert birth["band"] == row["band"]
    assert birth["legal_trigger"] == bool(row["rule_birth_due"] == 1)
    assert birth["model_version"] == "1"
    assert birth["prediction_id"].startswith("pr_")
    assert 1 <= len(birth["reasons"]) <= 3
    assert {s["table"] for s in birth["sources"]} >= {"registry/people", "health/births"}
    assert all(s["as_of"] <= "2025-12-31" for s in birth["sources"] if s["as_of"])
    # No endpoint returns a refusal decision.
    assert not {"decision", "eligible", "denied"} & set(birth)


def test_full_contributions_sum_to_the_margin_of_the_served_booster(api, subjects):
    for service_id, table in api.store.services.items():
        subject = _high(subjects, service_id)
        row = table.row_of[subject]
        cccd = table.contact[row]
        body = api.post(
            "/v1/predictions",
            who="data_scientist",
            json={"cccds": [cccd], "services": [service_id], "explain": "full"},
        ).json()
        (p,) = [p for p in body["predictions"] if p["subject_id"] == subject]
        total = sum(p["contributions"].values()) + p["bias"]
        booster_margin = table.model.booster.predict(table.matrix[row : row + 1], raw_score=True)
        assert total == pytest.approx(float(booster_margin[0]), abs=1e-9)
        assert p["margin"] == pytest.approx(total, abs=1e-9)
        assert table.model.calibrator(np.array([total]))[0] == pytest.approx(
            p["probability"], abs=1e-6
        )
        top = sorted(p["contributions"].items(), key=lambda kv: -abs(kv[1]))[:3]
        assert [r["feature"] for r in p["reasons"]] == [f for f, _ in top]


def test_reasons_are_vietnamese_by_default_and_english_on_request(api, subjects):
    cccd = _high(subjects, "medical_license_renewal")
    vi = api.post(
        "/v1/predictions", json={"cccds": [cccd], "services": ["medical_license_renewal"]}
    )
    en = api.post(
        "/v1/predictions",
        json={"cccds": [cccd], "services": ["medical_license_renewal"]},
        headers={"Accept-Language": "en-US,en;q=0.9"},
    )
    vi_text = " ".join(r["text"] for p in vi.json()["predictions"] for r in p["reasons"])
    en_text = " ".join(r["text"] for p in en.json()["predictions"] for r in p["reasons"])
    assert vi_text != en_text
    assert any(c in vi_text for c in "ạảấầẩậắằẳặẹẻẽếềểệỉịọỏốồổộớờởợụủứừửựỳỵỷỹđ")
    assert en_text.isascii()


def test_planners_never_learn_which_way_a_health_reason_moved_the_score(api, subjects):
    """A sensitive reason (pregnancy, conditions) reaches outreach roles as a generic
    sentence with neither its value, its contribution nor its direction."""
    found = 0
    candidates = api.get(
        "/v1/services/birth_registration/candidates", params={"limit": 200}
    ).json()["candidates"]
    for item in candidates:
        for reason in item["reasons"]:
            if reason["feature"] in SENSITIVE:
                found += 1
                assert reason["value"] is None
                assert reason["contribution"] is None and reason["direction"] is None
    assert found >= 5  # the case arises: health reasons are among the top three
    cccd = next(
        i["contact"]["cccd"]
        for i in candidates
        if any(r["feature"] in SENSITIVE for r in i["reasons"])
    )
    body = {"cccds": [cccd], "services": ["birth_registration"]}
    for who in ("auditor", "data_scientist"):  # roles that review models see them
        reasons = api.post("/v1/predictions", who=who, json=body).json()["predictions"][0][
            "reasons"
        ]
        sensitive = [r for r in reasons if r["feature"] in SENSITIVE]
        assert sensitive and all(r["direction"] in ("raises", "lowers") for r in sensitive)
        assert all(isinstance(r["contribution"], float) for r in sensitive)


def test_planners_never_see_health_values_or_raw_contributions(api, subjects):
    birth = subjects["birth_registration"]
    with_due = birth[birth["days_to_expected_due_date"].notna()]
    cccd = str(with_due.sort_values("probability").subject_id.iloc[-1])
    for who, hidden in (("planner", True), ("auditor", False)):
        body = api.post(
            "/v1/predictions", who=who, json={"cccds": [cccd], "services": ["birth_registration"]}
        ).json()
        for reason in body["predictions"][0]["reasons"]:
            if reason["feature"] in SENSITIVE:
                assert (reason["value"] is None) == hidden
    refused = api.post("/v1/predictions", json={"cccds": [cccd], "explain": "full"})
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "explain"


def test_inline_records_score_like_the_batch_for_the_same_features(api, subjects):
    frame = subjects["poor_household_confirmation"].sort_values("probability")
    row = frame.iloc[-1]
    table = api.store.services["poor_household_confirmation"]
    features = {f: (None if np.isnan(row[f]) else float(row[f])) for f in table.model.features}
    body = api.post(
        "/v1/predictions",
        who="data_scientist",
        json={"records": [{"service_id": "poor_household_confirmation", "features": features}]},
    ).json()
    assert body["predictions"][0]["probability"] == pytest.approx(row["probability"], abs=1e-6)


def test_reason_texts_come_from_the_feature_definitions(api):
    record = {
        "service_id": "medical_license_renewal",
        "features": {"days_to_expiry": 21, "rule_licence_expiring": 1},
    }

    def reasons_in(language: str) -> list[dict]:
        body = api.post(
            "/v1/predictions",
            who="auditor",
            json={"records": [record]},
            headers={"Accept-Language": language},
        ).json()
        return body["predictions"][0]["reasons"]

    reasons = reasons_in("en")
    assert reasons
    for reason in reasons:
        value = np.nan if reason["value"] is None else reason["value"]
        expected = sentence(reason["feature"], value, "medical_license_renewal", "en")
        assert reason["text"] == expected
    # Literal sentences (docs/features.md), not the function that makes them. Which
    # features give reasons depends on the scorer served: on this small province the
    # medical model may be the rule's calibrated rate, whose one reason is the rule (the
    # days-to-expiry sentence is checked literally in tests/scoring/test_explain.py).
    literal = {
        "days_to_expiry": (
            "The practice licence expires in 21 days",
            "Giấy phép hành nghề hết hạn sau 21 ngày",
        ),
        "rule_licence_expiring": (
            "Due under the rules: expiring",
            "Đến hạn theo quy định: sắp hết hạn",
        ),
    }
    texts = {r["feature"]: r["text"] for r in reasons}
    texts_vi = {r["feature"]: r["text"] for r in reasons_in("vi")}
    checked = [f for f in literal if f in texts]
    assert checked, texts
    for feature in checked:
        assert (texts[feature], texts_vi[feature]) == literal[feature]


def _raw(api, text, who="admin"):
    return api.client.post(
        "/v1/predictions",
        content=text,
        headers={"Authorization": f"Bearer {api.keys[who]}", "Content-Type": "application/json"},
    )


MEDICAL = "medical_license_renewal"
BAD_INPUTS = [
    (
        "nan",
        '{"records": [{"service_id": "MED", "features": {"age_years": NaN}}]}'.replace(
            "MED", MEDICAL
        ),
        "records[0].features.age_years",
    ),
    (
        "infinity",
        '{"records": [{"service_id": "MED", "features": {"age_years": Infinity}}]}'.replace(
            "MED", MEDICAL
        ),
        "records[0].features.age_years",
    ),
    (
        "string for number",
        json.dumps({"records": [{"service_id": MEDICAL, "features": {"age_years": "41"}}]}),
        "records[0].features.age_years",
    ),
    ("unknown field", json.dumps({"cccds": ["049183332434"], "priority": "high"}), "priority"),
    (
        "unknown feature",
        json.dumps({"records": [{"service_id": MEDICAL, "features": {"ethnicity": 1}}]}),
        "records[0].features",
    ),
    (
        "out of range",
        json.dumps({"records": [{"service_id": MEDICAL, "features": {"age_years": 400}}]}),
        "records[0].features",
    ),
    (
        "flag not 0/1",
        json.dumps({"records": [{"service_id": MEDICAL, "features": {"is_urban": 0.5}}]}),
        "records[0].features",
    ),
    (
        "unknown service",
        json.dumps({"records": [{"service_id": "passport", "features": {}}]}),
        "records[0].service_id",
    ),
    ("malformed cccd", json.dumps({"cccds": ["04918333243"]}), "cccds[0]"),
    # `\d` would accept these: Arabic-Indic and fullwidth digits, and a final newline.
    ("arabic-indic digits", json.dumps({"cccds": ["٠٤٩١٨٣٣٣٢٤٣٤"]}), "cccds[0]"),
    ("fullwidth digits", json.dumps({"cccds": ["０４９１８３３３２４３４"]}), "cccds[0]"),
    ("cccd with a newline", json.dumps({"cccds": ["049183332434\n"]}), "cccds[0]"),
    ("purpose with NUL", json.dumps({"cccds": ["049183332434"], "purpose": "a\u0000b"}), "purpose"),
    (
        "purpose with a right-to-left override",
        json.dumps({"cccds": ["049183332434"], "purpose": "outreach \u202egnp.exe"}),
        "purpose",
    ),
    ("cccd with unknown province", json.dumps({"cccds": ["999183332434"]}), "cccds[0]"),
    ("both sources", json.dumps({"cccds": ["049183332434"], "records": []}), None),
    ("empty batch", json.dumps({"cccds": []}), None),
    ("not json", "{cccds: [", None),
]


@pytest.mark.parametrize(("case", "text", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_422_naming_the_field_and_never_a_score(api, case, text, field):
    response = _raw(api, text)
    assert response.status_code == 422, (case, response.text)
    error = response.json()["error"]
    assert error["code"] and error["message"]
    if field is not None:
        assert error["field"] == field, error
    assert "predictions" not in response.json()


def test_unknown_and_out_of_scope_citizens_are_the_same_404(api, subjects):
    unknown = _raw(api, json.dumps({"cccds": ["049199999999"]}), who="planner")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["field"] == "cccds[0]"
    people = api.store.people
    outside = next(c for c in people if people.get(c)["commune_code"] not in (None, api.commune))
    inside_province = api.post("/v1/predictions", json={"cccds": [outside]})
    assert inside_province.status_code == 200
    hidden = api.post("/v1/predictions", who="planner_commune", json={"cccds": [outside]})
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == unknown.json()["error"]["code"] == "not_found"
    assert hidden.json()["error"]["message"].replace(outside, "X") == unknown.json()["error"][
        "message"
    ].replace("049199999999", "X")


def test_a_chunked_body_over_the_limit_is_413(api):
    """A body sent without Content-Length is counted as it arrives, not parsed first."""
    cccd = next(iter(api.store.by_cccd))
    payload = json.dumps({"cccds": [cccd], "purpose": "x" * 30_000}).encode()

    def chunks():
        for start in range(0, len(payload), 4096):
            yield payload[start : start + 4096]

    headers = {"Authorization": f"Bearer {api.keys['planner']}", "Content-Type": "application/json"}
    response = api.client.post("/v1/predictions", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "too_large"
    small = json.dumps({"cccds": [cccd]}).encode()
    fine = api.client.post(
        "/v1/predictions", content=iter([small[:10], small[10:]]), headers=headers
    )
    assert fine.status_code == 200, fine.text


def test_malformed_bodies_without_a_key_get_401_not_a_parse_error(api):
    for text in ("{cccds: [", "x" * 10, json.dumps({"cccds": ["1"]})):
        response = api.client.post(
            "/v1/predictions", content=text, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 401, (text, response.text)
    unknown_route = api.client.get("/v1/no-such-thing")
    assert unknown_route.status_code == 401  # routes are not enumerable without a key


def test_the_openapi_document_states_patterns_enums_and_error_codes(api):
    spec = api.client.get("/openapi.json").json()
    needs = spec["paths"]["/v1/citizens/{cccd}/needs"]["get"]
    cccd = next(p for p in needs["parameters"] if p["name"] == "cccd")["schema"]
    assert cccd["pattern"] == "^[0-9]{12}$"
    candidates = spec["paths"]["/v1/services/{service_id}/candidates"]["get"]
    service = next(p for p in candidates["parameters"] if p["name"] == "service_id")["schema"]
    assert set(service["enum"]) == set(api.store.manifest["service_sources"]) | set(
        api.store.manifest.get("not_served", {})
    )
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"400", "401", "403", "422", "429"} <= codes, (method, path, codes)
            ok = [c for c in codes if c.startswith("2")]
            if not ok and path in (SIGN_IN_URL, SIGN_OUT_URL) and method == "post":
                assert "303" in codes, (method, path)  # a browser form: answered by a redirect
                continue
            assert ok, (method, path)
            content = operation["responses"][ok[0]].get("content", {})
            if "application/json" not in content:  # a page: Evidently's report
                assert content["text/html"]["schema"] == {"type": "string"}, (method, path)
                continue
            schema = content.get("application/json", {}).get("schema", {})
            assert schema.get("$ref") or schema.get("properties"), (method, path, schema)


def test_405_names_the_allowed_methods(api):
    response = api.client.delete(
        "/v1/predictions", headers={"Authorization": f"Bearer {api.keys['planner']}"}
    )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_oversized_batches_and_bodies_are_413(api):
    cccd = next(iter(api.store.by_cccd))
    too_many = api.post("/v1/predictions", json={"cccds": [cccd] * 21})
    assert too_many.status_code == 413
    assert too_many.json()["error"]["code"] == "batch_too_large"
    huge = _raw(api, json.dumps({"cccds": [cccd], "purpose": "x" * 30_000}))
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "too_large"


def test_a_service_without_a_served_model_is_a_clear_409(api):
    response = api.post(
        "/v1/predictions",
        who="admin",
        json={"records": [{"service_id": "transport_business_license", "features": {}}]},
    )
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "records[0].service_id"
