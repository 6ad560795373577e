"""The monitor proven on the twin's scenarios: the table in the README's "Monitoring" part.

    python bench/scenario_table.py [--people 50000] [--out data/scenarios]

1. A twin from 2011-02 (a burn-in: the agencies' tables hold years of history before the
   snapshots start, as real ones do) to 2025-12; monthly snapshots 2022-01..2025-12; every
   service trained and promoted through the gate (`needs-model train`, `promote`): the
   champions, whose reference year is 2025.
2. The same twin (same seed, so the same province up to 2025-12) run on to 2027-03 (no
   change and the storm season: 2027-06), once with no change and once per scenario
   switched on from 2026-01 (`--scenario NAME@2026-01`; the storm season from 2026-06, so
   that its six months hold the Sep-Nov season). Each is monitored month by month,
   2026-01..2026-12 (no change and the storm: to 2027-06, through the 2027 poverty line and
   until the storm's review has matured), by the champions of step 1.
3. Where the last month monitored says `retrain`, `needs-model retrain --if-needed` on that
   twin's snapshots (2022-01 to its end), one service at a time, and the gate decides; a
   refused challenger's test AUC and failed checks are read back from the refusals the
   gate keeps (`promotion.refusals`).
4. The reorganisation of 1 July 2025 (inside step 1's period): the agencies' tables of
   2025-07 against the year before, and the features of 2025-07 against 2024-07..2025-06.

Every step writes under --out and is skipped when its output is complete (a killed run
resumes). Prints the table as Markdown and writes table.json and table.md beside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from needs_model.modelling.promotion import current_version, refusals

SCENARIO_START = "2026-01"
# Where a scenario starts when not in January: storms come only in Sep-Nov, so the storm
# season runs 2026-06..2026-11 (from January its six months would hold no storm month).
STARTS = {"storm-season": "2026-06"}
BURN_IN_START = "2011-02"  # ten years of records before the first snapshot
SCENARIOS = {
    # name: (the services it should move, what should move)
    "storm-season": (["poor_household_confirmation"], "incomes in the mountain districts"),
    "out-migration-wave": (
        ["birth_registration", "school_admission", "poor_household_confirmation"],
        "who lives in the province",
    ),
    "take-up-campaign": (
        [
            "medical_license_renewal",
            "tour_guide_card_renewal",
            "veterinary_certificate_renewal",
        ],
        "when licences are renewed",
    ),
}
STABLE_MONTHS = [f"2026-{m:02d}" for m in range(1, 13)]
# The twin without change and the storm's run on to mid-2027: the poverty labels that hold
# the storm's December review mature (their horizon, then the register's recording lag)
# only from spring 2027; the 2027 line is watched over the same months.
LINE_MONTHS = [f"2027-{m:02d}" for m in range(1, 7)]
END = "2027-03"
LONG_END = "2027-06"
LONG_RUNS = ("no-change", "storm-season")
TRAIN_SNAPSHOTS = ("2022-01-31", "2025-12-31")
MONITOR_SNAPSHOTS = ("2025-01-31",)  # from 2025-01 to each twin's end
BIN = Path(sys.executable).parent


def served_services(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir() if current_version(models_dir, p.name))


def month_end(ym: str) -> dt.date:
    year, month = (int(x) for x in ym.split("-"))
    return dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)


def cli(*args: str, env: dict[str, str] | None = None, check: bool = True) -> int:
    command = [str(BIN / "needs-model"), *args]
    print("$", " ".join(command), flush=True)
    done = subprocess.run(command, check=check, env={**os.environ, **(env or {})})
    return done.returncode


def artifacts_of(store: Path) -> Path:
    """Where a store's runs keep their artifacts: its own folder; for a scenario twin's
    store, a copy of the base store's registry (`.copied`), the base store's, which the
    copied experiment names (`tracking.configure` refuses any other): the twins' retrained
    challengers are written beside the champions they were trained against."""
    if (store / ".copied").exists():
        return store.parent.parent / "base" / "store" / "artifacts"
    return store / "artifacts"


def store_env(store: Path, raw: Path, features: Path) -> dict[str, str]:
    return {
        "NEEDS_RAW_DIR": str(raw),
        "NEEDS_FEATURES_DIR": str(features),
        "NEEDS_MODELS_DIR": str(store / "models"),
        "NEEDS_REPORTS_DIR": str(store / "reports"),
        "NEEDS_MLFLOW_TRACKING_URI": f"sqlite:///{store.resolve()}/mlflow.db",
        "NEEDS_MLFLOW_ARTIFACT_ROOT": str(artifacts_of(store)),
    }


def settings_of(store: Path, raw: Path, features: Path):
    from needs_model.settings import Settings

    return Settings(
        raw_dir=raw,
        features_dir=features,
        models_dir=store / "models",
        reports_dir=store / "reports",
        mlflow_tracking_uri=f"sqlite:///{store.resolve()}/mlflow.db",
        mlflow_artifact_root=artifacts_of(store),
    )


def simulate(folder: Path, people: int, seed: int, end: str, scenario: str | None) -> Path:
    raw = folder / "raw"
    if not (raw / "_SUCCESS").exists():
        start = STARTS.get(scenario or "", SCENARIO_START)
        extra = ["--scenario", f"{scenario}@{start}"] if scenario else []
        cli(
            "simulate",
            "--people",
            str(people),
            "--seed",
            str(seed),
            "--start",
            BURN_IN_START,
            "--end",
            end,
            "--out",
            str(raw),
            "--overwrite",
            *extra,
        )
    return raw


def features(raw: Path, out: Path, first: str, last: str) -> Path:
    marker = out / f".complete-{first}-{last}"
    if not marker.exists():
        cli("features", "--raw", str(raw), "--as-of", first, "--through", last, "--out", str(out))
        marker.touch()
    return out


def champions(base: Path, people: int, seed: int) -> Path:
    """Step 1: the champions trained up to 2025-12 and promoted through the gate."""
    raw = simulate(base, people, seed, "2025-12", None)
    feats = features(raw, base / "features", *TRAIN_SNAPSHOTS)
    store = base / "store"
    if not (store / ".promoted").exists():
        shutil.rmtree(store, ignore_errors=True)
        env = store_env(store, raw, feats)
        # Exit 1: a service could not be trained (at 50,000 people, a seed may leave too few
        # veterinarians for a validation window); the others are, and the log says why.
        cli("train", "--features", str(feats), "--raw", str(raw), env=env, check=False)
        cli("promote", env=env, check=False)
        install_shadow_champions(store, raw, feats)
        (store / ".promoted").touch()
    return store


def install_shadow_champions(store: Path, raw: Path, feats: Path) -> dict[str, list[str]]:
    """Serve, for this proof only, the challengers the gate refused ("shadow champions"):
    the monitor needs a model to watch for every scenario's service, and the gate is not
    what is proven here. The refusals are kept in shadow.json and the table marks those
    services; nothing outside this script's store is touched."""
    from unittest.mock import patch

    from needs_model.catalogue.services import SERVICE_IDS
    from needs_model.modelling import workflow

    settings = settings_of(store, raw, feats)
    refused = {}
    for service_id in SERVICE_IDS:
        if current_version(settings.models_dir, service_id) is not None:
            continue
        result = workflow.promote_service(service_id, settings)
        if result.version is None:
            continue  # no challenger (not trained): nothing to serve; the table leaves it out
        refused[service_id] = result.failures
        with patch.object(workflow, "gate_failures", lambda *args, **kwargs: []):
            installed = workflow.promote_service(service_id, settings)
        assert installed.promoted, installed
    (store / "shadow.json").write_text(json.dumps(refused, indent=2), encoding="utf-8")
    return refused


