"""No personal data in the server's own logs: a real uvicorn, a realistic workload (reads of
named citizens with purposes, probes, bad keys, errors), then its whole output is searched
for CCCDs, names, keys and purposes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from api.logs import mask_path
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine

from .test_server import ROOT, _free_port

PURPOSE = "Gọi cho chị Lan về giấy khai sinh"


@pytest.fixture(scope="module")
def logged_run(served, subjects, tmp_path_factory):
    """Run the workload against uvicorn with its default logging; return what it logged,
    the keys used and the citizens and names the responses held."""
    folder = tmp_path_factory.mktemp("logs")
    database = f"sqlite:///{folder}/service.db"
    engine = make_engine(database)
    keys = {
        role: create_key(engine, role, Scope("province"), "logs")[1]
        for role in ("planner", "auditor", "admin")
    }
    port = _free_port()
    env = {
        **os.environ,
        "NEEDS_SCORES_DIR": str(served.settings.scores_dir),
        "NEEDS_MODELS_DIR": str(served.settings.models_dir),
        "NEEDS_DATABASE_URL": database,
        "NEEDS_AUDIT_CHECKPOINT_DIR": str(folder / "checkpoints"),
    }
    log_file = folder / "server.log"
    with open(log_file, "w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(base, process)
            seen = _workload(base, keys, subjects)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return log_file.read_text(encoding="utf-8"), keys, seen


def _wait(base: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
        if process.poll() is not None:
            pytest.fail("uvicorn exited")
    pytest.fail("uvicorn did not start")


def _workload(base: str, keys: dict[str, str], subjects) -> dict[str, set[str]]:
    cccds = [str(c) for c in subjects["birth_registration"].subject_id.iloc[:20]]
    households = [str(s) for s in subjects["poor_household_confirmation"].subject_id.iloc[:5]]
    seen: dict[str, set[str]] = {"cccds": set(cccds), "names": set(), "subjects": set(households)}
    planner = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['planner']}"})
    auditor = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['auditor']}"})
    with planner, auditor:
        for cccd in cccds:
            needs = planner.get(f"/v1/citizens/{cccd}/needs", params={"purpose": PURPOSE})
            assert needs.status_code == 200
            seen["names"].add(needs.json()["citizen"]["full_name"])
            auditor.get(f"/v1/citizens/{cccd}/access-log", params={"purpose": PURPOSE})
        planner.post("/v1/predictions", json={"cccds": cccds[:5], "purpose": PURPOSE})
        listed = planner.get(
            "/v1/services/birth_registration/candidates", params={"limit": 30, "purpose": PURPOSE}
        ).json()["candidates"]
        for item in listed:
            seen["cccds"].add(item["contact"]["cccd"])
            seen["names"].add(item["contact"]["full_name"])
        for household in households:
            planner.post(
                "/v1/outcomes",
                json={
                    "outcomes": [
                        {
                            "service_id": "poor_household_confirmation",
                            "subject_id": household,
                            "status": "notified",
                            "note": PURPOSE,
                        }
                    ]
                },
            )
        planner.get("/v1/citizens/049199999999/needs")  # a probe: 404
        planner.get("/v1/audit/log")  # 403
        planner.get(f"/v1/citizens/{cccds[0]}/needs", params={"purpose": "a\x00b"})  # 422
        bad_key = keys["planner"][:-4] + "AAAA"
        httpx.get(f"{base}/v1/citizens/{cccds[1]}/needs", headers={"X-API-Key": bad_key})
        httpx.get(f"{base}/v1/citizens/{cccds[2]}/needs?key={keys['admin']}")
    seen["cccds"].add("049199999999")
    return seen


def test_the_log_holds_the_requests_but_no_identifier_name_key_or_purpose(logged_run):
    text, keys, seen = logged_run
    # The guard: the access log is there and records the workload.
    assert text.count('"POST /v1/predictions HTTP/1.1" 200') >= 1
    assert " 404" in text and " 403" in text and " 401" in text
    leaked_cccds = {c for c in seen["cccds"] if c and c in text}
    assert not leaked_cccds
    assert not re.search(r"[0-9]{9,}", text), "a long number (an identifier) was logged"
    assert not {s for s in seen["subjects"] if s in text}
    assert not {n for n in seen["names"] if n and n in text}
    assert PURPOSE not in text and "purpose=" not in text
    for key in keys.values():
        secret = key.split("_", 2)[2]
        assert key not in text and secret not in text
    assert "GET /v1/citizens/{id}/needs HTTP/1.1" in text  # masked, not dropped


def test_mask_path_removes_identifiers_and_queries():
    assert mask_path("/v1/citizens/049187909209/needs?purpose=x") == "/v1/citizens/{id}/needs"
    assert mask_path("/v1/citizens/HK000000123/access-log") == "/v1/citizens/{id}/access-log"
    assert mask_path("/v1/services/birth_registration/candidates") == (
        "/v1/services/birth_registration/candidates"
    )


def test_make_serve_never_prints_the_key():
    makefile = (Path(ROOT) / "Makefile").read_text()
    serve = makefile.split("\nserve:", 1)[1].split("\n\n", 1)[0]
    create = next(line for line in serve.splitlines() if "keys create" in line)
    assert "--out" in create and "--expires" in create
    assert "--no-server-header" in serve
