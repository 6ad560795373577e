"""The `needs-model` command line."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(
    help="Needs: who will need which proactive public service soon.", no_args_is_help=True
)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Configure logging once, here, never at import."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


@app.command()
def simulate(
    people: Annotated[
        int, typer.Option(help="People in the province (1,500,000 = full size).")
    ] = 75_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bytes.")] = 0,
    start: Annotated[str, typer.Option(help="First simulated month, YYYY-MM.")] = "2021-01",
    end: Annotated[str, typer.Option(help="Last simulated month, YYYY-MM.")] = "2025-12",
    out: Annotated[Path, typer.Option(help="Folder for the extracts and truth/.")] = Path(
        "data/raw"
    ),
    overwrite: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
) -> None:
    """Simulate the digital-twin province and write its agency extracts, truth and calibration."""
    from needs_model.twin.province import simulate_province
    from needs_model.twin.simulate import SimulationSpec

    if out.exists() and any(out.iterdir()) and not overwrite:
        err_console.print(
            f"[red]error:[/] {out} already holds data; pass --overwrite to replace it."
        )
        raise typer.Exit(2)
    try:
        spec = SimulationSpec(people=people, seed=seed, start=start, end=end)
        spec.start_ym, spec.end_ym  # noqa: B018 - validates both months early
    except ValueError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from error
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total} months"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task(f"Simulating {people:,} people", total=None)
            province = simulate_province(
                spec,
                out,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
    except ValueError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from error
    rows, counts = province.calibration, province.rows_written
    elapsed = time.perf_counter() - started
    table = Table(title=f"Calibration ({people:,} people; published figures from FACTS.md)")
    for column in ("measure", "simulated", "published", "±", "ok"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.measure,
            f"{r.simulated:,.4g}",
            f"{r.published:,.4g}",
            f"{r.tolerance:,.3g}",
            "[green]yes[/]" if r.within else "[red]no[/]",
        )
    console.print(table)
    console.print(
        f"Wrote {sum(counts.values()):,} rows in {len(counts)} tables to {out} in {elapsed:.1f} s."
    )


@app.command()
def validate(
    folder: Annotated[Path, typer.Argument(help="Folder of agency extracts (the data contract).")],
    report: Annotated[
        Path | None,
        typer.Option(
            help="Where to write the report and quarantined rows "
            "(default: <FOLDER>_validation next to it)."
        ),
    ] = None,
) -> None:
    """Validate extracts against the contract; quarantine bad rows with their reasons."""
    from needs_model.extracts.validate import ContractViolation, validate_folder

    report_dir = report or folder.with_name(f"{folder.name}_validation")
    try:
        result = validate_folder(folder, report_dir)
    except ContractViolation as violation:
        err_console.print(f"[red]{folder} does not follow the data contract:[/]")
        for problem in violation.problems:
            err_console.print(f"  - {problem}")
        raise typer.Exit(1) from violation
    table = Table(title=f"Validation of {folder}")
    for column in ("table", "rows", "valid", "quarantined"):
        table.add_column(column, justify="right" if column != "table" else "left")
    for t in result.tables:
        table.add_row(t.table, f"{t.rows:,}", f"{t.valid:,}", f"{t.quarantined:,}")
    console.print(table)
    console.print(
        f"{result.quarantined:,} of {result.rows:,} rows quarantined; "
        f"report in {report_dir}/report.md"
    )


def _as_of(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        err_console.print(f"[red]error:[/] --as-of {text!r} is not a date YYYY-MM-DD")
        raise typer.Exit(2) from error


def _check_raw(raw: Path) -> None:
    """Stop with the contract's file-level problems (never a traceback)."""
    from needs_model.extracts import contract
    from needs_model.extracts.validate import schema_problems

    problems = [p for t in contract.TABLES for p in schema_problems(raw, t)]
    if problems:
        err_console.print(f"[red]{raw} does not follow the data contract:[/]")
        for problem in problems:
            err_console.print(f"  - {problem}")
        raise typer.Exit(1)