def monitor_months(store: Path, raw: Path, feats: Path, months: list[str]) -> list[dict]:
    """The monitor's record per served service and month (in-process, not logged to MLflow:
    the table's runs would crowd the store's lineage)."""
    from needs_model.monitoring.run import monitor

    settings = settings_of(store, raw, feats)
    served = served_services(settings.models_dir)
    out = []
    for ym in months:
        as_of = month_end(ym)
        results, errors = monitor(as_of, served, settings, feats, log=False)
        if errors:
            raise RuntimeError(f"monitoring {as_of}: {errors}")
        for result in results:
            summary = json.loads((result.folder / "summary.json").read_text(encoding="utf-8"))
            out.append(summary)
        print(f"  {as_of}: " + ", ".join(f"{r.service_id} {r.status}" for r in results), flush=True)
    return out


def months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


def _rural_line(ym: str) -> float:
    """The rural income line the poverty features measure incomes against at a month end:
    the line of the review its label is about, as announced by then."""
    from needs_model.catalogue.legal import legal_parameter
    from needs_model.features.build import next_review

    day = month_end(ym)
    return legal_parameter("poverty_income_line_rural_vnd", next_review(day), day).value


def line_review(ym: str) -> str:
    from needs_model.features.build import next_review

    return next_review(month_end(ym)).strftime("%Y-%m")


