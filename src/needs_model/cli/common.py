"""What every command shares: the consoles, and reading arguments into the package's types
(a clear error naming the argument, exit 2, never a traceback)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

# Tables are written whole when the output is not a terminal (a log, a pipe, CI), where
# rich would otherwise assume 80 columns and cut every cell; COLUMNS still wins.
LOG_WIDTH = 200
console = Console(
    soft_wrap=True,
    width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else LOG_WIDTH,
)
err_console = Console(stderr=True, soft_wrap=True)


def as_of_date(text: str, option: str = "--as-of") -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        err_console.print(f"[red]error:[/] {option} {text!r} is not a date YYYY-MM-DD")
        raise typer.Exit(2) from error


def check_raw(raw: Path) -> None:
    """Stop with the contract's file-level problems (never a traceback)."""
    from needs_model.extracts import contract
    from needs_model.extracts.validate import schema_problems

    problems = [p for t in contract.TABLES for p in schema_problems(raw, t)]
    if problems:
        err_console.print(f"[red]{raw} does not follow the data contract:[/]")
        for problem in problems:
            err_console.print(f"  - {problem}")
        raise typer.Exit(1)


@contextmanager
def stop_on_untrusted_store(what: str) -> Iterator[None]:
    """A models folder list that cannot be read (`promotion.ModelsFolderError`) or an MLflow
    store that keeps its runs elsewhere than configured (`tracking.StoreError`) as a clear
    error, exit 1: "<problem>; nothing was <what>". The library raises both before it
    changes anything."""
    from needs_model.modelling.promotion import ModelsFolderError
    from needs_model.modelling.tracking import StoreError

    try:
        yield
    except (ModelsFolderError, StoreError) as error:
        err_console.print(f"[red]error:[/] {error}; nothing was {what}")
        raise typer.Exit(1) from None


def known_services(names: list[str] | None) -> list[str]:
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


def progress_bar(unit: str) -> Progress:
    """A transient bar counting `unit` (months, snapshots) with the time elapsed."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


class Untrainable:
    """The services a command could not train (`train_services(on_error=...)`): each named
    with its reason as it happens, so the others still go on."""

    def __init__(self) -> None:
        self.services: list[str] = []

    def __call__(self, service_id: str, error: Exception) -> None:
        err_console.print(f"[red]error:[/] {error}")
        self.services.append(service_id)
