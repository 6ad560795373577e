"""Calibration on a province the models have not seen ([realism]).

Simulates a twin with another seed (`twin.province.simulate_province`, as `needs-model
simulate` does), builds its month-end feature snapshots with the production labels
(`features.snapshots.build_snapshots`, i.e. `build.attach_labels`), and evaluates every
served bundle on them with the package's own code: `metrics.summary` on all rows,
`evaluate.planning` for the rows the legal trigger makes eligible, each commune's monthly
list at the service's capacity, the capture ratio against the twin's oracle
(`twin.quality.oracle_for_rows`, what `workflow._oracle_function` hands the evaluation)
and the top of the scores; the ECE a perfectly calibrated model would show at the same
size if its rows were independent (`promotion.ece_noise_floor`) is given beside each ECE,
and the gate's own judgement: on how many month ends the ECE exceeds the floor of that
month's list (`promotion.calibration_by_month`; the gate refuses more than half).

By default each service is evaluated on the month ends of its own test window (the
bundle's `metadata.json`) and the province is simulated just far enough for every label's
horizon. The seed must differ from the training province's: read from each bundle's MLflow
run (`data/raw_manifest.json`, read only) when the run is found, or from `--trained-seed`.

Usage:
    python bench/evaluate_unseen.py                      # demo champions, 75,000 people, seed 1
    python bench/evaluate_unseen.py --models /tmp/served/models --people 20000 --seed 4 \\
        --trained-seed 3 --out /tmp/needs-unseen-4
    python bench/evaluate_unseen.py --keep               # reuse OUT/raw (same spec) and snapshots
    python bench/evaluate_unseen.py --json bench/results/unseen-1.json   # the engineer's demo run

Writes OUT/raw (the province), OUT/features (snapshots) and OUT/unseen.json (or --json),
and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import SERVICE_IDS, service
from needs_model.features.build import horizon_end, is_month_end
from needs_model.features.snapshots import build_snapshots, read_snapshot, snapshot_file
from needs_model.modelling import metrics
from needs_model.modelling.evaluate import planning
from needs_model.modelling.promotion import (
    Gate,
    calibration_by_month,
    current_version,
    ece_noise_floor,
    load_served,
    months_over_floor,
)
from needs_model.settings import get_settings
from needs_model.twin.province import simulate_province
from needs_model.twin.quality import oracle_for_rows
from needs_model.twin.simulate import SimulationSpec

DEFAULT_OUT = Path("/tmp/needs-unseen")
# Where tracking.log_training puts the training province's manifest in a run.
RUN_MANIFEST = "data/raw_manifest.json"


class Refusal(Exception):
    """The run cannot be a fair unseen-province evaluation; the message says why."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def month_end(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from error
    if not is_month_end(day):
        raise argparse.ArgumentTypeError(f"{day} is not a month end (snapshots are month ends)")
    return day


def served_bundles(models_dir: Path) -> dict[str, Path]:
    """Every service with a `current` bundle: its folder."""
    out = {}
    for service_id in SERVICE_IDS:
        version = current_version(models_dir, service_id)
        if version is not None:
            out[service_id] = models_dir / service_id / version
    return out


def bundle_json(folder: Path, name: str) -> dict[str, Any]:
    """metadata.json or evaluation.json of a bundle (`promotion.write_bundle` writes them;
    `promotion` has no reader for them)."""
    path = folder / name
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def local_store(tracking_uri: str) -> Path | None:
    """The file or folder of a local MLflow store (None for a server)."""
    if tracking_uri.startswith("sqlite:///"):
        return Path(tracking_uri.removeprefix("sqlite:///"))
    if tracking_uri.startswith("file:") or "://" not in tracking_uri:
        return Path(tracking_uri.removeprefix("file://").removeprefix("file:"))
    return None