def line_acts(months: list[str]) -> str:
    """The first of `months` whose poverty features measure against another income line than
    the first month's: where the 2027 line reaches the model."""
    first = _rural_line(months[0])
    return next(ym for ym in months if _rural_line(ym) != first)


def kinds(record: dict) -> set[str]:
    """The tests behind a record's reasons ("x drifted", "expected demand moved",
    "calibration", "on matured labels, fairness", a source table's finding, ...)."""
    out = set()
    for reason in record["reasons"]:
        head = reason.split(" (")[0].split(":")[0]
        out.add(head.split(" moved")[0] if head.startswith("expected demand") else head)
    return out


def first_new_alarm(records: list[dict], stable: dict[str, dict], start: dt.date) -> dict | None:
    """The first month end from the scenario's first (`start`) whose alarm has a test the
    twin without the scenario did not raise that month (what the scenario, not the stable
    province, set off)."""
    for record in records:
        if record["status"] == "ok" or record["as_of"] < start.isoformat():
            continue
        same = stable.get(record["as_of"])
        if same is None or kinds(record) - kinds(same):
            return record
    return None


def fired(record: dict) -> str:
    """Which test fired, in a few words: the reasons' first clause each."""
    return "; ".join(r.split(":")[0] if ":" in r[:60] else r[:60] for r in record["reasons"])


def auc_of(record: dict) -> float | None:
    p = record.get("performance")
    return None if p is None else p["summary"].get("auc")


def scenario_twin(
    root: Path, name: str, people: int, seed: int, base_store: Path, months: list[str]
) -> dict[str, Any]:
    folder = root / name
    end = LONG_END if name in LONG_RUNS else END
    raw = simulate(folder, people, seed, end, None if name == "no-change" else name)
    # From 2025-01: the months whose labels mature in 2026 (the monitor's matured window).
    feats = features(raw, folder / "features", MONITOR_SNAPSHOTS[0], month_end(end).isoformat())
    store = folder / "store"
    if not (store / ".copied").exists():
        shutil.rmtree(store, ignore_errors=True)
        shutil.copytree(base_store, store, symlinks=True)  # `current` stays a link
        (store / ".copied").touch()
    done = folder / "monitoring.json"
    if done.exists():
        records = json.loads(done.read_text(encoding="utf-8"))
    else:
        records = monitor_months(store, raw, feats, months)
        done.write_text(json.dumps(records, default=str), encoding="utf-8")
    changed = restatus(records)
    if changed:
        print(
            f"  {name}: the current status rule re-decides {changed} of {len(records)} "
            "service-months"
        )
    return {"raw": raw, "features": feats, "store": store, "records": records, "redecided": changed}


