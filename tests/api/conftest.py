"""A served, scored small province and an API client per role (in process, over ASGI).

Models are trained with the production `fit_service` on the shared 20,000-person province
and written as verified bundles (no MLflow: the API reads bundles, not the registry).
Services the small province cannot train (too few vets, transport businesses) stay
unserved, which is a case the API must handle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.store import Store, load_store
from needs_model.access import Scope, create_key
from needs_model.dataset import load_service
from needs_model.promotion import switch_current, write_bundle
from needs_model.scoring import score
from needs_model.servicedb import make_engine
from needs_model.services import service
from needs_model.settings import Settings
from needs_model.training import FAST, fit_service, temporal_split

SERVED = (
    "birth_registration",
    "school_admission",
    "medical_license_renewal",
    "poor_household_confirmation",
)
AS_OF = dt.date(2025, 12, 31)


@dataclass
class Served:
    raw: Path
    settings: Settings
    snapshot: Path
    store: Store


@pytest.fixture(scope="session")
def served(province, snapshots, tmp_path_factory) -> Served:
    _, raw = province
    root = tmp_path_factory.mktemp("served")
    settings = Settings(
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
        scores_dir=root / "scores",
        database_url=f"sqlite:///{root}/service.db",
        audit_signing_key="test-signing-key",
        max_batch=20,
        max_body_bytes=20_000,
    )
    config = replace(FAST, test_months=6, valid_months=6)
    for service_id in SERVED:
        frame = load_service(snapshots, service_id)
        split = temporal_split(frame, service(service_id).horizon_months, config)
        model = fit_service(split, service_id, config)
        source = root / "fitted" / service_id
        model.save(source)
        write_bundle(settings.models_dir, service_id, "1", source, {"test": True}, {})
        switch_current(settings.models_dir, service_id, "1")
    snapshot = score(raw, AS_OF, settings.models_dir, settings.scores_dir, top_per_commune=5)
    return Served(raw, settings, snapshot, load_store(snapshot, settings.models_dir))


@pytest.fixture(scope="session")
def subjects(served) -> dict[str, pd.DataFrame]:
    return {s: pd.read_parquet(served.snapshot / "subjects" / f"{s}.parquet") for s in SERVED}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    engine: object
    store: Store
    settings: Settings
    commune: str
    district: str

    def get(self, path: str, who: str | None = "planner", **kwargs):
        return self.client.get(path, headers=self._headers(who, kwargs), **kwargs)

    def post(self, path: str, who: str | None = "planner", **kwargs):
        return self.client.post(path, headers=self._headers(who, kwargs), **kwargs)

    def _headers(self, who: str | None, kwargs: dict) -> dict[str, str]:
        headers = dict(kwargs.pop("headers", {}))
        if who is not None:
            headers["Authorization"] = f"Bearer {self.keys[who]}"
        return headers


@pytest.fixture(scope="module")
def api(served, tmp_path_factory) -> Iterator[Api]:
    """A fresh service database per test module; keys for every role and scope."""
    database = tmp_path_factory.mktemp("db") / "service.db"
    settings = served.settings.model_copy(update={"database_url": f"sqlite:///{database}"})
    engine = make_engine(settings.database_url)
    table = served.store.services["birth_registration"]
    commune = str(pd.Series(table.commune).value_counts().index[0])
    district = str(served.store.communes.set_index("commune_code").loc[commune, "district_code"])
    scopes = {
        "planner": Scope("province"),
        "planner_commune": Scope("commune", commune),
        "planner_district": Scope("district", district),
        "auditor": Scope("province"),
        "data_scientist": Scope("province"),
        "admin": Scope("province"),
    }
    keys = {
        name: create_key(engine, name.split("_commune")[0].split("_district")[0], scope)[1]
        for name, scope in scopes.items()
    }
    app = create_app(settings, store=served.store, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Api(client, keys, engine, served.store, settings, commune, district)
