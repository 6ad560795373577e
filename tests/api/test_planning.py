"""Needs with dossiers, candidate lists, forecasts and outcomes, through HTTP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from needs_model.scoring.batch import interval, poisson_binomial
from needs_model.scoring.snapshot import ScoredSnapshot


def test_needs_lists_each_service_and_prefills_likely_dossiers(api, subjects, served):
    birth = subjects["birth_registration"]
    likely = birth[(birth["band"] != "low") & birth["days_since_unregistered_birth"].notna()]
    cccd = str(likely.sort_values("probability").subject_id.iloc[-1])
    body = api.get(f"/v1/citizens/{cccd}/needs", params={"purpose": "birth outreach"}).json()
    assert body["citizen"]["cccd"] == cccd
    item = next(n for n in body["needs"] if n["service_id"] == "birth_registration")
    assert item["likely"] is True
    dossier = {c["component"]: c for c in item["dossier"]}
    mother = {f["field"]: f["value"] for f in dossier["mother"]["fields"]}
    registry = pd.read_parquet(served.raw / "registry" / "people.parquet")
    latest = registry[registry["cccd"] == cccd].sort_values("recorded_at").iloc[-1]
    assert mother["full_name"] == latest["full_name"]
    assert mother["birth_date"] == str(latest["birth_date"])
    # The facility birth certificate comes from the health extract, for the same mother.
    births = pd.read_parquet(served.raw / "health" / "births.parquet")
    number = {f["field"]: f["value"] for f in dossier["birth_certificate"]["fields"]}[
        "birth_certificate_no"
    ]
    assert number in set(births.loc[births["mother_cccd"] == cccd, "birth_certificate_no"])
    # No agency links a father: the dossier says who supplies it instead of inventing one.
    assert dossier["father"]["prefilled"] is False
    assert dossier["father"]["supplied_by"] == "citizen"
    assert dossier["residence"]["prefilled"] is True


def test_dossier_fields_carry_consistency_flags_of_their_record(api):
    table = api.store.services["poor_household_confirmation"]
    likely = [
        s
        for s in table.dossiers
        if table.band[table.row_of[s]] != "low" and table.dossiers[s]["last_review.record_id"]
    ]
    subject = likely[0]
    cccd = table.contact[table.row_of[subject]]
    record_id = table.dossiers[subject]["last_review.record_id"]
    flag = {
        "type": "address",
        "agency_a": "registry",
        "agency_b": "welfare",
        "record_id": record_id,
        "note": "surveyed in another commune",
    }
    api.store.flags_by_record.setdefault(record_id, []).append(flag)
    try:
        body = api.get(f"/v1/citizens/{cccd}/needs").json()
        item = next(n for n in body["needs"] if n["service_id"] == "poor_household_confirmation")
        review = next(c for c in item["dossier"] if c["component"] == "last_review")
        assert all(flag in f["flags"] for f in review["fields"])
        household = next(c for c in item["dossier"] if c["component"] == "household")
        assert all(flag not in f["flags"] for f in household["fields"])
    finally:
        api.store.flags_by_record[record_id].remove(flag)


def test_candidates_are_ranked_and_the_cursor_walks_every_one_once(api, subjects):
    frame = subjects["school_admission"]
    commune = str(frame["commune_code"].value_counts().index[0])
    seen, cursor, probabilities = [], None, []
    while True:
        params = {"commune": commune, "limit": 7, **({"cursor": cursor} if cursor else {})}
        body = api.get("/v1/services/school_admission/candidates", params=params).json()
        seen += [c["subject_id"] for c in body["candidates"]]
        probabilities += [c["probability"] for c in body["candidates"]]
        assert all(c["reasons"] for c in body["candidates"])
        # A named contact, or none known (a child with no resident parent or adult at home).
        assert all(
            (c["contact"]["full_name"] is None) == (c["contact"]["relation"] is None)
            for c in body["candidates"]
        )
        cursor = body["next_cursor"]
        if cursor is None:
            break
    expected = frame[frame["commune_code"] == commune]
    assert len(seen) == len(set(seen)) == len(expected) == body["total"]
    assert probabilities == sorted(probabilities, reverse=True)
    assert set(seen) == set(expected["subject_id"])


def test_candidates_stay_inside_the_scope(api):
    body = api.get(
        "/v1/services/birth_registration/candidates", who="planner_commune", params={"limit": 50}
    ).json()
    assert body["candidates"] and {c["commune_code"] for c in body["candidates"]} == {api.commune}
    district = api.get(
        "/v1/services/birth_registration/candidates", who="planner_district", params={"limit": 200}
    ).json()
    communes = api.store.communes.set_index("commune_code")["district_code"]
    assert {communes[c["commune_code"]] for c in district["candidates"]} == {api.district}
    other = next(c for c in api.store.commune_codes if c != api.commune)
    refused = api.get(
        "/v1/services/birth_registration/candidates",
        who="planner_commune",
        params={"commune": other},
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["field"] == "commune"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_000}, "limit"),
        ({"commune": "12"}, "commune"),
        ({"commune": "99999"}, "commune"),
        ({"min_band": "urgent"}, "min_band"),
    ],
)
def test_bad_candidate_queries_are_422(api, params, field):
    response = api.get("/v1/services/birth_registration/candidates", params=params)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field


def test_unknown_service_is_422_and_unserved_is_409(api):
    assert api.get("/v1/services/passport/candidates").status_code == 422
    unserved = api.get("/v1/services/transport_business_license/candidates")
    assert unserved.status_code == 409


def _brute_force(p):
    pmf = np.array([1.0])
    for q in p:
        pmf = np.convolve(pmf, [1 - q, q])
    return pmf


def test_poisson_binomial_matches_brute_force_convolution():
    rng = np.random.default_rng(0)
    for n in (1, 5, 60, 400):
        p = np.round(rng.beta(0.3, 3, n), 3)  # repeated values, like isotonic output
        exact = _brute_force(p)
        ours = poisson_binomial(p)
        assert np.abs(ours - exact[: len(ours)]).max() < 1e-12
        assert exact[len(ours) :].sum() < 1e-12
    low, high = interval(_brute_force(np.full(100, 0.5)))
    assert (low, high) == (42, 58)  # Binomial(100, 0.5) 5 % / 95 % quantiles


def test_forecast_is_the_sum_of_calibrated_probabilities_with_an_interval(api, subjects):
    frame = subjects["poor_household_confirmation"]
    commune = api.commune
    body = api.get(
        "/v1/forecast", params={"service": "poor_household_confirmation", "commune": commune}
    ).json()
    (row,) = body["forecasts"]
    mine = frame.loc[frame["commune_code"] == commune, "probability"]
    assert row["expected"] == pytest.approx(mine.sum(), rel=1e-9)
    assert row["subjects"] == len(mine)
    assert row["low"] <= row["expected"] <= row["high"]
    province = api.get("/v1/forecast", params={"service": "poor_household_confirmation"}).json()
    total = next(r for r in province["forecasts"] if r["commune_code"] == "province")
    assert total["expected"] == pytest.approx(frame["probability"].sum(), rel=1e-9)
    scoped = api.get(
        "/v1/forecast", who="planner_commune", params={"service": "birth_registration"}
    ).json()
    assert {r["commune_code"] for r in scoped["forecasts"]} == {api.commune}


def test_forecast_months_outside_the_horizon_are_refused(api):
    ok = api.get("/v1/forecast", params={"service": "birth_registration", "month": "2026-02"})
    assert ok.status_code == 200
    late = api.get("/v1/forecast", params={"service": "birth_registration", "month": "2026-06"})
    assert late.status_code == 422
    assert late.json()["error"]["field"] == "month"
    assert api.get("/v1/forecast", params={"service": "x"}).status_code == 422
    assert (
        api.get(
            "/v1/forecast", params={"service": "birth_registration", "month": "June"}
        ).status_code
        == 422
    )


def test_outcomes_are_recorded_and_summarised_as_take_up(api, subjects):
    frame = subjects["school_admission"]
    picked = frame[frame["commune_code"] == api.commune].head(4)
    cccds = [str(c) for c in picked["subject_id"]]
    steps = [(c, "notified") for c in cccds] + [(cccds[0], "completed"), (cccds[1], "declined")]
    response = api.post(
        "/v1/outcomes",
        json={
            "outcomes": [
                {"service_id": "school_admission", "cccd": c, "status": s} for c, s in steps
            ]
        },
    )
    assert response.status_code == 201, response.text
    assert len(response.json()["recorded"]) == 6
    summary = api.get("/v1/outcomes/summary", params={"service": "school_admission"}).json()
    row = next(r for r in summary["summary"] if r["commune_code"] == api.commune)
    assert (row["notified"], row["completed"], row["declined"]) == (4, 1, 1)
    assert row["take_up"] == pytest.approx(0.25)


def test_outcomes_for_unknown_or_out_of_scope_subjects_are_404_and_bad_status_422(api, subjects):
    frame = subjects["school_admission"]
    outside = str(frame.loc[frame["commune_code"] != api.commune, "subject_id"].iloc[0])
    body = {"outcomes": [{"service_id": "school_admission", "cccd": outside, "status": "notified"}]}
    assert api.post("/v1/outcomes", who="planner_commune", json=body).status_code == 404
    body["outcomes"][0]["status"] = "maybe"
    bad = api.post("/v1/outcomes", json=body)
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "outcomes[0].status"


def test_outcomes_refuse_impossible_dates_and_invented_prediction_ids(api, subjects):
    cccd = str(subjects["school_admission"].sort_values("probability").subject_id.iloc[-1])
    needs = api.get(f"/v1/citizens/{cccd}/needs").json()["needs"]
    issued = next(n["prediction_id"] for n in needs if n["service_id"] == "school_admission")
    other = str(subjects["school_admission"].sort_values("probability").subject_id.iloc[-2])

    def outcome(**fields):
        item = {"service_id": "school_admission", "cccd": cccd, "status": "notified", **fields}
        return api.post("/v1/outcomes", json={"outcomes": [item]})

    for day in ("2024-99-99", "2024-02-30", "2999-01-01", "1899-12-31", "２０２４-01-01"):
        response = outcome(occurred_on=day)
        assert response.status_code == 422, (day, response.text)
        assert response.json()["error"]["field"] == "outcomes[0].occurred_on"
    invented = [
        "pr_" + "0" * 24,  # the old format
        issued[:-1] + ("0" if issued[-1] != "0" else "1"),  # one digit changed
        issued.replace("_20251231_", "_20261231_"),  # a snapshot that does not exist yet
        "pr_inline_" + "a" * 24,  # an inline what-if names no subject
    ]
    for pid in invented:
        response = outcome(prediction_id=pid)
        assert response.status_code == 422, (pid, response.text)
        assert response.json()["error"]["field"] == "outcomes[0].prediction_id"
    # Another subject's real prediction id is refused for this one.
    their = api.get(f"/v1/citizens/{other}/needs").json()["needs"]
    theirs = next(n["prediction_id"] for n in their if n["service_id"] == "school_admission")
    assert outcome(prediction_id=theirs).status_code == 422
    accepted = outcome(prediction_id=issued, occurred_on="2025-12-30", note="gọi điện lần 1")
    assert accepted.status_code == 201, accepted.text
    for note in ("a\u0000b", "ok\u202eevil", "zero\u200bwidth"):
        assert outcome(note=note).status_code == 422


def test_a_real_disagreement_in_the_consistency_report_flags_its_dossier_field(api, served):
    """No injected flag: a disagreement the consistency report found between two agencies
    shows on the dossier fields of the record it names."""
    report = ScoredSnapshot(served.snapshot).read("consistency")
    flagged_records = set(report["record_id"].dropna())
    found = None
    for service_id, table in api.store.services.items():
        for subject, row in table.dossiers.items():
            position = table.row_of[subject]
            if table.band[position] == "low" and not table.rule_fires[position]:
                continue  # a dossier is shown for likely needs only
            for key, value in row.items():
                if key.endswith(".record_id") and value in flagged_records:
                    contact = table.contact[table.row_of[subject]]
                    if isinstance(contact, str):
                        found = (service_id, contact, key.removesuffix(".record_id"), value)
                        break
            if found:
                break
        if found:
            break
    assert found is not None, "the demo snapshot has flagged dossier records"
    service_id, cccd, component, record_id = found
    expected = report[report["record_id"] == record_id]
    body = api.get(f"/v1/citizens/{cccd}/needs", who="admin").json()
    item = next(n for n in body["needs"] if n["service_id"] == service_id)
    dossier = {c["component"]: c for c in item["dossier"]}
    for field in dossier[component]["fields"]:
        types = {f["type"] for f in field["flags"] if f["record_id"] == record_id}
        assert types >= set(expected["type"]), (field, expected)
    # Other components carry it only on a CCCD field (flags of a person's CCCD follow it).
    others = [c for name, c in dossier.items() if name != component]
    assert all(
        f["record_id"] != record_id
        for c in others
        for fld in c["fields"]
        if fld["field"] != "cccd"
        for f in fld["flags"]
    )
