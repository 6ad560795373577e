"""The audit log: every read recorded, the chain verifiable, tampering and truncation caught,
concurrent writers and `kill -9` never fork or corrupt it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from needs_model.cli.main import app as cli
from needs_model.governance import audit
from needs_model.governance.db import make_engine
from needs_model.settings import get_settings

KEY = "signing-key-for-tests"


def test_every_read_is_logged_with_who_what_whom_and_why(api, subjects):
    cccd = str(subjects["birth_registration"].sort_values("probability").subject_id.iloc[-1])
    api.get(f"/v1/citizens/{cccd}/needs", params={"purpose": "birth outreach April"})
    api.post("/v1/predictions", who="planner_commune", json={"cccds": [cccd]})
    api.get("/v1/services/birth_registration/candidates", params={"limit": 3})
    log = api.get("/v1/audit/log", who="auditor", params={"limit": 500}).json()["entries"]
    needs = [e for e in log if e["action"] == "read_needs_and_dossiers" and cccd in e["subjects"]]
    assert needs and needs[-1]["purpose"] == "birth outreach April"
    assert needs[-1]["role"] == "planner" and needs[-1]["key_id"]
    candidates = [e for e in log if e["action"] == "read_candidates"]
    assert candidates and len(candidates[-1]["subjects"]) >= 3
    access = api.get(f"/v1/citizens/{cccd}/access-log", who="auditor").json()["accesses"]
    actions = [a["action"] for a in access]
    assert "read_needs_and_dossiers" in actions
    assert "denied" not in actions  # a 404 for an out-of-scope key reads nothing
    assert audit.verify(api.engine).ok


def test_403s_are_logged_as_denied(api):
    before = audit.count(api.engine)
    assert api.get("/v1/audit/log", who="planner").status_code == 403
    entries = audit.read(api.engine, after_seq=before)
    assert [e["action"] for e in entries] == ["denied"]


@pytest.fixture
def chain(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    for i in range(20):
        audit.append(
            engine,
            key_id="k1",
            role="planner",
            action="predict",
            route="POST /v1/predictions",
            subjects=[f"04918333{i:04d}"],
            purpose="test" if i % 2 else None,
        )
    return engine


def test_an_untouched_chain_verifies(chain):
    result = audit.verify(chain, audit.checkpoint(chain, KEY), KEY)
    assert result.ok, result.problems
    assert (result.entries, result.head_seq) == (20, 20)


def test_changing_an_entry_is_caught_at_that_entry(chain):
    with chain.begin() as c:
        c.execute(text("UPDATE audit_log SET purpose = 'innocent' WHERE seq = 7"))
    problems = audit.verify(chain).problems
    assert problems == ["entry 7: contents do not match its hash"]


def test_deleting_an_entry_is_caught(chain):
    with chain.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq = 12"))
        c.execute(text("DELETE FROM audit_subjects WHERE seq = 12"))
    problems = audit.verify(chain).problems
    assert any("12..12 are missing" in p for p in problems)
    assert any("entry 13: does not link" in p for p in problems)


def test_truncating_the_tail_is_caught_by_the_checkpoint(chain):
    mark = audit.checkpoint(chain, KEY)
    with chain.begin() as c:
        c.execute(text("DELETE FROM audit_log WHERE seq > 15"))
        c.execute(text("DELETE FROM audit_subjects WHERE seq > 15"))
    assert audit.verify(chain).ok  # a clean prefix looks fine on its own...
    problems = audit.verify(chain, mark, KEY).problems
    assert any("entries were removed from the end" in p for p in problems)


def test_rewriting_the_whole_chain_is_caught_by_the_checkpoint(chain):
    mark = audit.checkpoint(chain, KEY)
    with chain.begin() as c:
        rows = c.execute(text("SELECT * FROM audit_log ORDER BY seq")).mappings().all()
        prev = audit.GENESIS
        for row in rows:
            entry = {k: row[k] for k in audit.HASHED}
            entry["subjects"] = json.loads(row["subjects"])
            entry["details"] = json.loads(row["details"])
            if row["seq"] == 3:
                entry["purpose"] = "rewritten"
            digest = audit.entry_hash(prev, entry)
            c.execute(
                text("UPDATE audit_log SET purpose=:p, prev_hash=:prev, hash=:h WHERE seq=:s"),
                {"p": entry["purpose"], "prev": prev, "h": digest, "s": row["seq"]},
            )
            prev = digest
    assert audit.verify(chain).ok  # a recomputed chain is self-consistent...
    problems = audit.verify(chain, mark, KEY).problems
    assert problems == ["entry 20 differs from the checkpoint: the log was rewritten"]


def test_a_forged_checkpoint_is_caught_by_its_signature(chain):
    mark = audit.checkpoint(chain, KEY)
    forged = {**mark, "seq": 10, "hash": "f" * 64}
    problems = audit.verify(chain, forged, KEY).problems
    assert any("signature is wrong" in p for p in problems)


def test_editing_the_per_citizen_index_is_caught(chain):
    with chain.begin() as c:
        c.execute(text("DELETE FROM audit_subjects WHERE seq = 4"))
    assert any("per-citizen index" in p for p in audit.verify(chain).problems)


WRITER = """
import sys
from needs_model.governance import audit
from needs_model.governance.db import make_engine
engine = make_engine(sys.argv[1])
for i in range(int(sys.argv[3])):
    audit.append(engine, key_id=sys.argv[2], role="planner", action="predict",
                 route="POST /v1/predictions", subjects=[f"0491{i:08d}"])
    if i == 0:
        print("started", flush=True)