def restatus(records: list[dict], thresholds: Any = None) -> int:
    """Decides each kept service-month again by the current status rule and `thresholds`
    (default: the defaults; `monitoring.status.decide`, as the monitor decides a new month),
    on the measurements the monitor kept. Returns how many statuses or reasons changed."""
    from needs_model.monitoring.status import decide
    from needs_model.monitoring.thresholds import Thresholds

    thresholds = thresholds or Thresholds()
    changed = 0
    for record in records:
        decided = decide(record, thresholds)
        changed += (decided["status"], decided["reasons"]) != (record["status"], record["reasons"])
        record.update(decided)
    return changed


def retrain(root: Path, name: str, twin: dict[str, Any]) -> dict[str, Any]:
    """Step 3 where the last month monitored said `retrain` (what `retrain --if-needed`
    reads), one service at a time so that each one's outcome is known."""
    folder = root / name
    last = max(r["as_of"] for r in twin["records"])
    flagged = [
        r["service_id"] for r in twin["records"] if r["as_of"] == last and r["status"] == "retrain"
    ]
    done = folder / "retrain.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    result: dict[str, Any] = {"as_of": last, "flagged": flagged, "services": {}}
    if flagged:
        # The earlier snapshots too, in the same folder: the challengers train on them all.
        feats = features(twin["raw"], folder / "features", TRAIN_SNAPSHOTS[0], "2024-12-31")
        env = store_env(twin["store"], twin["raw"], feats)
        for service_id in flagged:
            refused_before = len(refusals(twin["store"] / "models", service_id))
            # Exit 1: the service could not be trained (the log says why).
            code = cli(
                "retrain",
                "--if-needed",
                "--service",
                service_id,
                "--features",
                str(feats),
                "--raw",
                str(twin["raw"]),
                env=env,
                check=False,
            )
            served = str(current_version(twin["store"] / "models", service_id))
            bundle = twin["store"] / "models" / service_id / served
            evaluation = json.loads((bundle / "evaluation.json").read_text())
            result["services"][service_id] = {
                "trained": code == 0,
                "served_version": served,
                "test_auc": evaluation["results"]["model"]["auc"],
                "test_window": evaluation["windows"]["test"],
                # The challenger the gate refused, if it did: its test AUC and window, and the
                # checks it failed (`promotion.record_refusal`).
                "refused": next(
                    iter(refusals(twin["store"] / "models", service_id)[refused_before:]), None
                ),
            }
    done.write_text(json.dumps(result, default=str), encoding="utf-8")
    return result


def reorganisation(base: Path, store: Path) -> dict[str, Any]:
    """Step 4: the 2025-07 tables and features against the year before."""
    from needs_model.features.snapshots import read_snapshot
    from needs_model.modelling.promotion import load_served
    from needs_model.monitoring import drift
    from needs_model.monitoring.sources import source_quality

    raw, feats = base / "raw", base / "features"
    as_of = dt.date(2025, 7, 31)
    tables = source_quality(raw, as_of)
    findings = [f"{t['table']}: {f}" for t in tables for f in t["findings"]]
    services = {}
    for service_id in served_services(store / "models"):
        model = load_served(store / "models", service_id)
        year = [month_end(f"{2024 + (m + 6) // 12}-{(m + 6) % 12 + 1:02d}") for m in range(12)]
        reference = pd.concat(
            [read_snapshot(feats, service_id, d) for d in year], ignore_index=True
        )
        current = read_snapshot(feats, service_id, as_of)
        ref = drift.scored_columns(reference, model.features, model.predict(reference))
        cur = drift.scored_columns(current, model.features, model.predict(current))
        snapshot, empty = drift.evidently_report(ref, cur, model.features)
        summary = drift.summarise(snapshot, ref, cur, model.features)
        services[service_id] = {
            "drifted": [f["column"] for f in summary["features"] if f["drifted"]],
            "empty": empty,
            "missing_rises": [
                c
                for c, q in summary["quality"].items()
                if q.get("missing_share", 0) - q.get("reference_missing_share", 0) >= 0.05
            ],
        }
    return {"source_findings": findings, "services": services}


