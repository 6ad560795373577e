"""Training, evaluation, MLflow registry, promotion and rollback on a small province."""

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from needs_model.catalogue.features import features_for
from needs_model.catalogue.services import service
from needs_model.features.snapshots import load_service, snapshot_file
from needs_model.modelling.promotion import (
    REFUSALS_FILE,
    BundleError,
    Gate,
    HistoryError,
    RefusalsError,
    current_version,
    load_served,
    previous_version,
    record_refusal,
    refusals,
    served_inputs,
    switch_current,
    verify_bundle,
    write_bundle,
)
from needs_model.modelling.training import FAST, fit_service, temporal_split
from needs_model.modelling.workflow import promote_service, rollback_service, train_services
from needs_model.settings import Settings

SERVICES = ["medical_license_renewal", "poor_household_confirmation", "school_admission"]
SERVICE_FOR_GATE = "poor_household_confirmation"
BIRTHS, OPTIONAL = "birth_registration", "household_poor_last_review"


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    root = tmp_path_factory.mktemp("state")
    return Settings(
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
    )


@pytest.fixture(scope="module")
def trained(province, snapshots, settings):
    _, raw = province
    config = replace(FAST, test_months=6, valid_months=6)
    results = train_services(snapshots, SERVICES, config, settings, raw)
    return {r.service_id: r for r in results}


def test_temporal_split_has_an_embargo(snapshots):
    for service_id in SERVICES:
        frame = load_service(snapshots, service_id)
        horizon = service(service_id).horizon_months
        split = temporal_split(frame, horizon, FAST)

        def month(part):
            return part["as_of"].dt.year * 12 + part["as_of"].dt.month

        assert month(split.train).max() + horizon < month(split.valid).min()
        assert month(split.valid).max() + horizon < month(split.test).min()
        assert split.test["label"].notna().all()


def test_training_is_reproducible(snapshots):
    frame = load_service(snapshots, "poor_household_confirmation")
    split = temporal_split(frame, 12, FAST)
    a = fit_service(split, "poor_household_confirmation", FAST)
    b = fit_service(split, "poor_household_confirmation", FAST)
    assert a.booster.model_to_string() == b.booster.model_to_string()
    assert np.array_equal(a.predict(split.test), b.predict(split.test))


def test_models_beat_the_rule_and_stay_below_the_oracle(trained):
    for service_id, result in trained.items():
        res = result.evaluation.results
        assert res["model"]["auc"] > res["rule"]["auc"] - 0.01, service_id
        assert res["oracle"]["auc"] >= res["model"]["auc"] - 0.01, service_id
        assert res["model"]["ece"] < 0.05, service_id
    poverty = trained["poor_household_confirmation"].evaluation.results
    assert poverty["model"]["pr_auc"] > poverty["rule"]["pr_auc"]


def test_fairness_groups_are_reported_and_small_ones_flagged(trained):
    rows = trained["medical_license_renewal"].evaluation.fairness
    attributes = {r["attribute"] for r in rows}
    assert {"sex", "ethnicity", "area", "mountain", "age_band"} <= attributes
    assert any(r["too_small_to_judge"] for r in rows)
    judged = [
        r
        for r in trained["poor_household_confirmation"].evaluation.fairness
        if not r["too_small_to_judge"]
    ]
    assert judged and all("auc_ci" in r for r in judged)


# The real gate except its fairness check, for the tests of the registry's mechanics: on this
# 20,000-person province the poverty model is refused for the mountain group (its rate moves
# with the district-wide storms of the year, which no extract records), a refusal the gate
# owes it; every refusal is tested with the real thresholds in test_gate.py.
GATE_WITHOUT_FAIRNESS = Gate(max_group_gap=1.0)


def test_registry_model_loads_and_matches_the_bundle(trained, settings, snapshots):
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    result = promote_service("poor_household_confirmation", settings, GATE_WITHOUT_FAIRNESS)
    assert result.promoted, result.failures
    # The served bundle says which extracts it was trained on (the province fixture).
    metadata = settings.models_dir / "poor_household_confirmation" / "current" / "metadata.json"
    trained_on = json.loads(metadata.read_text())["trained_on"]
    assert (trained_on["people"], trained_on["seed"]) == (20_000, 3)
    loaded = mlflow.pyfunc.load_model("models:/needs-poor_household_confirmation@champion")
    frame = load_service(snapshots, "poor_household_confirmation").head(500)
    served = load_served(settings.models_dir, "poor_household_confirmation")
    via_mlflow = np.asarray(loaded.predict(frame))
    assert np.allclose(via_mlflow, served.predict(frame))
    assert ((via_mlflow >= 0) & (via_mlflow <= 1)).all()