@app.command("link")
def link_command(
    raw: Annotated[Path, typer.Option(help="Folder of agency extracts.")] = Path("data/raw"),
    as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")] = "2025-06-30",
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default data/linked/<as-of>).")
    ] = None,
) -> None:
    """Link every agency's records into one profile per person and household, and write the
    cross-agency consistency report."""
    from needs_model.linking.consistency import TYPES, consistency_report, write_report
    from needs_model.linking.profiles import build_profiles

    day = _as_of(as_of)
    _check_raw(raw)
    target = out or Path("data/linked") / day.isoformat()
    started = time.perf_counter()
    with console.status(f"Linking records known on {day}"):
        profiles = build_profiles(raw, day)
        assert profiles.links is not None
        report = consistency_report(profiles.links, raw, day)
    target.mkdir(parents=True, exist_ok=True)
    profiles.people.drop(columns=["name_key"]).to_parquet(target / "people.parquet", index=False)
    profiles.households.to_parquet(target / "households.parquet", index=False)
    profiles.links.records.drop(columns=["name_key"]).to_parquet(
        target / "links.parquet", index=False
    )
    write_report(report, target, day)
    records = profiles.links.records
    linked = int(records["linked_cccd"].notna().sum())
    console.print(
        f"{len(profiles.people):,} people, {len(profiles.households):,} households; "
        f"{linked:,} of {len(records):,} agency records linked "
        f"({len(records) - linked:,} left unlinked and reported)."
    )
    table = Table(title=f"Disagreements between agencies on {day}")
    table.add_column("type")
    table.add_column("meaning")
    table.add_column("rows", justify="right")
    for kind, n in report["type"].value_counts().items():
        table.add_row(str(kind), TYPES.get(str(kind), ""), f"{n:,}")
    console.print(table)
    console.print(f"Wrote {target} in {time.perf_counter() - started:.1f} s.")


@app.command("features")
def features_command(
    raw: Annotated[Path, typer.Option(help="Folder of agency extracts.")] = Path("data/raw"),
    as_of: Annotated[
        str, typer.Option(help="Snapshot date: a month end, YYYY-MM-DD.")
    ] = "2025-06-30",
    through: Annotated[
        str | None, typer.Option(help="Also every month end up to this date (a training set).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/features"),
) -> None:
    """Point-in-time features and labels of every service for month-end snapshots."""
    from needs_model.features.build import is_month_end
    from needs_model.features.snapshots import build_snapshots, month_ends

    first = _as_of(as_of)
    last = _as_of(through) if through else first
    for day in (first, last):
        if not is_month_end(day):
            err_console.print(f"[red]error:[/] {day} is not a month end (snapshots are month ends)")
            raise typer.Exit(2)
    _check_raw(raw)
    days = month_ends(first, last)
    started = time.perf_counter()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} snapshots"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Building features", total=len(days))
        build_snapshots(raw, days, out, lambda done, total: progress.update(task, completed=done))
    table = Table(
        title=f"Features on {last}"
        + (f" ({len(days)} snapshots from {first})" if len(days) > 1 else "")
    )
    for column in ("service", "rows", "features", "label rate"):
        table.add_column(column, justify="left" if column == "service" else "right")
    from needs_model.catalogue.features import features_for
    from needs_model.catalogue.services import SERVICE_IDS

    for service_id in SERVICE_IDS:
        frame = pd.read_parquet(out / service_id / f"{last.isoformat()}.parquet")
        rate = frame["label"].mean()
        table.add_row(
            service_id,
            f"{len(frame):,}",
            str(len(features_for(service_id))),
            "n/a (horizon past the data)" if pd.isna(rate) else f"{rate:.3f}",
        )
    console.print(table)
    console.print(f"Wrote {out} in {time.perf_counter() - started:.1f} s.")


def _services(names: list[str] | None) -> list[str]:
    from needs_model.catalogue.services import SERVICE_IDS

    chosen = names or list(SERVICE_IDS)
    unknown = [n for n in chosen if n not in SERVICE_IDS]
    if unknown:
        err_console.print(
            f"[red]error:[/] unknown service(s) {', '.join(unknown)}; "
            f"known: {', '.join(SERVICE_IDS)}"
        )
        raise typer.Exit(2)
    return chosen


