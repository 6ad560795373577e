"""The pipeline's commands: simulate, validate, link, features, score, and the generated docs.

Each command's folders default to the settings (NEEDS_RAW_DIR, NEEDS_LINKED_DIR,
NEEDS_FEATURES_DIR, NEEDS_SCORES_DIR; `settings.py`), so the CLI, a notebook and a test
find the same files.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from needs_model.cli.common import as_of_date, check_raw, console, err_console, progress_bar

RAW_HELP = "Folder of agency extracts (default NEEDS_RAW_DIR, data/raw)."


def simulate(
    people: Annotated[
        int, typer.Option(help="People in the province (1,500,000 = full size).")
    ] = 75_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same bytes.")] = 0,
    start: Annotated[str, typer.Option(help="First simulated month, YYYY-MM.")] = "2021-01",
    end: Annotated[str, typer.Option(help="Last simulated month, YYYY-MM.")] = "2025-12",
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the extracts and truth/ (default NEEDS_RAW_DIR, data/raw)."),
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing folder.")] = False,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME[@YYYY-MM] (repeatable): a change from that month (default 2025-01; "
            "storm-season 2025-06, in time for the Sep-Nov season); "
            "names in needs_model.twin.scenarios (storm-season, out-migration-wave, ...)."
        ),
    ] = None,
) -> None:
    """Simulate the digital-twin province and write its agency extracts, truth and calibration."""
    from needs_model.settings import get_settings
    from needs_model.twin.params import TwinParameters
    from needs_model.twin.province import simulate_province
    from needs_model.twin.scenarios import parse_scenario
    from needs_model.twin.simulate import SimulationSpec

    try:
        params = TwinParameters().with_scenarios(*(parse_scenario(s) for s in scenario or []))
    except ValueError as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(2) from error

    out = out or get_settings().raw_dir

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
        with progress_bar("months") as progress:
            task = progress.add_task(f"Simulating {people:,} people", total=None)
            province = simulate_province(
                spec,
                out,
                params,
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
    from needs_model.extracts.validate import (
        ContractViolation,
        default_report_dir,
        validate_folder,
    )

    report_dir = report or default_report_dir(folder)
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


def link_command(
    raw: Annotated[Path | None, typer.Option(help=RAW_HELP)] = None,
    as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")] = "2025-06-30",
    out: Annotated[
        Path | None,
        typer.Option(help="Output folder (default <NEEDS_LINKED_DIR>/<as-of>, data/linked)."),
    ] = None,
) -> None:
    """Link every agency's records to one identity per person; write the link review and the
    consistency report for the data stewards.

    The linked profiles are not written: every stage builds its own from the extracts.
    """
    from needs_model.linking.consistency import TYPES, consistency_report
    from needs_model.linking.profiles import build_profiles
    from needs_model.linking.review import review_folder, write_review
    from needs_model.settings import get_settings

    day = as_of_date(as_of)
    raw = raw or get_settings().raw_dir
    check_raw(raw)
    target = out or review_folder(get_settings().linked_dir, day)
    started = time.perf_counter()
    with console.status(f"Linking records known on {day}"):
        profiles = build_profiles(raw, day)
        assert profiles.links is not None
        report = consistency_report(profiles.links, raw, day)
    write_review(profiles.links, report, target, day)
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


def features_command(
    raw: Annotated[Path | None, typer.Option(help=RAW_HELP)] = None,
    as_of: Annotated[
        str, typer.Option(help="Snapshot date: a month end, YYYY-MM-DD.")
    ] = "2025-06-30",
    through: Annotated[
        str | None, typer.Option(help="Also every month end up to this date (a training set).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default NEEDS_FEATURES_DIR, data/features).")
    ] = None,
) -> None:
    """Point-in-time features and labels of every service for month-end snapshots."""
    from needs_model.features.build import is_month_end
    from needs_model.features.snapshots import build_snapshots, month_ends, read_snapshot
    from needs_model.settings import get_settings

    settings = get_settings()
    raw, out = raw or settings.raw_dir, out or settings.features_dir
    first = as_of_date(as_of)
    last = as_of_date(through) if through else first
    for day in (first, last):
        if not is_month_end(day):
            err_console.print(f"[red]error:[/] {day} is not a month end (snapshots are month ends)")
            raise typer.Exit(2)
    check_raw(raw)
    days = month_ends(first, last)
    started = time.perf_counter()
    with progress_bar("snapshots") as progress:
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
        frame = read_snapshot(out, service_id, last)
        rate = frame["label"].mean()
        table.add_row(
            service_id,
            f"{len(frame):,}",
            str(len(features_for(service_id))),
            "n/a (horizon past the data)" if pd.isna(rate) else f"{rate:.3f}",
        )
    console.print(table)
    console.print(f"Wrote {out} in {time.perf_counter() - started:.1f} s.")


def score_command(
    raw: Annotated[Path | None, typer.Option(help=RAW_HELP)] = None,
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
    from needs_model.extracts.validate import ContractViolation
    from needs_model.features.snapshots import data_end
    from needs_model.modelling.promotion import BundleError
    from needs_model.scoring.batch import score
    from needs_model.scoring.snapshot import ScoredSnapshot
    from needs_model.settings import get_settings

    settings = get_settings()
    raw = raw or settings.raw_dir
    check_raw(raw)
    day = as_of_date(as_of) if as_of is not None else data_end(raw)
    try:
        folder = score(
            raw,
            day,
            settings.models_dir,
            out or settings.scores_dir,
            top_per_commune=top_per_commune,
            progress=console.print,
        )
    except (BundleError, ContractViolation) as error:
        err_console.print(f"[red]error:[/] {error}")
        raise typer.Exit(1) from error
    manifest = ScoredSnapshot(folder).manifest()
    for service_id, reason in manifest["not_served"].items():
        console.print(f"[yellow]{service_id}[/]: not scored ({reason})")
    console.print(f"Scored as of {day} in {manifest['seconds']['total']:.1f} s -> {folder}")


def features_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path("docs/features.md"),
) -> None:
    """Regenerate docs/features.md from the feature catalogue."""
    from needs_model.catalogue.features import render_markdown

    out.write_text(render_markdown(), encoding="utf-8")
    console.print(f"Wrote {out}")


def contract_docs(
    out: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path(
        "docs/data-contract.md"
    ),
) -> None:
    """Regenerate the data-contract documentation from the schema objects."""
    from needs_model.extracts.contract import render_markdown

    out.write_text(render_markdown(), encoding="utf-8")
    console.print(f"Wrote {out}")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(validate)
    app.command("link")(link_command)
    app.command("features")(features_command)
    app.command("score")(score_command)
    app.command("features-docs")(features_docs)
    app.command("contract-docs")(contract_docs)