def _grid(frame: pd.DataFrame, column: str, values: np.ndarray) -> pd.DataFrame:
    rows = frame.loc[frame.index.repeat(len(values))].copy()
    rows[column] = np.tile(values, len(frame))
    return rows


def test_closer_to_expiry_never_lowers_the_renewal_score(trained, snapshots):
    model = fit_service(
        temporal_split(load_service(snapshots, "medical_license_renewal"), 3, FAST),
        "medical_license_renewal",
        FAST,
    )
    base = load_service(snapshots, "medical_license_renewal").sample(50, random_state=0)
    days = np.arange(1825, -1, -15)  # still valid: from five years down to expiry day
    scores = model.predict(_grid(base, "days_to_expiry", days)).reshape(len(base), len(days))
    assert (np.diff(scores, axis=1) >= -1e-12).all()


def test_more_deprivations_never_lowers_the_poverty_score(snapshots):
    model = fit_service(
        temporal_split(load_service(snapshots, "poor_household_confirmation"), 12, FAST),
        "poor_household_confirmation",
        FAST,
    )
    base = load_service(snapshots, "poor_household_confirmation").sample(50, random_state=0)
    counts = np.arange(0, 13)
    scores = model.predict(_grid(base, "last_deprivation_count", counts)).reshape(
        len(base), len(counts)
    )
    assert (np.diff(scores, axis=1) >= -1e-12).all()


def test_scores_ignore_what_the_model_must_not_use(trained, snapshots):
    model = fit_service(
        temporal_split(load_service(snapshots, "school_admission"), 12, FAST),
        "school_admission",
        FAST,
    )
    frame = load_service(snapshots, "school_admission").head(300)
    shuffled = frame.copy()
    for column in ("audit_ethnicity", "audit_religion", "audit_sex", "subject_id", "household_id"):
        shuffled[column] = np.random.default_rng(0).permutation(shuffled[column].to_numpy())
    assert np.array_equal(model.predict(frame), model.predict(shuffled))


def test_promotion_gate_refuses_a_worse_challenger_and_says_why(
    province, snapshots, settings, trained
):
    _, raw = province
    # A service whose test window holds hundreds of positives (medical licences on this
    # province have 2); the registry test may have promoted this version.
    first = promote_service(SERVICE_FOR_GATE, settings, GATE_WITHOUT_FAIRNESS)
    assert first.promoted or "already the champion" in first.message, first.failures
    champion = current_version(settings.models_dir, SERVICE_FOR_GATE)
    assert champion == first.version
    # A challenger trained and calibrated on shuffled labels must not replace the champion.
    # The test window keeps its true labels: the gate judges both models on it (shuffled
    # there too, both would rank at chance and nothing would tell them apart).
    horizon = service(SERVICE_FOR_GATE).horizon_months
    test_dates = temporal_split(load_service(snapshots, SERVICE_FOR_GATE), horizon, FAST).windows[
        "test"
    ]
    broken = snapshots.parent / "broken_features"
    (broken / SERVICE_FOR_GATE).mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for path in (snapshots / SERVICE_FOR_GATE).glob("*.parquet"):
        frame = pd.read_parquet(path)
        if path.stem not in test_dates:
            frame["label"] = rng.permutation(frame["label"].to_numpy())
        frame.to_parquet(broken / SERVICE_FOR_GATE / path.name, index=False)
    train_services(broken, [SERVICE_FOR_GATE], FAST, settings, raw)
    refused = promote_service(SERVICE_FOR_GATE, settings, Gate(), by="Trần Thị Bình (audit)")
    assert not refused.promoted
    assert any(f.startswith("champion: AUC") for f in refused.failures), refused.failures
    assert current_version(settings.models_dir, SERVICE_FOR_GATE) == champion
    # The refusal is kept: in the models folder, for the champion's card, and on the
    # refused version in the registry.
    kept = refusals(settings.models_dir, SERVICE_FOR_GATE)[-1]
    assert kept["version"] == refused.version != champion
    assert kept["champion"] == champion and kept["served_instead"] is None
    assert kept["failures"] == refused.failures
    assert kept["refused_by"] == "Trần Thị Bình (audit)"
    assert kept["test_window"] == [str(d) for d in test_dates]
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    name = f"needs-{SERVICE_FOR_GATE}"
    tags = client.get_model_version(name, refused.version).tags
    assert tags["gate"] == "refused"
    assert tags["gate_failures"] == "; ".join(refused.failures)
    assert client.get_model_version(name, champion).tags["gate"] == "promoted"


