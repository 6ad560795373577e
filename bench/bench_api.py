"""Benchmark the prediction API over HTTP against MLflow's model server, same model, same rows.

Starts `uvicorn api.main:app` (one worker, a throw-away service database and planner key)
and `mlflow models serve` for the champion of one service (one worker, local environment),
both on 127.0.0.1, and measures in the same run:

- needs_citizen_records: POST /v1/predictions, one inline record per served service in one
  request (one citizen, every served service, with reasons);
- needs_citizen_cccds: POST /v1/predictions {"cccds": [cccd]} for the citizens with the
  most services (scores and reasons of the scored snapshot);
- needs_single: POST /v1/predictions, one inline record of `--service`, with reasons;
- mlflow_single: POST /invocations, the same rows as needs_single, probabilities only.

Each scenario: `--requests` sequential requests (concurrency 1), then 3 x `--requests`
over `--concurrency` keep-alive HTTP/1.1 connections (an asyncio client sending
pre-encoded requests, so the load generator takes little of the shared cores); requests
cycle through `--rows` real subjects of the scored snapshot. The two servers are measured
alternately, `--repeats` times; medians are quoted. Before timing, every row's MLflow
answer is checked against the probability Needs returns for it. The load generator runs
on the same machine as the servers (it competes with them for the cores, equally for
both).
Writes bench/results/api.json.
Usage: python bench/bench_api.py --requests 1000 --concurrency 8 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException

from needs_model.modelling import tracking
from needs_model.modelling.training import ServiceModel
from needs_model.scoring.snapshot import ScoredSnapshot, latest_snapshot
from needs_model.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TARGETS = {"citizen_p50_ms": 10.0, "citizen_p99_ms": 30.0, "throughput_ratio": 3.0}
Body = bytes


# --- the rows --------------------------------------------------------------------------


def feature_rows(snapshot: Path, service_id: str, features: list[str], count: int) -> pd.DataFrame:
    """`count` real subjects of a service (a fixed sample), features in model order."""
    frame = ScoredSnapshot(snapshot).read("subjects", service_id)
    sample = frame.sample(n=min(count, len(frame)), random_state=0)
    return sample[["subject_id", *features, "probability"]].reset_index(drop=True)


def as_record(service_id: str, row: pd.Series, features: list[str]) -> dict[str, Any]:
    values = {f: None if pd.isna(row[f]) else float(row[f]) for f in features}
    return {"service_id": service_id, "features": values, "reference": str(row["subject_id"])}


def busiest_citizens(snapshot: Path, served: list[str], count: int) -> pd.Series:
    """Services per citizen for the `count` citizens with the most served services."""
    index = ScoredSnapshot(snapshot).read("index")
    index = index[index["service_id"].isin(served)]
    per_citizen = index.groupby("cccd")["service_id"].nunique()
    return per_citizen.sort_values(ascending=False, kind="stable").head(count)


def dataframe_split(rows: pd.DataFrame, features: list[str], i: int) -> dict[str, Any]:
    values = [None if pd.isna(v) else float(v) for v in rows.loc[i, features]]
    return {"dataframe_split": {"columns": features, "data": [values]}}


def encode(payload: dict[str, Any]) -> Body:
    return json.dumps(payload).encode()


# --- the servers -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A server in its own process group (`mlflow models serve` runs uvicorn as a child)."""
    with log.open("wb") as out:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_healthy(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> float:
    """Seconds until `url` answers 200; fails with the server's log if it dies or stalls."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited ({process.returncode}):\n{tail(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url}: not healthy after {timeout:.0f} s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a server's process group (children included); kill it after 15 s."""
    if process is None:
        return
    deadline = time.perf_counter() + 15
    try:
        os.killpg(process.pid, signal.SIGTERM)
        while time.perf_counter() < deadline:
            process.poll()  # reaps the leader, so the group empties
            os.killpg(process.pid, 0)  # raises once no process of the group is left
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def create_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(BIN / "needs-model"), "keys", "create", "--role", "planner", "--scope", "province"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def peer_model(
    settings: Settings, service_id: str, bundle: Path, features: list[str], tmp: Path
) -> tuple[str, str]:
    """(model URI for `mlflow models serve`, where it comes from).

    The registered champion when its artifacts can be read and it is the run Needs serves;
    otherwise the same bundle packaged by the same pyfunc code and signature `train` logs,
    saved to `tmp` (the reason is kept in the results)."""
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    name = tracking.registered_name(service_id)
    uri = f"models:/{name}@champion"
    served_run = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))["run_id"]
    try:
        champion = mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
        if champion.run_id != served_run:
            raise MlflowException(f"champion run {champion.run_id} is not served run {served_run}")
        mlflow.models.Model.load(uri)
        return uri, f"registry: {name} version {champion.version} (run {served_run})"
    except MlflowException as error:
        reason = str(error).splitlines()[0]
    path = tmp / "peer-model"
    with warnings.catch_warnings():
        # As in `train`: the explicit signature is the contract, no example row.
        warnings.filterwarnings("ignore", message=".*input example.*")
        mlflow.pyfunc.save_model(
            path=str(path),
            python_model=str(Path(tracking.__file__).with_name("mlflow_model.py")),
            artifacts={"bundle": str(bundle)},
            signature=tracking.signature(features),
            pip_requirements=[],
        )
    return str(path), f"rebuilt from {bundle.relative_to(ROOT)} (run {served_run}): {reason}"


