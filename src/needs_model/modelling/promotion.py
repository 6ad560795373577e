"""Promotion and rollback: the gate, the immutable served bundle and the atomic pointer.

`models/<service>/<version>/` holds what is served (booster, calibrator, features,
metadata, evaluation, SHA256SUMS). It is written into a temporary folder, flushed, and
renamed into place in one step; `models/<service>/current` is a symlink replaced
atomically. A bundle whose checksums do not verify is never loaded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.features import features_for
from needs_model.modelling import metrics
from needs_model.modelling.training import ServiceModel

BUNDLE_FILES = (
    "model.txt",
    "calibrator.json",
    "features.json",
    "params.json",
    "metadata.json",
    "evaluation.json",
)
# The reference year's sample (`training.Split.recent`) monitoring compares the population
# with (absent from bundles promoted before it was kept; else listed in SHA256SUMS).
REFERENCE_FILE = "reference.parquet"


@dataclass(frozen=True)
class Gate:
    """Stated tolerances for promoting a challenger."""

    auc_tolerance: float = 0.01  # may not lose more AUC than this against the champion
    brier_tolerance: float = 0.001
    # Judged on each month end's list: the ECE may not exceed this, or the ECE a perfectly
    # calibrated model shows at that size, on more than half of the test window's month ends.
    max_ece: float = 0.02
    # |predicted - observed| in a judged group, when significant and the group's own (its
    # gap beyond the rest's significant too; `fairness_failures`).
    max_group_gap: float = 0.02
    # The challenger may not rank worse than a baseline (the rule's rate, the logistic
    # regression) on the test window: refused when the 95 % interval of the paired
    # bootstrap AUC difference lies wholly below zero. Every interval resamples subjects.
    baseline_draws: int = 200


def ece_noise_floor(p: np.ndarray, seed: int = 0, draws: int = 200) -> float:
    """95th percentile of the ECE of a perfectly calibrated model with these predictions
    (outcomes drawn independently: one row per subject, as on one month end's list)."""
    rng = np.random.default_rng(seed)
    values = [
        metrics.expected_calibration_error((rng.random(len(p)) < p).astype(float), p)
        for _ in range(draws)
    ]
    return float(np.percentile(values, 95))


def calibration_by_month(
    test: pd.DataFrame, y: np.ndarray, p: np.ndarray, gate: Gate
) -> list[dict[str, Any]]:
    """The ECE of each month end's rows beside its floor: the larger of `gate.max_ece` and
    the noise floor of a calibrated model on those rows.

    Judged month by month because a subject's rows at consecutive month ends share one
    future: pooled, they look like several times the evidence they are, and the floor of
    independent rows would refuse even the twin's oracle (transport on the demo: oracle ECE
    0.048 against a pooled floor of 0.043). Within one month end, each subject is one row."""
    months = test["as_of"].astype(str).to_numpy() if "as_of" in test else np.zeros(len(y), str)
    out = []
    for month in sorted(set(months)):
        rows = months == month
        out.append(
            {
                "as_of": month,
                "rows": int(rows.sum()),
                "ece": metrics.expected_calibration_error(y[rows], p[rows]),
                "floor": max(gate.max_ece, ece_noise_floor(p[rows])),
            }
        )
    return out


def months_over_floor(months: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The month ends (as `calibration_by_month` gives them) whose ECE exceeds its floor."""
    return [m for m in months if m["ece"] > m["floor"]]


def calibration_fails(months: list[dict[str, Any]]) -> bool:
    """The gate's rule: over the floor on more than half of the month ends."""
    return 2 * len(months_over_floor(months)) > len(months)


BASELINE_MIN_POSITIVES = 20
BASELINES = {"baseline_rule": "the rule's rate", "baseline_logistic": "the logistic regression"}


def baseline_failures(
    test: pd.DataFrame, y: np.ndarray, challenger_p: np.ndarray, gate: Gate
) -> list[str]:
    """The baselines the challenger ranks significantly worse than. Not judged when the test
    window holds fewer than `BASELINE_MIN_POSITIVES` positives (or negatives): a bootstrap
    over a handful of positives is no evidence either way. Runs logged before the
    baselines' scores were kept with the test rows are not compared."""
    if min(y.sum(), len(y) - y.sum()) < BASELINE_MIN_POSITIVES:
        return []
    rng = np.random.default_rng(0)
    draws = metrics.subject_bootstrap_draws(metrics.subjects(test), gate.baseline_draws, rng)
    mine = np.array(metrics.bootstrap_auc(y, challenger_p, draws))
    failures = []
    for column, name in BASELINES.items():
        if column not in test:
            continue
        baseline = test[column].to_numpy(dtype=float)
        difference = mine - np.array(metrics.bootstrap_auc(y, baseline, draws))
        low, high = np.nanpercentile(difference, [2.5, 97.5])
        if high < 0:
            failures.append(
                f"baseline: AUC {metrics.auc(y, challenger_p):.4f} below {name}'s "
                f"{metrics.auc(y, baseline):.4f} (difference 95% CI {low:+.4f}..{high:+.4f})"
            )
    return failures


def own_gap(group: dict[str, Any]) -> tuple[float, list[float]] | None:
    """A group's calibration gap beyond the rest's (as `evaluate.fairness` reports it), with
    its 95 % interval; None when not known: a group too small to judge, its attribute's only
    group, or an evaluation written before the gap beyond the rest was kept."""
    if group["too_small_to_judge"] or group.get("gap_beyond_rest") is None:
        return None
    return group["gap_beyond_rest"], group["gap_beyond_rest_ci"]


def gap_is_own(group: dict[str, Any]) -> bool:
    """Whether a group's gap is its own: its gap beyond the rest's (`own_gap`) is known and
    has an interval that excludes zero."""
    own = own_gap(group)
    return own is not None and not own[1][0] <= 0 <= own[1][1]


def fairness_failures(groups: list[dict[str, Any]], gate: Gate) -> list[str]:
    """The groups (as `evaluate.fairness` reports them) the model misjudges: a calibration
    gap beyond `gate.max_group_gap` whose 95 % interval excludes zero, and that is the
    group's own: its gap beyond the rest's has an interval that excludes zero too.

    A gap every group shares is the model's calibration, which the month-by-month check
    judges. Counted once per group, one shortfall of a year's take-up (school admission's
    2025 round: the truth above the model in every group, 0.017 overall) read as unfairness to urban
    and rural, mountain and lowland alike. The tolerance stays on the group's whole gap,
    what its members are misjudged by: on the full province, ethnic-minority children's
    +0.025 is +0.018 beyond the Kinh children's and is refused. An attribute's only group
    has no rest to be unlike and is left to the calibration check; an evaluation written
    before the gap beyond the rest was kept is judged on the gap alone."""
    failures = []
    for group in groups:
        ci = group.get("calibration_gap_ci")
        if group["too_small_to_judge"] or ci is None:
            continue
        gap = group["mean_predicted"] - group["observed_rate"]
        if abs(gap) <= gate.max_group_gap or ci[0] <= 0 <= ci[1]:
            continue
        words = (
            f"fairness: {group['attribute']}={group['group']} calibration gap {gap:+.4f} "
            f"(95% CI {ci[0]:+.4f}..{ci[1]:+.4f})"
        )
        if "gap_beyond_rest" in group:
            if not gap_is_own(group):
                continue  # everyone's gap, not the group's: calibration
            beyond, (low, high) = group["gap_beyond_rest"], group["gap_beyond_rest_ci"]
            words += f", {beyond:+.4f} beyond the rest's (95% CI {low:+.4f}..{high:+.4f})"
        failures.append(words)
    return failures


def gate_checks(gate: Gate, against_champion: bool) -> list[str]:
    """The checks `gate_failures` applies, in words with their thresholds: what a model card
    says a served version passed."""
    checks = [
        f"calibration, month end by month end: the ECE at most {gate.max_ece} or the ECE a "
        "perfectly calibrated model shows at that size (95th percentile), on at least half "
        "of the test window's month ends",
        f"fairness: no judged group (sex, ethnicity, area, mountain, age band) with a "
        f"calibration gap beyond {gate.max_group_gap} whose 95 % interval excludes zero and "
        "that differs from the rest's beyond doubt (a gap every group shares is calibration)",
        "baselines: not ranking worse than the rule's rate or the logistic regression (the "
        f"95 % interval of the paired AUC difference, {gate.baseline_draws} subject "
        "resamples, wholly below zero), when the test window holds "
        f"{BASELINE_MIN_POSITIVES} positives or more",
    ]
    if against_champion:
        checks.append(
            f"the champion: AUC not more than {gate.auc_tolerance} below it, Brier not more "
            f"than {gate.brier_tolerance} above it, on the same test rows"
        )
    return checks


def gate_failures(
    evaluation: dict,
    test: pd.DataFrame,
    challenger_p: np.ndarray,
    champion_p: np.ndarray | None,
    gate: Gate,
) -> list[str]:
    """Names of the checks the challenger fails (empty: promote)."""
    failures = []
    y = test["label"].to_numpy(dtype=float)
    months = calibration_by_month(test, y, challenger_p, gate)
    if calibration_fails(months):
        failures.append(
            f"calibration: ECE above its floor on {len(months_over_floor(months))} of "
            f"{len(months)} month ends "
            f"(median ECE {np.median([m['ece'] for m in months]):.4f}, median floor "
            f"{np.median([m['floor'] for m in months]):.4f})"
        )
    failures += fairness_failures(evaluation.get("fairness", []), gate)
    failures += baseline_failures(test, y, challenger_p, gate)
    if champion_p is not None:
        new_auc, old_auc = metrics.auc(y, challenger_p), metrics.auc(y, champion_p)
        if new_auc < old_auc - gate.auc_tolerance:
            failures.append(
                f"champion: AUC {new_auc:.4f} < champion {old_auc:.4f} - {gate.auc_tolerance}"
            )
        new_brier, old_brier = metrics.brier(y, challenger_p), metrics.brier(y, champion_p)
        if new_brier > old_brier + gate.brier_tolerance:
            failures.append(
                f"champion: Brier {new_brier:.5f} > champion {old_brier:.5f} + "
                f"{gate.brier_tolerance}"
            )
    return failures


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bundle(
    models_dir: Path,
    service_id: str,
    version: str,
    source: Path,
    metadata: dict[str, object],
    evaluation: dict[str, object],
    reference: bytes | None = None,
) -> Path:
    """Write models/<service>/<version>/ atomically (rename of a complete, flushed folder);
    `reference`: the parquet bytes of the reference year's sample, for monitoring."""
    service_dir = models_dir / service_id
    final = service_dir / version
    if final.exists():
        verify_bundle(final)
        return final
    service_dir.mkdir(parents=True, exist_ok=True)
    for stale in service_dir.glob(".partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    partial = Path(tempfile.mkdtemp(prefix=f".partial-{version}-", dir=service_dir))
    contents = {name: (source / name).read_bytes() for name in BUNDLE_FILES[:4]}
    contents["metadata.json"] = json.dumps(metadata, indent=2, default=str).encode()
    contents["evaluation.json"] = json.dumps(evaluation, indent=2, default=float).encode()
    if reference is not None:
        contents[REFERENCE_FILE] = reference
    for name, data in contents.items():
        (partial / name).write_bytes(data)
        _fsync(partial / name)
    sums = "".join(f"{_sha256(partial / n)}  {n}\n" for n in contents)
    (partial / "SHA256SUMS").write_text(sums, encoding="utf-8")
    _fsync(partial / "SHA256SUMS")
    os.rename(partial, final)
    _fsync(service_dir)
    return final


class BundleError(RuntimeError):
    """A bundle is incomplete or does not match its checksums."""


def verify_bundle(folder: Path) -> None:
    sums = folder / "SHA256SUMS"
    if not sums.exists():
        raise BundleError(f"{folder} has no SHA256SUMS: incomplete bundle")
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        if not (folder / name).exists() or _sha256(folder / name) != digest:
            raise BundleError(f"{folder / name} is missing or does not match its checksum")


def current_version(models_dir: Path, service_id: str) -> str | None:
    link = models_dir / service_id / "current"
    return os.readlink(link) if link.is_symlink() else None


def switch_current(models_dir: Path, service_id: str, version: str) -> None:
    """Point models/<service>/current at <version> in one atomic step."""
    service_dir = models_dir / service_id
    verify_bundle(service_dir / version)
    temporary = service_dir / f".current-{os.getpid()}"
    if temporary.is_symlink():
        temporary.unlink()
    # A history that cannot be read stops the switch before the link moves (HistoryError).
    entries = served_history(models_dir, service_id)
    os.symlink(version, temporary)
    os.replace(temporary, service_dir / "current")
    _fsync(service_dir)
    entries.append({"version": version, "at": dt.datetime.now(dt.UTC).isoformat()})
    _write_list(service_dir / HISTORY_FILE, entries)


# Every challenger the gate refused for a service, oldest first.
REFUSALS_FILE = "refusals.json"


def refusals_file(models_dir: Path, service_id: str) -> Path:
    return models_dir / service_id / REFUSALS_FILE


def record_refusal(models_dir: Path, service_id: str, refusal: dict[str, Any]) -> None:
    """Add a refused challenger to models/<service>/refusals.json in one atomic step (a killed
    process leaves the file as it was, or with the refusal added): what a served version's
    card shows as the challengers refused while it was served."""
    path = refusals_file(models_dir, service_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_list(path, [*refusals(models_dir, service_id), refusal])


def _write_list(path: Path, entries: list[dict[str, Any]]) -> None:
    """Replace a kept list in one atomic step: written beside, flushed, renamed."""
    partial = path.with_name(f".{path.stem}-{os.getpid()}")
    partial.write_text(json.dumps(entries, indent=2, default=str), encoding="utf-8")
    _fsync(partial)
    os.replace(partial, path)
    _fsync(path.parent)


class ModelsFolderError(ValueError):
    """A list the models folder keeps for a service (the versions served, the refusals)
    cannot be read: the message names it within the models folder (never the server's own
    path) and says why."""


class RefusalsError(ModelsFolderError):
    """A service's refusals.json cannot be read."""


class HistoryError(ModelsFolderError):
    """A service's history.json (the versions served) cannot be read."""


def _kept_list(
    path: Path, name: str, what: str, error: type[ModelsFolderError]
) -> list[dict[str, Any]]:
    """The entries of a kept list ([] when there is none yet), or `error` naming `name`
    and why it cannot be read, so that nothing is ever written over entries not read."""
    if not path.exists():
        return []
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as cause:
        raise error(f"{name} is not UTF-8 text") from cause
    except json.JSONDecodeError as cause:
        raise error(f"{name} is not JSON ({cause.msg}, line {cause.lineno})") from cause
    except OSError as cause:
        raise error(f"{name} cannot be read ({cause.strerror})") from cause
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise error(f"{name} is not a list of {what}")
    return entries


def refusals(models_dir: Path, service_id: str) -> list[dict[str, Any]]:
    """The challengers the gate refused for a service, oldest first (`record_refusal`).
    Raises `RefusalsError` on a file that cannot be read, so that a refusal is never
    written over refusals that could not be read."""
    return _kept_list(
        refusals_file(models_dir, service_id),
        f"{service_id}/{REFUSALS_FILE}",
        "refusals",
        RefusalsError,
    )


# Every version served for a service and when, oldest first (`switch_current`).
HISTORY_FILE = "history.json"


def served_history(models_dir: Path, service_id: str) -> list[dict[str, Any]]:
    """The versions served, oldest first, each with `version` and `at`. Raises
    `HistoryError` on a file that cannot be read (or an entry without a version)."""
    name = f"{service_id}/{HISTORY_FILE}"
    entries = _kept_list(models_dir / service_id / HISTORY_FILE, name, "versions", HistoryError)
    if not all("version" in e for e in entries):
        raise HistoryError(f"{name} has an entry without a version")
    return entries


def previous_version(models_dir: Path, service_id: str) -> str | None:
    current = current_version(models_dir, service_id)
    versions = [e["version"] for e in served_history(models_dir, service_id)]
    for version in reversed(versions):
        if version != current:
            return version
    return None


def load_served(models_dir: Path, service_id: str) -> ServiceModel:
    """The served model of a service (verified against its checksums)."""
    version = current_version(models_dir, service_id)
    if version is None:
        raise BundleError(f"no model is served for {service_id} (promote one first)")
    folder = models_dir / service_id / version
    verify_bundle(folder)
    return ServiceModel.load(folder, service_id)


def served_inputs(models_dir: Path, service_id: str) -> tuple[str, ...] | None:
    """The served model's inputs when a data scientist chose them (`TrainConfig.features`),
    for a retraining to keep; None when it takes the service's defaults or none is served."""
    if current_version(models_dir, service_id) is None:
        return None
    chosen = load_served(models_dir, service_id).features
    return None if chosen == features_for(service_id) else tuple(chosen)
