"""What the auditors' reports cost: `needs-model report` (every served model's card, a data
sheet per extract, the index) and `needs-model explain` for one citizen, each in a fresh
process (median of `--repeats`, peak RSS from the kernel), on a province's models, extracts
and scored snapshot. The pages go to a temporary folder; the monitoring history is read from
`--reports`.

Usage:
    python bench/bench_reports.py                      # the demo (make run's folders)
    python bench/bench_reports.py --repeats 5
Writes bench/results/reports-demo.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from needs_model.governance.access import Scope, create_key
from needs_model.governance.db import make_engine
from needs_model.scoring.snapshot import latest_snapshot

RESULTS = Path(__file__).parent / "results" / "reports-demo.json"


def _run(command: list[str], env: dict[str, str]) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
    return {"seconds": seconds, "peak_rss_gib": peak / 2**20}


def _summary(runs: list[dict[str, float]]) -> dict[str, object]:
    return {
        "median_seconds": statistics.median(r["seconds"] for r in runs),
        "peak_rss_gib": max(r["peak_rss_gib"] for r in runs),
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--linked", type=Path, default=Path("data/linked"))
    parser.add_argument("--scores", type=Path, default=Path("data/scores"))
    parser.add_argument("--reports", type=Path, default=Path("reports"))
    parser.add_argument("--service", default="birth_registration")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    snapshot = latest_snapshot(args.scores)
    if snapshot is None:
        raise SystemExit(f"no scored snapshot under {args.scores} (run make run)")
    subjects = pd.read_parquet(snapshot / "subjects" / f"{args.service}.parquet")
    cccd = str(subjects.sort_values("probability", ascending=False)["subject_id"].iloc[0])
    with tempfile.TemporaryDirectory() as tmp:
        database = f"sqlite:///{tmp}/service.db"
        key = create_key(make_engine(database), "auditor", Scope("province"))[1]
        env = {
            **os.environ,
            "NEEDS_MODELS_DIR": str(args.models),
            "NEEDS_RAW_DIR": str(args.raw),
            "NEEDS_LINKED_DIR": str(args.linked),
            "NEEDS_SCORES_DIR": str(args.scores),
            "NEEDS_REPORTS_DIR": str(args.reports),
            "NEEDS_DATABASE_URL": database,
            "NEEDS_KEY": key,
        }
        cli = [sys.executable, "-m", "needs_model.cli.main"]
        report = [_run([*cli, "report", "--out", f"{tmp}/set"], env) for _ in range(args.repeats)]
        explain = [
            _run(
                [
                    *cli,
                    "explain",
                    "--cccd",
                    cccd,
                    "--service",
                    args.service,
                    "--out",
                    f"{tmp}/c.html",
                ],
                env,
            )
            for _ in range(args.repeats)
        ]
        pages = sorted(
            p.relative_to(f"{tmp}/set").as_posix() for p in Path(f"{tmp}/set").rglob("*.html")
        )
        sizes = {p: Path(f"{tmp}/set", p).stat().st_size for p in pages}
    result = {
        "models": str(args.models),
        "snapshot": str(snapshot),
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "report": _summary(report)
        | {"pages": len(pages), "largest_page_bytes": max(sizes.values())},
        "explain": _summary(explain) | {"service": args.service},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