"""


def _writer(url: str, name: str, count: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, name, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_concurrent_writers_never_fork_the_chain(tmp_path):
    url = f"sqlite:///{tmp_path}/audit.db"
    make_engine(url)
    writers = [_writer(url, f"w{i}", 150) for i in range(4)]
    for w in writers:
        w.communicate(timeout=120)
        assert w.returncode == 0
    engine = make_engine(url)
    result = audit.verify(engine)
    assert result.ok, result.problems
    assert result.entries == 600
    with engine.connect() as c:
        per_writer = dict(
            c.execute(text("SELECT key_id, COUNT(*) FROM audit_log GROUP BY 1")).all()
        )
    assert per_writer == {f"w{i}": 150 for i in range(4)}


def test_kill_9_during_writes_leaves_a_valid_chain(tmp_path):
    url = f"sqlite:///{tmp_path}/audit.db"
    make_engine(url)
    for round_ in range(3):
        writers = [_writer(url, f"r{round_}w{i}", 100_000) for i in range(2)]
        for w in writers:
            assert w.stdout is not None and w.stdout.readline().strip() == "started"
        time.sleep(0.3 + 0.2 * round_)
        for w in writers:
            os.kill(w.pid, signal.SIGKILL)
            w.communicate()
        result = audit.verify(make_engine(url))
        assert result.ok, (round_, result.problems)
        assert result.entries > 0
    engine = make_engine(url)
    before = audit.verify(engine).entries
    audit.append(engine, key_id="after", role="admin", action="predict", route="x")
    assert audit.verify(engine).entries == before + 1


def test_cli_verify_and_checkpoint(chain, tmp_path, monkeypatch):
    url = str(chain.url)
    monkeypatch.setenv("NEEDS_DATABASE_URL", url)
    monkeypatch.setenv("NEEDS_AUDIT_SIGNING_KEY", KEY)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        mark = tmp_path / "head.json"
        result = runner.invoke(cli, ["audit", "checkpoint", "--out", str(mark)])
        assert result.exit_code == 0, result.output
        assert json.loads(mark.read_text())["signature"]
        ok = runner.invoke(cli, ["audit", "verify", "--checkpoint", str(mark)])
        assert ok.exit_code == 0 and "audit log OK: 20 entries" in ok.output
        with chain.begin() as c:
            c.execute(text("DELETE FROM audit_log WHERE seq = 20"))
        broken = runner.invoke(cli, ["audit", "verify", "--checkpoint", str(mark)])
        assert broken.exit_code == 1
        assert "removed from the end" in broken.output
    finally:
        get_settings.cache_clear()


def test_cli_creates_keys_with_valid_roles_and_scopes_only(tmp_path, monkeypatch):
    monkeypatch.setenv("NEEDS_DATABASE_URL", f"sqlite:///{tmp_path}/keys.db")
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        made = runner.invoke(cli, ["keys", "create", "--role", "planner", "--scope", "province"])
        assert made.exit_code == 0, made.output
        assert made.stdout.strip().splitlines()[-1].startswith("needs_")
        for args in (["--role", "mayor"], ["--role", "planner", "--scope", "commune:00001"]):
            bad = runner.invoke(cli, ["keys", "create", *args])
            assert bad.exit_code == 2
        assert Path(f"{tmp_path}/keys.db").exists()
    finally:
        get_settings.cache_clear()


# --- Refusals, paging, bounds, scheduled checkpoints and volume alerts ([hardening]) ---


def _entries_since(api, before: int) -> list[dict]:
    return audit.read(api.engine, after_seq=before, limit=1000)


def test_not_found_and_refused_reads_are_logged_with_the_key(api, subjects):
    """Probing leaves a trace: an unknown or out-of-scope citizen (404), a commune outside
    the scope and `explain=full` for a planner (403) are audit entries with the key id."""
    unknown = "049187909200"
    while api.store.people.get(unknown) is not None:
        unknown = f"{int(unknown) + 1:012d}"
    outside = next(
        c
        for c in subjects["birth_registration"].subject_id.astype(str)
        if api.store.people.get(c) and api.store.people.get(c)["commune_code"] != api.commune
    )
    other_commune = api.store.people.get(outside)["commune_code"]
    probes = [
        ("GET", f"/v1/citizens/{unknown}/needs", {}, "planner", 404, unknown),
        ("GET", f"/v1/citizens/{outside}/needs", {}, "planner_commune", 404, outside),
        ("GET", f"/v1/citizens/{outside}/access-log", {}, "auditor", 200, None),
        ("POST", "/v1/predictions", {"json": {"cccds": [unknown]}}, "planner", 404, unknown),
        (
            "GET",
            "/v1/services/birth_registration/candidates",
            {"params": {"commune": other_commune}},
            "planner_commune",
            403,
            None,
        ),
        ("POST", "/v1/predictions", {"json": {"cccds": [outside], "explain": "full"}},
         "planner", 403, None),
    ]  # fmt: skip
    key_ids = {who: key.split("_")[1] for who, key in api.keys.items()}
    for method, path, kwargs, who, status, attempted in probes:
        before = audit.head(api.engine)
        call = api.get if method == "GET" else api.post
        response = call(path, who=who, **kwargs)
        assert response.status_code == status, (path, response.text)
        entries = _entries_since(api, before)
        assert len(entries) == 1, (path, entries)
        entry = entries[0]
        assert entry["key_id"] == key_ids[who]
        if status == 200:
            continue
        assert entry["action"] == {403: "denied", 404: "not_found"}[status]
        assert entry["details"]["status"] == status
        template = path.replace(unknown, "{cccd}").replace(outside, "{cccd}")
        template = template.replace("birth_registration", "{service_id}")
        assert entry["route"] == f"{method} {template}"  # the template, never the CCCD
        assert entry["details"].get("attempted") == attempted
        assert entry["subjects"] == []  # an attempt reads nothing: not in anyone's access log
    assert audit.verify(api.engine).ok


def test_a_huge_cursor_is_a_422_not_a_500(api):
    for params in ({"after": 9223372036854775808}, {"after": 2**53 + 1}, {"until": 0}):
        response = api.get("/v1/audit/log", who="auditor", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["error"]["field"] in ("after", "until")
    cccd = next(iter(api.store.by_cccd))
    response = api.get(f"/v1/citizens/{cccd}/access-log", who="auditor", params={"before": 2**63})
    assert response.status_code == 422 and response.json()["error"]["field"] == "before"
    # The connection still serves the next request.
    assert api.get("/v1/audit/log", who="auditor", params={"limit": 1}).status_code == 200


def test_the_access_log_is_newest_first_paged_and_counted(api):
    """After 1,005 reads of one citizen every read is reachable, newest first, with a total."""
    cccd = next(c for c in api.store.by_cccd if api.store.people.get(c) is not None)
    already = audit.count_subject(api.engine, cccd)
    for i in range(1005):
        audit.append(
            api.engine,
            key_id="reader",
            role="planner",
            action="read_needs_and_dossiers",
            route="GET /v1/citizens/{cccd}/needs",
            subjects=[cccd],
            purpose=f"read {i}",
        )
    first = api.get(f"/v1/citizens/{cccd}/access-log", who="auditor", params={"limit": 500})
    body = first.json()
    assert body["total"] == already + 1005
    assert body["accesses"][0]["purpose"] == "read 1004"  # the newest read comes first
    seen = [a["seq"] for a in body["accesses"]]
    before = body["next_before"]
    while before is not None:
        page = api.get(
            f"/v1/citizens/{cccd}/access-log",
            who="auditor",
            params={"limit": 500, "before": before},
        ).json()
        seen += [a["seq"] for a in page["accesses"]]
        before = page["next_before"]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen)
    assert len(seen) == already + 1005


def test_paging_the_audit_log_ends_at_the_head_it_started_from(api):
    """Each page is itself logged, so the log grows while it is read; paging with the first
    page's `until` ends anyway, having seen every entry up to it exactly once."""
    first = api.get("/v1/audit/log", who="auditor", params={"limit": 50}).json()
    until = first["until"]
    assert until == first["head"] >= 50
    seqs = [e["seq"] for e in first["entries"]]
    after, pages = first["next_after"], 1
    while after is not None:
        page = api.get(
            "/v1/audit/log", who="auditor", params={"limit": 50, "after": after, "until": until}
        ).json()
        seqs += [e["seq"] for e in page["entries"]]
        after, pages = page["next_after"], pages + 1
        assert pages <= until // 50 + 2, "paging did not stop at the head"
    assert seqs == list(range(1, until + 1))
    assert audit.head(api.engine) > until  # the reads were logged meanwhile


