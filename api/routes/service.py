"""Liveness and the catalogue of services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import AnyRole, StoreDep
from api.schemas import API_VERSION, Health, ServicesResponse
from api.store import Store
from needs_model.catalogue.dossiers import DOSSIERS
from needs_model.catalogue.features import features_for
from needs_model.catalogue.services import SERVICES

router = APIRouter(tags=["service"])


@router.get("/health", response_model=Health)
def health(request: Request) -> dict[str, Any]:
    """Liveness, API and model versions and the data's as-of date (no key needed)."""
    loaded: Store | None = request.app.state.store
    return {
        "status": "ok" if loaded is not None else "no_scores",
        "api_version": API_VERSION,
        "data_as_of": loaded.as_of if loaded else None,
        "models": {s: t.version for s, t in loaded.services.items()} if loaded else {},
        "scorers": {s: t.model.scorer for s, t in loaded.services.items()} if loaded else {},
        "not_served": loaded.manifest.get("not_served", {}) if loaded else {},
    }


@router.get("/v1/services", response_model=ServicesResponse)
def services(_: AnyRole, store: StoreDep) -> dict[str, Any]:
    """The pilot services: names, horizon, legal basis, dossier documents, model."""
    return {
        "services": [
            {
                "service_id": s.service_id,
                "name_vi": s.name_vi,
                "name_en": s.name_en,
                "subject": s.subject_kind,
                "horizon_months": s.horizon_months,
                "label": s.label_definition,
                "legal_basis": s.legal_basis,
                "documents": [
                    {
                        "component": c.name,
                        "name_vi": c.label_vi,
                        "name_en": c.label_en,
                        "source": c.source,
                        "fields": list(c.fields),
                    }
                    for c in DOSSIERS[s.service_id]
                ],
                "features": features_for(s.service_id),
                "model_version": (
                    store.services[s.service_id].version if s.service_id in store.services else None
                ),
                "scorer": (
                    store.services[s.service_id].model.scorer
                    if s.service_id in store.services
                    else None
                ),
            }
            for s in SERVICES
        ]
    }