def test_rollback_serves_the_previous_version(province, snapshots, settings, trained):
    _, raw = province
    lenient = Gate(auc_tolerance=1.0, brier_tolerance=1.0, max_ece=1.0, max_group_gap=1.0)
    first = promote_service("school_admission", settings, lenient)
    train_services(snapshots, ["school_admission"], replace(FAST, seed=7), settings, raw)
    second = promote_service(
        "school_admission", settings, lenient, by="Lê Văn An (planning office)"
    )
    assert first.promoted and second.promoted and first.version != second.version
    # The bundle says who promoted it and which checks it passed, with the thresholds.
    metadata = json.loads(
        (settings.models_dir / "school_admission" / second.version / "metadata.json").read_text()
    )
    assert metadata["promoted_by"] == "Lê Văn An (planning office)"
    assert metadata["gate"]["champion_before"] == first.version
    assert metadata["gate"]["thresholds"]["auc_tolerance"] == 1.0
    assert any(
        c.startswith("the champion: AUC not more than 1.0 below")
        for c in metadata["gate"]["passed"]
    )
    back = rollback_service("school_admission", settings)
    assert back.promoted and back.version == first.version
    assert current_version(settings.models_dir, "school_admission") == first.version
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    alias = mlflow.MlflowClient().get_model_version_by_alias("needs-school_admission", "champion")
    assert str(alias.version) == first.version


# The promotion runs in a child process started from this driver (test code: production
# code has no fault hook). It wraps the calls that make a promotion durable and visible,
# reports each step it reaches and waits for a line on stdin before going on, so the test
# can SIGKILL it from outside at exactly that step.
PROMOTION_DRIVER = """
import os
import sys
from pathlib import Path

from needs_model.modelling.promotion import switch_current, write_bundle

real_open, real_close, real_fsync = os.open, os.close, os.fsync
names = {}


def reached(step):
    print("reached", step, flush=True)
    if not sys.stdin.readline():  # the test has gone away
        os._exit(2)


def traced_open(path, flags, *args, **kwargs):
    fd = real_open(path, flags, *args, **kwargs)
    names[fd] = Path(path).name
    return fd


def traced_close(fd):
    names.pop(fd, None)
    real_close(fd)


def traced_fsync(fd):
    real_fsync(fd)
    reached(f"fsync {names.get(fd, fd)}")


def traced(rename):
    def wrapper(src, dst, *args, **kwargs):
        reached(f"before rename {Path(dst).name}")
        rename(src, dst, *args, **kwargs)
        reached(f"after rename {Path(dst).name}")

    return wrapper


os.open, os.close, os.fsync = traced_open, traced_close, traced_fsync
os.rename, os.replace = traced(os.rename), traced(os.replace)
models, source = Path(sys.argv[1]), Path(sys.argv[2])
write_bundle(models, "svc", "2", source, {}, {})
switch_current(models, "svc", "2")
"""

# Where the writer is killed: (the version served afterwards, what is left of version 2).
CRASH_POINTS = {
    "fsync model.txt": ("1", "half partial"),  # the first bundle file is written
    "fsync evaluation.json": ("1", "half partial"),  # the last one, no SHA256SUMS yet
    "before rename 2": ("1", "complete partial"),  # flushed, not yet renamed into place
    "after rename 2": ("1", "bundle"),  # in place, not yet served
    "before rename current": ("1", "bundle"),  # the pointer not yet switched
    "after rename current": ("2", "bundle"),  # switched, history.json not yet written
}