@app.command("train")
def train_command(
    features: Annotated[
        Path, typer.Option(help="Feature snapshots (needs-model features).")
    ] = Path("data/features"),
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all.")
    ] = None,
    raw: Annotated[
        Path | None,
        typer.Option(
            help="Extracts (for the manifest, and the oracle when they come from the twin)."
        ),
    ] = Path("data/raw"),
    fast: Annotated[bool, typer.Option(help="Small grid and fewer rounds (tests, demos).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train, calibrate and evaluate one model per service; log to MLflow as `challenger`."""
    from dataclasses import replace

    from needs_model.modelling.training import FAST, FULL
    from needs_model.modelling.workflow import train_services
    from needs_model.settings import get_settings

    chosen = _services(services)
    config = replace(FAST if fast else FULL, seed=seed)
    settings = get_settings()
    started = time.perf_counter()
    try:
        with console.status("Training") as status:
            results = train_services(
                features,
                chosen,
                config,
                settings,
                raw if raw is not None and raw.exists() else None,
                lambda s: status.update(f"Training {s}"),
            )
    except (FileNotFoundError, ValueError) as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    table = Table(title="Test-window evaluation (model / rule / logistic / oracle AUC)")
    for column in ("service", "version", "AUC", "rule", "logistic", "oracle", "PR-AUC", "ECE"):
        table.add_column(column, justify="left" if column == "service" else "right")
    for r in results:
        res = r.evaluation.results
        table.add_row(
            r.service_id,
            r.version,
            f"{res['model']['auc']:.3f}",
            f"{res['rule']['auc']:.3f}",
            f"{res['logistic']['auc']:.3f}",
            f"{res['oracle']['auc']:.3f}" if "oracle" in res else "-",
            f"{res['model']['pr_auc']:.3f}",
            f"{res['model']['ece']:.4f}",
        )
    console.print(table)
    console.print(
        f"Trained {len(results)} services in {time.perf_counter() - started:.1f} s; "
        f"runs in {settings.mlflow_tracking_uri}, reports in {settings.reports_dir}/."
    )


@app.command("promote")
def promote_command(
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 3 if any promotion is refused.")] = False,
) -> None:
    """Move `champion` to the newest `challenger` when it passes the gate; serve its bundle."""
    from needs_model.modelling.workflow import promote_service
    from needs_model.settings import get_settings

    settings = get_settings()
    refused = False
    for service_id in _services(services):
        result = promote_service(service_id, settings)
        if result.promoted:
            console.print(f"[green]{service_id}[/]: {result.message}")
        elif result.failures:
            refused = True
            console.print(f"[yellow]{service_id}[/]: not promoted (version {result.version}):")
            for failure in result.failures:
                console.print(f"    - {failure}")
        else:
            console.print(f"{service_id}: {result.message}")
    if refused and strict:
        raise typer.Exit(3)


@app.command("rollback")
def rollback_command(
    service: Annotated[str, typer.Option(help="Service to roll back.")],
) -> None:
    """Serve the previously served version again (and move `champion` back to it)."""
    from needs_model.modelling.workflow import rollback_service
    from needs_model.settings import get_settings

    (service_id,) = _services([service])
    result = rollback_service(service_id, get_settings())
    if not result.promoted:
        err_console.print(f"[red]error:[/] {service_id}: {'; '.join(result.failures)}")
        raise typer.Exit(1)
    console.print(f"{service_id}: {result.message}")


@app.command("score")
def score_command(
    raw: Annotated[Path, typer.Option(help="Folder of agency extracts.")] = Path("data/raw"),
    as_of: Annotated[
        str | None, typer.Option(help="Score as of this date (default: the data's end).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Scores folder (default NEEDS_SCORES_DIR).")
    ] = None,
    top_per_commune: Annotated[
        int, typer.Option(help="Explain at least this many subjects per commune and service.")
    ] = 20,
) -> None:
    """Score every eligible subject for every served service; write the scored snapshot."""
    from needs_model.features.snapshots import data_end
    from needs_model.modelling.promotion import BundleError
    from needs_model.scoring.batch import score
    from needs_model.settings import get_settings

    _check_raw(raw)
    settings = get_settings()
    day = _as_of(as_of) if as_of is not None else data_end(raw)
    try:
        folder = score(
            raw,
            day,
            settings.models_dir,
            out or settings.scores_dir,
            top_per_commune=top_per_commune,
            progress=console.print,
        )
    except BundleError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for service_id, reason in manifest["not_served"].items():
        console.print(f"[yellow]{service_id}[/]: not scored ({reason})")
    console.print(f"Scored as of {day} in {manifest['seconds']['total']:.1f} s -> {folder}")


keys_app = typer.Typer(
    help="API keys (stored hashed; the key is shown once).", no_args_is_help=True
)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")


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
        table.add_column(column)
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


@app.command("features-docs")
def features_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path("docs/features.md"),
) -> None:
    """Regenerate docs/features.md from the feature catalogue."""
    from needs_model.catalogue.features import render_markdown

    out.write_text(render_markdown(), encoding="utf-8")
    console.print(f"Wrote {out}")


@app.command("contract-docs")
def contract_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path(
        "docs/data-contract.md"
    ),
) -> None:
    """Regenerate the data-contract documentation from the schema objects."""
    from needs_model.extracts.contract import render_markdown

    out.write_text(render_markdown(), encoding="utf-8")
    console.print(f"Wrote {out}")


if __name__ == "__main__":  # `python -m needs_model.cli.main`
    app()