def training_window_alarms(root: Path, store: Path, twin: dict[str, Any]) -> dict[str, str]:
    """The stable months' drift alarms had the reference been the window the trees were
    fitted on (the issue's first reading), not the year trained up to: drift and quality
    only (the matured labels do not depend on the reference)."""
    from needs_model.features.snapshots import read_snapshot
    from needs_model.modelling.promotion import load_served
    from needs_model.modelling.training import sample_rows
    from needs_model.monitoring import drift
    from needs_model.monitoring.status import OK, feature_findings, service_status
    from needs_model.monitoring.thresholds import Thresholds

    done = root / "no-change" / "training-window-alarms.json"
    if done.exists():
        return json.loads(done.read_text(encoding="utf-8"))
    out = {}
    for service_id in served_services(store / "models"):
        folder = store / "models" / service_id / str(current_version(store / "models", service_id))
        windows = json.loads((folder / "evaluation.json").read_text())["windows"]
        fitted = [dt.date.fromisoformat(d) for d in windows["train"]]
        base = root / "base" / "features"
        window = sample_rows(
            pd.concat([read_snapshot(base, service_id, d) for d in fitted], ignore_index=True)
        )
        model = load_served(store / "models", service_id)
        alarms = 0
        for ym in STABLE_MONTHS:
            as_of = month_end(ym)
            reference = drift.seasonal_reference(window, as_of.month)
            current = sample_rows(read_snapshot(twin["features"], service_id, as_of))
            ref = drift.scored_columns(reference, model.features, model.predict(reference))
            cur = drift.scored_columns(current, model.features, model.predict(current))
            snapshot, empty = drift.evidently_report(ref, cur, model.features)
            summary = drift.summarise(snapshot, ref, cur, model.features)
            findings = feature_findings(summary["quality"], empty, Thresholds())
            status, _ = service_status(
                summary,
                findings,
                None,
                Thresholds(),
                seasonal=len(reference) < len(window),
            )
            alarms += status != OK
        out[service_id] = f"{alarms} of {len(STABLE_MONTHS)}"
        print(f"  fitted-window reference, {service_id}: {out[service_id]}", flush=True)
    done.write_text(json.dumps(out), encoding="utf-8")
    return out


def retrained_auc(after: dict | None, store: Path, service_id: str) -> str | None:
    """The new champion's test-window AUC, or why there is none."""
    if after is None:
        return None
    if not after.get("trained", True):
        return "could not be trained"
    if after["served_version"] == current_version(store / "models", service_id):
        refused = after.get("refused")
        if not refused:
            return "refused by the gate"
        window = refused["test_window"]
        why = "; ".join(f.split(" (")[0] for f in refused["failures"])
        return (
            f"refused by the gate: challenger {refused['test_auc']:.3f} on "
            f"{window[0][:7]}..{window[-1][:7]}; {why}"
        )
    return f"{after['test_auc']:.3f} (v{after['served_version']})"


