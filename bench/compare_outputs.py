"""Compare what two source trees of Needs produce on the demo province, through the
interfaces a refactor must keep: the `needs-model` command line and the HTTP API.

Usage:
    python bench/compare_outputs.py capture --tree DIR --out OUT [--raw data/raw]
        [--models models] [--dates 2024-12-31 2025-06-30] [--requests FILE] [--seed N]
    python bench/compare_outputs.py compare BEFORE AFTER [--report FILE]

`capture` runs the code of DIR (a git worktree of some commit), never this checkout's
editable install: every child runs with PYTHONPATH=DIR/src:DIR and cwd=DIR, and the capture
stops unless `needs_model`, `api` and the CLI's module import from DIR (their files are in
OUT/capture.log). The CLI is started through the tree's own console-script entry point
(`[project.scripts] needs-model` of DIR/pyproject.toml), so a tree that moved
`needs_model.cli` is followed. For each date it runs `link`, `features --as-of` (one
snapshot) and `score --as-of` with the models folder given, into
OUT/<date>/{linked,features,scores}. Then the tree's `keys create` makes one key per role
(planner, auditor, data_scientist, admin, a commune planner and a district auditor), the
tree's `uvicorn api.main:app` serves the last date's snapshot (fresh database and checkpoint
folder in OUT/service), 200 requests are sent one at a time, each status and JSON body is
written to OUT/responses.jsonl, the server is stopped and `needs-model audit verify` is
recorded in OUT/capture.json. --raw and --models are relative to the current folder, not
to DIR (the demo data is not in a fresh worktree); both captures must be given the same ones.
Each request has its own connection (uvicorn closes a connection after a
500, and a kept-alive client would race that). OUT/responses.raw.jsonl keeps the answers
before normalisation, for reading only.

The requests are derived from the last date's scored snapshot (read as data with pandas)
with a fixed seed and saved in OUT/requests.json; `--requests` replays a saved list, so two
captures send exactly the same requests. A request may take a value from an earlier answer,
`{"$ref": [request id, key, ...]}` (the next page's cursor, a prediction's id).

Normalised in the responses, because they differ between two runs of the same code, and
nothing else (exact string matches only, never substrings):
- `at` (when an audit entry was written) -> "<at>";
- key ids (random per `keys create`) -> "<key:NAME>" wherever they appear;
- inline prediction ids (`pr_inline_` + a random uuid) -> "<pr_inline:N>" and outcome ids
  (uuid4) -> "<outcome:N>", N in order of first appearance, wherever they appear (audit
  entries repeat them in their details);
- an audit entry's `hash` and `prev_hash` (SHA-256 chained over the fields above): `hash`
  becomes "<sha256 verified>" only when it recomputes from the entry as served, and
  `prev_hash` "<hash of the previous entry>" only when it equals the served hash of entry
  seq - 1 (on some page of this capture; "<previous entry not on any page>" otherwise). A
  hash that does not recompute is kept as it is, and so shows as a difference.
Every child runs with PYTHONHASHSEED=0: some answers list the members of a set of strings
(an audit entry's subjects), whose order would otherwise change from process to process.

`compare` compares every file under OUT/<date>/: Parquet frame-equal (same columns, dtypes
and values, floats exact), manifest.json as JSON without its `created_at` and `seconds`
(run times), every other file byte for byte; then requests.json byte for byte, the 200
responses JSON-equal and the audit-verify result. Not compared: OUT/service (database,
keys, checkpoints, server log), OUT/logs and OUT/capture.json (times, paths). It prints a
table (artefact, files, identical or the first difference), exits 1 on any difference and
with `--report FILE` also writes it as JSON.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

DEFAULT_DATES = ("2024-12-31", "2025-06-30")
DEFAULT_SEED = 20251231
REQUEST_COUNT = 200
# name -> (role, scope); "{commune}" and "{district}" come from the snapshot.
KEYS = {
    "planner": ("planner", "province"),
    "auditor": ("auditor", "province"),
    "data_scientist": ("data_scientist", "province"),
    "admin": ("admin", "province"),
    "planner_commune": ("planner", "commune:{commune}"),
    "auditor_district": ("auditor", "district:{district}"),
}
# A well-formed key that no database holds (401).
BOGUS_KEY = "needs_000000000000_" + "A" * 43
STATUSES = ("notified", "completed", "declined", "wrong_data")
# Top-level keys of JSON files that carry run times, ignored by `compare`.
IGNORED_JSON_KEYS = {"manifest.json": ("created_at", "seconds")}
# The fields an audit entry's hash covers, as served by GET /v1/audit/log.
AUDIT_HASHED = ("seq", "at", "key_id", "role", "action", "route", "purpose", "subjects", "details")
GENESIS = "0" * 64

CLI_BOOT = """\
import importlib, sys
module, _, attr = sys.argv[1].partition(":")
target = importlib.import_module(module)
for part in attr.split("."):
    target = getattr(target, part)
sys.argv = ["needs-model", *sys.argv[2:]]
sys.exit(target())
"""
IMPORTS_BOOT = """\
import importlib, json, sys
import api, needs_model
cli = importlib.import_module(sys.argv[1].partition(":")[0])
print(json.dumps({"needs_model": needs_model.__file__, "api": api.__file__,
                  "cli": cli.__file__, "python": sys.executable}))
"""
SERVE_BOOT = """\
import json, sys
import api.main, needs_model, uvicorn
print("COMPARE-IMPORTS " + json.dumps({"needs_model": needs_model.__file__,
      "api.main": api.main.__file__}), file=sys.stderr, flush=True)
sys.argv = ["uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", sys.argv[1],
            "--no-server-header"]