def _bundle_source(folder: Path, version: str) -> Path:
    folder.mkdir()
    for name, text in {
        "model.txt": f"tree {version}",
        "calibrator.json": "{}",
        "features.json": "[]",
        "params.json": "{}",
    }.items():
        (folder / name).write_text(text)
    return folder


def _promote_until(
    driver: Path, models: Path, source: Path, kill_at: str
) -> tuple[list[str], int, str]:
    """Run the driver and SIGKILL it when it reports `kill_at`. Returns the steps it
    reported, its exit code and its stderr."""
    child = subprocess.Popen(
        [sys.executable, str(driver), str(models), str(source)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    steps = []
    for line in child.stdout:
        steps.append(line.removeprefix("reached ").rstrip("\n"))
        if steps[-1] == kill_at:
            os.kill(child.pid, signal.SIGKILL)
            break
        child.stdin.write("\n")
        child.stdin.flush()
    _, stderr = child.communicate(timeout=60)
    return steps, child.returncode, stderr


@pytest.mark.parametrize("kill_at", list(CRASH_POINTS))
def test_a_killed_promotion_never_serves_a_half_bundle(tmp_path, kill_at):
    served, left = CRASH_POINTS[kill_at]
    models, service_dir = tmp_path / "models", tmp_path / "models" / "svc"
    write_bundle(models, "svc", "1", _bundle_source(tmp_path / "one", "1"), {}, {})
    switch_current(models, "svc", "1")
    source = _bundle_source(tmp_path / "two", "2")
    driver = tmp_path / "promote.py"
    driver.write_text(PROMOTION_DRIVER)

    steps, code, stderr = _promote_until(driver, models, source, kill_at)
    assert steps[-1] == kill_at, f"the writer never reached {kill_at!r}: {steps}\n{stderr}"
    assert code == -signal.SIGKILL
    # Readers see a whole bundle: the old one before the switch, the new one after it.
    assert current_version(models, "svc") == served
    verify_bundle(service_dir / "current")
    assert (service_dir / "current" / "model.txt").read_text() == f"tree {served}"
    partials = list(service_dir.glob(".partial-*"))
    if left == "bundle":
        assert not partials
        verify_bundle(service_dir / "2")
    else:
        assert not (service_dir / "2").exists()
        assert len(partials) == 1
    if left == "half partial":
        with pytest.raises(BundleError):
            verify_bundle(partials[0])

    # The next attempt cleans up and completes.
    write_bundle(models, "svc", "2", source, {}, {})
    switch_current(models, "svc", "2")
    assert current_version(models, "svc") == "2"
    assert not list(service_dir.glob(".partial-*"))
    verify_bundle(service_dir / "2")
    assert (service_dir / "current" / "model.txt").read_text() == "tree 2"
    assert previous_version(models, "svc") == "1"


@pytest.mark.parametrize(
    ("kept", "named"),
    [
        ('[{"version": "1"', "svc/history.json is not JSON (Expecting"),
        ('{"version": "1"}', "svc/history.json is not a list of versions"),
        ('[{"at": "2026-01-01"}]', "svc/history.json has an entry without a version"),
    ],
)
def test_a_history_that_cannot_be_read_stops_a_switch_before_the_link_moves(tmp_path, kept, named):
    models = tmp_path / "models"
    for version in ("1", "2"):
        write_bundle(models, "svc", version, _bundle_source(tmp_path / version, version), {}, {})
    switch_current(models, "svc", "1")
    (models / "svc" / "history.json").write_text(kept)
    with pytest.raises(HistoryError) as raised:
        switch_current(models, "svc", "2")
    assert str(raised.value).startswith(named) and str(tmp_path) not in str(raised.value)
    assert current_version(models, "svc") == "1"  # nothing moved
    assert (models / "svc" / "history.json").read_text() == kept  # nothing written over
    with pytest.raises(HistoryError):
        previous_version(models, "svc")


def test_runs_and_artifacts_stay_in_the_configured_store(trained, settings):
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    run = mlflow.get_run(trained["school_admission"].run_id)
    assert run.info.artifact_uri.startswith(settings.mlflow_artifact_root.resolve().as_uri())
    assert mlflow.get_experiment(run.info.experiment_id).name == "needs"


def test_a_store_copied_elsewhere_is_refused_before_a_run_is_written(tmp_path):
    """MLflow writes a run's artifacts where the experiment says, whatever is configured: a
    copy of a store would fill (and depend on) the original's folder. configure says so."""
    from needs_model.modelling import tracking

    first = Settings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/store/mlflow.db",
        mlflow_artifact_root=tmp_path / "store" / "artifacts",
    )
    tracking.configure(first)
    tracking.configure(first)  # the same store again: fine
    shutil.copytree(tmp_path / "store", tmp_path / "copy")
    copy = Settings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/copy/mlflow.db",
        mlflow_artifact_root=tmp_path / "copy" / "artifacts",
    )
    with pytest.raises(tracking.StoreError) as raised:
        tracking.configure(copy)
    message = str(raised.value)
    assert (tmp_path / "store" / "artifacts").as_uri() in message
    assert (tmp_path / "copy" / "artifacts").as_uri() in message
    assert f"NEEDS_MLFLOW_ARTIFACT_ROOT={tmp_path / 'store' / 'artifacts'}" in message
    # Going on with the folder the copied experiment names is allowed.
    tracking.configure(copy.model_copy(update={"mlflow_artifact_root": first.mlflow_artifact_root}))


