"""Scores with reasons, by CCCD or by inline feature records."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
from fastapi import APIRouter, Request

from api.deps import AnyRole, Lang, SettingsDep, StoreDep, TrailDep
from api.errors import ApiError
from api.schemas import NOTICE, PredictionRequest, PredictionResponse
from api.security import check_quota
from api.views import (
    check_full,
    citizen_in_scope,
    citizen_rows,
    prediction_body,
    served_table,
    subject_prediction,
    subjects_logged,
)

router = APIRouter(tags=["predictions"])


@router.post("/v1/predictions", response_model=PredictionResponse)
def predictions(
    request: Request,
    principal: AnyRole,
    request_body: PredictionRequest,
    store: StoreDep,
    trail: TrailDep,
    lang: Lang,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Scores with reasons, by CCCD (latest profiles) or by inline feature records."""
    full = check_full(principal, request_body.explain)
    size = len(request_body.cccds or request_body.records or [])
    if size > settings.max_batch:
        raise ApiError(413, "batch_too_large", f"at most {settings.max_batch} per request", "cccds")
    out: list[dict[str, Any]] = []
    logged: list[str] = []
    if request_body.cccds is not None:
        check_quota(principal, settings.personal_reads_per_day)
        for i, cccd in enumerate(request_body.cccds):
            citizen_in_scope(store, principal, cccd, f"cccds[{i}]")
            for table, row in citizen_rows(store, principal, cccd, request_body.services):
                out.append(subject_prediction(store, table, row, principal, lang, full))
                logged += subjects_logged(table, row)
        action = "predict"
    else:
        records = request_body.records or []
        for i, record in enumerate(records):
            table = served_table(store, record.service_id, f"records[{i}].service_id")
            values = np.array(
                [
                    np.nan if record.features.get(f) is None else record.features[f]
                    for f in table.model.features
                ],
                dtype=np.float64,
            )
            probability, shap_values = store.live(record.service_id, values[None, :])
            out.append(
                prediction_body(
                    store,
                    table,
                    values,
                    shap_values[0],
                    float(probability[0]),
                    record.reference,
                    principal,
                    lang,
                    full,
                    f"pr_inline_{uuid.uuid4().hex[:24]}",
                )
            )
        action = "predict_inline"
    trail.record(
        principal,
        action=action,
        route="POST /v1/predictions",
        subjects=logged,
        purpose=request_body.purpose,
        details={
            "predictions": [p["prediction_id"] for p in out],
            "services": sorted({p["service_id"] for p in out}),
            "explain": request_body.explain,
        },
        personal_reads=len(set(logged)),
    )
    return {"as_of": store.as_of, "notice": NOTICE[lang], "predictions": out}
