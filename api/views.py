"""What the routes answer with: predictions with reasons, citizens and their subjects within a
scope, dossiers, cursors, and the checks they share (scope, served models, prediction ids)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import numpy as np

from api.errors import ApiError, not_found
from api.store import ServiceTable, Store
from needs_model.catalogue.services import service
from needs_model.governance.access import Principal, Scope
from needs_model.scoring.bands import band
from needs_model.scoring.explain import top_reasons
from needs_model.scoring.prefill import dossier_components

PREDICTION_ID = re.compile(r"pr_([0-9]{8})_([0-9A-Za-z.-]{1,16})_([0-9a-f]{24})")


def _prediction_digest(as_of: str, service_id: str, subject_id: str, version: str) -> str:
    return hashlib.sha256(f"{as_of}|{service_id}|{subject_id}|{version}".encode()).hexdigest()


def prediction_id(as_of: str, service_id: str, subject_id: str, version: str) -> str:
    """`pr_<as-of>_<model version>_<digest>`: an outcome's prediction id can be checked
    against the subject it names, for this or an earlier scored snapshot."""
    digest = _prediction_digest(as_of, service_id, subject_id, version)
    return f"pr_{as_of.replace('-', '')}_{version}_{digest[:24]}"


def check_prediction_id(
    pid: str, service_id: str, subject_id: str, current_as_of: str, field: str
) -> None:
    match = PREDICTION_ID.fullmatch(pid)
    if match is not None:
        day, version, digest = match.groups()
        as_of = f"{day[:4]}-{day[4:6]}-{day[6:]}"
        issued = _prediction_digest(as_of, service_id, subject_id, version)[:24]
        if as_of <= current_as_of and hmac.compare_digest(issued, digest):
            return
    raise ApiError(
        422,
        "unknown_prediction",
        f"{pid} is not a prediction this API issued for this {service_id} subject",
        field,
    )


def _sources(store: Store, service_id: str) -> list[dict[str, str | None]]:
    dates = store.manifest["sources"]
    return [
        {"table": t, "as_of": dates.get(t)} for t in store.manifest["service_sources"][service_id]
    ]


def prediction_body(
    store: Store,
    table: ServiceTable,
    values: np.ndarray,
    shap_row: np.ndarray,
    probability: float,
    subject_id: str | None,
    principal: Principal,
    lang: str,
    full: bool,
    pid: str,
) -> dict[str, Any]:
    with_values = principal.role != "planner"
    features = table.model.features
    reasons = top_reasons(
        features, values, shap_row, table.service_id, lang, limit=3, with_values=with_values
    )
    out: dict[str, Any] = {
        "prediction_id": pid,
        "service_id": table.service_id,
        "subject_id": subject_id,
        "probability": round(float(probability), 6),
        "band": band(probability),
        "legal_trigger": bool(values[table.rule_index] == 1),
        "horizon_months": service(table.service_id).horizon_months,
        "reasons": [
            {
                "feature": r.feature,
                "text": r.text,
                # A withheld (sensitive) reason's direction would reveal its value.
                "contribution": None if r.withheld else round(r.contribution, 6),
                "direction": None if r.withheld else ("raises" if r.contribution > 0 else "lowers"),
                "value": r.value,
            }
            for r in reasons
        ],
        "sources": _sources(store, table.service_id),
        "model_version": table.version,
    }
    if full:
        out["margin"] = float(shap_row.sum())
        out["bias"] = float(shap_row[-1])
        out["contributions"] = {f: float(v) for f, v in zip(features, shap_row[:-1], strict=True)}
    return out


def subject_prediction(
    store: Store, table: ServiceTable, row: int, principal: Principal, lang: str, full: bool
) -> dict[str, Any]:
    subject_id = str(table.subject_ids[row])
    shap_row = table.explain_row(row)
    return prediction_body(
        store,
        table,
        table.matrix[row],
        shap_row,
        float(table.probability[row]),
        subject_id,
        principal,
        lang,
        full,
        prediction_id(store.as_of, table.service_id, subject_id, table.version),
    )


def citizen_in_scope(store: Store, principal: Principal, cccd: str, field: str) -> dict[str, Any]:
    person = store.people.get(cccd)
    if person is None or not principal.scope.allows(
        person["commune_code"], person["district_code"]
    ):
        raise not_found(f"citizen {cccd}", field, attempted=cccd)
    return person


def citizen_rows(
    store: Store, principal: Principal, cccd: str, services: list[str] | None
) -> list[tuple[ServiceTable, int]]:
    rows = []
    for service_id, subject_id in store.by_cccd.get(cccd, []):
        if services is not None and service_id not in services:
            continue
        table = store.services[service_id]
        row = table.row_of[subject_id]
        if principal.scope.allows(table.commune[row], table.district[row]):
            rows.append((table, row))
    return rows


def served_table(store: Store, service_id: str, field: str) -> ServiceTable:
    table = store.services.get(service_id)
    if table is None:
        reason = store.manifest.get("not_served", {}).get(service_id, "no model is served")
        raise ApiError(409, "model_not_served", f"{service_id}: {reason}", field)
    return table


def check_full(principal: Principal, explain: str) -> bool:
    if explain == "full" and principal.role == "planner":
        raise ApiError(403, "forbidden", "planners receive reasons, not contributions", "explain")
    return explain == "full"


def contact_view(
    store: Store, principal: Principal, table: ServiceTable, row: int
) -> dict[str, Any]:
    """Whom to contact about the subject of `row`: CCCD, name and relation to the subject
    (`needs_model.scoring.contacts`). A contact living outside the key's scope (a child's
    mother registered in another commune) is named by relation only, `outside_scope`: the
    subject is in scope, the contact's identity is not."""
    cccd, relation = table.contact[row], table.contact_relation[row]
    person = store.people.get(cccd) if isinstance(cccd, str) else None
    if person is not None and not principal.scope.allows(
        person["commune_code"], person["district_code"]
    ):
        return {"cccd": None, "full_name": None, "relation": relation, "outside_scope": True}
    return {
        "cccd": cccd if isinstance(cccd, str) else None,
        "full_name": person["full_name"] if person else None,
        "relation": relation,
        "outside_scope": False,
    }


