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
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from needs_model.servicedb import audit_log, audit_subjects, driver_sql, is_sqlite, reading

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
) -> int:
    """Append one entry (committed durably before returning); returns its sequence number."""
    subject_list = sorted(set(subjects))
    with _APPEND_LOCK:
        return _append(engine, subject_list, key_id, role, action, route, purpose, details)


# Threads of one process queue here for the chain head; the database lock then only arbitrates
# between processes. (Two threads contending on SQLite's lock would back off in sleeps of up
# to 100 ms each: the tail latency of a busy API worker.)
_APPEND_LOCK = threading.Lock()


def _append(
    engine: Engine,
    subject_list: list[str],
    key_id: str,
    role: str,
    action: str,
    route: str,
    purpose: str | None,
    details: dict[str, Any] | None,
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
        entry = {
            "seq": seq,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "key_id": key_id,
            "role": role,
            "action": action,
            "route": route,
            "purpose": purpose,
            "subjects": subject_list,
            "details": details or {},
        }
        cursor.execute(
            driver_sql(engine, _INSERT_ENTRY),
            (
                seq,
                entry["at"],
                key_id,
                role,
                action,
                route,
                purpose,
                json.dumps(subject_list),
                json.dumps(entry["details"], sort_keys=True, ensure_ascii=False),
                prev,
                entry_hash(prev, entry),
            ),
        )
        if subject_list:
            cursor.executemany(
                driver_sql(engine, "INSERT INTO audit_subjects (subject, seq) VALUES (?, ?)"),
                [(s, seq) for s in subject_list],
            )
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        connection.close()
    return seq


_INSERT_ENTRY = (
    "INSERT INTO audit_log (seq, at, key_id, role, action, route, purpose, subjects, details, "
    "prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


@dataclass
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(
    engine: Engine, checkpoint: dict[str, Any] | None = None, signing_key: str = ""
) -> Verification:
    """Walk the chain; compare it with a checkpoint of its head if one is given."""
    result = Verification()
    expected_prev, expected_seq = GENESIS, 1
    hash_at: dict[int, str] = {}
    listed: dict[int, set[str]] = {}
    want = int(checkpoint["seq"]) if checkpoint else None
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
            if want is not None and row.seq == want:
                hash_at[want] = row.hash
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
    if checkpoint is not None:
        result.problems += _check_checkpoint(checkpoint, hash_at, result, signing_key)
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
    limit: int = 100,
    actions: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Entries in sequence order after `after_seq` (optionally those naming `subject`)."""
    query = select(audit_log).where(audit_log.c.seq > after_seq)
    if subject is not None:
        seqs = select(audit_subjects.c.seq).where(audit_subjects.c.subject == subject)
        query = query.where(audit_log.c.seq.in_(seqs))
    if actions:
        query = query.where(audit_log.c.action.in_(actions))
    with reading(engine) as connection:
        rows = connection.execute(query.order_by(audit_log.c.seq).limit(limit)).all()
    out = []
    for row in rows:
        data = _hashed_fields(row)
        data["prev_hash"], data["hash"] = row.prev_hash, row.hash
        out.append(data)
    return out


def count(engine: Engine) -> int:
    with reading(engine) as connection:
        return int(connection.execute(select(func.count()).select_from(audit_log)).scalar_one())
