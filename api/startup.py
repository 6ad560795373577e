"""Opening what the service needs at start-up, or refusing to start with one clear message.

A service that starts on a database it cannot write would fail at its first audited read;
one that starts without the bundles its scores came from would serve scores it cannot
explain. `open_service` finds both problems before the first request and says which path
is unusable, why, and what to run or set to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine, Integer, Numeric
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

from api.store import Store, StoreError, load_store
from needs_model.governance.db import audit_log, make_engine
from needs_model.modelling.promotion import BundleError
from needs_model.scoring.snapshot import latest_snapshot
from needs_model.settings import Settings

_SQLITE_HEADER = b"SQLite format 3\x00"
_DATABASE_FIX = (
    "set NEEDS_DATABASE_URL to a database the service can write "
    "(for SQLite: a file in a folder writable by the service's user)"
)


class StartupError(RuntimeError):
    """What the service needs is unusable; the message names it and the fix."""


def open_service(settings: Settings) -> tuple[Engine, Store | None]:
    """Open the service database and the newest scored snapshot, or raise StartupError
    with a message naming what is unusable and how to fix it.

    No scored snapshot is not an error: the API then answers 503 `no_scores` until one is
    written. A snapshot whose bundles cannot be loaded is.
    """
    engine = _open_database(settings.database_url)
    try:
        _open_checkpoints(settings.audit_checkpoint_dir)
        return engine, _open_store(settings.scores_dir, settings.models_dir)
    except StartupError:
        engine.dispose()
        raise


def _open_checkpoints(folder: Path) -> None:
    """The audit checkpoints' folder must take files: a checkpoint that cannot be written
    is a gap in what the log can later prove."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise StartupError(
            f"cannot write audit checkpoints into {folder} ({error.strerror or error}): set "
            "NEEDS_AUDIT_CHECKPOINT_DIR to a folder the service can write (ideally on "
            "another host's storage)"
        ) from error


def _open_database(url: str) -> Engine:
    shown = _shown(url)
    engine: Engine | None = None
    try:
        engine = make_engine(url)
        _prove_writable(engine)
    except (SQLAlchemyError, OSError, ImportError, RuntimeError) as error:
        if engine is not None:
            engine.dispose()
        raise StartupError(
            f"cannot use the service database {shown}: {_database_cause(url, error)}; "
            f"{_DATABASE_FIX}"
        ) from error
    return engine


def _prove_writable(engine: Engine) -> None:
    """Write an audit entry and roll it back: a read-only file, folder or role fails here,
    not at the first request's audit append."""
    probe = {c.name: -1 if isinstance(c.type, Integer | Numeric) else "" for c in audit_log.columns}
    with engine.connect() as connection:
        transaction = connection.begin()  # BEGIN IMMEDIATE on SQLite: the write lock
        try:
            connection.execute(audit_log.insert().values(probe))
        finally:
            transaction.rollback()


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


def _sqlite_file(url: str) -> Path | None:
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def _database_cause(url: str, error: BaseException) -> str:
    """Why the database is unusable, in the operator's terms where the path tells us."""
    path = _sqlite_file(url)
    if path is not None:
        if path.is_dir():
            return f"{path} is a directory, not a database file"
        if path.is_file() and not _looks_like_sqlite(path):
            return f"{path} is not an SQLite database"
        if not path.parent.is_dir():
            return f"its folder {path.parent} cannot be created ({_reason(error)})"
        for candidate in (path, path.parent):
            if candidate.exists() and not os.access(candidate, os.W_OK):
                return f"{candidate} is read-only ({_reason(error)})"
    return _reason(error)


def _looks_like_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError:
        return True  # unreadable: let the driver's own message say so
    return header in (b"", _SQLITE_HEADER)


def _reason(error: BaseException) -> str:
    if isinstance(error, ImportError):
        return f"its driver is not installed ({error})"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    if isinstance(error, DBAPIError) and error.orig is not None:
        return str(error.orig)
    return str(error).splitlines()[0]


def _open_store(scores_dir: Path, models_dir: Path) -> Store | None:
    snapshot = latest_snapshot(scores_dir)
    if snapshot is None:
        return None
    promote = "run `needs-model promote` (or restore the folder), then `needs-model score`"
    if not models_dir.is_dir():
        raise StartupError(
            f"the models folder {models_dir} does not exist or is not a folder, and the scored "
            f"snapshot {snapshot} needs its bundles: set NEEDS_MODELS_DIR to the folder "
            f"`needs-model promote` writes, or {promote}"
        )
    try:
        return load_store(snapshot, models_dir)
    except BundleError as error:
        raise StartupError(
            f"a model bundle in {models_dir} that the scored snapshot {snapshot} was made with "
            f"is unusable: {error}; {promote}"
        ) from error
    except StoreError as error:
        raise StartupError(f"the scored snapshot {snapshot} is unusable: {error}") from error
    except OSError as error:
        raise StartupError(
            f"cannot read {error.filename or snapshot} ({error.strerror or error}) while "
            f"loading the scored snapshot {snapshot} with the models in {models_dir}: give "
            f"the service's user read access, or {promote}"
        ) from error
    except ValueError as error:  # a truncated or corrupt JSON or Parquet file
        raise StartupError(
            f"cannot load the scored snapshot {snapshot} with the models in {models_dir}: "
            f"{error}; {promote}"
        ) from error
