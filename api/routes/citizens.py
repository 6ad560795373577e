"""One citizen's needs and pre-filled dossiers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CccdPath, Lang, OutreachReads, PurposeQuery, StoreDep, TrailDep
from api.schemas import NOTICE, NeedsResponse
from api.views import (
    citizen_in_scope,
    citizen_rows,
    contact_view,
    prefilled_dossier,
    subject_prediction,
    subjects_logged,
)

router = APIRouter(tags=["citizens"])


@router.get("/v1/citizens/{cccd}/needs", response_model=NeedsResponse)
def needs(
    principal: OutreachReads,
    cccd: CccdPath,
    store: StoreDep,
    trail: TrailDep,
    lang: Lang,
    purpose: PurposeQuery = None,
) -> dict[str, Any]:
    """Every need the citizen is the subject of, or is the contact for (a parent sees their
    child's grade-1 admission), and the pre-filled dossier of each likely one."""
    person = citizen_in_scope(store, principal, cccd, "cccd")
    items = []
    logged = [cccd]
    for table, row in citizen_rows(store, principal, cccd, None):
        prediction = subject_prediction(store, table, row, principal, lang, False)
        likely = prediction["band"] != "low" or prediction["legal_trigger"]
        contact = contact_view(store, principal, table, row)
        dossier = None
        if likely:
            dossier = prefilled_dossier(store, table, str(table.subject_ids[row]), lang, contact)
        role = "subject" if str(table.subject_ids[row]) == cccd else "contact"
        items.append(
            {**prediction, "likely": likely, "role": role, "contact": contact, "dossier": dossier}
        )
        logged += subjects_logged(table, row, contact)
    trail.record(
        principal,
        action="read_needs_and_dossiers",
        route="GET /v1/citizens/{cccd}/needs",
        subjects=logged,
        purpose=purpose,
        details={"predictions": [i["prediction_id"] for i in items]},
        personal_reads=len(set(logged)),
    )
    return {
        "as_of": store.as_of,
        "notice": NOTICE[lang],
        "citizen": {
            "cccd": cccd,
            "full_name": person["full_name"],
            "commune_code": person["commune_code"],
        },
        "needs": items,
        "not_served": sorted(store.manifest.get("not_served", {})),
    }
