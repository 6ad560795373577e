"""The `needs-model` command line: one app; each module registers its commands.

- `cli/data.py`: simulate, validate, link, features, score (and the generated docs);
- `cli/models.py`: train, promote, rollback;
- `cli/monitoring.py`: monitor, retrain;
- `cli/reports.py`: report, explain (what auditors read);
- `cli/admin.py`: keys, audit.
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from needs_model.cli import admin, data, models, monitoring, reports

app = typer.Typer(
    help="Needs: who will need which proactive public service soon.", no_args_is_help=True
)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Configure logging once, here, never at import."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING)


data.register(app)
models.register(app)
monitoring.register(app)
reports.register(app)
admin.register(app)

if __name__ == "__main__":  # `python -m needs_model.cli.main`
    app()
