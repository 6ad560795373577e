"""The poverty oracle of this tree against the one of an earlier commit, on the same world:
the largest difference and each one's time, every fourth month end of a 20,000-person run.

Usage: python bench/compare_poverty_oracle.py [--rev bc8a26a] [--people 20000]
(bc8a26a: before the shift-by-shift integration.)
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from needs_model.twin import oracle
from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, new_world, step_month


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", default="bc8a26a")
    parser.add_argument("--people", type=int, default=20_000)
    args = parser.parse_args()
    source = subprocess.run(
        ["git", "show", f"{args.rev}:src/needs_model/twin/oracle.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oracle_before.py"
        path.write_text(source, encoding="utf-8")
        spec = importlib.util.spec_from_file_location("oracle_before", path)
        assert spec is not None and spec.loader is not None
        before = importlib.util.module_from_spec(spec)
        sys.modules["oracle_before"] = before
        spec.loader.exec_module(before)
    run = SimulationSpec(people=args.people, seed=0, start="2021-01", end="2022-12")
    w = new_world(run, TwinParameters())
    worst = 0.0
    for ym in range(run.start_ym, run.end_ym + 1):
        w.ym = ym
        step_month(w, run.people)
        if ym % 4 == 0:
            started = time.perf_counter()
            old = before.poor_household_confirmation(w, 12)[1]
            middle = time.perf_counter()
            new = oracle.poor_household_confirmation(w, 12)[1]
            done = time.perf_counter()
            difference = float(np.abs(old - new).max())
            worst = max(worst, difference)
            print(
                f"month {ym % 12 + 1:2d}: before {middle - started:.3f} s, now "
                f"{done - middle:.3f} s, largest difference {difference:.2e}"
            )
    print(f"largest difference over the run: {worst:.2e}")


if __name__ == "__main__":
    main()
