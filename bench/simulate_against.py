"""`needs-model simulate` of this tree against the same command at an earlier commit, run
alternately in fresh processes on this machine: whether the twin's code got slower, told
apart from a machine that is slower today than when a figure was measured.

    python bench/simulate_against.py [--rev b8c140e] [--people 150000] [--repeats 3]

The earlier commit is checked out in a temporary git worktree and imported from its `src`
(PYTHONPATH) with this tree's virtual environment; the worktree is removed afterwards.
Prints each run, the medians and their ratio; writes nothing else.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from bench_simulate import run_once

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="b8c140e")
    parser.add_argument("--people", type=int, default=150_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        worktree = Path(tmp) / "earlier"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(worktree), args.rev],
            check=True,
        )
        try:
            sources = {args.rev: worktree / "src", "this tree": ROOT / "src"}
            times: dict[str, list[float]] = {name: [] for name in sources}
            for repeat in range(args.repeats):
                for name, src in sources.items():
                    env = os.environ | {"PYTHONPATH": str(src)}
                    seconds = run_once(args.people, seed=0, env=env)["seconds"]
                    times[name].append(seconds)
                    print(f"{name}, run {repeat + 1}: {seconds:.1f} s", flush=True)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)],
                check=True,
            )
    medians = {name: statistics.median(t) for name, t in times.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.1f} s of {args.repeats} ({args.people:,} people)")
    print(f"this tree / {args.rev}: {medians['this tree'] / medians[args.rev]:.2f}")


if __name__ == "__main__":
    main()