def test_a_refused_challenger_falls_back_to_a_simpler_scorer_of_the_same_run(
    province, snapshots, tmp_path, monkeypatch
):
    """Promotion tries the run's simpler scorers in order and serves the first that passes,
    registered as its own version. The gate itself is tested with real thresholds in
    test_gate.py; here it refuses the first `refusals` candidates it is shown."""
    from needs_model.modelling import workflow

    _, raw = province
    state = Settings(
        mlflow_tracking_uri=f"sqlite:///{tmp_path}/mlflow.db",
        mlflow_artifact_root=tmp_path / "artifacts",
        models_dir=tmp_path / "models",
        reports_dir=tmp_path / "reports",
    )
    (trained_run,) = train_services(snapshots, [SERVICE_FOR_GATE], FAST, state, raw)
    mlflow.set_tracking_uri(state.mlflow_tracking_uri)
    client = mlflow.MlflowClient()
    order = client.get_run(trained_run.run_id).data.tags["fallbacks"].split(",")
    assert order and order[-1] == "rule" and trained_run.scorer not in order, order
    shown: list[np.ndarray] = []

    def refuse_all_but_the_last(evaluation, test, p, champion_p, gate):
        shown.append(p)
        return [] if len(shown) == 1 + len(order) else ["calibration: refused by the test"]

    monkeypatch.setattr(workflow, "gate_failures", refuse_all_but_the_last)
    result = promote_service(SERVICE_FOR_GATE, state)
    assert result.promoted and result.version == "2", result
    assert "refused by the test" in result.message and "rule" in result.message
    served = load_served(state.models_dir, SERVICE_FOR_GATE)
    assert served.scorer == "rule"
    # Promoting again changes nothing: the fallback already stands for this challenger.
    again = promote_service(SERVICE_FOR_GATE, state)
    assert not again.promoted and again.version == "2" and "already" in again.message
    assert len(client.search_model_versions(f"name='needs-{SERVICE_FOR_GATE}'")) == 2
    record = json.loads((state.reports_dir / SERVICE_FOR_GATE / "served.json").read_text())
    assert (record["version"], record["scorer"]) == ("2", "rule")
    assert record["challenger_refused"] == ["calibration: refused by the test"]
    name = f"needs-{SERVICE_FOR_GATE}"
    champion = client.get_model_version_by_alias(name, "champion")
    assert str(champion.version) == "2" and champion.tags["fallback_from"] == trained_run.version
    # The challenger's refusal is kept as any refusal is, with the version served instead.
    (kept,) = refusals(state.models_dir, SERVICE_FOR_GATE)
    assert (kept["version"], kept["champion"], kept["served_instead"]) == (
        trained_run.version,
        None,
        "2",
    )
    assert kept["failures"] == ["calibration: refused by the test"]
    assert client.get_model_version(name, trained_run.version).tags["gate"] == "refused"
    assert champion.tags["gate"] == "promoted"
    frame = load_service(snapshots, SERVICE_FOR_GATE).head(300)
    via_registry = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(frame)
    assert np.allclose(np.asarray(via_registry), served.predict(frame))
    assert np.allclose(shown[-1], served.predict(pd.read_parquet(_test_rows(client, trained_run))))


