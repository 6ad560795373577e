"""The service refuses to start, with one clear message, when what it needs is unusable.

`open_service` is tested on each unusable database and models folder; two tests start a
real uvicorn on a bad database and on a corrupt models folder and check that it exits,
says why and never serves. Read-only cases need a user that permissions stop: as root,
`chmod` does not stop writes, so those run on a read-only mount in a private mount
namespace instead (and skip, saying why, where neither is possible).
"""

from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.startup import StartupError, open_service
from needs_model.governance import audit
from needs_model.governance.db import make_engine
from needs_model.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'service.db'}",
        "scores_dir": tmp_path / "no-scores",
        "models_dir": tmp_path / "no-models",
        "audit_checkpoint_dir": tmp_path / "checkpoints",
    }
    return Settings(**(values | overrides))


def _refusal(settings: Settings) -> str:
    with pytest.raises(StartupError) as refused:
        open_service(settings)
    return str(refused.value)


def _chmod_stops_writes(path: Path) -> bool:
    """Whether permissions stop this process from writing `path` (not so for root)."""
    return not os.access(path, os.W_OK)


@pytest.fixture
def models_copy(served, tmp_path) -> Path:
    """A private copy of the served bundles, to break."""
    return Path(shutil.copytree(served.settings.models_dir, tmp_path / "models", symlinks=True))


# The database --------------------------------------------------------------------------


def test_a_usable_database_without_scores_opens_and_serves_no_scores(tmp_path):
    engine, store = open_service(_settings(tmp_path))
    assert store is None  # the API then answers 503 no_scores, on purpose
    assert audit.verify(engine).entries == 0  # the write check left nothing behind
    engine.dispose()


def test_a_database_path_that_is_a_directory_is_refused(tmp_path):
    folder = tmp_path / "service.db"
    folder.mkdir()
    message = _refusal(_settings(tmp_path))
    assert f"sqlite:///{folder}" in message
    assert f"{folder} is a directory" in message
    assert "NEEDS_DATABASE_URL" in message


def test_a_file_that_is_not_a_database_is_refused(tmp_path):
    (tmp_path / "service.db").write_bytes(b"name,cccd\nAn,049187909209\n" * 100)
    message = _refusal(_settings(tmp_path))
    assert f"{tmp_path / 'service.db'} is not an SQLite database" in message


def test_a_database_folder_that_cannot_be_created_is_refused(tmp_path):
    (tmp_path / "data").write_text("a file where the folder should be")
    url = f"sqlite:///{tmp_path / 'data' / 'service' / 'needs.db'}"
    message = _refusal(_settings(tmp_path, database_url=url))
    assert url in message
    assert f"its folder {tmp_path / 'data' / 'service'} cannot be created" in message


def test_a_checkpoint_folder_that_cannot_take_files_is_refused(tmp_path):
    blocked = tmp_path / "checkpoints"
    blocked.write_text("a file where the folder should be")
    message = _refusal(_settings(tmp_path, audit_checkpoint_dir=blocked))
    assert str(blocked) in message and "NEEDS_AUDIT_CHECKPOINT_DIR" in message


def test_an_unparsable_database_url_is_refused(tmp_path):
    message = _refusal(_settings(tmp_path, database_url="needs.db"))
    assert "'needs.db'" in message and "NEEDS_DATABASE_URL" in message


@pytest.fixture
def live_database(tmp_path) -> Iterator[Path]:
    """A service database in WAL mode with a reader holding it open (its -wal and -shm
    files exist, as beside a running service): opening it read-only then succeeds, and
    only a write shows that it cannot be written."""
    path = tmp_path / "live" / "needs.db"
    make_engine(f"sqlite:///{path}").dispose()
    reader = sqlite3.connect(path)
    reader.execute("SELECT count(*) FROM audit_log").fetchone()
    yield path
    reader.close()


def test_a_read_only_database_file_is_refused(live_database, tmp_path):
    live_database.chmod(0o444)
    try:
        if not _chmod_stops_writes(live_database):
            pytest.skip("running as root: chmod does not stop writes (see the read-only mount)")
        message = _refusal(_settings(tmp_path, database_url=f"sqlite:///{live_database}"))
        assert f"{live_database} is read-only" in message
    finally:
        live_database.chmod(0o644)


