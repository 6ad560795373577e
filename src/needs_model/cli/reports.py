"""The auditors' commands: report (model cards, data sheets and their index as offline
HTML) and explain (one citizen's printable explanation, read with an auditor's key and
written to the access log)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from needs_model.cli.common import console, err_console, known_services


def report_command(
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all served.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for index.html, models/ and sources/ (default NEEDS_REPORTS_DIR, reports)."
        ),
    ] = None,
) -> None:
    """Write the model card of each served service, a data sheet per agency extract and an
    index, as self-contained HTML (nothing is fetched when they are opened)."""
    from needs_model.reports.build import write_reports
    from needs_model.reports.model_card import ModelCardError
    from needs_model.settings import get_settings

    settings = get_settings()
    chosen = known_services(services) if services else None
    folder = out or settings.reports_dir
    start = time.perf_counter()
    try:
        written = write_reports(settings, folder, chosen)
    except ModelCardError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    cards = sum(w.path.parent.name == "models" for w in written)
    sheets = sum(w.path.parent.name == "sources" for w in written)
    console.print(
        f"Wrote {cards} model card(s), {sheets} data sheet(s) and {folder / 'index.html'} "
        f"in {time.perf_counter() - start:.1f} s."
    )


def explain_command(
    cccd: Annotated[str, typer.Option(help="The citizen's 12-digit CCCD.")],
    service: Annotated[str, typer.Option(help="The service (a catalogue id).")],
    key: Annotated[
        str,
        typer.Option(
            envvar="NEEDS_KEY",
            help="An auditor's or admin's API key (or NEEDS_KEY): the read is logged under it "
            "and limited to its scope.",
        ),
    ],
    purpose: Annotated[
        str | None, typer.Option(help="Why you ask (kept in the access log).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="The page to write (default explanation-<service>-<cccd>.html here)."),
    ] = None,
) -> None:
    """Write one citizen's explanation for one service on the newest scored snapshot: score,
    band, the waterfall of contributions, reasons, sources, the dossier with its flags, what
    to do if a record is wrong, and who read this citizen's data (this read included)."""
    from needs_model.reports.build import write_page
    from needs_model.reports.citizen import CaseError, explain
    from needs_model.settings import get_settings

    (service_id,) = known_services([service])
    try:
        done = explain(get_settings(), cccd, service_id, key, "needs-model explain", purpose)
    except CaseError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    file, page = done.file, done.page
    target = out or Path(f"explanation-{service_id}-{cccd}.html")
    write_page(target, page)
    console.print(f"Wrote {target} ({len(file.cases)} subject(s); the read is in the access log).")


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
    app.command("explain")(explain_command)
