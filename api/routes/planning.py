"""Ranked contact lists and forecasts of requests per commune."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Query

from api.deps import Forecasters, Lang, OutreachReads, PurposeQuery, StoreDep, TrailDep
from api.errors import ApiError
from api.schemas import NOTICE, CandidatesResponse, CommuneCode, ForecastResponse, Month, ServiceId
from api.views import (
    communes_asked,
    contact_view,
    decode_cursor,
    encode_cursor,
    served_table,
    subject_prediction,
    subjects_logged,
)
from needs_model.scoring.bands import BANDS

router = APIRouter(tags=["planning"])


@router.get(
    "/v1/services/{service_id}/candidates",
    response_model=CandidatesResponse,
)
def candidates(
    principal: OutreachReads,
    service_id: ServiceId,
    store: StoreDep,
    trail: TrailDep,
    lang: Lang,
    commune: Annotated[CommuneCode | None, Query()] = None,
    min_band: Annotated[Literal["high", "medium", "low"], Query()] = "low",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    purpose: PurposeQuery = None,
) -> dict[str, Any]:
    """The ranked proactive contact list, most likely first, with reasons and whom to contact
    (the subject, a child's parent, a household's adult, a business's owner)."""
    table = served_table(store, service_id, "service_id")
    communes = communes_asked(store, principal, commune)
    mask = np.ones(len(table.subject_ids), dtype=bool)
    if communes is not None:
        mask &= np.isin(table.commune, list(communes))
    floor = {name: threshold for threshold, name in BANDS}.get(min_band, 0.0)
    mask &= table.probability >= floor
    rows = table.order[mask[table.order]]
    start = decode_cursor(cursor, store.as_of, table, rows) if cursor else 0
    page = rows[start : start + limit]
    items = []
    subjects: list[str] = []
    for rank, row in enumerate(page, start=start + 1):
        prediction = subject_prediction(store, table, int(row), principal, lang, False)
        contact = contact_view(store, principal, table, int(row))
        items.append(
            {"rank": rank, "contact": contact, "commune_code": table.commune[row], **prediction}
        )
        subjects += subjects_logged(table, int(row), contact)
    end = start + len(page)
    next_cursor = encode_cursor(store.as_of, table, rows, end) if end < len(rows) else None
    trail.record(
        principal,
        action="read_candidates",
        route="GET /v1/services/{service_id}/candidates",
        subjects=subjects,
        purpose=purpose,
        details={
            "service": service_id,
            "commune": commune,
            "start": start,
            "returned": len(items),
        },
        personal_reads=len(set(subjects)),
    )
    return {
        "as_of": store.as_of,
        "notice": NOTICE[lang],
        "service_id": service_id,
        "total": len(rows),
        "candidates": items,
        "next_cursor": next_cursor,
    }


@router.get("/v1/forecast", response_model=ForecastResponse)
def forecast(
    principal: Forecasters,
    store: StoreDep,
    trail: TrailDep,
    service_id: Annotated[ServiceId, Query(alias="service")],
    commune: Annotated[CommuneCode | None, Query()] = None,
    month: Annotated[Month | None, Query()] = None,
) -> dict[str, Any]:
    """Expected requests per commune in the service's horizon, with a 90 % interval
    from the exact distribution of a sum of the calibrated Bernoulli probabilities."""
    served_table(store, service_id, "service")
    rows = store.forecast[store.forecast["service_id"] == service_id]
    communes = communes_asked(store, principal, commune)
    if communes is not None:
        rows = rows[rows["commune_code"].isin(communes)]
    window = rows.iloc[0] if len(rows) else None
    if month is not None and window is not None:
        first, last = str(window["window_start"])[:7], str(window["window_end"])[:7]
        if not first <= month <= last:
            raise ApiError(
                422,
                "outside_horizon",
                f"the forecast covers {first}..{last} (as of {store.as_of}); {month} is outside it",
                "month",
            )
    trail.record(
        principal,
        action="read_forecast",
        route="GET /v1/forecast",
        details={"service": service_id, "commune": commune, "month": month},
    )
    return {
        "as_of": store.as_of,
        "service_id": service_id,
        "method": "exact Poisson-binomial distribution of the calibrated probabilities",
        "forecasts": [
            {k: (v.item() if isinstance(v, np.generic) else v) for k, v in r.items()}
            for r in rows.to_dict("records")
        ],
    }