# --- the load ----------------------------------------------------------------------------


def _request_bytes(url: str, headers: dict[str, str], body: Body, method: str = "POST") -> bytes:
    target = httpx.URL(url)
    lines = [
        f"{method} {target.raw_path.decode()} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    length = next(
        int(line.split(":", 1)[1])
        for line in head[1:]
        if line.lower().startswith("content-length:")
    )
    return status, await reader.readexactly(length)


async def _load(
    url: str, headers: dict[str, str], bodies: list[Body], requests: int, concurrency: int
) -> tuple[list[float], float, list[str]]:
    """`concurrency` keep-alive HTTP/1.1 connections sending pre-encoded requests: a load
    generator that costs the shared cores far less than a Python HTTP client."""
    target = httpx.URL(url)
    encoded = [_request_bytes(url, headers, body) for body in bodies]
    counter = itertools.count()
    latencies: list[float] = []
    failures: list[str] = []
    connections = [
        await asyncio.open_connection(target.host, target.port) for _ in range(concurrency)
    ]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (i := next(counter)) < requests:
            started = time.perf_counter()
            writer.write(encoded[i % len(encoded)])
            await writer.drain()
            status, body = await _response(reader)
            latencies.append(time.perf_counter() - started)
            if status != 200:
                failures.append(f"{status} {body[:300]!r}")

    started = time.perf_counter()
    await asyncio.gather(*(worker(r, w) for r, w in connections))
    seconds = time.perf_counter() - started
    for _, writer in connections:
        writer.close()
    return latencies, seconds, failures


def load(
    url: str, headers: dict[str, str], bodies: list[Body], requests: int, concurrency: int
) -> dict[str, float]:
    """Latency percentiles (ms) and throughput of `requests` POSTs over `concurrency`
    keep-alive connections; bodies are used in turn."""
    latencies, seconds, failures = asyncio.run(_load(url, headers, bodies, requests, concurrency))
    if failures:
        raise RuntimeError(f"{url}: {len(failures)} failed requests, first: {failures[0]}")
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(ms),
        "seconds": seconds,
        "requests_per_s": len(ms) / seconds,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
    }


