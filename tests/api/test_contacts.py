"""A child's grade-1 need reaches a parent: the list names the parent, the parent's own CCCD
finds the need, the child's CCCD still finds it, and scopes hold."""

from __future__ import annotations

import pandas as pd
import pytest

from needs_model.governance.access import Scope, create_key
from tests.api.test_scopes import Place, leaks

SERVICE = "school_admission"


@pytest.fixture(scope="module")
def truth(served) -> pd.DataFrame:
    return pd.read_parquet(served.raw / "truth/people.parquet")


def _true_parent(truth: pd.DataFrame, child: str, relation: str) -> str | None:
    person = truth.set_index("cccd").loc[child, f"{relation}_id"]
    return None if person < 0 else str(truth.iloc[person]["cccd"])


def _likely_with(api, relation: str) -> list[str]:
    table = api.store.services[SERVICE]
    return [
        str(table.subject_ids[row])
        for row in table.order
        if table.contact_relation[row] == relation
        and (table.band[row] != "low" or table.rule_fires[row])
    ]


@pytest.mark.parametrize("relation", ["mother", "father"])
def test_a_parents_cccd_finds_the_childs_grade_one_need_and_dossier(api, truth, relation):
    child = _likely_with(api, relation)[0]
    parent = _true_parent(truth, child, relation)
    assert parent is not None
    body = api.get(f"/v1/citizens/{parent}/needs", params={"purpose": "grade 1"}).json()
    item = next(n for n in body["needs"] if n["service_id"] == SERVICE)
    assert item["subject_id"] == child and item["role"] == "contact"
    assert item["contact"] == {
        "cccd": parent,
        "full_name": api.store.people.get(parent)["full_name"],
        "relation": relation,
        "outside_scope": False,
    }
    dossier = {
        c["component"]: {f["field"]: f["value"] for f in c["fields"]} for c in item["dossier"]
    }
    assert dossier["child"]["cccd"] == child
    assert dossier["parent"]["cccd"] == parent and dossier["parent"]["relation"] == relation
    # The child's own CCCD finds the same need, naming the same parent.
    own = api.get(f"/v1/citizens/{child}/needs").json()
    mine = next(n for n in own["needs"] if n["service_id"] == SERVICE)
    assert mine["role"] == "subject" and mine["contact"]["cccd"] == parent
    assert mine["prediction_id"] == item["prediction_id"]
    # The parent's read is in the parent's and the child's access logs.
    for who in (parent, child):
        log = api.get(f"/v1/citizens/{who}/access-log", who="auditor").json()
        assert any(e["action"] == "read_needs_and_dossiers" for e in log["accesses"]), who


def test_the_grade_one_list_names_a_parent_not_the_child(api, truth):
    body = api.get(f"/v1/services/{SERVICE}/candidates", params={"limit": 200}).json()
    assert len(body["candidates"]) == 200
    relations = set()
    for item in body["candidates"]:
        contact = item["contact"]
        assert contact["cccd"] != item["subject_id"]
        relations.add(contact["relation"])
        if contact["relation"] in ("mother", "father"):
            assert contact["cccd"] == _true_parent(truth, item["subject_id"], contact["relation"])
    assert {"mother", "father"} <= relations


def test_an_outcome_by_a_parents_cccd_names_one_child(api, subjects):
    """A parent with two children on the grade-1 list must say which one; the child's own
    CCCD or the subject id records it."""
    frame = subjects[SERVICE]
    counts = frame.groupby("contact_cccd")["subject_id"].agg(list)
    parent, children = next((c, s) for c, s in counts.items() if len(s) >= 2)
    item = {"service_id": SERVICE, "cccd": parent, "status": "notified"}
    refused = api.post("/v1/outcomes", json={"outcomes": [item]})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "ambiguous_cccd"
    for who in ({"cccd": children[0]}, {"subject_id": children[1]}):
        item = {"service_id": SERVICE, "status": "notified", **who}
        assert api.post("/v1/outcomes", json={"outcomes": [item]}).status_code == 201
    only = counts[counts.map(len) == 1].index[0]
    item = {"service_id": SERVICE, "cccd": only, "status": "notified"}
    assert api.post("/v1/outcomes", json={"outcomes": [item]}).status_code == 201


def test_a_parent_living_in_another_commune_is_named_by_relation_only(api, subjects):
    """A commune key reads its children's needs; a mother registered in another commune is
    outside its scope: the list and the dossier say "mother" and withhold who she is. Her
    own commune's key finds her, but not the child's need (the child is not in its scope)."""
    frame = subjects[SERVICE]
    home = {c: api.store.people.get(c)["commune_code"] for c in frame["contact_cccd"].dropna()}
    away = frame[
        frame["contact_cccd"].notna()
        & (frame["contact_cccd"].map(home) != frame["commune_code"])
        & ((frame["band"] != "low") | frame["rule_fires"])
    ]
    assert len(away)
    row = away.iloc[0]
    child, mother = str(row["subject_id"]), str(row["contact_cccd"])
    keys = {
        name: create_key(api.engine, "planner", Scope("commune", commune))[1]
        for name, commune in (("child", str(row["commune_code"])), ("mother", home[mother]))
    }

    def get(who: str, path: str, **params):
        headers = {"Authorization": f"Bearer {keys[who]}"}
        return api.client.get(path, headers=headers, params=params)

    needs = get("child", f"/v1/citizens/{child}/needs").json()
    item = next(n for n in needs["needs"] if n["service_id"] == SERVICE)
    assert item["contact"] == {
        "cccd": None,
        "full_name": None,
        "relation": row["contact_relation"],
        "outside_scope": True,
    }
    parent = next(c for c in item["dossier"] if c["component"] == "parent")
    assert parent["outside_scope"] and not parent["prefilled"]
    assert all(f["value"] is None for f in parent["fields"])
    listed = get("child", f"/v1/services/{SERVICE}/candidates", limit=200).json()
    here = str(row["commune_code"])
    place = Place(Scope("commune", here), {here})
    subject_communes = {
        subject: table.commune[r]
        for table in api.store.services.values()
        for subject, r in table.row_of.items()
    }
    for body in (needs, listed):
        assert mother not in str(body)
        assert not leaks(api, body, place, subject_communes)
    mine = next(c for c in listed["candidates"] if c["subject_id"] == child)
    assert mine["contact"]["outside_scope"] and mine["contact"]["relation"] == "mother"
    # The mother's own commune: she is found, her child's need is not.
    hers = get("mother", f"/v1/citizens/{mother}/needs")
    assert hers.status_code == 200 and child not in hers.text
    # A province key sees both.
    province = api.get(f"/v1/citizens/{mother}/needs").json()
    assert any(n["subject_id"] == child for n in province["needs"])