def test_a_read_only_database_folder_is_refused(tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _chmod_stops_writes(folder):
            pytest.skip("running as root: chmod does not stop writes (see the read-only mount)")
        message = _refusal(_settings(tmp_path, database_url=f"sqlite:///{folder / 'needs.db'}"))
        assert f"{folder} is read-only" in message
    finally:
        folder.chmod(0o755)


# Run in a private mount namespace: bind the live database's folder read-only, open it.
READ_ONLY_MOUNT = """
import subprocess
import sys

from api.startup import StartupError, open_service
from needs_model.settings import Settings

live, view = sys.argv[1:]
for command in (["mount", "--bind", live, view], ["mount", "-o", "remount,bind,ro", view]):
    if subprocess.run(command).returncode != 0:
        sys.exit(77)
try:
    open_service(Settings(database_url=f"sqlite:///{view}/needs.db", scores_dir=view))
except StartupError as error:
    print(error)
    sys.exit(0)
sys.exit("opened a read-only database")
"""


def test_a_database_on_a_read_only_mount_is_refused(live_database, tmp_path):
    """The case only the write check catches: the file opens and reads, writes fail."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare for a private read-only mount (chmod cases run)")
    view = tmp_path / "view"
    view.mkdir()
    command = [sys.executable, "-c", READ_ONLY_MOUNT, str(live_database.parent), str(view)]
    done = subprocess.run(
        ["unshare", "--mount", *command],
        cwd=ROOT,  # `api` is imported from the working directory
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode == 77 or done.stderr.startswith("unshare:"):
        pytest.skip(f"cannot make a private read-only mount here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert f"{view / 'needs.db'} is read-only" in done.stdout
    assert "NEEDS_DATABASE_URL" in done.stdout


# The models folder ---------------------------------------------------------------------


def test_the_served_snapshot_and_its_bundles_open(served, tmp_path):
    engine, store = open_service(
        _settings(
            tmp_path, scores_dir=served.settings.scores_dir, models_dir=served.settings.models_dir
        )
    )
    assert store is not None
    assert store.folder == served.snapshot
    assert {s: t.version for s, t in store.services.items()} == {
        s: t.version for s, t in served.store.services.items()
    }
    engine.dispose()


@pytest.mark.parametrize("kind", ["missing", "a file"])
def test_a_missing_models_folder_is_refused(served, tmp_path, kind):
    models = tmp_path / "models"
    if kind == "a file":
        models.write_text("not a folder")
    message = _refusal(
        _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models)
    )
    assert f"the models folder {models} does not exist or is not a folder" in message
    assert "NEEDS_MODELS_DIR" in message and "needs-model promote" in message


def test_a_bundle_version_named_by_the_snapshot_but_missing_is_refused(
    served, tmp_path, models_copy
):
    bundle = models_copy / "school_admission" / "1"
    shutil.rmtree(bundle)
    message = _refusal(
        _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models_copy)
    )
    assert str(bundle) in message
    assert str(served.snapshot) in message
    assert "needs-model promote" in message and "needs-model score" in message


def test_a_bundle_whose_checksums_fail_is_refused(served, tmp_path, models_copy):
    model = models_copy / "medical_license_renewal" / "1" / "model.txt"
    model.write_text(model.read_text() + "\n")
    message = _refusal(
        _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models_copy)
    )
    assert f"{model} is missing or does not match its checksum" in message
    assert "needs-model promote" in message


def test_an_unreadable_bundle_file_is_refused(served, tmp_path, models_copy):
    # A directory where a file should be cannot be read, by root or anyone.
    sums = models_copy / "birth_registration" / "1" / "SHA256SUMS"
    sums.unlink()
    sums.mkdir()
    message = _refusal(
        _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models_copy)
    )
    assert f"cannot read {sums}" in message
    assert str(models_copy) in message


def test_an_unreadable_models_folder_is_refused(served, tmp_path, models_copy):
    models_copy.chmod(0o000)
    try:
        if os.access(models_copy, os.R_OK):
            pytest.skip("running as root: chmod does not stop reads (see the unreadable file)")
        message = _refusal(
            _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models_copy)
        )
        assert "cannot read" in message and str(models_copy) in message
    finally:
        models_copy.chmod(0o755)


@pytest.mark.parametrize("manifest", [None, '{"as_of": "2025-12-31", "models": {'])
def test_a_broken_scored_snapshot_is_refused(tmp_path, manifest):
    snapshot = tmp_path / "scores" / "2025-12-31"
    snapshot.mkdir(parents=True)
    (snapshot / "_SUCCESS").touch()
    if manifest is not None:
        (snapshot / "manifest.json").write_text(manifest)
    (tmp_path / "models").mkdir()
    message = _refusal(
        _settings(tmp_path, scores_dir=tmp_path / "scores", models_dir=tmp_path / "models")
    )
    assert str(snapshot) in message and "needs-model score" in message


# A real server -------------------------------------------------------------------------

STARTUP_SECONDS = 20  # importing the app and failing takes ~3 s on an idle machine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_and_expect_refusal(settings: Settings, expected: str) -> None:
    """Start uvicorn with `settings`; it must exit non-zero, print `expected`, never serve."""
    port = _free_port()
    env = {
        **os.environ,
        "NEEDS_DATABASE_URL": settings.database_url,
        "NEEDS_SCORES_DIR": str(settings.scores_dir),
        "NEEDS_MODELS_DIR": str(settings.models_dir),
        "NEEDS_AUDIT_CHECKPOINT_DIR": str(settings.audit_checkpoint_dir),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    answered = []
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while process.poll() is None and time.monotonic() < deadline:
            try:
                answered.append(httpx.get(f"http://127.0.0.1:{port}/health", timeout=0.5))
            except httpx.TransportError:
                time.sleep(0.1)
    finally:
        if process.poll() is None:
            process.kill()
        _, stderr = process.communicate(timeout=30)
    assert process.returncode not in (None, 0, -9), (
        f"uvicorn did not exit within {STARTUP_SECONDS} s:\n{stderr}"
    )
    assert not answered, f"uvicorn served before refusing: {answered}"
    assert "Application startup complete" not in stderr
    assert expected in stderr, stderr


def test_uvicorn_refuses_to_start_on_an_unusable_database(tmp_path):
    (tmp_path / "service.db").mkdir()
    settings = _settings(tmp_path)
    expected = _refusal(settings)
    _start_and_expect_refusal(settings, expected)


def test_uvicorn_refuses_to_start_on_a_corrupt_models_folder(served, tmp_path, models_copy):
    (models_copy / "poor_household_confirmation" / "1" / "calibrator.json").write_text("{}")
    settings = _settings(tmp_path, scores_dir=served.settings.scores_dir, models_dir=models_copy)
    expected = _refusal(settings)
    assert "calibrator.json" in expected
    _start_and_expect_refusal(settings, expected)
