"""`kill -9` of the API under concurrent prediction traffic loses no acknowledged read.

A real uvicorn serves the scored province on its own service database. A client sends
rounds of concurrent `POST /v1/predictions`, each for a different citizen, and SIGKILLs
the server from outside at an observed point: as soon as the first audit entry of a round
is committed, while the rest of that round is still in flight. The server is restarted on
the same database and the traffic goes on. At the end the audit log must verify, hold an
entry for every acknowledged response, and hold nothing else but entries of requests that
were in flight at a kill.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from api.store import Store
from api.views import prediction_id
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine

ROOT = Path(__file__).resolve().parents[2]
ROUNDS, CONCURRENCY = 100, 8
KILLED_ROUNDS = (26, 51, 76)  # killed while in flight, once the round before was answered
SIGNING_KEY = "faults-signing-key"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """One uvicorn process at a time on the same service database."""

    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    base_url: str = ""
    starts: int = 0

    def start(self) -> None:
        port = _free_port()
        command = ["uvicorn", "api.main:app", "--port", str(port), "--log-level", "warning"]
        self.process = subprocess.Popen(
            [sys.executable, "-m", *command],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base_url, self.starts = f"http://127.0.0.1:{port}", self.starts + 1
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "uvicorn exited while starting"
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).json()["status"] == "ok":
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        pytest.fail("uvicorn did not start within 120 s")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no goodbye."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        assert self.process.wait(timeout=30) == -signal.SIGKILL

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


@pytest.fixture
def server(served, tmp_path) -> Iterator[tuple[Server, Engine, str]]:
    database = f"sqlite:///{tmp_path / 'service.db'}"
    engine = make_engine(database)
    key = create_key(
        engine,
        "planner",
        Scope("province"),
        "faults",
        requests_per_minute=1_000_000,
        personal_reads_per_day=10_000_000,
    )[1]
    env = {
        **os.environ,
        "NEEDS_SCORES_DIR": str(served.settings.scores_dir),
        "NEEDS_MODELS_DIR": str(served.settings.models_dir),
        "NEEDS_DATABASE_URL": database,
        "NEEDS_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "NEEDS_AUDIT_CHECKPOINT_EVERY": "50",
        "NEEDS_AUDIT_SIGNING_KEY": SIGNING_KEY,
    }
    process = Server(env)
    try:
        yield process, engine, key
    finally:
        process.stop()
        engine.dispose()


def _citizens(store: Store, count: int) -> dict[str, frozenset[str]]:
    """`count` CCCDs whose predictions share no subject, with the prediction ids each must
    return: an audit entry's prediction ids then name the one request it logged."""
    chosen: dict[str, frozenset[str]] = {}
    taken: set[tuple[str, str]] = set()
    for cccd in sorted(store.by_cccd):
        rows = set(store.by_cccd[cccd])
        if not rows or rows & taken or store.people.get(cccd) is None:
            continue
        taken |= rows
        chosen[cccd] = frozenset(
            prediction_id(store.as_of, s, subject, store.services[s].version) for s, subject in rows
        )
        if len(chosen) == count:
            return chosen
    raise AssertionError(f"only {len(chosen)} citizens with separate predictions")


@dataclass
class Traffic:
    acknowledged: dict[str, frozenset[str]] = field(default_factory=dict)  # cccd -> ids
    unanswered: list[str] = field(default_factory=list)  # in flight at a kill
    per_kill: list[int] = field(default_factory=list)  # unanswered at each kill


def _wait_for_commit_after(engine: Engine, head: int, timeout: float = 60) -> None:
    """The observed point: an audit entry after `head` is committed (the round is in
    flight at the server)."""
    deadline = time.monotonic() + timeout
    while audit.head(engine) <= head:
        assert time.monotonic() < deadline, "no request of the round was logged"
        time.sleep(0.002)


def test_kill_9_under_prediction_traffic_loses_no_acknowledged_read(served, server):
    process, engine, key = server
    citizens = _citizens(served.store, ROUNDS * CONCURRENCY)
    queue = list(citizens)
    traffic = Traffic()
    started = time.monotonic()
    process.start()
    client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for round_number in range(1, ROUNDS + 1):
            batch = queue[(round_number - 1) * CONCURRENCY : round_number * CONCURRENCY]
            head = audit.head(engine)
            futures: dict[str, Future[httpx.Response]] = {
                cccd: pool.submit(
                    client.post, f"{process.base_url}/v1/predictions", json={"cccds": [cccd]}
                )
                for cccd in batch
            }
            killed = round_number in KILLED_ROUNDS
            if killed:
                _wait_for_commit_after(engine, head)
                process.kill()
            for cccd, future in futures.items():
                try:
                    response = future.result()
                except httpx.TransportError:
                    assert killed, f"round {round_number} failed without a kill"
                    traffic.unanswered.append(cccd)
                    continue
                assert response.status_code == 200, response.text
                ids = frozenset(p["prediction_id"] for p in response.json()["predictions"])
                assert ids == citizens[cccd]
                traffic.acknowledged[cccd] = ids
            if killed:
                traffic.per_kill.append(sum(c in traffic.unanswered for c in batch))
                client.close()
                process.start()  # the same database, as an operator's restart would
                client = httpx.Client(headers={"Authorization": f"Bearer {key}"}, timeout=60)
    client.close()
    process.stop()
    seconds = time.monotonic() - started

    result = audit.verify(
        engine,
        signing_key=SIGNING_KEY,
        checkpoints=audit.load_checkpoints(Path(process.env["NEEDS_AUDIT_CHECKPOINT_DIR"])),
    )
    assert result.ok, result.problems
    assert result.checkpoints > 0  # the server's own checkpoints agree with the log
    entries = audit.read(engine, actions=["predict"], limit=10 * ROUNDS * CONCURRENCY)
    logged = [frozenset(e["details"]["predictions"]) for e in entries]
    logged_once = set(logged)
    request_of = {ids: cccd for cccd, ids in citizens.items()}
    assert all(ids in request_of for ids in logged), "an entry matches no request sent"
    assert len(logged_once) == len(logged), "a request was logged twice"
    # Every acknowledged read was logged before it was answered ...
    unlogged = [c for c, ids in traffic.acknowledged.items() if ids not in logged_once]
    assert not unlogged, f"{len(unlogged)} acknowledged reads are not in the audit log"
    # ... and the only other entries are of requests in flight when a kill came.
    extra = {request_of[ids] for ids in logged} - set(traffic.acknowledged)
    assert extra <= set(traffic.unanswered)
    acknowledged, in_flight = len(traffic.acknowledged), len(traffic.unanswered)
    assert acknowledged <= len(entries) <= acknowledged + in_flight
    assert acknowledged + in_flight == ROUNDS * CONCURRENCY
    assert process.starts == len(KILLED_ROUNDS) + 1
    # The kills came mid-traffic: some request was in flight at one of them.
    assert in_flight > 0, f"every kill came after its round was answered: {traffic.per_kill}"
    print(
        f"{ROUNDS} rounds x {CONCURRENCY} in {seconds:.1f} s; kills left "
        f"{traffic.per_kill} requests unanswered, of which {len(extra)} were logged"
    )