def run_manifests(run_ids: dict[str, str], tracking_uri: str) -> dict[str, dict[str, Any]]:
    """The training province's manifest logged with each service's run, read only.

    A store that does not exist is not opened (MLflow would create one)."""
    if not run_ids:
        return {}
    local = local_store(tracking_uri)
    if local is not None and (not local.exists() or local.stat().st_size == 0):
        log(f"no MLflow store at {local}: training seeds unknown from runs")
        return {}
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(tracking_uri)
    out = {}
    for service_id, run_id in run_ids.items():
        try:
            out[service_id] = mlflow.artifacts.load_dict(f"runs:/{run_id}/{RUN_MANIFEST}")
        except (MlflowException, OSError) as error:
            log(f"{service_id}: run {run_id} has no readable manifest ({type(error).__name__})")
    return out


def trained_seeds(
    manifests: dict[str, dict[str, Any]], given: int | None, services: list[str]
) -> dict[str, dict[str, Any]]:
    """Per service: the seed(s) of the province it was trained on and where each came from."""
    out: dict[str, dict[str, Any]] = {}
    for service_id in services:
        known = {}
        if service_id in manifests and "seed" in manifests[service_id]:
            known["run"] = int(manifests[service_id]["seed"])
        if given is not None:
            known["--trained-seed"] = given
        if len(set(known.values())) > 1:
            log(
                f"warning: {service_id} was trained on seed {known['run']} (its run), "
                f"not {given} (--trained-seed)"
            )
        out[service_id] = known
    return out


def check_unseen(seed: int, seeds: dict[str, dict[str, Any]]) -> None:
    unknown = [s for s, known in seeds.items() if not known]
    if unknown:
        raise Refusal(
            f"cannot tell which seed {', '.join(unknown)} were trained on (no MLflow run with "
            "a raw manifest); pass --trained-seed"
        )
    seen = sorted(s for s, known in seeds.items() if seed in known.values())
    if seen:
        raise Refusal(
            f"seed {seed} is the seed of the province {', '.join(seen)} were trained on: "
            "choose another --seed"
        )


def evaluation_dates(
    dates: list[dt.date] | None, metadata: dict[str, dict[str, Any]]
) -> dict[str, list[dt.date]]:
    """Per service: the given month ends, or its bundle's test window."""
    if dates:
        return {s: sorted(set(dates)) for s in metadata}
    out = {}
    for service_id, meta in metadata.items():
        window = meta.get("test_window")
        if not window:
            raise Refusal(
                f"the {service_id} bundle's metadata.json has no test_window; pass --dates"
            )
        out[service_id] = [dt.date.fromisoformat(d) for d in window]
    return out


def simulation_end(dates: dict[str, list[dt.date]]) -> str:
    """The last month every evaluated label's horizon needs (labels are empty past it)."""
    last = max(
        horizon_end(day, service(s).horizon_months) for s, days in dates.items() for day in days
    )
    return f"{last.year}-{last.month:02d}"


def province(spec: SimulationSpec, raw: Path, keep: bool) -> bool:
    """Simulate `spec` into `raw`, or reuse it with --keep when it holds the same spec.
    Returns whether it was simulated now."""
    wanted = {"people": spec.people, "seed": spec.seed, "start": spec.start, "end": spec.end}
    if keep and (raw / "_SUCCESS").exists():
        manifest = json.loads((raw / "manifest.json").read_text(encoding="utf-8"))
        found = {k: manifest.get(k) for k in wanted}
        if found != wanted:
            raise Refusal(f"--keep: {raw} holds {found}, not {wanted}; run without --keep")
        log(f"reusing the province in {raw}")
        return False
    log(f"simulating {spec.people:,} people, seed {spec.seed}, {spec.start} to {spec.end}")
    simulate_province(spec, raw)
    return True


def snapshots(
    raw: Path, features_dir: Path, dates: dict[str, list[dt.date]], fresh_province: bool
) -> None:
    """Feature snapshots with labels for every evaluated date; a kept province keeps the
    snapshots already built from it."""
    if fresh_province:
        shutil.rmtree(features_dir, ignore_errors=True)
    needed = sorted(
        {
            day
            for s, days in dates.items()
            for day in days
            if not snapshot_file(features_dir, s, day).exists()
        }
    )
    if needed:
        log(f"building {len(needed)} snapshots: {needed[0]} to {needed[-1]}")
        build_snapshots(
            raw, needed, features_dir, lambda done, total: log(f"  snapshot {done}/{total}")
        )


