"""The tamper-evident audit log: who read which citizen's data, when and why.

Each entry's hash is SHA-256 over the previous entry's hash and the entry's canonical JSON,
so changing, inserting or deleting an entry breaks every later link. Appends are
serialised (SQLite `BEGIN IMMEDIATE`, PostgreSQL table lock) so that concurrent workers
never read the same head and fork the chain. A rewrite of the whole chain, or cutting its
tail, is caught by comparing it with an exported checkpoint of the head — signed with
HMAC-SHA256 when NEEDS_AUDIT_SIGNING_KEY is set, and kept away from the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from needs_model.governance.access import usage_day
from needs_model.governance.db import audit_log, audit_subjects, driver_sql, is_sqlite, reading

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(entry)).hexdigest()


HASHED = ("seq", "at", "key_id", "role", "action", "route", "purpose", "subjects", "details")


def _hashed_fields(row: Any) -> dict[str, Any]:
    data = dict(row._mapping)
    data["subjects"] = json.loads(data["subjects"])
    data["details"] = json.loads(data["details"])
    return {k: data[k] for k in HASHED}


@dataclass(frozen=True)
class VolumePolicy:
    """When a key's reads today are unusual: above `factor` times its median daily personal
    reads over its previous active days (up to `history_days`), and above `floor`."""

    factor: float = 3.0
    floor: int = 200
    history_days: int = 28


def append(
    engine: Engine,
    *,
    key_id: str,
    role: str,
    action: str,
    route: str,
    subjects: Iterable[str] = (),
    purpose: str | None = None,
    details: dict[str, Any] | None = None,
    personal_reads: int = 0,
    volume: VolumePolicy | None = None,
) -> int:
    """Append one entry (committed durably before returning); returns its sequence number.

    In the same transaction, the key's use today grows by one request and `personal_reads`
    personal records; when that crosses the key's usual volume (`volume`) a `volume_alert`
    entry follows it in the chain, once per key and day.
    """
    subject_list = sorted(set(subjects))
    with _APPEND_LOCK:
        return _append(
            engine,
            {
                "key_id": key_id,
                "role": role,
                "action": action,
                "route": route,
                "purpose": purpose,
                "subjects": subject_list,
                "details": details or {},
            },
            personal_reads,
            volume or VolumePolicy(),
        )


# Threads of one process queue here for the chain head; the database lock then only arbitrates
# between processes. (Two threads contending on SQLite's lock would back off in sleeps of up
# to 100 ms each: the tail latency of a busy API worker.)
_APPEND_LOCK = threading.Lock()


def _append(
    engine: Engine, fields: dict[str, Any], personal_reads: int, volume: VolumePolicy
) -> int:
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        if is_sqlite(engine):
            cursor.execute("BEGIN IMMEDIATE")  # the write lock, before reading the head
        else:
            cursor.execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
        cursor.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        head = cursor.fetchone()
        seq, prev = (int(head[0]) + 1, str(head[1])) if head is not None else (1, GENESIS)
        now = dt.datetime.now(dt.UTC)
        prev = _insert(engine, cursor, seq, prev, now, fields)
        alert = _count_use(engine, cursor, fields["key_id"], now, personal_reads, volume)
        if alert is not None:
            _insert(engine, cursor, seq + 1, prev, now, {**fields, **alert})
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
    return seq


def _insert(
    engine: Engine, cursor: Any, seq: int, prev: str, now: dt.datetime, fields: dict[str, Any]
) -> str:
    entry = {"seq": seq, "at": now.isoformat(timespec="microseconds"), **fields}
    digest = entry_hash(prev, entry)
    cursor.execute(
        driver_sql(engine, _INSERT_ENTRY),
        (
            seq,
            entry["at"],
            entry["key_id"],
            entry["role"],
            entry["action"],
            entry["route"],
            entry["purpose"],
            json.dumps(entry["subjects"]),
            json.dumps(entry["details"], sort_keys=True, ensure_ascii=False),
            prev,
            digest,
        ),
    )
    if entry["subjects"]:
        cursor.executemany(
            driver_sql(engine, "INSERT INTO audit_subjects (subject, seq) VALUES (?, ?)"),
            [(s, seq) for s in entry["subjects"]],
        )
    return digest


_INSERT_ENTRY = (
    "INSERT INTO audit_log (seq, at, key_id, role, action, route, purpose, subjects, details, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_COUNT_USE = (
    "INSERT INTO key_usage (key_id, day, requests, personal_reads) VALUES (?, ?, 1, ?) "
    "ON CONFLICT (key_id, day) DO UPDATE SET requests = key_usage.requests + 1, "
    "personal_reads = key_usage.personal_reads + excluded.personal_reads"
)


def _count_use(
    engine: Engine,
    cursor: Any,
    key_id: str,
    now: dt.datetime,
    personal_reads: int,
    volume: VolumePolicy,
) -> dict[str, Any] | None:
    """Count the request; the fields of a `volume_alert` entry if today became unusual."""
    day = usage_day(now)
    cursor.execute(driver_sql(engine, _COUNT_USE), (key_id, day, personal_reads))
    if personal_reads <= 0:
        return None
    cursor.execute(
        driver_sql(
            engine, "SELECT personal_reads, alerted_at FROM key_usage WHERE key_id = ? AND day = ?"
        ),
        (key_id, day),
    )
    today, alerted_at = cursor.fetchone()
    if alerted_at is not None or today <= volume.floor:
        return None
    cursor.execute(
        driver_sql(
            engine,
            "SELECT personal_reads FROM key_usage WHERE key_id = ? AND day < ? "
            "AND personal_reads > 0 ORDER BY day DESC LIMIT ?",
        ),
        (key_id, day, volume.history_days),
    )
    history = [int(r[0]) for r in cursor.fetchall()]
    usual = statistics.median(history) if history else 0.0
    threshold = max(float(volume.floor), volume.factor * usual)
    if today <= threshold:
        return None
    cursor.execute(
        driver_sql(engine, "UPDATE key_usage SET alerted_at = ? WHERE key_id = ? AND day = ?"),
        (now.isoformat(timespec="seconds"), key_id, day),
    )
    return {
        "action": "volume_alert",
        "purpose": None,
        "subjects": [],
        "details": {
            "day": day,
            "personal_reads_today": int(today),
            "usual_per_day": usual,
            "active_days_seen": len(history),
            "threshold": threshold,
        },
    }


@dataclass
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    checkpoints: int = 0  # how many checkpoints the chain was compared with

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    engine: Engine,
    checkpoint: dict[str, Any] | None = None,
    signing_key: str = "",
    checkpoints: Sequence[dict[str, Any]] = (),
) -> Verification:
    """Walk the chain; compare it with each checkpoint of its head that is given.

    The chain alone proves that no entry was changed, inserted or removed *inside* it; only
    a checkpoint kept away from the database proves that no entry was cut from its end and
    that the chain was not rewritten from some point on.
    """
    marks = [*checkpoints, *([checkpoint] if checkpoint is not None else [])]
    result = Verification()
    expected_prev, expected_seq = GENESIS, 1
    hash_at: dict[int, str] = {}
    listed: dict[int, set[str]] = {}
    wanted = {int(m["seq"]) for m in marks}
    with reading(engine) as connection:
        for row in connection.execute(select(audit_log).order_by(audit_log.c.seq)):
            if row.seq != expected_seq:
                result.problems.append(
                    f"entries {expected_seq}..{row.seq - 1} are missing (deleted from the chain)"
                )
            if row.prev_hash != expected_prev:
                result.problems.append(f"entry {row.seq}: does not link to the previous entry")
            if entry_hash(row.prev_hash, _hashed_fields(row)) != row.hash:
                result.problems.append(f"entry {row.seq}: contents do not match its hash")
            expected_prev, expected_seq = row.hash, row.seq + 1
            result.entries += 1
            result.head_seq, result.head_hash = row.seq, row.hash
            listed[row.seq] = set(json.loads(row.subjects))
            if row.seq in wanted:
                hash_at[row.seq] = row.hash
        indexed: dict[int, set[str]] = defaultdict(set)
        for subject, seq in connection.execute(
            select(audit_subjects.c.subject, audit_subjects.c.seq)
        ):
            indexed[seq].add(subject)
    mismatched = [s for s in set(listed) | set(indexed) if listed.get(s, set()) != indexed[s]]
    if mismatched:
        result.problems.append(
            f"the per-citizen index disagrees with the log for {len(mismatched)} entries "
            f"(first: {min(mismatched)})"
        )
    for mark in marks:
        result.problems += _check_checkpoint(mark, hash_at, result, signing_key)
    result.checkpoints = len(marks)
    return result


def _check_checkpoint(
    checkpoint: dict[str, Any], hash_at: dict[int, str], result: Verification, signing_key: str
) -> list[str]:
    problems = []
    seq, digest = int(checkpoint["seq"]), str(checkpoint["hash"])
    signature = checkpoint.get("signature")
    if signature:
        if not signing_key:
            problems.append("the checkpoint is signed but NEEDS_AUDIT_SIGNING_KEY is not set")
        elif not hmac.compare_digest(signature, sign(seq, digest, signing_key)):
            problems.append("the checkpoint's signature is wrong (forged or another key)")
    if seq > result.head_seq:
        problems.append(
            f"the log ends at entry {result.head_seq} but the checkpoint saw entry {seq}: "
            "entries were removed from the end"
        )
    elif seq > 0 and hash_at.get(seq) != digest:
        problems.append(f"entry {seq} differs from the checkpoint: the log was rewritten")
    return problems


def sign(seq: int, digest: str, signing_key: str) -> str:
    return hmac.new(signing_key.encode(), f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()


def checkpoint(engine: Engine, signing_key: str = "") -> dict[str, Any]:
    """The head of the chain now, signed if a key is given (export it off the database)."""
    with reading(engine) as connection:
        head = connection.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).one_or_none()
    seq, digest = (head.seq, head.hash) if head is not None else (0, GENESIS)
    return {
        "seq": seq,
        "hash": digest,
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "signature": sign(seq, digest, signing_key) if signing_key else None,
    }


def read(
    engine: Engine,
    *,
    subject: str | None = None,
    after_seq: int = 0,
    until_seq: int | None = None,
    before_seq: int | None = None,
    limit: int = 100,
    actions: list[str] | None = None,
    newest_first: bool = False,
) -> list[dict[str, Any]]:
    """Entries with `after_seq < seq <= until_seq` and `seq < before_seq` (bounds optional),
    optionally only those naming `subject`, oldest first unless `newest_first`."""
    query = select(audit_log).where(audit_log.c.seq > after_seq)
    if until_seq is not None:
        query = query.where(audit_log.c.seq <= until_seq)
    if before_seq is not None:
        query = query.where(audit_log.c.seq < before_seq)
    if subject is not None:
        seqs = select(audit_subjects.c.seq).where(audit_subjects.c.subject == subject)
        query = query.where(audit_log.c.seq.in_(seqs))
    if actions:
        query = query.where(audit_log.c.action.in_(actions))
    order = audit_log.c.seq.desc() if newest_first else audit_log.c.seq
    with reading(engine) as connection:
        rows = connection.execute(query.order_by(order).limit(limit)).all()
    out = []
    for row in rows:
        data = _hashed_fields(row)
        data["prev_hash"], data["hash"] = row.prev_hash, row.hash
        out.append(data)
    return out


def head(engine: Engine) -> int:
    """The sequence number of the newest entry (0 when the log is empty)."""
    with reading(engine) as connection:
        return int(
            connection.execute(select(func.coalesce(func.max(audit_log.c.seq), 0))).scalar_one()
        )


def count_subject(engine: Engine, subject: str, until_seq: int | None = None) -> int:
    """How many entries name `subject` (up to `until_seq`)."""
    query = select(func.count()).where(audit_subjects.c.subject == subject)
    if until_seq is not None:
        query = query.where(audit_subjects.c.seq <= until_seq)
    with reading(engine) as connection:
        return int(connection.execute(query).scalar_one())


def count(engine: Engine) -> int:
    with reading(engine) as connection:
        return int(connection.execute(select(func.count()).select_from(audit_log)).scalar_one())


def write_checkpoint(directory: Path, mark: dict[str, Any]) -> Path:
    """Write a checkpoint file atomically (flushed, then renamed) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"checkpoint-{int(mark['seq']):012d}.json"
    partial = directory / f".{path.name}.{os.getpid()}.{threading.get_ident()}.partial"
    with open(partial, "w", encoding="utf-8") as handle:
        json.dump(mark, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return path


def load_checkpoints(directory: Path) -> list[dict[str, Any]]:
    """Every checkpoint written into `directory`, oldest first."""
    if not directory.is_dir():
        return []
    return [
        json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(directory.glob("checkpoint-*.json"))
    ]


class Checkpointer:
    """Takes a checkpoint of the chain's head after every `every` entries or `seconds`,
    whichever comes first (checked when an entry is appended), and when asked to."""

    def __init__(self, directory: Path, signing_key: str, every: int, seconds: float) -> None:
        self.directory, self.signing_key = directory, signing_key
        self.every, self.seconds = every, seconds
        self._lock = threading.Lock()
        self._last_seq: int | None = None
        self._last_time = time.monotonic()

    def after_append(self, engine: Engine, seq: int) -> Path | None:
        with self._lock:
            last = self._last_written()
            due = seq - last >= self.every
            due |= seq > last and time.monotonic() - self._last_time >= self.seconds
            return self._take(engine) if due else None

    def take_if_moved(self, engine: Engine) -> Path | None:
        """A checkpoint now, unless the head is the last one written (or the log is empty)."""
        with self._lock:
            mark = checkpoint(engine, self.signing_key)
            if int(mark["seq"]) in (0, self._last_written()):
                return None
            return self._write(mark)

    def _last_written(self) -> int:
        if self._last_seq is None:  # the newest file's name holds its sequence number
            names = sorted(self.directory.glob("checkpoint-*.json"))
            self._last_seq = int(names[-1].stem.removeprefix("checkpoint-")) if names else 0
        return self._last_seq

    def _take(self, engine: Engine) -> Path:
        return self._write(checkpoint(engine, self.signing_key))

    def _write(self, mark: dict[str, Any]) -> Path:
        path = write_checkpoint(self.directory, mark)
        self._last_seq, self._last_time = int(mark["seq"]), time.monotonic()
        return path
