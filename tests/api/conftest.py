"""An API client per role (in process, over ASGI) on the served, scored province of
tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.store import Store
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine
from needs_model.settings import Settings


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


def own_database(settings: Settings, folder: Path) -> Settings:
    """The settings with a service database (and audit checkpoints) of their own in
    `folder`: a module's keys and audit log start empty."""
    return settings.model_copy(
        update={
            "database_url": f"sqlite:///{folder / 'service.db'}",
            "audit_checkpoint_dir": folder / "checkpoints",
        }
    )


@pytest.fixture(scope="module")
def api(served, tmp_path_factory) -> Iterator[Api]:
    """A fresh service database per test module; keys for every role and scope."""
    settings = own_database(served.settings, tmp_path_factory.mktemp("db"))
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
