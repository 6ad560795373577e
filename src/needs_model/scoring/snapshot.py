"""Where scored snapshots live: `<scores_dir>/<as_of>/`, complete when `_SUCCESS` is there."""

from __future__ import annotations

from pathlib import Path


def latest_snapshot(scores_dir: Path) -> Path | None:
    """The newest complete scored snapshot in `scores_dir` (None if there is none)."""
    done = sorted(
        p.parent for p in scores_dir.glob("*/_SUCCESS") if not p.parent.name.startswith(".")
    )
    return done[-1] if done else None
