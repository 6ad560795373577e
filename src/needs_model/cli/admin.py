"""The service's administration: API keys and the audit log."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from needs_model.cli.common import console, err_console

keys_app = typer.Typer(
    help="API keys (stored hashed; the key is shown once).", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _engine():  # type: ignore[no-untyped-def]
    from needs_model.governance.db import make_engine
    from needs_model.settings import get_settings

    return make_engine(get_settings().database_url)


def _expiry(text: str, now: dt.datetime) -> dt.datetime:
    """`90d`, `12h` or a date (YYYY-MM-DD, end of that day in Vietnam time)."""
    from needs_model.governance.access import VIETNAM

    amount, unit = text[:-1], text[-1:]
    if amount.isascii() and amount.isdigit() and unit in ("d", "h") and int(amount) > 0:
        delta = dt.timedelta(days=int(amount)) if unit == "d" else dt.timedelta(hours=int(amount))
        return now + delta
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"--expires {text!r} is not a duration (90d, 12h) or a date") from error
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), VIETNAM)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="planner, auditor, data_scientist or admin.")],
    scope: Annotated[
        str, typer.Option(help="province, district:XXX or commune:XXXXX (2025 code).")
    ] = "province",
    label: Annotated[str, typer.Option(help="Who holds the key (kept with it).")] = "",
    expires: Annotated[
        str | None,
        typer.Option(help="90d, 12h or YYYY-MM-DD (default: NEEDS_KEY_DAYS days, 90)."),
    ] = None,
    requests_per_minute: Annotated[
        int | None, typer.Option(min=1, help="This key's request budget (default: settings).")
    ] = None,
    personal_reads_per_day: Annotated[
        int | None,
        typer.Option(min=1, help="This key's daily personal-record quota (default: settings)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the key to this file (mode 0600) instead of standard output."),
    ] = None,
) -> None:
    """Create an API key; shows it once (only its hash is stored)."""
    from needs_model.governance.access import ROLES, ScopeError, create_key, parse_scope
    from needs_model.scoring.batch import communes_2025
    from needs_model.settings import get_settings

    if role not in ROLES:
        err_console.print(f"[red]error:[/] --role {role!r} is not one of {', '.join(ROLES)}")
        raise typer.Exit(2)
    units = communes_2025()
    now = dt.datetime.now(dt.UTC)
    try:
        parsed = parse_scope(scope, set(units.index), set(units["district_code"]))
        expires_at = _expiry(expires or f"{get_settings().key_days}d", now)
        if expires_at <= now:
            raise ValueError(f"--expires {expires} is in the past")
    except (ScopeError, ValueError) as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from error
    key_id, key = create_key(
        _engine(),
        role,
        parsed,
        label,
        expires_at=expires_at,
        requests_per_minute=requests_per_minute,
        personal_reads_per_day=personal_reads_per_day,
    )
    until = expires_at.astimezone(dt.UTC).isoformat(timespec="minutes")
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        os.chmod(out, 0o600)
        err_console.print(f"Created key {key_id} ({role}, {parsed}, expires {until}) in {out}")
        return
    err_console.print(
        f"Created key {key_id} ({role}, {parsed}, expires {until}). Store it now; it is not kept:"
    )
    print(key)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id.")]) -> None:
    """Revoke a key (it stops working at once)."""
    from needs_model.governance.access import revoke_key

    if not revoke_key(_engine(), key_id):
        err_console.print(f"[red]error:[/] no active key {key_id}")
        raise typer.Exit(1)
    console.print(f"Revoked {key_id}")


@keys_app.command("list")
def keys_list() -> None:
    """List keys (ids, roles, scopes; never secrets)."""
    from needs_model.governance.access import list_keys

    columns = (
        "key_id",
        "role",
        "scope",
        "label",
        "created_at",
        "expires_at",
        "revoked_at",
        "requests_per_minute",
        "personal_reads_per_day",
    )
    table = Table()
    for column in columns:
        table.add_column(column, no_wrap=column == "key_id")  # an id is copied whole
    for row in list_keys(_engine()):
        table.add_row(*(str(row[c] if row[c] is not None else "") for c in columns))
    console.print(table)


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="One checkpoint file (default: every one in the checkpoint folder)."),
    ] = None,
) -> None:
    """Check every link of the chain and its head against the checkpoints. Exit 1 if broken.

    The chain alone shows an entry changed, inserted or removed inside it; only checkpoints
    (taken by the API every NEEDS_AUDIT_CHECKPOINT_EVERY entries or hour, and by `audit
    checkpoint`) show a cut tail or a chain rewritten from some entry on.
    """
    from needs_model.governance import audit
    from needs_model.settings import get_settings

    settings = get_settings()
    if checkpoint is not None:
        marks = [json.loads(checkpoint.read_text(encoding="utf-8"))]
        where = str(checkpoint)
    else:
        marks = audit.load_checkpoints(settings.audit_checkpoint_dir)
        where = str(settings.audit_checkpoint_dir)
    result = audit.verify(_engine(), signing_key=settings.audit_signing_key, checkpoints=marks)
    if not result.ok:
        err_console.print(f"[red]audit log BROKEN[/] ({result.entries} entries):")
        for problem in result.problems:
            err_console.print(f"  - {problem}")
        raise typer.Exit(1)
    if marks:
        against = f", consistent with {len(marks)} checkpoint(s) up to entry " + str(
            max(int(m["seq"]) for m in marks)
        )
        if not any(m.get("signature") for m in marks):
            against += " (unsigned: set NEEDS_AUDIT_SIGNING_KEY)"
    else:
        against = f"; no checkpoint in {where}: a cut tail or a rewrite would not show"
    console.print(
        f"audit log OK: {result.entries} entries, head {result.head_seq} "
        f"{result.head_hash[:16]}…{against}"
    )


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[
        Path | None,
        typer.Option(help="File to write (default: into the checkpoint folder)."),
    ] = None,
) -> None:
    """Export the chain's head (HMAC-signed with NEEDS_AUDIT_SIGNING_KEY when set)."""
    from needs_model.governance import audit
    from needs_model.settings import get_settings

    settings = get_settings()
    mark = audit.checkpoint(_engine(), settings.audit_signing_key)
    if out is None:
        out = audit.write_checkpoint(settings.audit_checkpoint_dir, mark)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(mark, indent=2), encoding="utf-8")
    signed = "signed" if mark["signature"] else "unsigned (set NEEDS_AUDIT_SIGNING_KEY to sign)"
    console.print(f"Checkpoint at entry {mark['seq']} -> {out} ({signed})")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
    app.add_typer(audit_app, name="audit")