def table(twins: dict[str, dict], retrained: dict[str, dict], champions_store: Path) -> list[dict]:
    rows = []
    served = served_services(champions_store / "models")
    shadow_file = champions_store / "shadow.json"
    shadow = json.loads(shadow_file.read_text(encoding="utf-8")) if shadow_file.exists() else {}

    def label(service_id: str) -> str:
        return service_id + (" (shadow: refused by the gate)" if service_id in shadow else "")

    # The poverty model meets the 2027 line before 2027: from the month end whose next
    # review applies it. Its alarms from then on are that change, seen, not false alarms of
    # a stable province.
    acts = line_acts(STABLE_MONTHS + LINE_MONTHS)
    for name, twin in twins.items():
        by_service: dict[str, list[dict]] = {}
        for r in twin["records"]:
            by_service.setdefault(r["service_id"], []).append(r)
        expected = SCENARIOS.get(name, ([], ""))[0]
        for service_id in served:
            records = sorted(by_service[service_id], key=lambda r: r["as_of"])
            months = [r for r in records if r["as_of"] <= month_end(STABLE_MONTHS[-1]).isoformat()]
            if name == "no-change":
                if service_id == "poor_household_confirmation":
                    months = [r for r in records if r["as_of"] < month_end(acts).isoformat()]
                line = [r for r in records if r not in months]
                alarms = [r for r in months if r["status"] != "ok"]
                first_line = next((r for r in line if r["status"] != "ok"), None)
                rows.append(
                    {
                        "scenario": "no change (2026)",
                        "service": label(service_id),
                        "shadow": service_id in shadow,
                        "alarm_count": len(alarms),
                        "service_months": len(months),
                        "alarms": f"{len(alarms)} of {len(months)}",
                        "first_alarm": alarms[0]["as_of"] if alarms else "",
                        "fired": fired(alarms[0]) if alarms else "",
                        "status_last": months[-1]["status"],
                        "auc_before": months[-1]["performance"]["test_window_auc"]
                        if months[-1]["performance"]
                        else None,
                        "auc_after": auc_of(months[-1]),
                    }
                )
                if service_id == "poor_household_confirmation":
                    rows.append(
                        {
                            "scenario": f"2027 poverty line (from {acts}: the review it "
                            f"applies to is {line_review(acts)})",
                            "service": label(service_id),
                            "alarms": f"{sum(r['status'] != 'ok' for r in line)} of {len(line)}",
                            "first_alarm": first_line["as_of"] if first_line else "",
                            "months_to_detection": months_between(
                                month_end(acts), dt.date.fromisoformat(first_line["as_of"])
                            )
                            if first_line
                            else None,
                            "fired": fired(first_line) if first_line else "",
                            "status_last": line[-1]["status"] if line else "",
                            "auc_before": None,
                            "auc_after": auc_of(line[-1]) if line else None,
                        }
                    )
                continue
            alarms = [r for r in months if r["status"] != "ok"]
            stable = {
                r["as_of"]: r
                for r in twins["no-change"]["records"]
                if r["service_id"] == service_id
            }
            start = month_end(STARTS.get(name, SCENARIO_START))
            first = first_new_alarm(records, stable, start)
            detected = (
                None
                if first is None
                else months_between(start, dt.date.fromisoformat(first["as_of"]))
            )
            after = retrained.get(name, {}).get("services", {}).get(service_id)
            rows.append(
                {
                    "scenario": name,
                    "service": label(service_id)
                    + ("" if service_id in expected else " (not targeted)"),
                    "alarms": f"{len(alarms)} of {len(months)}",
                    "first_alarm": first["as_of"] if first else "",
                    "months_to_detection": detected,
                    "fired": (
                        "; ".join(
                            sorted(
                                kinds(first) - kinds(stable.get(first["as_of"], {"reasons": []}))
                            )
                        )
                        if first
                        else ""
                    ),
                    "status_last": months[-1]["status"],
                    "auc_before": months[-1]["performance"]["test_window_auc"]
                    if months[-1]["performance"]
                    else None,
                    "auc_after": auc_of(months[-1]),
                    "auc_after_retraining": retrained_auc(after, champions_store, service_id),
                    "retrained_version": after["served_version"] if after else None,
                }
            )
    return rows


def stable_alarm_rate(rows: list[dict]) -> str:
    """The stable twin's alarms over all its service-months, and over those of the champions
    the gate accepted (a shadow champion's refusal is already known)."""

    def count(chosen: list[dict]) -> str:
        alarms = sum(r["alarm_count"] for r in chosen)
        months = sum(r["service_months"] for r in chosen)
        return f"{alarms} of {months} ({alarms / months:.0%})" if months else "none"

    stable = [r for r in rows if r["scenario"] == "no change (2026)"]
    accepted = [r for r in stable if not r["shadow"]]
    return (
        f"No change: alarms on {count(stable)} service-months; on {count(accepted)} of the "
        "champions the gate accepted (target 5 %)."
    )


