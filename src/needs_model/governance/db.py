"""The service database: API keys, the audit log and recorded outcomes.

Any SQLAlchemy URL works; SQLite is the default. SQLite runs in WAL mode with
`synchronous=FULL` (a committed audit entry survives a power cut), and every write
transaction starts with `BEGIN IMMEDIATE`, so writers from several processes queue for
the write lock instead of reading the same chain head. On PostgreSQL, `audit.append`
takes a table lock for the same effect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    inspect,
)
from sqlalchemy.engine import make_url

metadata = MetaData()

api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("secret_sha256", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("revoked_at", String(32), nullable=True),
    Column("expires_at", String(32), nullable=True),  # NULL only for keys made before expiry
    Column("requests_per_minute", Integer, nullable=True),  # NULL: the settings' default
    Column("personal_reads_per_day", Integer, nullable=True),  # NULL: the settings' default
)

# What each key read per day (Vietnam time), updated in the audit append's transaction: the
# daily quota and the "more than usual" alert read it.
key_usage = Table(
    "key_usage",
    metadata,
    Column("key_id", String(32), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("requests", Integer, nullable=False),
    Column("personal_reads", Integer, nullable=False),
    Column("alerted_at", String(32), nullable=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", String(32), nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("role", String(32), nullable=False),
    Column("action", String(64), nullable=False),
    Column("route", Text, nullable=False),
    Column("purpose", Text, nullable=True),
    Column("subjects", Text, nullable=False),  # JSON list of CCCDs / subject ids read
    Column("details", Text, nullable=False),  # JSON: services, prediction ids, counts
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Derived index for "who looked at this citizen" (rebuilt from audit_log.subjects; checked
# by `audit verify`).
audit_subjects = Table(
    "audit_subjects",
    metadata,
    Column("subject", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("outcome_id", String(36), primary_key=True),
    Column("service_id", String(64), nullable=False),
    Column("subject_id", String(32), nullable=False),
    Column("cccd", String(12), nullable=True),
    Column("commune_code", String(8), nullable=True),
    Column("status", String(16), nullable=False),
    Column("prediction_id", String(64), nullable=True),
    Column("probability", Float, nullable=True),
    Column("note", Text, nullable=True),
    Column("occurred_on", String(10), nullable=False),
    Column("recorded_at", String(32), nullable=False),
    Column("key_id", String(32), nullable=False),
)
Index("outcomes_by_service_commune", outcomes.c.service_id, outcomes.c.commune_code)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's `begin` event issue BEGIN IMMEDIATE instead of pysqlite's BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _begin_immediate(connection: Any) -> None:
    read_only = connection.get_execution_options().get("needs_read_only", False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def reading(engine: Engine) -> Connection:
    """A connection for reads: on SQLite it does not take the write lock."""
    return engine.connect().execution_options(needs_read_only=True)


def make_engine(url: str) -> Engine:
    """An engine for `url`, with the tables created (idempotent)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _begin_immediate)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    metadata.create_all(engine)
    _add_missing_columns(engine)
    return engine


def _add_missing_columns(engine: Engine) -> None:
    """Bring a database made by an earlier version up to date (new nullable columns only)."""
    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                if not column.nullable:
                    raise RuntimeError(f"cannot add required column {table.name}.{column.name}")
                kind = column.type.compile(dialect=engine.dialect)
                with engine.begin() as connection:
                    connection.exec_driver_sql(
                        f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"
                    )


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def driver_sql(engine: Engine, sql: str) -> str:
    """`sql` written with `?` placeholders, in the driver's parameter style (the hot paths
    use the DB-API connection directly: SQLAlchemy's machinery costs ~1 ms a request)."""
    style = engine.dialect.paramstyle
    if style == "qmark":
        return sql
    if style in ("format", "pyformat"):
        return sql.replace("?", "%s")
    raise NotImplementedError(f"parameter style {style!r} of {engine.dialect.name}")
