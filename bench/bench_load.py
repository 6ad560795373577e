"""Sustained load on the API, then a soak: the highest rate it holds, and whether it lasts.

Starts `uvicorn api.main:app` as `make serve` does (one worker, uvicorn's default logging,
access log included) plus `--no-server-header`, on 127.0.0.1, with a fresh service
database in a temp folder and the scored snapshot and models of `--scores` / `--models`.
Each kind of request has its own planner key, created with per-key budgets far above this
load so that no answer is the rate limiter's 429 (the limiter still runs on every
request). The traffic is a fixed mix:

- 50 % POST /v1/predictions {"cccds": [cccd]}
- 30 % GET /v1/citizens/{cccd}/needs
- 20 % GET /v1/services/{service}/candidates?commune=...&limit=20

drawn from real citizens (contacts of the scored subjects) and real (served service,
commune) pairs of the snapshot. It is open-loop: requests leave at Poisson arrival times
drawn from `--seed`, whatever the server is doing, and each latency runs from the
*scheduled* send time to the answer's last byte, so queueing in the client or the server
counts (no coordinated omission).

Phase 1 finds the highest rate with p99 <= 100 ms and no error: `--step-seconds` steps
doubling from `--start-rate` until one fails, `--bisections` steps between the last pass
and the first failure, a confirming step (10 % lower until one passes), then a
`--duration` run at that rate (10 % lower and again if it fails). `--rate` skips the
search. Phase 2 soaks at half that rate for `--soak-seconds`: per `--soak-window` p50/p99
and the server's RSS, memory growth and p99 drift (last window against the first). At
the end the audit chain must verify, also against the last checkpoint the server wrote
(into the temp folder), and hold one read entry per 200 answer, key by key (a key's
`volume_alert` entries are listed apart).

The load generator (this process: asyncio, pre-encoded requests over keep-alive
connections) shares the machine's cores with the server; both CPU times are reported.
Writes bench/results/load.json.
Usage: python bench/bench_load.py [--rate R] [--duration 60] [--soak-seconds 600]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
from sqlalchemy import func, select

from bench_api import (
    BIN,
    ROOT,
    _request_bytes,
    _response,
    encode,
    free_port,
    start,
    stop,
    wait_healthy,
)
from needs_model.governance import audit
from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import audit_log, make_engine, reading
from needs_model.scoring.snapshot import ScoredSnapshot, latest_snapshot
from needs_model.settings import Settings

try:
    import psutil
except ImportError:  # not in the lock: /proc is read instead
    psutil = None

MIX = {"predictions": 0.5, "needs": 0.3, "candidates": 0.2}
P99_LIMIT_MS = 100.0
# Per-key budgets far above anything this bench sends: it measures the server, not refusals.
BUDGET = {"requests_per_minute": 1_000_000, "personal_reads_per_day": 100_000_000}
IDLE_S = 4.0  # uvicorn closes a keep-alive connection idle for 5 s; drop ours before
MIB = 2**20


@dataclass(frozen=True)
class Call:
    kind: str
    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def encoded(self) -> bytes:
        return _request_bytes(self.url, self.headers, self.body, self.method)


@dataclass
class Run:
    """One open-loop run: per request its kind, scheduled offset, latency (NaN: no
    answer), outcome (status or failure) and how late the generator launched it."""

    label: str
    rate: float
    seconds: float
    kinds: list[str]
    scheduled: np.ndarray
    latency: np.ndarray
    launch_lag: np.ndarray
    outcome: list[str]
    wall: float
    client_cpu: float
    server_cpu: float
    probes: list[tuple[float, int, float]]  # (offset s, server RSS bytes, server CPU s)
    rss_after: int  # server RSS once every answer is in


# --- the server process ----------------------------------------------------------------


def rss_bytes(pid: int) -> int:
    if psutil is not None:
        return int(psutil.Process(pid).memory_info().rss)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    if psutil is not None:
        times = psutil.Process(pid).cpu_times()
        return float(times.user + times.system)
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def settle(pid: int, timeout: float = 30.0) -> None:
    """Wait (at least a second) until the server is idle: work queued by a step that
    overloaded it must not land in the next one."""
    time.sleep(1.0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.05:
            return


# --- the traffic -----------------------------------------------------------------------


def build_calls(
    snapshot: Path, url: str, keys: dict[str, str], count: int, seed: int
) -> dict[str, list[Call]]:
    """`count` requests of each kind, from real citizens and (service, commune) pairs."""
    scored = ScoredSnapshot(snapshot)
    served = sorted(scored.manifest()["models"])
    subjects = pd.concat(
        scored.read("subjects", s, ["contact_cccd", "commune_code"]).assign(service_id=s)
        for s in served
    )
    people = set(scored.read("people", columns=["cccd"])["cccd"])
    contacts = pd.Series(sorted(set(subjects["contact_cccd"].dropna()) & people))
    cccds = contacts.sample(n=min(count, len(contacts)), random_state=seed).tolist()
    pairs = subjects.dropna(subset=["commune_code"])[["service_id", "commune_code"]]
    pairs = pairs.drop_duplicates().sort_values(["service_id", "commune_code"])
    pairs = pairs.sample(n=min(count, len(pairs)), random_state=seed)

    def call(kind: str, method: str, path: str, body: bytes = b"") -> Call:
        headers = {"Authorization": f"Bearer {keys[kind]}"}
        if body:
            headers["Content-Type"] = "application/json"
        return Call(kind, method, url + path, headers, body)

    candidates = "/v1/services/{}/candidates?commune={}&limit=20"
    return {
        "predictions": [
            call("predictions", "POST", "/v1/predictions", encode({"cccds": [c]})) for c in cccds
        ],
        "needs": [call("needs", "GET", f"/v1/citizens/{c}/needs") for c in cccds],
        "candidates": [
            call("candidates", "GET", candidates.format(s, c))
            for s, c in pairs.itertuples(index=False)
        ],
    }


def check_answers(calls: dict[str, list[Call]], ok: Counter[str]) -> dict[str, int]:
    """One request of each kind answers 200 with something in it (the bench must not
    time 404s); returns how many items each answered."""
    found = {}
    with httpx.Client(timeout=60) as client:
        for kind, (call, *_) in calls.items():
            response = client.request(
                call.method, call.url, headers=call.headers, content=call.body
            )
            if response.status_code != 200:
                raise SystemExit(
                    f"{call.method} {call.url}: {response.status_code} {response.text}"
                )
            ok[kind] += 1
            items = response.json()[kind]  # "predictions", "needs", "candidates"
            if not items:
                raise SystemExit(f"{call.method} {call.url}: an empty answer")
            found[kind] = len(items)
    return found


def schedule(
    calls: dict[str, list[bytes]], rate: float, seconds: float, seed: int, label: str
) -> list[tuple[float, str, bytes]]:
    """Poisson arrivals at `rate` for `seconds`, each of a kind drawn from MIX (the same
    seed and label give the same requests at the same offsets)."""
    rng = random.Random(f"{seed}:{label}")
    kinds, weights = list(MIX), list(MIX.values())
    out = []
    offset = rng.expovariate(rate)
    while offset < seconds:
        kind = rng.choices(kinds, weights)[0]
        out.append((offset, kind, rng.choice(calls[kind])))
        offset += rng.expovariate(rate)
    return out


# --- the open-loop generator -----------------------------------------------------------


class Connections:
    """Keep-alive connections to the server, most recently used first; at most `limit`
    in use (a request beyond waits for one, its wait counted in its latency)."""

    def __init__(self, host: str, port: int, limit: int) -> None:
        self.host, self.port = host, port
        self.slots = asyncio.Semaphore(limit)
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        now = time.monotonic()
        while self.idle and now - self.idle[0][2] >= IDLE_S:
            self.idle.pop(0)[1].close()
        if self.idle:
            reader, writer, _ = self.idle.pop()
            return reader, writer
        return await asyncio.open_connection(self.host, self.port)

    def give(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.idle.append((reader, writer, time.monotonic()))

    def close(self) -> None:
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


async def _drive(
    host: str,
    port: int,
    pid: int,
    planned: list[tuple[float, str, bytes]],
    connections: int,
    drain_s: float,
    probes_at: list[float],
) -> tuple[np.ndarray, np.ndarray, list[str], float, list[tuple[float, int, float]]]:
    n = len(planned)
    latency, launch_lag, finished = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    outcome = ["abandoned"] * n
    pool = Connections(host, port, connections)
    probes = [(0.0, rss_bytes(pid), cpu_seconds(pid))]
    begin = time.perf_counter() + 0.05

    async def one(i: int, at: float, payload: bytes) -> None:
        launch_lag[i] = time.perf_counter() - at
        async with pool.slots:
            writer = None
            try:
                reader, writer = await pool.take()
                writer.write(payload)
                await writer.drain()
                status, _ = await _response(reader)
            except (OSError, EOFError, RuntimeError, ValueError) as error:
                # IncompleteReadError is an EOFError; a missing Content-Length a RuntimeError
                if writer is not None:
                    writer.close()
                outcome[i] = f"transport:{type(error).__name__}"
            except asyncio.CancelledError:
                if writer is not None:
                    writer.close()
                raise
            else:
                pool.give(reader, writer)
                outcome[i] = str(status)
        finished[i] = time.perf_counter()
        latency[i] = finished[i] - at

    async def probe() -> None:
        for offset in probes_at:
            await asyncio.sleep(max(0.0, begin + offset - time.perf_counter()))
            probes.append((offset, rss_bytes(pid), cpu_seconds(pid)))

    prober = asyncio.create_task(probe())
    tasks = []
    for i, (offset, _, payload) in enumerate(planned):
        at = begin + offset
        if (delay := at - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, at, payload)))
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=drain_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    await prober
    pool.close()
    answered = finished[~np.isnan(finished)]
    wall = float(answered.max() - begin) if len(answered) else 0.0
    return latency, launch_lag, outcome, wall, probes


def run(
    label: str,
    rate: float,
    seconds: float,
    calls: dict[str, list[bytes]],
    server: tuple[str, int, int],
    args: argparse.Namespace,
    ok: Counter[str],
    probe_every: float | None = None,
) -> Run:
    """`rate` requests/s for `seconds`; the server's RSS and CPU time are read at the
    start, every `probe_every` seconds and after the last answer."""
    host, port, pid = server
    planned = schedule(calls, rate, seconds, args.seed, label)
    probes_at = (
        [k * probe_every for k in range(1, int(seconds // probe_every) + 1)] if probe_every else []
    )
    client_before, server_before = time.process_time(), cpu_seconds(pid)
    latency, lag, outcome, wall, probes = asyncio.run(
        _drive(host, port, pid, planned, args.connections, args.drain_seconds, probes_at)
    )
    done = Run(
        label=label,
        rate=rate,
        seconds=seconds,
        kinds=[kind for _, kind, _ in planned],
        scheduled=np.array([offset for offset, _, _ in planned]),
        latency=latency,
        launch_lag=lag,
        outcome=outcome,
        wall=wall,
        client_cpu=time.process_time() - client_before,
        server_cpu=cpu_seconds(pid) - server_before,
        probes=probes,
        rss_after=rss_bytes(pid),
    )
    ok.update(kind for kind, o in zip(done.kinds, outcome, strict=True) if o == "200")
    return done


# --- the figures -------------------------------------------------------------------------


def percentiles(seconds: np.ndarray) -> dict[str, float | None]:
    ms = seconds[~np.isnan(seconds)] * 1000
    if not len(ms):
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": float(ms.max())}


def summary(done: Run, mask: np.ndarray | None = None) -> dict[str, Any]:
    """Rates, latency percentiles and errors of a run (or of the requests in `mask`)."""
    mask = np.ones(len(done.kinds), dtype=bool) if mask is None else mask
    outcome = [o for o, keep in zip(done.outcome, mask, strict=True) if keep]
    kinds = np.array(done.kinds, dtype=object)[mask]
    latency = done.latency[mask]
    errors = Counter(o for o in outcome if o != "200")
    figures = percentiles(latency)
    p99 = figures["p99_ms"]
    return {
        "target_rate": done.rate,
        "requests": len(outcome),
        "answered_200": len(outcome) - sum(errors.values()),
        **{k: None if v is None else round(v, 2) for k, v in figures.items()},
        "errors": sum(errors.values()),
        "errors_by_status": dict(sorted(errors.items())),
        "by_kind": {
            kind: {
                "requests": int((kinds == kind).sum()),
                **{
                    k: None if v is None else round(v, 2)
                    for k, v in percentiles(latency[kinds == kind]).items()
                },
            }
            for kind in MIX
        },
        "held": bool(not errors and p99 is not None and p99 <= P99_LIMIT_MS),
    }


def run_summary(done: Run) -> dict[str, Any]:
    lag = percentiles(done.launch_lag)
    cores = (done.client_cpu + done.server_cpu) / done.wall if done.wall else None
    return {
        "label": done.label,
        "seconds": done.seconds,
        "offered_rate": round(len(done.kinds) / done.seconds, 2),
        "achieved_rate": round(done.outcome.count("200") / done.wall, 2) if done.wall else 0.0,
        **summary(done),
        "generator_launch_lag_p99_ms": lag["p99_ms"] and round(lag["p99_ms"], 2),
        "cpu_s": {"server": round(done.server_cpu, 2), "load_generator": round(done.client_cpu, 2)},
        "cores_busy": cores and round(cores, 2),
        "server_rss_mib_after": round(done.rss_after / MIB, 1),
    }


def soak_windows(done: Run, window: float) -> list[dict[str, Any]]:
    count = max(1, int(done.seconds // window))
    index = np.minimum((done.scheduled // window).astype(int), count - 1)
    samples = {round(offset / window): (rss, cpu) for offset, rss, cpu in done.probes}
    out = []
    for w in range(count):
        figures = summary(done, index == w)
        end = samples.get(w + 1) or samples[max(samples)]
        begin = samples.get(w, samples[0])
        out.append(
            {
                "window": w + 1,
                "requests": figures["requests"],
                "p50_ms": figures["p50_ms"],
                "p99_ms": figures["p99_ms"],
                "max_ms": figures["max_ms"],
                "errors": figures["errors"],
                "errors_by_status": figures["errors_by_status"],
                "server_rss_mib": round(end[0] / MIB, 1),
                "server_cores_busy": round((end[1] - begin[1]) / window, 3),
            }
        )
    return out


def drift(windows: list[dict[str, Any]], rss_start: float) -> dict[str, Any]:
    first, last = windows[0], windows[-1]
    rss = np.array([w["server_rss_mib"] for w in windows])
    slope = float(np.polyfit(np.arange(len(rss)), rss, 1)[0]) if len(rss) > 1 else 0.0
    p99_first, p99_last = first["p99_ms"] or 0.0, last["p99_ms"] or 0.0
    return {
        "memory_growth_mib": round(last["server_rss_mib"] - first["server_rss_mib"], 1),
        "memory_growth_pct": round(100 * (last["server_rss_mib"] / first["server_rss_mib"] - 1), 2),
        "memory_slope_mib_per_window": round(slope, 2),
        "rss_mib_at_soak_start": round(rss_start / MIB, 1),
        "p99_drift_ms": round(p99_last - p99_first, 2),
        "p99_drift_pct": round(100 * (p99_last / p99_first - 1), 1) if p99_first else None,
        "p99_series_ms": [w["p99_ms"] for w in windows],
        "p50_series_ms": [w["p50_ms"] for w in windows],
        "rss_series_mib": rss.tolist(),
    }


# --- phase 1: the highest rate held ------------------------------------------------------


def search(step: Any, start_rate: float, bisections: int) -> tuple[float, list[dict[str, Any]]]:
    """Highest rate whose step held: doubling, bisection, then a confirming step."""
    steps: list[dict[str, Any]] = []

    def held(rate: float, label: str) -> bool:
        figures = step(rate, label)
        steps.append(figures)
        return bool(figures["held"])

    low: float | None = None  # the highest rate that held
    high: float | None = None  # the lowest rate that did not
    rate = start_rate
    while low is None or high is None:
        if rate < 1:
            raise SystemExit("the API does not hold even 1 request/s: see the steps")
        if held(rate, "step"):
            low = rate
        else:
            high = rate
        rate = rate * 2 if high is None else round(rate / 2, 1)
    for _ in range(bisections):
        if high - low <= max(1.0, 0.02 * low):
            break
        middle = round((low + high) / 2, 1)
        if held(middle, "step"):
            low = middle
        else:
            high = middle
    while not held(low, "confirm"):
        low = round(low * 0.9, 1)
        if low < 1:
            raise SystemExit("no rate held on confirmation: see the steps")
    return low, steps


# --- the report --------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        int(line.split()[1]) * 1024
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal:")
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(memory / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "niceness": os.nice(0),  # the server inherits it
        "load_average_at_start": os.getloadavg(),
    }


def git_state() -> dict[str, Any]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    changed = git("status", "--porcelain", "--", "api", "src").splitlines()
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_in_api_and_src": changed}


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def create_keys(engine: Any) -> tuple[dict[str, str], dict[str, str]]:
    """One planner key per kind of request, never expiring, with BUDGET:
    ({kind: key}, {kind: key id})."""
    keys, ids = {}, {}
    for kind in MIX:
        key_id, key = create_key(
            engine, "planner", Scope("province"), f"bench_load {kind}", **BUDGET
        )
        keys[kind], ids[kind] = key, key_id
    return keys, ids


def check_audit(
    engine: Any, ids: dict[str, str], ok: Counter[str], checkpoints: Path
) -> dict[str, Any]:
    """The chain verifies (against the last checkpoint the server wrote), and each key's
    read entries equal its 200 answers. A key's first entry is the read of `check_answers`,
    so its action names the key's reads; the key's other entries (a `volume_alert`, say)
    are listed apart."""
    marks = audit.load_checkpoints(checkpoints)
    verified = audit.verify(engine, marks[-1] if marks else None)
    with reading(engine) as connection:
        counted = connection.execute(
            select(
                audit_log.c.key_id, audit_log.c.action, func.count(), func.min(audit_log.c.seq)
            ).group_by(audit_log.c.key_id, audit_log.c.action)
        ).all()
    by_kind = {}
    for kind, key_id in ids.items():
        actions = {action: (n, first) for key, action, n, first in counted if key == key_id}
        read = min(actions, key=lambda action: actions[action][1])
        by_kind[kind] = {
            "read_action": read,
            "read_entries": actions[read][0],
            "answered_200": ok[kind],
            "other_entries": {a: n for a, (n, _) in actions.items() if a != read},
        }
    logged = all(v["read_entries"] == v["answered_200"] for v in by_kind.values())
    return {
        "chain_verifies": verified.ok,
        "checked_against_checkpoint": marks[-1]["seq"] if marks else None,
        "checkpoints_written": len(marks),
        "problems": verified.problems[:10],
        "entries": verified.entries,
        "answered_200": sum(ok.values()),
        "by_kind": by_kind,
        "entries_of_other_keys": sum(n for key, _, n, _ in counted if key not in ids.values()),
        "every_acknowledged_read_logged": verified.ok and logged,
    }


def row(name: str, figures: dict[str, Any]) -> str:
    errors = ", ".join(f"{k}: {v}" for k, v in figures["errors_by_status"].items()) or "0"
    return (
        f"{name:<16} {figures['target_rate']:>7.1f} {figures['achieved_rate']:>8.1f} "
        f"{figures['p50_ms']:>7.1f} {figures['p95_ms']:>7.1f} {figures['p99_ms']:>7.1f} "
        f"{figures['max_ms']:>8.1f}  {'held' if figures['held'] else 'NOT held':<9} {errors}"
    )


def report(results: dict[str, Any]) -> str:
    setup, soak = results["setup"], results["soak"]
    head = (
        f"{'run':<16} {'req/s':>7} {'got/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} {'max':>8}"
        "  verdict   errors"
    )
    lines = [
        f"Needs API under load on {results['machine']['nproc']} cores, shared by the server "
        "and this load generator (their CPU time is in the JSON).",
        f"server: {setup['server_command']}; logging {setup['logging']}",
        f"keys: {setup['keys']}",
        f"traffic: {setup['mix']}",
        "",
        head,
        "-" * len(head),
        *(row(s["label"], s) for s in results["search"]["steps"]),
        *(row(f"sustained {s['seconds']:.0f} s", s) for s in results["sustained"]["attempts"]),
        "(latencies in ms from the scheduled send time; held = p99 <= "
        f"{P99_LIMIT_MS:.0f} ms and no error)",
        "",
        f"soak {soak['seconds']:.0f} s at {soak['rate']:.1f} req/s (half the rate held), "
        f"per {soak['window_seconds']:.0f} s:",
        f"{'window':>6} {'requests':>9} {'p50':>7} {'p99':>7} {'max':>8} {'errors':>6} "
        f"{'RSS MiB':>8}",
        *(
            f"{w['window']:>6} {w['requests']:>9} {w['p50_ms']:>7.1f} {w['p99_ms']:>7.1f} "
            f"{w['max_ms']:>8.1f} {w['errors']:>6} {w['server_rss_mib']:>8.1f}"
            for w in soak["windows"]
        ),
        f"memory growth (last window vs first): {soak['drift']['memory_growth_mib']:+.1f} MiB "
        f"({soak['drift']['memory_growth_pct']:+.2f} %); p99 drift: "
        f"{soak['drift']['p99_drift_ms']:+.1f} ms",
    ]
    checked = results["audit"]
    reads = sum(v["read_entries"] for v in checked["by_kind"].values())
    others = Counter[str]()
    for v in checked["by_kind"].values():
        others.update(v["other_entries"])
    lines.append(
        f"audit: chain {'verifies' if checked['chain_verifies'] else 'BROKEN'} "
        f"(and matches the last of {checked['checkpoints_written']} checkpoints); "
        f"{reads} read entries for {checked['answered_200']} answers 200: "
        + (
            "every acknowledged read logged"
            if checked["every_acknowledged_read_logged"]
            else "MISMATCH, see the JSON"
        )
        + "".join(f"; also {n} {action}" for action, n in sorted(others.items()))
    )
    return "\n".join(lines)


def arguments() -> argparse.Namespace:
    settings = Settings(_env_file=ROOT / ".env")
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, help="requests/s for phase 1 (skips the search)")
    parser.add_argument("--duration", type=float, default=60.0, help="phase 1 run, seconds")
    parser.add_argument("--soak-seconds", type=float, default=600.0)
    parser.add_argument("--soak-window", type=float, default=60.0, help="seconds per figure")
    parser.add_argument("--start-rate", type=float, default=25.0)
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--bisections", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", type=int, default=2000, help="distinct requests per kind")
    parser.add_argument("--connections", type=int, default=64, help="most in flight at once")
    parser.add_argument("--drain-seconds", type=float, default=60.0, help="wait for answers")
    parser.add_argument("--raw", type=Path, default=ROOT / "data" / "raw")
    parser.add_argument("--scores", type=Path, default=ROOT / settings.scores_dir)
    parser.add_argument("--models", type=Path, default=ROOT / settings.models_dir)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.json")
    return parser.parse_args()


def main() -> None:
    args = arguments()
    timestamps, host = {"started": now()}, machine()
    snapshot = latest_snapshot(args.scores)
    if snapshot is None:
        raise SystemExit(f"no scored snapshot under {args.scores}: run needs-model score")
    manifest = ScoredSnapshot(snapshot).manifest()
    province = json.loads((args.raw / "manifest.json").read_text(encoding="utf-8"))
    if (ROOT / manifest["raw"]).resolve() != args.raw.resolve():
        print(f"warning: {snapshot} was scored from {manifest['raw']}", file=sys.stderr)

    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    engine = make_engine(f"sqlite:///{tmp}/needs.db")
    keys, key_ids = create_keys(engine)
    env = {
        **os.environ,
        "NEEDS_DATABASE_URL": f"sqlite:///{tmp}/needs.db",
        "NEEDS_SCORES_DIR": str(args.scores.resolve()),
        "NEEDS_MODELS_DIR": str(args.models.resolve()),
        "NEEDS_AUDIT_CHECKPOINT_DIR": str(tmp / "checkpoints"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    port = free_port()
    command = [
        str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-server-header",
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    ok: Counter[str] = Counter()
    server = None
    try:  # the server is stopped, the temp folder removed, whatever happens
        server = start(command, env, log)
        startup = wait_healthy(server, f"{url}/health", log, 300)
        health = httpx.get(f"{url}/health").json()
        if health["data_as_of"] != manifest["as_of"]:
            raise SystemExit(f"the server loaded {health['data_as_of']}, not {snapshot}")
        pid = server.pid
        target = ("127.0.0.1", port, pid)
        rss_started = rss_bytes(pid)
        calls = build_calls(snapshot, url, keys, args.rows, args.seed)
        items = check_answers(calls, ok)
        encoded = {kind: [c.encoded() for c in some] for kind, some in calls.items()}

        def step(rate: float, label: str, seconds: float = args.step_seconds) -> dict[str, Any]:
            settle(pid)
            figures = run_summary(
                run(f"{label} {rate:g}", rate, seconds, encoded, target, args, ok)
            )
            print(row(figures["label"], figures), file=sys.stderr, flush=True)
            return figures

        step(args.start_rate, "warm-up", 5.0)
        timestamps["phase1_started"] = now()
        if args.rate is None:
            rate, steps = search(step, args.start_rate, args.bisections)
        else:
            rate, steps = args.rate, []
        attempts = [step(rate, "sustained", args.duration)]
        while args.rate is None and not attempts[-1]["held"] and len(attempts) < 3:
            rate = round(rate * 0.9, 1)
            attempts.append(step(rate, "sustained", args.duration))
        timestamps["phase1_finished"] = now()

        soak_rate = rate / 2
        settle(pid)
        timestamps["soak_started"] = now()
        soaked = run(
            "soak", soak_rate, args.soak_seconds, encoded, target, args, ok, args.soak_window
        )
        timestamps["soak_finished"] = now()
        windows = soak_windows(soaked, args.soak_window)
        for w in windows:
            print(
                f"soak window {w['window']}: p50 {w['p50_ms']} ms, p99 {w['p99_ms']} ms, "
                f"{w['errors']} errors, RSS {w['server_rss_mib']} MiB",
                file=sys.stderr,
            )
        rss_final = rss_bytes(pid)
        stop(server)  # its shutdown writes the last checkpoint
        server = None
        log_lines = log.read_text(errors="replace").count("\n")
        checked = check_audit(engine, key_ids, ok, tmp / "checkpoints")
        database_bytes = sum(p.stat().st_size for p in tmp.glob("needs.db*"))
    finally:
        stop(server)
        engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    timestamps["finished"] = now()

    results = {
        "machine": host | {"load_average_at_end": os.getloadavg()},
        "git": git_state(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "timestamps": timestamps,
        "setup": {
            "server_command": " ".join(command[1:]).replace(str(port), "<free port>"),
            "server_startup_s": round(startup, 2),
            "logging": "as `make serve`: uvicorn's defaults, access log on (masked by the "
            f"app); {log_lines} lines written",
            "keys": "one planner key (province) per kind, per-key budgets "
            f"{BUDGET['requests_per_minute']:,} requests/min and "
            f"{BUDGET['personal_reads_per_day']:,} personal reads/day: far above this load, "
            "so the rate limiter never refuses",
            "mix": ", ".join(f"{100 * v:.0f} % {k}" for k, v in MIX.items())
            + f" (candidates limit 20, one commune); Poisson arrivals, seed {args.seed}; "
            "latency from the scheduled send time",
            "load_generator": "this process (asyncio, pre-encoded requests, keep-alive "
            f"connections, at most {args.connections} in flight) on the same cores as the "
            "server",
            "snapshot": str(snapshot),
            "models": str(args.models),
            "raw": str(args.raw),
            "province": {"people": province.get("people"), "seed": province.get("seed")},
            "served": sorted(manifest["models"]),
            "distinct_requests": {k: len(v) for k, v in calls.items()},
            "items_in_first_answers": items,
            "p99_limit_ms": P99_LIMIT_MS,
            "step_seconds": args.step_seconds,
            "server_rss_mib_at_start": round(rss_started / MIB, 1),
        },
        "search": {"skipped": args.rate is not None, "steps": steps},
        "sustained": {"rate": rate, "attempts": attempts, "result": attempts[-1]},
        "soak": {
            "rate": soak_rate,
            "seconds": args.soak_seconds,
            "window_seconds": args.soak_window,
            "run": run_summary(soaked),
            "windows": windows,
            "drift": drift(windows, soaked.probes[0][1]),
            "server_rss_mib_at_end": round(rss_final / MIB, 1),
            "service_database_mib_at_end": round(database_bytes / MIB, 1),
        },
        "audit": checked,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, default=lambda v: v.item())  # NumPy scalars
    args.out.write_text(text + "\n", encoding="utf-8")
    print(report(results))


if __name__ == "__main__":
    main()