def test_the_api_takes_signed_checkpoints_on_a_schedule_and_verify_uses_them(
    served, tmp_path, monkeypatch
):
    """Every N entries a signed checkpoint lands outside the database; `audit verify` (no
    argument) then catches a cut tail and a suffix rewrite that the chain alone misses."""
    from fastapi.testclient import TestClient

    from api.main import create_app
    from needs_model.governance.access import Scope, create_key

    url = f"sqlite:///{tmp_path}/service.db"
    settings = served.settings.model_copy(
        update={
            "database_url": url,
            "audit_checkpoint_dir": tmp_path / "checkpoints",
            "audit_checkpoint_every": 5,
        }
    )
    engine = make_engine(url)
    key = create_key(engine, "data_scientist", Scope("province"))[1]
    app = create_app(settings, store=served.store, engine=engine)
    with TestClient(app) as client:
        for _ in range(12):
            client.get("/v1/outcomes/summary", headers={"Authorization": f"Bearer {key}"})
    marks = audit.load_checkpoints(tmp_path / "checkpoints")
    assert [m["seq"] for m in marks] == [5, 10, 12]  # every 5 entries, and at shutdown
    assert all(m["signature"] for m in marks)
    monkeypatch.setenv("NEEDS_DATABASE_URL", url)
    monkeypatch.setenv("NEEDS_AUDIT_SIGNING_KEY", settings.audit_signing_key)
    monkeypatch.setenv("NEEDS_AUDIT_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        ok = runner.invoke(cli, ["audit", "verify"])
        assert ok.exit_code == 0 and "3 checkpoint(s) up to entry 12" in ok.output, ok.output
        with engine.begin() as c:  # cut the tail: the chain alone still verifies
            c.execute(text("DELETE FROM audit_log WHERE seq > 11"))
        assert audit.verify(engine).ok
        cut = runner.invoke(cli, ["audit", "verify"])
        assert cut.exit_code == 1 and "removed from the end" in cut.output
    finally:
        get_settings.cache_clear()


def test_a_key_reading_far_more_than_usual_raises_one_alert_a_day(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/audit.db")
    from needs_model.governance.access import usage_day

    today = dt.date.fromisoformat(usage_day())
    with engine.begin() as c:
        for back in range(1, 11):  # ten ordinary days of about 100 personal reads
            c.execute(
                text("INSERT INTO key_usage VALUES ('k1', :d, 10, :n, NULL)"),
                {"d": (today - dt.timedelta(days=back)).isoformat(), "n": 95 + back},
            )
    policy = audit.VolumePolicy(factor=3.0, floor=200)

    def read(n: int) -> None:
        audit.append(
            engine,
            key_id="k1",
            role="planner",
            action="read_candidates",
            route="GET /v1/services/{service_id}/candidates",
            personal_reads=n,
            volume=policy,
        )

    read(200)
    read(100)  # 300 today: under 3 x the median of 100.5
    assert not audit.read(engine, actions=["volume_alert"])
    read(5)  # 305 > 301.5
    read(200)
    alerts = audit.read(engine, actions=["volume_alert"])
    assert len(alerts) == 1
    assert alerts[0]["key_id"] == "k1"
    assert alerts[0]["details"]["personal_reads_today"] == 305
    assert alerts[0]["details"]["usual_per_day"] == 100.5
    assert audit.verify(engine).ok
