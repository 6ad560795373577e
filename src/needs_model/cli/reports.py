"""The auditors' commands: report (model cards, data sheets and their index as offline
HTML)."""

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


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
