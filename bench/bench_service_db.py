"""Per-request cost of the service database on the API's hot path.

The key lookup and the audit append run on the DB-API connection (`access.authenticate`,
`audit.append`). This measures them against the same statements issued through
SQLAlchemy Core on the same engine (a `select` of the key; `BEGIN IMMEDIATE`, read the
head, insert the entry and its per-citizen rows, commit) — the way they were first
written — in one run on a throw-away SQLite database (WAL, synchronous=FULL).
Median of `--repeats` batches of `--calls` calls each.
Usage: python bench/bench_service_db.py
Writes bench/results/service_db.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, select

from needs_model.governance import audit
from needs_model.governance.access import Scope, authenticate, create_key
from needs_model.governance.db import api_keys, audit_log, audit_subjects, make_engine, reading


def core_lookup(engine: Engine, key_id: str) -> object:
    with reading(engine) as connection:
        return connection.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one()


def core_append(engine: Engine, subjects: list[str]) -> None:
    with engine.begin() as connection:  # BEGIN IMMEDIATE (servicedb's begin event)
        head = connection.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).one_or_none()
        seq, prev = (head.seq + 1, head.hash) if head is not None else (1, audit.GENESIS)
        entry = {
            "seq": seq,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
            "key_id": "bench",
            "role": "planner",
            "action": "predict",
            "route": "POST /v1/predictions",
            "purpose": None,
            "subjects": subjects,
            "details": {},
        }
        connection.execute(
            audit_log.insert().values(
                **{**entry, "subjects": json.dumps(subjects), "details": "{}"},
                prev_hash=prev,
                hash=audit.entry_hash(prev, entry),
            )
        )
        connection.execute(audit_subjects.insert(), [{"subject": s, "seq": seq} for s in subjects])


def per_call_us(call: Callable[[], object], calls: int, repeats: int) -> float:
    call()
    batches = []
    for _ in range(repeats):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        batches.append((time.perf_counter() - started) / calls * 1e6)
    return round(statistics.median(batches), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/service.db")
        key_id, key = create_key(engine, "planner", Scope("province"))
        subjects = ["049183332434"]
        result = {
            "key_lookup_us": {
                "db_api": per_call_us(lambda: authenticate(engine, key), args.calls, args.repeats),
                "sqlalchemy_core": per_call_us(
                    lambda: core_lookup(engine, key_id), args.calls, args.repeats
                ),
            },
            "audit_append_us": {
                "db_api": per_call_us(
                    lambda: audit.append(
                        engine,
                        key_id="bench",
                        role="planner",
                        action="predict",
                        route="POST /v1/predictions",
                        subjects=subjects,
                    ),
                    args.calls,
                    args.repeats,
                ),
                "sqlalchemy_core": per_call_us(
                    lambda: core_append(engine, subjects), args.calls, args.repeats
                ),
            },
            "chain_ok": audit.verify(engine).ok,
            "calls": args.calls,
            "repeats": args.repeats,
        }
    out = Path(__file__).parent / "results" / "service_db.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
