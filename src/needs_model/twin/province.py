"""A simulated province written to a folder: the one function the CLI, the notebooks and the
tests call to produce the twin's extracts (the folder layout is owned here and by
`twin.extracts`).

`<out>/` receives the agency extracts in the data contract, `truth/` (oracle, injected
errors, true identities), `calibration.json`, `manifest.json` and `_SUCCESS`. It is written
into a sibling `.<name>.partial` folder and renamed at the end, so a killed run leaves no
half province.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from needs_model.twin.calibration import (
    FULL_PROVINCE_PEOPLE,
    CalibrationRow,
    calibration_table,
    write_calibration,
)
from needs_model.twin.extracts import write_extracts
from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, run
from needs_model.twin.world import World


@dataclass
class SimulatedProvince:
    world: World
    rows_written: dict[str, int]
    calibration: list[CalibrationRow]


def simulate_province(
    spec: SimulationSpec,
    out: Path,
    params: TwinParameters | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SimulatedProvince:
    """Simulate `spec` and write the province to `out` (replacing it), atomically."""
    staging = out.with_name(f".{out.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    params = params or TwinParameters()
    try:
        world = run(spec, params, staging / "truth", progress=progress)
        counts = write_extracts(world, staging)
        rows = calibration_table(world, spec.people / FULL_PROVINCE_PEOPLE)
        write_calibration(rows, staging / "calibration.json")
        manifest = {
            "people": spec.people,
            "seed": spec.seed,
            "start": spec.start,
            "end": spec.end,
            "rows": counts,
            "scenarios": [
                {
                    "name": s.name,
                    "rate": s.rate,
                    "factor": s.factor,
                    "start": s.start.isoformat(),
                    "end": s.end.isoformat(),
                    "mountain_only": s.mountain_only,
                }
                for s in params.scenarios
            ],
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        (staging / "_SUCCESS").write_text("", encoding="utf-8")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return SimulatedProvince(world, counts, rows)