def subjects_logged(
    table: ServiceTable, row: int, contact: dict[str, Any] | None = None
) -> list[str]:
    """The subject and its contact, as the audit log names them read; with the contact as
    returned (`contact_view`), one withheld from the caller is not named."""
    subject = str(table.subject_ids[row])
    cccd = table.contact[row] if contact is None else contact["cccd"]
    return [s for s in dict.fromkeys([subject, cccd]) if isinstance(s, str)]


def scope_communes(store: Store, scope: Scope) -> set[str] | None:
    """The 2025 communes a scope covers (None: the whole province)."""
    if scope.level == "province":
        return None
    if scope.level == "commune":
        return {scope.code}
    communes = store.communes
    return set(communes.loc[communes["district_code"] == scope.code, "commune_code"].astype(str))


def communes_asked(store: Store, principal: Principal, commune: str | None) -> set[str] | None:
    """The communes a query may read: the one asked for (known, inside the scope: communes
    are public, so an outside one is a 403, not a 404), else the whole scope."""
    allowed = scope_communes(store, principal.scope)
    if commune is None:
        return allowed
    if commune not in store.commune_codes:
        raise ApiError(422, "invalid_value", f"unknown commune {commune}", "commune")
    if allowed is not None and commune not in allowed:
        raise ApiError(403, "out_of_scope", f"commune {commune} is outside your scope", "commune")
    return {commune}


def encode_cursor(as_of: str, table: ServiceTable, rows: np.ndarray, end: int) -> str:
    last = int(rows[end - 1])
    payload = {
        "as_of": as_of,
        "p": float(table.probability[last]),
        "s": str(table.subject_ids[last]),
    }
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def decode_cursor(cursor: str, as_of: str, table: ServiceTable, rows: np.ndarray) -> int:
    """Position after the cursor's (probability, subject) in the ranked rows (keyset)."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        p, s, seen_as_of = float(payload["p"]), str(payload["s"]), str(payload["as_of"])
    except (ValueError, KeyError, TypeError) as error:
        raise ApiError(
            422, "invalid_cursor", "the cursor is not one this API issued", "cursor"
        ) from error
    if seen_as_of != as_of:
        raise ApiError(
            422,
            "stale_cursor",
            "the scores were refreshed since this cursor; start again",
            "cursor",
        )
    probs = table.probability[rows]
    ids = table.subject_ids[rows]
    return int(np.sum((probs > p) | ((probs == p) & (ids <= s))))


def prefilled_dossier(
    store: Store, table: ServiceTable, subject_id: str, lang: str, contact: dict[str, Any]
) -> list[dict[str, Any]]:
    """The dossier's components with their prefilled values and flags; the components read
    through the contact are left empty when the contact is withheld (`contact_view`)."""
    return dossier_components(
        table.service_id,
        table.dossiers.get(subject_id) or {},
        lang,
        store.flags_by_record,
        store.flags_by_cccd,
        contact_withheld=bool(contact["outside_scope"]),
    )
