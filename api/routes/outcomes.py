"""What happened after a contact, and take-up."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AnyRole, EngineDep, Outreach, SettingsDep, StoreDep, TrailDep
from api.errors import ApiError, not_found
from api.schemas import OutcomesRecorded, OutcomesRequest, OutcomesSummary, ServiceId
from api.views import check_prediction_id, scope_communes, served_table
from needs_model.governance import outcomes as outcome_store

router = APIRouter(tags=["outcomes"])


@router.post("/v1/outcomes", status_code=201, response_model=OutcomesRecorded)
def record_outcomes(
    principal: Outreach,
    request_body: OutcomesRequest,
    store: StoreDep,
    engine: EngineDep,
    trail: TrailDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Record what happened after a contact (notified, completed, declined, wrong data)."""
    if len(request_body.outcomes) > settings.max_batch:
        raise ApiError(413, "batch_too_large", f"at most {settings.max_batch}", "outcomes")
    rows = []
    for i, item in enumerate(request_body.outcomes):
        table = served_table(store, item.service_id, f"outcomes[{i}].service_id")
        asked: str | None
        if item.cccd is not None:
            where, asked = f"outcomes[{i}].cccd", item.cccd
            # The CCCD's own need, or the one subject it is the contact for; a parent of two
            # children on the grade-1 list must say which (only subjects in scope count, so
            # the refusal reveals nothing outside it).
            matches = [
                s
                for sid, s in store.by_cccd.get(item.cccd, [])
                if sid == item.service_id
                and principal.scope.allows(
                    table.commune[table.row_of[s]], table.district[table.row_of[s]]
                )
            ]
            if len(matches) > 1:
                raise ApiError(
                    422,
                    "ambiguous_cccd",
                    f"{item.cccd} is the contact for {len(matches)} {item.service_id} "
                    "subjects: give subject_id instead",
                    where,
                )
            subject = matches[0] if matches else None
        else:
            subject, where = item.subject_id, f"outcomes[{i}].subject_id"
            asked = item.subject_id
        row = table.row_of.get(subject) if subject is not None else None
        if row is None or not principal.scope.allows(table.commune[row], table.district[row]):
            raise not_found(f"a {item.service_id} subject", where, attempted=asked)
        if item.prediction_id is not None:
            check_prediction_id(
                item.prediction_id,
                item.service_id,
                str(subject),
                store.as_of,
                f"outcomes[{i}].prediction_id",
            )
        rows.append(
            {
                "service_id": item.service_id,
                "subject_id": subject,
                "cccd": table.contact[row] if isinstance(table.contact[row], str) else None,
                "commune_code": table.commune[row],
                "status": item.status,
                "prediction_id": item.prediction_id,
                "probability": float(table.probability[row]),
                "note": item.note,
                "occurred_on": item.occurred_on or dt.date.today().isoformat(),
            }
        )
    ids = outcome_store.record(engine, principal.key_id, rows)
    trail.record(
        principal,
        action="record_outcomes",
        route="POST /v1/outcomes",
        subjects=[s for r in rows for s in (r["subject_id"], r["cccd"]) if s],
        purpose=request_body.purpose,
        details={"outcomes": ids},
    )
    return {"recorded": ids}


@router.get("/v1/outcomes/summary", response_model=OutcomesSummary)
def outcomes_summary(
    principal: AnyRole,
    store: StoreDep,
    engine: EngineDep,
    trail: TrailDep,
    service_id: Annotated[ServiceId | None, Query(alias="service")] = None,
) -> dict[str, Any]:
    """Take-up (completed / notified) by service and commune, within your scope."""
    table = outcome_store.summary(engine, scope_communes(store, principal.scope), service_id)
    trail.record(
        principal,
        action="read_outcomes_summary",
        route="GET /v1/outcomes/summary",
        details={"service": service_id},
    )
    records = json.loads(table.to_json(orient="records"))
    return {"summary": records}
