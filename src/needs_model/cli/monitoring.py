"""The monitoring commands: monitor (drift, data quality and matured performance of the
champions), monitor-replay (the kept months decided again under other thresholds) and
retrain (what monitoring flagged, through the gate)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from needs_model.cli.common import (
    Untrainable,
    console,
    err_console,
    known_services,
    stop_on_untrusted_store,
)
from needs_model.cli.models import promote_and_say

if TYPE_CHECKING:
    from needs_model.monitoring.thresholds import Thresholds
    from needs_model.settings import Settings

STATUS_STYLE = {"ok": "green", "warn": "yellow", "retrain": "red"}

THRESHOLDS_HELP = (
    "JSON file of monitoring thresholds to use instead of the defaults (an object of "
    "name: value, names as in a summary's `thresholds`; default NEEDS_MONITOR_THRESHOLDS)."
)


def chosen_thresholds(path: Path | None, settings: Settings) -> Thresholds:
    """The thresholds of `path`, else of NEEDS_MONITOR_THRESHOLDS, else the defaults; a
    file that cannot be used stops the command naming the problem (exit 2)."""
    from needs_model.monitoring.thresholds import Thresholds, ThresholdsError, load_thresholds

    path = path or settings.monitor_thresholds
    if path is None:
        return Thresholds()
    try:
        return load_thresholds(path)
    except ThresholdsError as error:
        err_console.print(f"[red]error:[/] thresholds {error}")
        raise typer.Exit(2) from error


def monitor_command(
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Month end to monitor (YYYY-MM-DD); default the newest feature snapshot.",
        ),
    ] = None,
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all served.")
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(help="Feature snapshots (default NEEDS_FEATURES_DIR, data/features)."),
    ] = None,
    thresholds: Annotated[Path | None, typer.Option(help=THRESHOLDS_HELP)] = None,
    strict: Annotated[
        bool, typer.Option(help="Exit 3 if a service needs retraining or cannot be monitored.")
    ] = False,
) -> None:
    """Compare each champion's newest month end with the year it was trained up to
    (Evidently), judge matured labels, and write reports/monitoring/<as_of>/<service>/
    (status ok, warn or retrain, with the reasons)."""
    from needs_model.modelling.promotion import current_version
    from needs_model.monitoring.run import available_snapshots, monitor
    from needs_model.settings import get_settings

    settings = get_settings()
    limits = chosen_thresholds(thresholds, settings)
    features = features or settings.features_dir
    chosen = [
        s for s in known_services(services) if current_version(settings.models_dir, s) is not None
    ]
    if not chosen:
        err_console.print(f"[red]error:[/] no served model under {settings.models_dir}")
        raise typer.Exit(1)
    if as_of is None:
        dates = available_snapshots(features, chosen[0])
        if not dates:
            err_console.print(f"[red]error:[/] no feature snapshots under {features}")
            raise typer.Exit(1)
        day = dates[-1]
    else:
        try:
            day = dt.date.fromisoformat(as_of)
        except ValueError as error:
            err_console.print(f"[red]error:[/] --as-of {as_of!r} is not a date (YYYY-MM-DD)")
            raise typer.Exit(2) from error
    started = time.perf_counter()
    with console.status(f"Monitoring {day}"), stop_on_untrusted_store("monitored"):
        results, errors = monitor(day, chosen, settings, features, thresholds=limits)
    table = Table(title=f"Monitoring on {day}")
    for column in ("service", "status", "reasons"):
        table.add_column(column)
    for r in results:
        style = STATUS_STYLE[r.status]
        table.add_row(r.service_id, f"[{style}]{r.status}[/]", "\n".join(r.reasons) or "-")
    console.print(table)
    for problem in errors:
        err_console.print(f"[yellow]not monitored:[/] {problem}")
    console.print(
        f"Monitored {len(results)} service(s) in {time.perf_counter() - started:.1f} s; "
        f"reports in {settings.reports_dir / 'monitoring' / day.isoformat()}."
    )
    if strict and (errors or any(r.status == "retrain" for r in results)):
        raise typer.Exit(3)


def replay_command(
    thresholds: Annotated[Path | None, typer.Option(help=THRESHOLDS_HELP)] = None,
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all monitored.")
    ] = None,
    first: Annotated[
        str | None, typer.Option("--from", help="First month end (YYYY-MM-DD); default all.")
    ] = None,
    last: Annotated[
        str | None, typer.Option("--to", help="Last month end (YYYY-MM-DD); default all.")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write every service-month, decided again, as JSON.")
    ] = None,
) -> None:
    """Decide the months already monitored again under other thresholds, without measuring
    again (their summaries keep the drift, findings and matured labels): how many alarms
    each threshold would have raised, and which reasons come and go. Rewrites nothing."""
    import json

    from needs_model.cli.common import as_of_date
    from needs_model.monitoring.replay import replay
    from needs_model.settings import get_settings

    settings = get_settings()
    limits = chosen_thresholds(thresholds, settings)
    bounds = [
        as_of_date(text, option).isoformat() if text else None
        for text, option in ((first, "--from"), (last, "--to"))
    ]
    chosen = known_services(services) if services else None
    result = replay(settings.reports_dir, limits, chosen, *bounds)
    for problem in result.problems:
        err_console.print(f"[yellow]not decided again:[/] {problem}")
    if not result.months:
        err_console.print(
            f"[red]error:[/] no monitored month to decide again under "
            f"{settings.reports_dir / 'monitoring'} (needs-model monitor writes them)"
        )
        raise typer.Exit(1)
    services_table = Table(title="Alarms (warn or retrain) per service")
    for column in ("service", "months", "as kept", "under these thresholds"):
        services_table.add_column(column)
    for service_id, counts in result.by_service().items():
        services_table.add_row(service_id, *(str(c) for c in counts))
    console.print(services_table)
    changed = [m for m in result.months if m.changed]
    if changed:
        table = Table(title="Months decided otherwise")
        for column in ("month end", "service", "kept", "now", "reasons gone", "reasons new"):
            table.add_column(column)
        for m in changed:
            table.add_row(
                m.as_of,
                m.service_id,
                f"[{STATUS_STYLE[m.kept_status]}]{m.kept_status}[/]",
                f"[{STATUS_STYLE[m.status]}]{m.status}[/]",
                "\n".join(m.reasons_gone) or "-",
                "\n".join(m.reasons_new) or "-",
            )
        console.print(table)
    n = len(result.months)
    console.print(
        f"Alarms: {result.kept_alarms} of {n} service-months as kept, {result.alarms} of {n} "
        f"under these thresholds; {len(changed)} decided otherwise. Nothing was rewritten."
    )
    if out is not None:
        rows = [
            {
                "as_of": m.as_of,
                "service_id": m.service_id,
                "kept": {"status": m.kept_status, "reasons": m.kept_reasons},
                "now": {"status": m.status, "reasons": m.reasons},
            }
            for m in result.months
        ]
        payload = {"thresholds": limits.as_dict(), "months": rows, "problems": result.problems}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=1, ensure_ascii=False), encoding="utf-8")
        console.print(f"Written to {out}.")


def retrain_command(
    if_needed: Annotated[
        bool,
        typer.Option(
            "--if-needed", help="Only the services the latest monitoring marked `retrain`."
        ),
    ] = False,
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all.")
    ] = None,
    features: Annotated[
        Path | None,
        typer.Option(help="Feature snapshots (default NEEDS_FEATURES_DIR, data/features)."),
    ] = None,
    raw: Annotated[
        Path | None,
        typer.Option(help="Extracts, for the run's manifest and the twin's oracle (optional)."),
    ] = None,
    fast: Annotated[bool, typer.Option(help="Small grid and fewer rounds (tests, demos).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train challengers (as `train`) and let the gate decide (as `promote`); with
    --if-needed, only for the services the latest `monitor` marked `retrain`."""
    from dataclasses import replace

    from needs_model.modelling.promotion import served_inputs
    from needs_model.modelling.training import FAST, FULL
    from needs_model.modelling.workflow import train_services
    from needs_model.monitoring.kept import services_to_retrain
    from needs_model.settings import get_settings

    settings = get_settings()
    chosen = known_services(services)
    if if_needed:
        latest = services_to_retrain(settings.reports_dir)
        if latest is None:
            err_console.print(
                "[red]error:[/] no monitoring has run (needs-model monitor), so nothing says "
                "what needs retraining"
            )
            raise typer.Exit(1)
        as_of, flagged = latest
        chosen = [s for s in chosen if s in flagged]
        if not chosen:
            console.print(f"Nothing to retrain: the monitoring of {as_of} marked none `retrain`.")
            return
        console.print(f"Retraining {', '.join(chosen)} (marked `retrain` on {as_of}).")
    features = features or settings.features_dir
    raw = raw or settings.raw_dir
    config = replace(FAST if fast else FULL, seed=seed)
    # One service at a time: a service that cannot be trained (too few rows, one class) is
    # named and skipped, and the others still reach the gate.
    failed = Untrainable()
    for service_id in chosen:
        # The served model's inputs, kept when a data scientist chose them.
        inputs = served_inputs(settings.models_dir, service_id)
        with console.status(f"Training {service_id}"), stop_on_untrusted_store("retrained"):
            trained = train_services(
                features,
                [service_id],
                replace(config, features=inputs),
                settings,
                raw if raw.exists() else None,
                on_error=failed,
            )
        if trained:
            promote_and_say(service_id, settings)
    if failed.services:
        err_console.print(f"[red]Not retrained:[/] {', '.join(failed.services)} (see above).")
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_command)
    app.command("monitor-replay")(replay_command)
    app.command("retrain")(retrain_command)