def markdown_rows(rows: list[dict]) -> list[str]:
    def f(x: Any) -> str:
        return "" if x is None else (f"{x:.3f}" if isinstance(x, float) else str(x))

    head = [
        "scenario",
        "service",
        "alarms (service-months)",
        "first alarm not in the stable twin",
        "months to detection",
        "test fired first (not in the stable twin)",
        "status 2026-12",
        "AUC test window",
        "AUC matured 2026-12",
        "AUC after retraining",
    ]
    keys = [
        "scenario",
        "service",
        "alarms",
        "first_alarm",
        "months_to_detection",
        "fired",
        "status_last",
        "auc_before",
        "auc_after",
        "auc_after_retraining",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        lines.append("| " + " | ".join(f(r.get(k)).replace("|", "/") for k in keys) + " |")
    return [*lines, "", stable_alarm_rate(rows)]


def markdown(rows: list[dict], reorg: dict[str, Any]) -> str:
    lines = markdown_rows(rows)
    stable = [r for r in rows if r["scenario"] == "no change (2026)"]
    lines += [
        "",
        "No change, had the reference been the window the trees were fitted on (drift and "
        "quality only): "
        + ", ".join(f"{r['service']} {r.get('alarms_fitted_window_reference')}" for r in stable),
    ]
    lines += ["", "Reorganisation (1 July 2025), 2025-07 against the year before:"]
    lines += [f"- source tables: {x}" for x in reorg["source_findings"]] or [
        "- source tables: none"
    ]
    for service_id, s in reorg["services"].items():
        lines.append(
            f"- {service_id}: drifted features {s['drifted'] or 'none'}; "
            f"empty {s['empty'] or 'none'}; "
            f"missing share up 5 points: {s['missing_rises'] or 'none'}"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("data/scenarios"))
    parser.add_argument(
        "--scenario",
        action="append",
        help="Only these twins (no-change or a scenario; default all, and the table): two "
        "processes can share the work on two cores once the champions exist.",
    )
    args = parser.parse_args()
    root = args.out
    root.mkdir(parents=True, exist_ok=True)
    base_store = champions(root / "base", args.people, args.seed)
    names = args.scenario or ["no-change", *SCENARIOS]
    twins, retrained = {}, {}
    for name in names:
        # The storm's December review shows in the 2027 month ends (the line moves then too:
        # compared with the twin without the storm, month by month).
        months = STABLE_MONTHS + (LINE_MONTHS if name in LONG_RUNS else [])
        twins[name] = scenario_twin(root, name, args.people, args.seed, base_store, months)
        if name != "no-change":
            retrained[name] = retrain(root, name, twins[name])
    if names == ["no-change"]:
        # Another draw of the stable twin (`--seed`): its rows of the table, and its rate.
        text = "\n".join(markdown_rows(table(twins, {}, base_store))) + "\n"
        (root / "stable.md").write_text(text, encoding="utf-8")
        print(text)
        return
    if set(names) != {"no-change", *SCENARIOS}:
        print(f"Ran {', '.join(names)}; run without --scenario for the table (steps are kept).")
        return
    reorg = reorganisation(root / "base", base_store)
    fitted = training_window_alarms(root, base_store, twins["no-change"])
    rows = table(twins, retrained, base_store)
    for row in rows:
        if row["scenario"] == "no change (2026)":
            row["alarms_fitted_window_reference"] = fitted.get(row["service"].split(" ")[0])
    (root / "table.json").write_text(
        json.dumps(
            {
                "rows": rows,
                "reorganisation": reorg,
                "retrained": retrained,
                # Service-months the current status rule decided otherwise than the monitor
                # did when it ran (`restatus`).
                "redecided": {name: twin["redecided"] for name, twin in twins.items()},
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    text = markdown(rows, reorg)
    (root / "table.md").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
