"""The same API through a real uvicorn process over HTTP (what `make run` serves)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(served, tmp_path_factory):
    database = f"sqlite:///{tmp_path_factory.mktemp('server')}/service.db"
    key = create_key(make_engine(database), "planner", Scope("province"))[1]
    port = _free_port()
    env = {
        **os.environ,
        "NEEDS_SCORES_DIR": str(served.settings.scores_dir),
        "NEEDS_MODELS_DIR": str(served.settings.models_dir),
        "NEEDS_DATABASE_URL": database,
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-server-header",  # as `make serve` starts it
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            pytest.fail(f"uvicorn exited: {process.stderr.read() if process.stderr else ''}")
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client
    process.terminate()
    process.communicate(timeout=30)


def test_health_and_services_over_http(server):
    response = server.get("/health")
    assert "server" not in response.headers  # nothing says which server software answers
    assert response.headers["x-content-type-options"] == "nosniff"
    health = response.json()
    assert health["status"] == "ok" and health["data_as_of"] == "2025-12-31"
    services = server.get("/v1/services").json()["services"]
    assert len(services) == 7
    assert all(s["documents"] and s["name_vi"] and s["legal_basis"] for s in services)


def test_prediction_needs_and_errors_over_http(server, subjects):
    cccd = str(subjects["birth_registration"].sort_values("probability").subject_id.iloc[-1])
    predicted = server.post("/v1/predictions", json={"cccds": [cccd]})
    assert predicted.status_code == 200
    assert predicted.json()["predictions"][0]["reasons"]
    needs = server.get(f"/v1/citizens/{cccd}/needs")
    assert needs.status_code == 200 and needs.json()["needs"][0]["dossier"]
    nan_record = b'{"service_id": "school_admission", "features": {"age_years": NaN}}'
    bad = server.post(
        "/v1/predictions",
        content=b'{"records": [' + nan_record + b"]}",
        headers={"Content-Type": "application/json"},
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"]
    assert server.get("/v1/citizens/049199999999/needs").status_code == 404
    assert httpx.get(str(server.base_url.join("/v1/services"))).status_code == 401


def test_openapi_documents_every_route_with_examples(server):
    spec = server.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/predictions", "/v1/forecast", "/v1/audit/log"} <= set(paths)
    request = paths["/v1/predictions"]["post"]["requestBody"]["content"]["application/json"]
    schema = spec["components"]["schemas"]["PredictionRequest"]
    assert schema.get("examples") or request.get("examples")
    for path, methods in paths.items():
        for method, operation in methods.items():
            if path != "/health":
                assert {"401", "403", "422"} <= set(operation["responses"]), (path, method)