def nan_to_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [nan_to_none(v) for v in value]
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def evaluate_service(
    raw: Path, features_dir: Path, models_dir: Path, service_id: str, dates: list[dt.date]
) -> dict[str, Any]:
    """The served model and the oracle on the unseen province's rows of `dates`."""
    model = load_served(models_dir, service_id)
    bundle = served_bundles(models_dir)[service_id]
    rows = pd.concat(
        [read_snapshot(features_dir, service_id, day) for day in dates], ignore_index=True
    )
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    if rows["label"].isna().any():
        raise Refusal(f"{service_id}: some labels run past the simulated data")
    y = rows["label"].to_numpy(dtype=float)
    truth = oracle_for_rows(raw, service_id, rows).to_numpy(dtype=float)
    scores = {"model": model.predict(rows), "oracle": np.nan_to_num(truth)}
    plan = planning(rows, y, scores, service_id)
    # The rows `planning` calls eligible: the legal trigger fires.
    eligible = rows[TRIGGERS[service_id].name].fillna(0).to_numpy() == 1
    p = scores["model"]
    seen = bundle_json(bundle, "evaluation.json").get("results", {}).get("model")
    return {
        "version": bundle.name,
        "scorer": getattr(model, "scorer", "gbm"),
        "dates": [d.isoformat() for d in dates],
        "oracle_coverage": float(np.isfinite(truth).mean()),
        "results": {name: metrics.summary(y, s) for name, s in scores.items()},
        "ece_floor": ece_noise_floor(p),
        "ece_floor_eligible": ece_noise_floor(p[eligible]) if eligible.any() else None,
        "calibration_by_month": calibration_by_month(rows, y, p, Gate()),
        "planning": plan,
        "training_province_test_window": seen,
    }


def _f(value: float | None, digits: int) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value + 0.0:.{digits}f}".replace("-0." + "0" * digits, "0." + "0" * digits)


def _months_over(r: dict[str, Any]) -> str:
    months = r.get("calibration_by_month")
    if not months:
        return "–"
    return f"{len(months_over_floor(months))} of {len(months)}"


