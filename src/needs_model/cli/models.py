"""The models' commands: train, promote, rollback (MLflow runs, the registry, served bundles)."""

from __future__ import annotations

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

if TYPE_CHECKING:
    from needs_model.modelling.workflow import PromotionResult
    from needs_model.settings import Settings


def train_command(
    features: Annotated[
        Path | None,
        typer.Option(help="Feature snapshots (default NEEDS_FEATURES_DIR, data/features)."),
    ] = None,
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all.")
    ] = None,
    raw: Annotated[
        Path | None,
        typer.Option(
            help="Extracts, for the run's manifest and, when they come from the twin, the "
            "oracle (default NEEDS_RAW_DIR, data/raw; skipped if absent)."
        ),
    ] = None,
    fast: Annotated[bool, typer.Option(help="Small grid and fewer rounds (tests, demos).")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    inputs: Annotated[
        list[str] | None,
        typer.Option(
            "--feature",
            help="The model's inputs, named from the catalogue (repeat; docs/features.md): "
            "some of the service's own, optional ones among them. Default: the service's own. "
            "With one --service only.",
        ),
    ] = None,
) -> None:
    """Train, calibrate and evaluate one model per service; log to MLflow as `challenger`."""
    from dataclasses import replace

    from needs_model.catalogue.features import model_inputs
    from needs_model.modelling.training import FAST, FULL
    from needs_model.modelling.workflow import train_services
    from needs_model.settings import get_settings

    chosen = known_services(services)
    if inputs:
        if len(chosen) != 1:
            err_console.print("[red]error:[/] --feature names one service's inputs: add --service")
            raise typer.Exit(2)
        try:
            model_inputs(chosen[0], inputs)
        except ValueError as error:
            err_console.print(f"[red]error:[/] {error}")
            raise typer.Exit(2) from error
    config = replace(FAST if fast else FULL, seed=seed, features=tuple(inputs) if inputs else None)
    settings = get_settings()
    features = features or settings.features_dir
    raw = raw or settings.raw_dir
    started = time.perf_counter()
    failed = Untrainable()
    with console.status("Training") as status, stop_on_untrusted_store("trained"):
        results = train_services(
            features,
            chosen,
            config,
            settings,
            raw if raw.exists() else None,
            lambda s: status.update(f"Training {s}"),
            on_error=failed,
        )
    table = Table(
        title="Test-window evaluation (AUC of the model, the rule, the logistic regression and "
        "the oracle; capture ratio at the planners' capacity)"
    )
    columns = ("service", "version", "scorer", "AUC", "rule", "logistic", "oracle", "PR-AUC")
    for column in (*columns, "ECE", "capture"):
        table.add_column(column, justify="left" if column in ("service", "scorer") else "right")
    for r in results:
        res = r.evaluation.results
        capture = r.evaluation.planning["capture_ratio"]
        table.add_row(
            r.service_id,
            r.version,
            r.scorer,
            f"{res['model']['auc']:.3f}",
            f"{res['rule']['auc']:.3f}",
            f"{res['logistic']['auc']:.3f}",
            f"{res['oracle']['auc']:.3f}" if "oracle" in res else "-",
            f"{res['model']['pr_auc']:.3f}",
            f"{res['model']['ece']:.4f}",
            "-" if capture is None else f"{capture:.3f}",
        )
    console.print(table)
    console.print(
        f"Trained {len(results)} services in {time.perf_counter() - started:.1f} s; "
        f"runs in {settings.mlflow_tracking_uri}, reports in {settings.reports_dir}/."
    )
    if failed.services:
        err_console.print(f"[red]Not trained:[/] {', '.join(failed.services)} (the reasons above).")
        raise typer.Exit(1)


def print_promotion(result: PromotionResult) -> bool:
    """Say what the gate decided for one service; True when it refused the challenger."""
    if result.promoted:
        console.print(f"[green]{result.service_id}[/]: {result.message}")
    elif result.failures:
        console.print(
            f"[yellow]{result.service_id}[/]: not promoted (version {result.version}, "
            "refused by the gate):"
        )
        for failure in result.failures:
            console.print(f"    - {failure}")
        return True
    else:
        console.print(f"{result.service_id}: {result.message}")
    return False


def promote_and_say(service_id: str, settings: Settings, by: str | None = None) -> bool:
    """Promote one service through the gate and say what it decided; True when it refused
    the challenger. Refusals that cannot be read are an error naming the file."""
    from needs_model.modelling.workflow import promote_service

    with stop_on_untrusted_store("promoted"):
        result = promote_service(service_id, settings, by=by)
    return print_promotion(result)


def promote_command(
    services: Annotated[
        list[str] | None, typer.Option("--service", help="Service(s); default all.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Exit 3 if any promotion is refused.")] = False,
    by: Annotated[
        str | None,
        typer.Option(
            help="Who promotes, for the model card (default NEEDS_OPERATOR, else the "
            "operating-system user)."
        ),
    ] = None,
) -> None:
    """Move `champion` to the newest `challenger` when it passes the gate; serve its bundle."""
    from needs_model.settings import get_settings

    settings = get_settings()
    refused = False
    for service_id in known_services(services):
        refused |= promote_and_say(service_id, settings, by=by)
    if refused and strict:
        raise typer.Exit(3)


def rollback_command(
    service: Annotated[str, typer.Option(help="Service to roll back.")],
) -> None:
    """Serve the previously served version again (and move `champion` back to it)."""
    from needs_model.modelling.workflow import rollback_service
    from needs_model.settings import get_settings

    (service_id,) = known_services([service])
    with stop_on_untrusted_store("rolled back"):
        result = rollback_service(service_id, get_settings())
    if not result.promoted:
        err_console.print(f"[red]error:[/] {service_id}: {'; '.join(result.failures)}")
        raise typer.Exit(1)
    console.print(f"{service_id}: {result.message}")


def register(app: typer.Typer) -> None:
    app.command("train")(train_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