def _test_rows(client, trained_run) -> Path:
    return Path(
        mlflow.artifacts.download_artifacts(f"runs:/{trained_run.run_id}/data/test_rows.parquet")
    )


def _own_settings(root: Path) -> Settings:
    return Settings(
        mlflow_tracking_uri=f"sqlite:///{root}/mlflow.db",
        mlflow_artifact_root=root / "artifacts",
        models_dir=root / "models",
        reports_dir=root / "reports",
    )


def test_a_chosen_optional_feature_is_trained_served_monitored_and_kept(
    province, snapshots, tmp_path
):
    """What a data scientist chooses (an optional feature from the catalogue) is what the bundle
    serves, what the monitor judges and what `retrain` trains again."""
    from needs_model.monitoring.run import available_snapshots, monitor_service

    _, raw = province
    settings = _own_settings(tmp_path)
    config = replace(FAST, test_months=6, valid_months=6, features=(OPTIONAL, "rule_birth_due"))
    train_services(snapshots, [BIRTHS], config, settings, raw)
    # Calibration and fairness are the gate's business (tests above): here, any champion.
    assert promote_service(BIRTHS, settings, Gate(max_ece=1.0, max_group_gap=1.0)).promoted
    model = load_served(settings.models_dir, BIRTHS)
    assert model.features == ["rule_birth_due", OPTIONAL]  # the tables' order
    assert served_inputs(settings.models_dir, BIRTHS) == ("rule_birth_due", OPTIONAL)
    frame = load_service(snapshots, BIRTHS)
    # The two inputs alone decide the score: the other columns are not read.
    rows = frame.head(200)
    blanked = rows.assign(**{f: np.nan for f in features_for(BIRTHS) if f != "rule_birth_due"})
    assert np.array_equal(model.predict(rows), model.predict(blanked))
    _, record = monitor_service(
        BIRTHS, available_snapshots(snapshots, BIRTHS)[-1], settings, snapshots
    )
    assert [f["column"] for f in record["drift"]["features"]] == ["rule_birth_due", OPTIONAL]


def test_default_inputs_are_not_recorded_as_a_choice(promoted):
    from tests.conftest import REPORTED_SERVICE

    assert current_version(promoted.models_dir, REPORTED_SERVICE) is not None
    assert served_inputs(promoted.models_dir, REPORTED_SERVICE) is None


def test_an_optional_feature_the_snapshots_lack_is_named(province, snapshots, tmp_path):
    _, raw = province
    old = tmp_path / "features"
    for day in sorted((snapshots / BIRTHS).glob("*.parquet")):
        target = snapshot_file(old, BIRTHS, pd.Timestamp(day.stem).date())
        target.parent.mkdir(parents=True, exist_ok=True)
        pd.read_parquet(day).drop(columns=[OPTIONAL]).to_parquet(target, index=False)
    config = replace(FAST, features=(*features_for(BIRTHS), OPTIONAL))
    with pytest.raises(ValueError, match=f"lack {OPTIONAL}.*rebuild"):
        train_services(old, [BIRTHS], config, _own_settings(tmp_path), raw)


def test_refusals_are_added_whole_and_never_written_over_a_file_that_cannot_be_read(tmp_path):
    models = tmp_path / "models"
    assert refusals(models, "school_admission") == []
    first = {"version": "2", "champion": "1", "failures": ["calibration: ..."]}
    record_refusal(models, "school_admission", first)
    record_refusal(models, "school_admission", first | {"version": "3"})
    assert [r["version"] for r in refusals(models, "school_admission")] == ["2", "3"]
    assert not list((models / "school_admission").glob(".refusals-*"))  # no partial left
    kept = models / "school_admission" / REFUSALS_FILE
    for text, problem in (
        ('[{"version": "2"', "is not JSON (Expecting ',' delimiter, line 1)"),
        ('{"version": "2"}', "is not a list of refusals"),
    ):
        kept.write_text(text)
        with pytest.raises(RefusalsError) as raised:
            record_refusal(models, "school_admission", first)
        assert str(raised.value) == f"school_admission/refusals.json {problem}"
        assert kept.read_text() == text
    kept.write_bytes(b"\xff\xfe[")
    with pytest.raises(RefusalsError, match="is not UTF-8 text"):
        refusals(models, "school_admission")