def measure(
    url: str, headers: dict[str, str], bodies: list[Body], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    if args.warmup:
        load(url, headers, bodies, args.warmup, 1)
    return {
        "c1": load(url, headers, bodies, args.requests, 1),
        f"c{args.concurrency}": load(url, headers, bodies, 3 * args.requests, args.concurrency),
    }


def post_all(url: str, headers: dict[str, str], bodies: list[Body]) -> list[dict[str, Any]]:
    with httpx.Client(headers=headers, timeout=30) as client:
        answers = []
        for body in bodies:
            response = client.post(url, content=body)
            response.raise_for_status()
            answers.append(response.json())
        return answers


def mlflow_probability(answer: dict[str, Any]) -> float:
    """The one prediction of an /invocations answer (a bare number or a named column)."""
    (value,) = answer["predictions"]
    return float(value["probability"] if isinstance(value, dict) else value)


# --- the summary -------------------------------------------------------------------------


def medians(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    return {
        level: {
            k: statistics.median(run[level][k] for run in runs)
            for k in ("requests_per_s", "p50_ms", "p99_ms", "mean_ms")
        }
        for level in runs[0]
    }


def table(scenarios: dict[str, Any], busy: str) -> str:
    head = (
        f"{'scenario':<22} {'c1 p50':>8} {'c1 p99':>8} {'c1 req/s':>9}"
        f" {busy + ' req/s':>10} {busy + ' p50':>8} {busy + ' p99':>8}"
    )
    lines = [head, "-" * len(head)]
    for name, scenario in scenarios.items():
        one, many = scenario["median"]["c1"], scenario["median"][busy]
        lines.append(
            f"{name:<22} {one['p50_ms']:>8.2f} {one['p99_ms']:>8.2f} "
            f"{one['requests_per_s']:>9.0f} {many['requests_per_s']:>10.0f} "
            f"{many['p50_ms']:>8.2f} {many['p99_ms']:>8.2f}"
        )
    return "\n".join(lines) + "\n(latencies in ms; medians over repeats)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=1000, help="at concurrency 1 (3x at --concurrency)"
    )
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--service", default="poor_household_confirmation")
    parser.add_argument("--rows", type=int, default=500, help="distinct subjects cycled")
    parser.add_argument("--warmup", type=int, default=100, help="requests before each timing")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "api.json")
    args = parser.parse_args()

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    settings = Settings(_env_file=ROOT / ".env")
    tracking_db = settings.mlflow_tracking_uri.removeprefix("sqlite:///")
    tracking_uri = f"sqlite:///{(ROOT / tracking_db).resolve()}"
    settings = settings.model_copy(update={"mlflow_tracking_uri": tracking_uri})
    snapshot = latest_snapshot(ROOT / settings.scores_dir)
    if snapshot is None:
        raise SystemExit(f"no scored snapshot under {settings.scores_dir}: run needs-model score")
    manifest = ScoredSnapshot(snapshot).manifest()
    served = list(manifest["models"])
    if args.service not in served:
        raise SystemExit(f"{args.service} is not served; served: {', '.join(served)}")
    models = {
        s: ServiceModel.load(ROOT / settings.models_dir / s / v, s)
        for s, v in manifest["models"].items()
    }
    rows = {s: feature_rows(snapshot, s, m.features, args.rows) for s, m in models.items()}
    features = models[args.service].features
    single = rows[args.service]
    citizens = busiest_citizens(snapshot, served, args.rows)

    citizen_records = [
        encode(
            {
                "records": [
                    as_record(s, rows[s].loc[i % len(rows[s])], models[s].features) for s in served
                ]
            }
        )
        for i in range(args.rows)
    ]
    citizen_cccds = [encode({"cccds": [str(c)]}) for c in citizens.index]
    single_records = [
        encode({"records": [as_record(args.service, single.loc[i], features)]})
        for i in range(len(single))
    ]
    single_frames = [encode(dataframe_split(single, features, i)) for i in range(len(single))]

    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    needs_server = mlflow_server = None
    try:
        env = {**os.environ, "NEEDS_DATABASE_URL": f"sqlite:///{tmp}/needs.db"}
        key = create_key(env)
        needs_port, mlflow_port = free_port(), free_port()
        needs_command = [
            str(BIN / "uvicorn"), "api.main:app", "--host", "127.0.0.1",
            "--port", str(needs_port), "--workers", "1", "--log-level", "warning",
        ]  # fmt: skip
        needs_server = start(needs_command, env, tmp / "needs.log")
        needs_url = f"http://127.0.0.1:{needs_port}"
        needs_startup = wait_healthy(needs_server, needs_url + "/health", tmp / "needs.log", 180)

        bundle = ROOT / settings.models_dir / args.service / manifest["models"][args.service]
        model_uri, model_source = peer_model(settings, args.service, bundle, features, tmp)
        mlflow_command = [
            str(BIN / "mlflow"), "models", "serve", "-m", model_uri, "--env-manager", "local",
            "--host", "127.0.0.1", "-p", str(mlflow_port), "--workers", "1",
        ]  # fmt: skip
        mlflow_env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",  # it execs uvicorn
            "MLFLOW_TRACKING_URI": tracking_uri,
        }
        mlflow_server = start(mlflow_command, mlflow_env, tmp / "mlflow.log")
        mlflow_url = f"http://127.0.0.1:{mlflow_port}"
        mlflow_startup = wait_healthy(mlflow_server, mlflow_url + "/ping", tmp / "mlflow.log", 180)

        needs_headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        json_headers = {"Content-Type": "application/json"}
        predict_url = needs_url + "/v1/predictions"
        invocations_url = mlflow_url + "/invocations"

        # Same rows, same answers: every row once through both servers before any timing.
        needs_answers = post_all(predict_url, needs_headers, single_records)
        needs_p = np.array([a["predictions"][0]["probability"] for a in needs_answers])
        mlflow_answers = post_all(invocations_url, json_headers, single_frames)
        mlflow_p = np.array([mlflow_probability(a) for a in mlflow_answers])
        difference = float(np.max(np.abs(needs_p - mlflow_p)))
        with_reasons = all(len(a["predictions"][0]["reasons"]) > 0 for a in needs_answers)
        citizen_answer = post_all(predict_url, needs_headers, citizen_records[:1])[0]
        cccd_answers = post_all(predict_url, needs_headers, citizen_cccds)
        verification = {
            "rows": len(single),
            "max_abs_difference_needs_vs_mlflow": difference,
            "equal_within_1e-6": difference <= 1e-6,
            "mlflow_answers_are_probabilities": bool(np.all((mlflow_p >= 0) & (mlflow_p <= 1))),
            "max_abs_difference_needs_vs_snapshot": float(
                np.max(np.abs(needs_p - single["probability"].to_numpy()))
            ),
            "needs_single_returns_reasons": with_reasons,
            "needs_citizen_records_predictions": len(citizen_answer["predictions"]),
            "needs_citizen_cccds_predictions_mean": statistics.mean(
                len(a["predictions"]) for a in cccd_answers
            ),
        }
        if not verification["equal_within_1e-6"]:
            print(f"warning: MLflow and Needs differ by up to {difference:.3g}", file=sys.stderr)

        needs_scenarios: dict[str, tuple[str, dict[str, str], list[Body]]] = {
            "needs_citizen_records": (predict_url, needs_headers, citizen_records),
            "needs_citizen_cccds": (predict_url, needs_headers, citizen_cccds),
            "needs_single": (predict_url, needs_headers, single_records),
        }
        runs: dict[str, list[dict[str, dict[str, float]]]] = {
            name: [] for name in [*needs_scenarios, "mlflow_single"]
        }

        def run_needs() -> None:
            for name, (url, headers, bodies) in needs_scenarios.items():
                runs[name].append(measure(url, headers, bodies, args))

        def run_mlflow() -> None:
            peer_run = measure(invocations_url, json_headers, single_frames, args)
            runs["mlflow_single"].append(peer_run)

        for repeat in range(args.repeats):
            order: list[Callable[[], None]] = [run_needs, run_mlflow]
            for run in order if repeat % 2 == 0 else order[::-1]:  # alternate who goes first
                run()
            print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr)
    finally:
        stop(needs_server)
        stop(mlflow_server)
        shutil.rmtree(tmp, ignore_errors=True)

    busy = f"c{args.concurrency}"
    descriptions = {
        "needs_citizen_records": f"one citizen, all {len(served)} served services, with "
        "reasons: one inline record per service in one request",
        "needs_citizen_cccds": "one citizen by CCCD (citizens with the most services), "
        "scored-snapshot scores with reasons",
        "needs_single": f"one inline record of {args.service}, with reasons",
        "mlflow_single": f"one row of {args.service} (same rows), probability only",
    }
    scenarios: dict[str, dict[str, Any]] = {
        name: {"description": descriptions[name], "median": medians(r), "runs": r}
        for name, r in runs.items()
    }
    scenarios["needs_citizen_cccds"]["services_per_citizen"] = {
        "max": int(citizens.max()),
        "min": int(citizens.min()),
        "citizens": len(citizens),
    }
    needs, peer = scenarios["needs_single"]["median"], scenarios["mlflow_single"]["median"]
    citizen = scenarios["needs_citizen_records"]["median"]["c1"]
    ratio = needs[busy]["requests_per_s"] / peer[busy]["requests_per_s"]
    comparison = {
        f"throughput_ratio_{busy}": ratio,
        "throughput_ratio_c1": needs["c1"]["requests_per_s"] / peer["c1"]["requests_per_s"],
        f"throughput_ratio_{busy}_per_repeat": [
            n[busy]["requests_per_s"] / m[busy]["requests_per_s"]
            for n, m in zip(runs["needs_single"], runs["mlflow_single"], strict=True)
        ],
        "p99_ms": {
            level: {"needs": needs[level]["p99_ms"], "mlflow": peer[level]["p99_ms"]}
            for level in ("c1", busy)
        },
    }
    targets = {
        "citizen_records_c1_p50_le_10ms": citizen["p50_ms"] <= TARGETS["citizen_p50_ms"],
        "citizen_records_c1_p99_le_30ms": citizen["p99_ms"] <= TARGETS["citizen_p99_ms"],
        f"needs_ge_3x_mlflow_throughput_{busy}_at_equal_or_lower_p99": (
            ratio >= TARGETS["throughput_ratio"] and needs[busy]["p99_ms"] <= peer[busy]["p99_ms"]
        ),
    }
    summary = {
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "mlflow": mlflow.__version__,
            "httpx": httpx.__version__,
        },
        "settings": {
            "requests_c1": args.requests,
            f"requests_{busy}": 3 * args.requests,
            "warmup": args.warmup,
            "repeats": args.repeats,
            "service": args.service,
            "rows": len(single),
            "snapshot": str(snapshot.relative_to(ROOT)),
            "served_services": served,
            "served_count": len(served),
            "not_served": sorted(manifest.get("not_served", {})),
        },
        "servers": {
            "needs": {"command": " ".join(needs_command[1:]), "startup_s": needs_startup},
            "mlflow": {
                "command": " ".join(mlflow_command[1:]),
                "model": model_source,
                "startup_s": mlflow_startup,
            },
        },
        "verification": verification,
        "scenarios": scenarios,
        "comparison": comparison,
        "targets": targets,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(table(scenarios, busy))
    print(
        f"Needs/MLflow throughput: {ratio:.2f}x at {busy}, "
        f"{comparison['throughput_ratio_c1']:.2f}x at c1; p99 at {busy}: "
        f"Needs {needs[busy]['p99_ms']:.1f} ms, MLflow {peer[busy]['p99_ms']:.1f} ms"
    )
    print(f"peer model: {model_source}")
    print("targets: " + ", ".join(f"{k}={'met' if v else 'NOT met'}" for k, v in targets.items()))


if __name__ == "__main__":
    main()