uvicorn.main()
"""


# --- running the tree's code --------------------------------------------------------------


class Capture:
    """Runs one tree's CLI and server into OUT, logging every step to OUT/capture.log."""

    def __init__(self, tree: Path, out: Path, python: str, models: Path, last_scores: Path):
        self.tree, self.out, self.python = tree, out, python
        self.entry = _entry_point(tree)
        (out / "logs").mkdir(parents=True)
        (out / "service").mkdir()
        self.log = (out / "capture.log").open("a", encoding="utf-8")
        self.seconds: dict[str, float] = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEEDS_")}
        env.pop("PYTHONPATH", None)
        service = out / "service"
        env |= {
            "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}",
            "PYTHONHASHSEED": "0",
            "COLUMNS": "160",  # rich's width in the logs
            "NEEDS_MODELS_DIR": str(models),
            "NEEDS_SCORES_DIR": str(last_scores),
            "NEEDS_DATABASE_URL": f"sqlite:///{service / 'needs.db'}",
            "NEEDS_AUDIT_CHECKPOINT_DIR": str(service / "checkpoints"),
            # Nothing below should be touched by link/features/score/serve; if it is, it
            # lands in OUT, not in the tree or this checkout.
            "NEEDS_MLFLOW_TRACKING_URI": f"sqlite:///{service / 'mlflow.db'}",
            "NEEDS_MLFLOW_ARTIFACT_ROOT": str(service / "mlflow-artifacts"),
            "NEEDS_REPORTS_DIR": str(service / "reports"),
        }
        self.env = env

    def say(self, message: str) -> None:
        print(message, flush=True)
        self.log.write(message + "\n")
        self.log.flush()

    def run(self, step: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """Run a child in the tree; its output goes to OUT/logs/<step>.log."""
        started = time.perf_counter()
        result = subprocess.run(
            argv, cwd=self.tree, env=self.env, capture_output=True, text=True, check=False
        )
        self.seconds[step] = round(time.perf_counter() - started, 2)
        shown = [argv[0], "-c", "<boot>", *argv[3:]] if argv[1] == "-c" else argv
        (self.out / "logs" / f"{step}.log").write_text(
            f"$ {' '.join(shown)}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}\n"
            f"--- exit {result.returncode}\n",
            encoding="utf-8",
        )
        self.say(f"  {step}: exit {result.returncode} in {self.seconds[step]:.1f} s")
        return result

    def cli(
        self, step: str, *args: str | Path, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = self.run(step, [self.python, "-c", CLI_BOOT, self.entry, *map(str, args)])
        if check and result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-15:]
            raise SystemExit(
                f"needs-model {args[0]} failed (OUT/logs/{step}.log):\n" + "\n".join(tail)
            )
        return result

    def check_imports(self) -> dict[str, str]:
        """The tree's package, api/ and CLI module must be the ones imported."""
        result = self.run("imports", [self.python, "-c", IMPORTS_BOOT, self.entry])
        if result.returncode != 0:
            raise SystemExit(f"cannot import the tree's code:\n{result.stderr[-2000:]}")
        files: dict[str, str] = json.loads(result.stdout.strip().splitlines()[-1])
        for name, path in files.items():
            self.say(f"  {name}: {path}")
        _require_inside(self.tree, {k: v for k, v in files.items() if k != "python"})
        return files


def _entry_point(tree: Path) -> str:
    scripts = tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(scripts["scripts"]["needs-model"])


def _require_inside(tree: Path, files: dict[str, str]) -> None:
    outside = {k: v for k, v in files.items() if not Path(v).resolve().is_relative_to(tree)}
    if outside:
        raise SystemExit(f"imported from outside {tree}: {outside} (check PYTHONPATH)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path


def start_server(capture: Capture) -> Server:
    port = _free_port()
    log_path = capture.out / "service" / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [capture.python, "-c", SERVE_BOOT, str(port)],
            cwd=capture.tree,
            env=capture.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited ({process.returncode}):\n{_tail(log_path)}")
        try:
            if httpx.get(server.url + "/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    else:
        stop_server(server)
        raise SystemExit(f"the server did not answer /health in 300 s:\n{_tail(log_path)}")
    marker = next(
        line
        for line in log_path.read_text(errors="replace").splitlines()
        if line.startswith("COMPARE-IMPORTS ")
    )
    files = json.loads(marker.removeprefix("COMPARE-IMPORTS "))
    for name, path in files.items():
        capture.say(f"  server {name}: {path}")
    _require_inside(capture.tree, files)
    return server


def stop_server(server: Server) -> None:
    """SIGINT (uvicorn's graceful stop: the lifespan takes its closing checkpoint)."""
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# --- the request list -----------------------------------------------------------------------


@dataclass
class Snapshot:
    """What the request list is drawn from: the scored snapshot's files, read as data."""

    as_of: str
    served: list[str]
    unserved: list[str]
    subjects: dict[str, pd.DataFrame]
    features: dict[str, list[str]]
    people: pd.DataFrame
    index: pd.DataFrame
    forecast: pd.DataFrame
    communes: list[str]

    @classmethod
    def read(cls, folder: Path) -> Snapshot:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        served = sorted(manifest["models"])
        features = {
            s: [
                name.removeprefix("shap_")
                for name in pq.read_schema(folder / "contributions" / f"{s}.parquet").names
                if name.startswith("shap_") and name != "shap_bias"
            ]
            for s in served
        }
        return cls(
            as_of=str(manifest["as_of"]),
            served=served,
            unserved=sorted(set(manifest["service_sources"]) - set(served)),
            subjects={s: pd.read_parquet(folder / "subjects" / f"{s}.parquet") for s in served},
            features=features,
            people=pd.read_parquet(
                folder / "people.parquet", columns=["cccd", "commune_code", "district_code"]
            ),
            index=pd.read_parquet(folder / "index.parquet"),
            forecast=pd.read_parquet(folder / "forecast.parquet"),
            communes=sorted(
                pd.read_parquet(folder / "communes.parquet")["commune_code"].astype(str)
            ),
        )


@dataclass
class Requests:
    """Builds the numbered request list; `add` returns the new request's id."""

    rng: np.random.Generator
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        kind: str,
        key: str | None,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content: str | None = None,
        lang: str | None = None,
    ) -> str:
        rid = f"r{len(self.items) + 1:03d}"
        item: dict[str, Any] = {"id": rid, "kind": kind, "key": key, "method": method, "path": path}
        if params:
            item["params"] = params
        if body is not None:
            item["json"] = body
        if content is not None:
            item["content"] = content
        if lang is not None:
            item["lang"] = lang
        self.items.append(item)
        return rid

    def pick(self, pool: list[Any], n: int = 1) -> list[Any]:
        chosen = self.rng.choice(len(pool), size=min(n, len(pool)), replace=False)
        return [pool[int(i)] for i in chosen]

    def one(self, pool: list[Any]) -> Any:
        return pool[int(self.rng.integers(len(pool)))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)


def ref(rid: str, *path: str | int) -> dict[str, Any]:
    return {"$ref": [rid, *path]}


def build_requests(snap: Snapshot, seed: int) -> dict[str, Any]:
    """The fixed list of 200 requests (and the scopes of the scoped keys) for `snap`."""
    rng = np.random.default_rng(seed)
    r = Requests(rng)
    people = snap.people.dropna(subset=["cccd"])
    commune_of = dict(
        zip(people["cccd"].astype(str), people["commune_code"].astype(str), strict=True)
    )
    district_of = dict(
        zip(people["cccd"].astype(str), people["district_code"].astype(str), strict=True)
    )
    known = set(commune_of)
    likely_frames = []
    for service_id, frame in snap.subjects.items():
        chosen = frame[(frame["band"] != "low") | frame["rule_fires"].astype(bool)]
        likely_frames.append(chosen[["contact_cccd"]].assign(service_id=service_id))
    likely = sorted(set(pd.concat(likely_frames)["contact_cccd"].dropna().astype(str)) & known)
    contacts = sorted(set(snap.index["cccd"].astype(str)) & known)
    # The scoped keys' commune: where most likely citizens live (ties: the smaller code).
    homes = pd.Series([commune_of[c] for c in likely]).value_counts()
    home = str(sorted(homes.index, key=lambda c: (-homes[c], c))[0])
    district = next(district_of[c] for c in likely if commune_of[c] == home)
    home_likely = [c for c in likely if commune_of[c] == home]
    home_contacts = [c for c in contacts if commune_of[c] == home]
    outside = [c for c in contacts if district_of[c] != district]
    outside_set = set(outside)
    traced = home_likely[:3]  # read by several keys, then their access logs are read
    served, unserved = snap.served, snap.unserved or snap.served[:1]
    langs = [None, "en", "vi", "en-GB,en;q=0.9,vi;q=0.5"]
    purposes = [None, "rà soát danh sách tháng", "monthly outreach list"]
    candidate_communes = {
        s: sorted(f["commune_code"].dropna().astype(str).unique()) for s, f in snap.subjects.items()
    }
    other_commune = next(c for c in candidate_communes[served[0]] if c != home)
    unknown_cccd = next(
        c for c in (contacts[0][:6] + f"{n:06d}" for n in range(1_000_000)) if c not in known
    )
    unknown_commune = next(
        f"{n:05d}" for n in range(99999, 0, -1) if f"{n:05d}" not in snap.communes
    )
    pairs = snap.index.assign(cccd=snap.index["cccd"].astype(str))
    pairs = pairs[pairs["cccd"].isin(known)].sort_values(["cccd", "service_id"])
    pairs = pairs[pairs["service_id"].isin(served)]
    subject_commune = {
        (s, str(sid)): str(c)
        for s, f in snap.subjects.items()
        for sid, c in zip(f["subject_id"], f["commune_code"], strict=True)
    }
    home_pairs = pairs[
        [
            subject_commune.get((s, str(sid))) == home
            for s, sid in zip(pairs["service_id"], pairs["subject_id"], strict=True)
        ]
    ]
    pair_rows = list(pairs[["cccd", "service_id"]].itertuples(index=False, name=None))
    home_pair_rows = list(home_pairs[["cccd", "service_id"]].itertuples(index=False, name=None))

    def purpose() -> str | None:
        chosen: str | None = r.one(purposes)
        return chosen

    def body_with_purpose(body: dict[str, Any]) -> dict[str, Any]:
        chosen = purpose()
        return body | {"purpose": chosen} if chosen else body

    def record(service_id: str, drop_some: bool) -> dict[str, Any]:
        frame = snap.subjects[service_id]
        row = frame.iloc[int(rng.integers(len(frame)))]
        names = snap.features[service_id]
        if drop_some:
            dropped = set(r.pick(names, 2))
            names = [n for n in names if n not in dropped]
        values = {n: None if pd.isna(row[n]) else float(row[n]) for n in names}
        out: dict[str, Any] = {"service_id": service_id, "features": values}
        if r.chance(0.5):
            out["reference"] = str(row["subject_id"])
        return out

    # Service.
    r.add("health", None, "GET", "/health")
    r.add("health", None, "GET", "/health", lang="en")
    r.add("openapi", None, "GET", "/openapi.json")
    for key, lang in [
        ("planner", None),
        ("auditor", "en"),
        ("data_scientist", "vi"),
        ("admin", "en"),
        ("planner_commune", None),
        ("auditor_district", "en"),
    ]:
        r.add("services", key, "GET", "/v1/services", lang=lang)

    # Predictions by CCCD (30) and their refusals for a commune key outside its commune (2).
    by_cccd: dict[str, list[str]] = {"planner": [], "admin": [], "planner_commune": []}
    plan = [
        ("planner", 8),
        ("admin", 6),
        ("data_scientist", 6),
        ("auditor", 6),
        ("planner_commune", 4),
    ]
    for key, count in plan:
        for i in range(count):
            pool = home_likely if key == "planner_commune" else (likely if i % 2 else contacts)
            cccds = r.pick(pool, int(rng.integers(1, 4)))
            if key in ("planner_commune", "admin") and i < 2:
                cccds = [traced[i], *cccds[1:]]
            body: dict[str, Any] = {"cccds": cccds}
            filtered = i % 3 == 2
            if filtered:
                body["services"] = sorted(r.pick(served, 2))
            if key not in ("planner", "planner_commune"):
                body["explain"] = "full" if i % 2 == 0 else "reasons"
            rid = r.add(
                "predictions_cccd",
                key,
                "POST",
                "/v1/predictions",
                body=body_with_purpose(body),
                lang=r.one(langs),
            )
            if not filtered and key in by_cccd:
                by_cccd[key].append(rid)
    for cccd in r.pick(outside, 2):
        r.add(
            "predictions_cccd", "planner_commune", "POST", "/v1/predictions", body={"cccds": [cccd]}
        )

    # Inline records (20): 1-3 records of served services, some with features left out.
    roles = ["planner", "admin", "data_scientist", "auditor"]
    for i in range(20):
        key = roles[i % 4]
        records = [record(r.one(served), r.chance(0.3)) for _ in range(int(rng.integers(1, 4)))]
        body = {"records": records}
        if key != "planner" and r.chance(0.5):
            body["explain"] = "full"
        r.add(
            "predictions_inline",
            key,
            "POST",
            "/v1/predictions",
            body=body_with_purpose(body),
            lang=r.one(langs),
        )

    # Needs and dossiers (24).
    for key, count in [("planner", 10), ("admin", 8), ("planner_commune", 6)]:
        for i in range(count):
            if key == "planner_commune":
                cccd = traced[i] if i < len(traced) else r.one(home_contacts)
            elif i == 0:
                cccd = traced[0]
            else:
                cccd = r.one(likely if r.chance(0.7) else contacts)
            params: dict[str, Any] = {"purpose": purpose()}
            r.add(
                "needs", key, "GET", f"/v1/citizens/{cccd}/needs", params=params, lang=r.one(langs)
            )

    # Candidates (30): filters, pages followed by their cursor.
    def candidates(
        key: str,
        service_id: str,
        commune: str | None,
        min_band: str | None,
        limit: int,
        cursor: Any = None,
    ) -> str:
        params = {
            "commune": commune,
            "min_band": min_band,
            "limit": limit,
            "cursor": cursor,
            "purpose": purpose(),
        }
        return r.add(
            "candidates",
            key,
            "GET",
            f"/v1/services/{service_id}/candidates",
            params=params,
            lang=r.one(langs),
        )

    for key, count in [("planner", 10), ("admin", 8)]:
        for i in range(count):
            service_id = r.one(served)
            if i < (2 if key == "planner" else 1):  # a chain of three pages
                page = candidates(key, service_id, None, "low", 5)
                for _ in range(2):
                    page = candidates(key, service_id, None, "low", 5, ref(page, "next_cursor"))
                continue
            commune = r.one(candidate_communes[service_id]) if r.chance(0.5) else None
            candidates(
                key, service_id, commune, r.one([None, "high", "medium", "low"]), r.one([5, 10, 20])
            )
    for i in range(6):
        service_id = r.one(served)
        candidates(
            "planner_commune",
            service_id,
            home if i % 2 else None,
            r.one([None, "medium", "low"]),
            r.one([5, 10, 20]),
        )

    # Forecasts (16).
    windows = snap.forecast.drop_duplicates("service_id").set_index("service_id")
    for key, count in [("planner", 5), ("data_scientist", 5), ("admin", 3), ("planner_commune", 3)]:
        for i in range(count):
            service_id = r.one(served)
            params = {"service": service_id}
            if key == "planner_commune":
                params["commune"] = home if i % 2 else None
            elif r.chance(0.5):
                params["commune"] = r.one(candidate_communes[service_id])
            if r.chance(0.5):
                params["month"] = str(windows.at[service_id, "window_start"])[:7]
            r.add("forecast", key, "GET", "/v1/forecast", params=params)

    # Outcomes (12): after a prediction (its ids taken from the answer) or by CCCD.
    def outcome_by_cccd(cccd: str, service_id: str) -> dict[str, Any]:
        return {
            "service_id": service_id,
            "cccd": cccd,
            "status": r.one(list(STATUSES)),
            "occurred_on": snap.as_of,
        }

    for key, after_prediction, by_contact in [
        ("planner", 3, 3),
        ("admin", 2, 2),
        ("planner_commune", 1, 1),
    ]:
        for rid in by_cccd[key][:after_prediction]:
            item = {
                "service_id": ref(rid, "predictions", 0, "service_id"),
                "subject_id": ref(rid, "predictions", 0, "subject_id"),
                "prediction_id": ref(rid, "predictions", 0, "prediction_id"),
                "status": r.one(list(STATUSES)),
                "occurred_on": snap.as_of,
            }
            if r.chance(0.5):
                item["note"] = "gọi điện, hẹn tuần sau"
            r.add(
                "outcomes",
                key,
                "POST",
                "/v1/outcomes",
                body=body_with_purpose({"outcomes": [item]}),
            )
        pool = home_pair_rows if key == "planner_commune" else pair_rows
        for _ in range(by_contact):
            items = [outcome_by_cccd(*pair) for pair in r.pick(pool, int(rng.integers(1, 3)))]
            r.add("outcomes", key, "POST", "/v1/outcomes", body={"outcomes": items})

    # Take-up (6).
    summary_keys: list[tuple[str, str | None]] = [
        ("planner", None),
        ("auditor", None),
        ("data_scientist", served[0]),
        ("admin", None),
        ("admin", served[-1]),
        ("planner_commune", None),
    ]
    for key, summary_service in summary_keys:
        r.add(
            "outcomes_summary",
            key,
            "GET",
            "/v1/outcomes/summary",
            params={"service": summary_service},
        )

    # Refusals and invalid requests (35).
    some, s0, unserved_id = contacts[0], served[0], unserved[0]
    feature = snap.features[s0][0]
    bad_prediction = "pr_20000131_1_" + "0" * 24
    outside_pair = next(p for p in pair_rows if p[0] in outside_set)

    def get(key: str | None, path: str, **params: Any) -> None:
        r.add("error", key, "GET", path, params=params)

    def post(key: str, path: str, body: Any = None, content: str | None = None) -> None:
        r.add("error", key, "POST", path, body=body, content=content)

    def inline(features: dict[str, Any], service_id: str = s0) -> dict[str, Any]:
        return {"records": [{"service_id": service_id, "features": features}]}

    get(None, "/v1/services")  # 401
    get("bogus", "/v1/services")
    get("planner", f"/v1/citizens/{unknown_cccd}/needs")  # 404
    post("admin", "/v1/predictions", {"cccds": [unknown_cccd]})
    get("planner_commune", f"/v1/citizens/{outside[0]}/needs")
    post("planner_commune", "/v1/outcomes", {"outcomes": [outcome_by_cccd(*outside_pair)]})
    get("auditor", f"/v1/citizens/{unknown_cccd}/access-log")
    get("admin", "/v1/nothing-here")
    post("planner", "/v1/predictions", {"cccds": [some], "explain": "full"})  # 403
    get("planner", "/v1/audit/log")
    get("planner_commune", f"/v1/services/{s0}/candidates", commune=other_commune)
    get("planner_commune", "/v1/forecast", service=s0, commune=other_commune)
    get("data_scientist", f"/v1/citizens/{some}/needs")
    get("auditor", f"/v1/services/{s0}/candidates")
    post("data_scientist", "/v1/outcomes", {"outcomes": [outcome_by_cccd(*pair_rows[0])]})
    get("auditor_district", "/v1/audit/log")
    get("planner", f"/v1/services/{unserved_id}/candidates")  # 409 (when one is not served)
    get("data_scientist", "/v1/forecast", service=unserved_id)
    post("admin", "/v1/predictions", inline({}, unserved_id))
    post("admin", "/v1/predictions", {"cccds": ["999" + some[3:]]})  # 422
    post("admin", "/v1/predictions", {"cccds": [some]} | inline({}))
    post("admin", "/v1/predictions", {"cccds": []})
    post("admin", "/v1/predictions", {"cccds": [some], "colour": "blue"})
    post("admin", "/v1/predictions", inline({feature: "12"}))
    post("admin", "/v1/predictions", inline({feature: 1e9}))
    post("admin", "/v1/predictions", inline({"not_a_feature": 1.0}))
    post("admin", "/v1/predictions", content="{")
    post("admin", "/v1/predictions", content=json.dumps(inline({feature: float("nan")})))
    get("planner", f"/v1/services/{s0}/candidates", cursor="not-a-cursor!!")
    get("planner", f"/v1/services/{s0}/candidates", commune=unknown_commune)
    get("planner", "/v1/forecast", service=s0, month="2000-01")
    wrong_id = outcome_by_cccd(*pair_rows[1]) | {"prediction_id": bad_prediction}
    post("planner", "/v1/outcomes", {"outcomes": [wrong_id]})
    post(
        "planner",
        "/v1/outcomes",
        {"outcomes": [outcome_by_cccd(*pair_rows[2]) | {"subject_id": "x1"}]},
    )
    get("planner", f"/v1/services/{s0}/candidates", limit=0)
    r.add("error", "admin", "DELETE", "/v1/services")  # 405

    # The audit log (8) and access logs (8), last: they read what came before.
    auditor_pages: list[dict[str, Any]] = [
        {"after": 0, "limit": 20},
        {"after": 10, "limit": 5},
        {"action": "predict", "limit": 10},
        {"action": "read_candidates", "limit": 10},
    ]
    admin_pages: list[dict[str, Any]] = [
        {"limit": 50},
        {"after": 60, "limit": 20, "until": 150},
        {"action": "not_found", "limit": 10},
    ]
    for key, pages in (("auditor", auditor_pages), ("admin", admin_pages)):
        for page_params in pages:
            r.add("audit_log", key, "GET", "/v1/audit/log", params=page_params)
    first_page = r.add(
        "access_log", "auditor", "GET", f"/v1/citizens/{traced[0]}/access-log", params={"limit": 2}
    )
    r.add(
        "access_log",
        "auditor",
        "GET",
        f"/v1/citizens/{traced[0]}/access-log",
        params={"limit": 2, "before": ref(first_page, "next_before")},
    )
    r.add("access_log", "auditor", "GET", f"/v1/citizens/{traced[1]}/access-log")
    r.add(
        "access_log",
        "auditor",
        "GET",
        f"/v1/citizens/{traced[2]}/access-log",
        params={"purpose": "yêu cầu của người dân"},
    )
    r.add(
        "access_log", "admin", "GET", f"/v1/citizens/{traced[0]}/access-log", params={"limit": 100}
    )
    r.add("access_log", "admin", "GET", f"/v1/citizens/{traced[1]}/access-log", lang="en")
    r.add("access_log", "auditor_district", "GET", f"/v1/citizens/{traced[0]}/access-log")
    r.add(
        "access_log", "auditor_district", "GET", f"/v1/citizens/{traced[2]}/access-log", lang="en"
    )
    # The whole chain, last, so that every entry's hash is checked against its successor.
    r.add("audit_log", "auditor", "GET", "/v1/audit/log", params={"limit": 500})

    if len(r.items) != REQUEST_COUNT:
        raise AssertionError(f"{len(r.items)} requests built, expected {REQUEST_COUNT}")
    for item in r.items:  # None means "leave the parameter out"
        if "params" in item:
            item["params"] = {k: v for k, v in item["params"].items() if v is not None}
    scopes = {
        name: scope.format(commune=home, district=district) for name, (_, scope) in KEYS.items()
    }
    return {
        "seed": seed,
        "as_of": snap.as_of,
        "count": REQUEST_COUNT,
        "scopes": scopes,
        "requests": r.items,
    }


# --- sending and normalising ------------------------------------------------------------------


def resolve(value: Any, answers: dict[str, Any]) -> Any:
    """Replace {"$ref": [id, key, ...]} by that value of an earlier answer (None if absent)."""
    if isinstance(value, dict):
        if set(value) == {"$ref"}:
            rid, *path = value["$ref"]
            found = answers.get(rid)
            for step in path:
                try:
                    found = found[step]  # type: ignore[index]
                except (KeyError, IndexError, TypeError):
                    return None
            return found
        return {k: resolve(v, answers) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, answers) for v in value]
    return value


def send_all(
    url: str, spec: dict[str, Any], keys: dict[str, str], say: Callable[[str], None]
) -> list[dict[str, Any]]:
    """Send the requests one at a time, each on a new connection: after a 500, uvicorn
    closes the connection, and whether a kept-alive client notices before sending the next
    request would be a race (a reset) that differs from run to run."""
    answers: dict[str, Any] = {}
    records = []
    no_keep_alive = httpx.Limits(max_keepalive_connections=0)
    with httpx.Client(base_url=url, timeout=300, limits=no_keep_alive) as client:
        for item in spec["requests"]:
            headers = {}
            if item["key"] == "bogus":
                headers["Authorization"] = f"Bearer {BOGUS_KEY}"
            elif item["key"] is not None:
                headers["Authorization"] = f"Bearer {keys[item['key']]}"
            if "lang" in item:
                headers["Accept-Language"] = item["lang"]
            params = resolve(item.get("params"), answers)
            params = {k: v for k, v in (params or {}).items() if v is not None} or None
            content = None
            if "json" in item:
                content = json.dumps(resolve(item["json"], answers), ensure_ascii=False).encode()
                headers["Content-Type"] = "application/json"
            elif "content" in item:
                content = item["content"].encode()
                headers["Content-Type"] = "application/json"
            status: int | None = None
            try:
                response = client.request(
                    item["method"], item["path"], params=params, content=content, headers=headers
                )
                status = response.status_code
                body = response.json()
            except httpx.TransportError as error:  # recorded, and so compared
                body = {"transport_error": type(error).__name__}
            except ValueError:
                body = {"non_json_body": response.text}
            answers[item["id"]] = body
            record = {"id": item["id"], "kind": item["kind"], "status": status, "body": body}
            if _has_ref(item):
                record["sent"] = {"params": params, "json": resolve(item.get("json"), answers)}
            records.append(record)
    statuses = pd.Series([str(r["status"]) for r in records]).value_counts().sort_index()
    say("  statuses: " + ", ".join(f"{s}: {n}" for s, n in statuses.items()))
    return records


def _has_ref(value: Any) -> bool:
    if isinstance(value, dict):
        return "$ref" in value or any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def _entry_hash(entry: dict[str, Any]) -> str:
    fields = {k: entry[k] for k in AUDIT_HASHED}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(str(entry["prev_hash"]).encode() + canonical.encode()).hexdigest()


def _count(tokens: dict[str, str], prefix: str) -> int:
    """The number of the next token of this kind."""
    return sum(t.startswith(prefix) for t in tokens.values()) + 1


def normalise(records: list[dict[str, Any]], key_ids: dict[str, str]) -> list[dict[str, Any]]:
    """The records with only the run-dependent values replaced (see the module docstring)."""
    tokens = {key_id: f"<key:{name}>" for name, key_id in key_ids.items()}
    served_hashes: dict[int, str] = {}
    for rec in records:
        body = rec["body"]
        if rec["kind"] == "predictions_inline" and rec["status"] == 200:
            for prediction in body.get("predictions", []):
                pid = prediction.get("prediction_id")
                if isinstance(pid, str) and pid.startswith("pr_inline_"):
                    tokens.setdefault(pid, f"<pr_inline:{_count(tokens, '<pr_inline')}>")
        if rec["kind"] == "outcomes" and rec["status"] == 201:
            for oid in body.get("recorded", []):
                tokens.setdefault(oid, f"<outcome:{_count(tokens, '<outcome')}>")
        if rec["kind"] == "audit_log" and rec["status"] == 200:
            for entry in body.get("entries", []):
                served_hashes[int(entry["seq"])] = entry["hash"]

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: "<at>" if k == "at" and isinstance(v, str) else walk(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, str):
            return tokens.get(value, value)
        return value

    out = []
    for rec in records:
        checked = []
        if rec["kind"] == "audit_log" and rec["status"] == 200:
            for entry in rec["body"].get("entries", []):
                seq = int(entry["seq"])
                hash_ok = _entry_hash(entry) == entry["hash"]
                if seq == 1:
                    prev = entry["prev_hash"] if entry["prev_hash"] == GENESIS else None
                elif seq - 1 in served_hashes:
                    prev = (
                        "<hash of the previous entry>"
                        if served_hashes[seq - 1] == entry["prev_hash"]
                        else None
                    )
                else:
                    prev = "<previous entry not on any page>"
                checked.append((hash_ok, prev))
        new = walk(copy.deepcopy(rec))
        entries = new["body"].get("entries", []) if checked else []
        for entry, (hash_ok, prev) in zip(entries, checked, strict=True):
            if hash_ok:
                entry["hash"] = "<sha256 verified>"
            if prev is not None:
                entry["prev_hash"] = prev
        out.append(new)
    return out


# --- capture ---------------------------------------------------------------------------------


def capture(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    tree, out = args.tree.resolve(), args.out.resolve()
    raw, models = args.raw.resolve(), args.models.resolve()
    if out.exists() and any(out.iterdir()):
        raise SystemExit(f"{out} exists and is not empty: capture into a new folder")
    for folder in (tree / "api", raw, models):
        if not folder.is_dir():
            raise SystemExit(f"{folder} is not a folder")
    dates = list(args.dates)
    last = max(dates)
    out.mkdir(parents=True, exist_ok=True)
    run = Capture(tree, out, args.python, models, out / last / "scores")
    commit = subprocess.run(
        ["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        [
            "git",
            "--no-optional-locks",
            "-C",
            str(tree),
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    run.say(
        f"capture of {tree} (commit {commit or '?'}"
        f"{', with uncommitted changes' if dirty else ''}) into {out}"
    )
    run.say(
        f"  raw {raw}, models {models}, dates {', '.join(dates)}, python {args.python}, "
        f"CLI entry {run.entry}"
    )
    imports = run.check_imports()
    for day in dates:
        run.say(f"{day}:")
        run.cli(f"link-{day}", "link", "--raw", raw, "--as-of", day, "--out", out / day / "linked")
        run.cli(
            f"features-{day}",
            "features",
            "--raw",
            raw,
            "--as-of",
            day,
            "--out",
            out / day / "features",
        )
        run.cli(
            f"score-{day}", "score", "--raw", raw, "--as-of", day, "--out", out / day / "scores"
        )
    if args.requests is not None:
        spec = json.loads(args.requests.read_text(encoding="utf-8"))
        run.say(f"requests: {len(spec['requests'])} from {args.requests}")
    else:
        spec = build_requests(Snapshot.read(out / last / "scores" / last), args.seed)
        run.say(
            f"requests: {len(spec['requests'])} built from the {last} snapshot, seed {args.seed}"
        )
    (out / "requests.json").write_text(
        json.dumps(spec, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    keys, key_ids = {}, {}
    for name, (role, _) in KEYS.items():
        key_file = out / "service" / f"{name}.key"
        run.cli(
            f"key-{name}",
            "keys",
            "create",
            "--role",
            role,
            "--scope",
            spec["scopes"][name],
            "--label",
            f"compare_outputs {name}",
            "--expires",
            "2d",
            "--out",
            key_file,
        )
        keys[name] = key_file.read_text(encoding="utf-8").strip()
        match = re.fullmatch(r"needs_([0-9a-f]+)_.+", keys[name])
        if match is None:
            raise SystemExit(f"the key in {key_file} does not read needs_<key id>_<secret>")
        key_ids[name] = match.group(1)
    run.say("serving the last snapshot:")
    tick = time.perf_counter()
    server = start_server(run)
    try:
        run.seconds["server_start"] = round(time.perf_counter() - tick, 2)
        tick = time.perf_counter()
        records = send_all(server.url, spec, keys, run.say)
        run.seconds["requests"] = round(time.perf_counter() - tick, 2)
    finally:
        stop_server(server)
    run.say(f"  server stopped (exit {server.process.returncode})")
    with (out / "responses.raw.jsonl").open("w", encoding="utf-8") as handle:
        for rec in records:
            handle.write(json.dumps(rec, ensure_ascii=False) + "\n")
    with (out / "responses.jsonl").open("w", encoding="utf-8") as handle:
        for rec in normalise(records, key_ids):
            handle.write(json.dumps(rec, ensure_ascii=False, sort_keys=True) + "\n")
    verify = run.cli("audit-verify", "audit", "verify", check=False)
    said = " ".join((verify.stdout + verify.stderr).split())
    said = re.sub(r"\b[0-9a-f]{16}…", "<head hash>…", said)
    run.say(f"  {said}")
    run.seconds["total"] = round(time.perf_counter() - started, 2)
    meta = {
        "tree": str(tree),
        "commit": commit,
        "uncommitted_changes": bool(dirty),
        "raw": str(raw),
        "models": str(models),
        "dates": dates,
        "python": args.python,
        "cli_entry_point": run.entry,
        "imports": imports,
        "audit_verify": {"exit": verify.returncode, "output": said},
        "seconds": run.seconds,
    }
    (out / "capture.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    run.say(f"captured in {run.seconds['total']:.1f} s")
    return 0


# --- compare ---------------------------------------------------------------------------------


GROUPS: list[tuple[str, Callable[[str], bool]]] = [
    ("consistency report", lambda p: p.startswith("linked/consistency.")),
    ("linked profiles", lambda p: p.startswith("linked/")),
    ("features", lambda p: p.startswith("features/")),
    ("dossiers", lambda p: p.startswith("scores/") and "/dossiers/" in p),
    ("forecast", lambda p: p.startswith("scores/") and p.endswith("/forecast.parquet")),
    ("scores", lambda p: p.startswith("scores/")),
    ("other", lambda p: True),
]


def _files(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix()


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        if pd.isna(a) and pd.isna(b):
            return True
    except (TypeError, ValueError):
        pass
    try:
        return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray | list) else bool(a == b)
    except (TypeError, ValueError):
        return False


def compare_parquet(a: Path, b: Path) -> tuple[str | None, bool]:
    """(first difference or None, byte-identical)."""
    if a.read_bytes() == b.read_bytes():
        return None, True
    schema_a, schema_b = pq.read_schema(a).remove_metadata(), pq.read_schema(b).remove_metadata()
    if schema_a != schema_b:
        fields_a, fields_b = list(schema_a), list(schema_b)
        for x, y in zip(fields_a, fields_b, strict=False):
            if x != y:
                return f"schema: {x} != {y}", False
        return f"schema: {len(fields_a)} columns != {len(fields_b)}", False
    fa, fb = pd.read_parquet(a), pd.read_parquet(b)
    if fa.shape != fb.shape:
        return f"shape {fa.shape} != {fb.shape}", False
    for column in fa.columns:
        x, y = fa[column], fb[column]
        if x.dtype != y.dtype:
            return f"column {column}: dtype {x.dtype} != {y.dtype}", False
        try:
            pd.testing.assert_series_equal(x, y, check_exact=True)
        except AssertionError:
            for row, (u, v) in enumerate(zip(x.tolist(), y.tolist(), strict=True)):
                if not _same(u, v):
                    return f"column {column} row {row}: {u!r} != {v!r}", False
            return f"column {column}: not equal", False
    try:
        pd.testing.assert_frame_equal(fa, fb, check_exact=True)
    except AssertionError as error:
        return " ".join(str(error).split())[:300], False
    return None, False


def _first_json_difference(a: Any, b: Any, where: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(dict.fromkeys([*a, *b])):
            if k not in a or k not in b:
                return f"{where}.{k}: {'missing before' if k not in a else 'missing after'}"
            found = _first_json_difference(a[k], b[k], f"{where}.{k}")
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            found = _first_json_difference(x, y, f"{where}[{i}]")
            if found:
                return found
        return None if len(a) == len(b) else f"{where}: {len(a)} items != {len(b)}"
    if a != b or type(a) is not type(b):
        return f"{where or '.'}: {_short(a)} != {_short(b)}"
    return None


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def compare_file(rel: str, a: Path, b: Path) -> tuple[str | None, bool]:
    if rel.endswith(".parquet"):
        return compare_parquet(a, b)
    bytes_a, bytes_b = a.read_bytes(), b.read_bytes()
    if bytes_a == bytes_b:
        return None, True
    ignored = IGNORED_JSON_KEYS.get(Path(rel).name)
    if ignored is not None:
        ja, jb = json.loads(bytes_a), json.loads(bytes_b)
        for key in ignored:
            ja.pop(key, None)
            jb.pop(key, None)
        if json.dumps(ja) == json.dumps(jb):  # key order kept: the file's bytes less run times
            return None, False
        return _first_json_difference(ja, jb) or "key order differs", False
    lines_a, lines_b = (
        bytes_a.decode(errors="replace").splitlines(),
        bytes_b.decode(errors="replace").splitlines(),
    )
    for number, (x, y) in enumerate(zip(lines_a, lines_b, strict=False), start=1):
        if x != y:
            at = next(k for k, (u, v) in enumerate(zip(x + "\0", y + "\1", strict=False)) if u != v)
            start = max(0, at - 20)
            return (
                f"line {number}, column {at + 1}: {x[start : at + 40]!r} != {y[start : at + 40]!r}",
                False,
            )
    return f"{len(bytes_a)} bytes != {len(bytes_b)} bytes", False


@dataclass
class Row:
    artefact: str
    files: int = 0
    byte_identical: int = 0
    differences: list[str] = field(default_factory=list)

    @property
    def result(self) -> str:
        if self.differences:
            more = f" (+{len(self.differences) - 1} more)" if len(self.differences) > 1 else ""
            return f"DIFFERENT: {self.differences[0]}{more}"
        if self.files == 0:
            return "DIFFERENT: nothing to compare"
        return "identical" + (
            f" ({self.byte_identical} byte-identical)" if self.byte_identical < self.files else ""
        )


def compare(args: argparse.Namespace) -> int:
    before, after = args.before.resolve(), args.after.resolve()
    rows: list[Row] = []
    dates = sorted(
        {
            p.name
            for root in (before, after)
            for p in root.iterdir()
            if p.is_dir() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.name)
        }
    )
    for day in dates:
        files_a, files_b = set(_files(before / day)), set(_files(after / day))
        grouped: dict[str, Row] = {}
        for rel in sorted(files_a | files_b):
            group = next(name for name, test in GROUPS if test(rel))
            row = grouped.setdefault(group, Row(f"{day} {group}"))
            row.files += 1
            if rel not in files_a or rel not in files_b:
                row.differences.append(
                    f"{rel}: only in {'after' if rel not in files_a else 'before'}"
                )
                continue
            difference, identical = compare_file(rel, before / day / rel, after / day / rel)
            row.byte_identical += identical
            if difference:
                row.differences.append(f"{rel}: {difference}")
        rows += [grouped[name] for name, _ in GROUPS if name in grouped]
    rows.append(_compare_requests(before, after))
    rows.append(_compare_responses(before, after))
    rows.append(_compare_audit_verify(before, after))
    width = max(len(r.artefact) for r in rows)
    print(f"{'artefact':<{width}}  {'files':>5}  result")
    for row in rows:
        print(f"{row.artefact:<{width}}  {row.files:>5}  {row.result}")
    same = not any(r.differences or r.files == 0 for r in rows)
    print("IDENTICAL" if same else "DIFFERENT")
    if args.report is not None:
        report = {
            "before": str(before),
            "after": str(after),
            "identical": same,
            "rows": [
                {
                    "artefact": r.artefact,
                    "files": r.files,
                    "byte_identical": r.byte_identical,
                    "identical": not r.differences and r.files > 0,
                    "differences": r.differences,
                }
                for r in rows
            ],
        }
        args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if same else 1


def _compare_requests(before: Path, after: Path) -> Row:
    row = Row("requests.json", files=1)
    difference, identical = compare_file(
        "requests.json", before / "requests.json", after / "requests.json"
    )
    row.byte_identical = int(identical)
    if difference:
        row.differences.append(difference)
    return row


def _compare_responses(before: Path, after: Path) -> Row:
    lines_a = (before / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    lines_b = (after / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    row = Row(f"API responses ({len(lines_a)})", files=len(lines_a))
    if len(lines_a) != len(lines_b):
        row.differences.append(f"{len(lines_a)} responses != {len(lines_b)}")
    for x, y in zip(lines_a, lines_b, strict=False):
        a, b = json.loads(x), json.loads(y)
        row.byte_identical += x == y
        if a != b:
            where = _first_json_difference(a, b) or "differs"
            row.differences.append(f"{a.get('id')} {a.get('kind')}: {where}")
    return row


def _compare_audit_verify(before: Path, after: Path) -> Row:
    row = Row("audit verify (after the requests)", files=1)
    a = json.loads((before / "capture.json").read_text(encoding="utf-8"))["audit_verify"]
    b = json.loads((after / "capture.json").read_text(encoding="utf-8"))["audit_verify"]
    if a != b:
        row.differences.append(f"{a} != {b}")
    else:
        row.byte_identical = 1
    if a["exit"] != 0:
        row.differences.append(f"the chain does not verify: {a['output']}")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    cap = commands.add_parser("capture", help="Run one tree's CLI and API and record the outputs.")
    cap.add_argument("--tree", type=Path, required=True, help="Source tree (a git worktree).")
    cap.add_argument("--out", type=Path, required=True, help="New folder for the capture.")
    cap.add_argument("--raw", type=Path, default=Path("data/raw"), help="Agency extracts.")
    cap.add_argument("--models", type=Path, default=Path("models"), help="Served bundles.")
    cap.add_argument("--dates", nargs="+", default=list(DEFAULT_DATES), help="Month ends.")
    cap.add_argument("--requests", type=Path, help="Replay this requests.json.")
    cap.add_argument("--seed", type=int, default=DEFAULT_SEED, help="Seed of the request list.")
    cap.add_argument("--python", default=sys.executable, help="Interpreter (the venv's).")
    cmp = commands.add_parser("compare", help="Compare two captures; exit 1 on a difference.")
    cmp.add_argument("before", type=Path)
    cmp.add_argument("after", type=Path)
    cmp.add_argument("--report", type=Path, help="Also write the table as JSON here.")
    args = parser.parse_args()
    return capture(args) if args.command == "capture" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