def markdown(report: dict[str, Any]) -> str:
    spec = report["province"]
    by_dates: dict[tuple[str, ...], list[str]] = {}
    for service_id, r in report["services"].items():
        by_dates.setdefault(tuple(r["dates"]), []).append(service_id)
    seeds = sorted(
        {
            f"{seed} ({source})"
            for known in report["trained_seeds"].values()
            for source, seed in known.items()
        }
    )
    lines = [
        f"Unseen province: seed {spec['seed']}, {spec['people']:,} people, simulated "
        f"{spec['start']} to {spec['end']}. Models ({report['models_dir']}) trained on seed "
        f"{', '.join(seeds)}.",
        "",
        *[
            f"- dates for {', '.join(services)}: {', '.join(days)}"
            for days, services in by_dates.items()
        ],
        "",
        "| service | scorer | rows | positives | mean predicted / observed | AUC model / oracle "
        "| ECE all rows (perfect-model 95 % floor, rows independent) | month ends over the "
        "gate's floor | ECE eligible (floor) | ECE on the training "
        "province's test window | recall at capacity model / oracle | capture ratio "
        "| top 1 %: mean predicted vs observed (95 % CI) |",
        "|---|---|---:|---:|---|---|---|---:|---|---:|---|---:|---|",
    ]
    for service_id, r in report["services"].items():
        m, o, plan = r["results"]["model"], r["results"]["oracle"], r["planning"]
        cap = plan["at_capacity"]
        top = next(t for t in plan["tail"] if t["share"] == 0.01)
        seen = r["training_province_test_window"]
        lines.append(
            f"| {service_id} | {r['scorer']} | {int(m['rows']):,} | {int(m['positives']):,} "
            f"| {_f(m['mean_predicted'], 4)} / {_f(m['observed_rate'], 4)} "
            f"| {_f(m['auc'], 4)} / {_f(o['auc'], 4)} "
            f"| {_f(m['ece'], 4)} ({_f(r['ece_floor'], 4)}) "
            f"| {_months_over(r)} "
            f"| {_f(plan['eligible']['model']['ece'], 4)} ({_f(r['ece_floor_eligible'], 4)}) "
            f"| {_f(seen['ece'], 4) if seen else '–'} "
            f"| {_f(cap['model']['recall'], 3)} / {_f(cap['oracle']['recall'], 3)} "
            f"| {_f(plan['capture_ratio'], 3)} "
            f"| {_f(top['predicted'], 4)} vs {_f(top['observed'], 4)} "
            f"({_f(top['observed_low'], 4)}-{_f(top['observed_high'], 4)}; "
            f"n = {int(top['n']):,}) |"
        )
    times = report["wall_seconds"]
    lines += [
        "",
        f"Wall time: {times['total']:.0f} s (simulate {times['simulate']:.0f} s, snapshots "
        f"{times['snapshots']:.0f} s, evaluation {times['evaluate']:.0f} s).",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--models", type=Path, default=None, help="served bundles (default NEEDS_MODELS_DIR)"
    )
    parser.add_argument("--people", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=1, help="the unseen province's seed")
    parser.add_argument(
        "--trained-seed",
        type=int,
        default=None,
        help="the training province's seed, when the bundles' MLflow runs are not at hand",
    )
    parser.add_argument(
        "--start",
        default=None,
        help="first simulated month, YYYY-MM (default: the training province's, else the CLI's)",
    )
    parser.add_argument(
        "--dates",
        type=month_end,
        nargs="+",
        default=None,
        help="month ends to evaluate every service on (default: each bundle's test window)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--json", type=Path, default=None, help="default OUT/unseen.json")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse OUT/raw when it holds the same province, and the snapshots built from it",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    settings = get_settings()
    models_dir = args.models or settings.models_dir
    bundles = served_bundles(models_dir)
    if not bundles:
        log(f"error: no served bundle under {models_dir}")
        return 2
    metadata = {s: bundle_json(folder, "metadata.json") for s, folder in bundles.items()}
    run_ids = {s: str(m["run_id"]) for s, m in metadata.items() if m.get("run_id")}
    manifests = run_manifests(run_ids, settings.mlflow_tracking_uri)
    seeds = trained_seeds(manifests, args.trained_seed, list(bundles))
    try:
        check_unseen(args.seed, seeds)
        dates = evaluation_dates(args.dates, metadata)
        starts = {str(m["start"]) for m in manifests.values() if "start" in m}
        start = args.start or (starts.pop() if len(starts) == 1 else SimulationSpec.start)
        spec = SimulationSpec(
            people=args.people, seed=args.seed, start=start, end=simulation_end(dates)
        )
        try:
            spec.start_ym  # noqa: B018 - validates the month, as the CLI does
        except ValueError as error:
            raise Refusal(str(error)) from error
        if min(d for days in dates.values() for d in days) < dt.date.fromisoformat(
            f"{spec.start}-01"
        ):
            raise Refusal(f"a date falls before the simulated start {spec.start}")
        raw, features_dir = args.out / "raw", args.out / "features"
        clock = time.perf_counter()
        fresh = province(spec, raw, args.keep)
        simulate_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        snapshots(raw, features_dir, dates, fresh)
        snapshot_seconds = time.perf_counter() - clock
        clock = time.perf_counter()
        results = {}
        for service_id in bundles:
            log(f"evaluating {service_id}")
            results[service_id] = evaluate_service(
                raw, features_dir, models_dir, service_id, dates[service_id]
            )
        evaluate_seconds = time.perf_counter() - clock
    except Refusal as refusal:
        log(f"error: {refusal}")
        return 2
    report = {
        "province": {
            "people": spec.people,
            "seed": spec.seed,
            "start": spec.start,
            "end": spec.end,
            "raw": str(raw),
            "simulated_now": fresh,
        },
        "models_dir": str(models_dir),
        "trained_seeds": seeds,
        "training_provinces": manifests,
        "services": results,
        "wall_seconds": {
            "simulate": simulate_seconds,
            "snapshots": snapshot_seconds,
            "evaluate": evaluate_seconds,
            "total": time.perf_counter() - started,
        },
    }
    target = args.json or args.out / "unseen.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(nan_to_none(report), indent=2) + "\n", encoding="utf-8")
    print(markdown(report))
    log(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
