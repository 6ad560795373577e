"""The validation window's length against the calibration it buys: each service trained
twice on a twin's snapshots, once on a validation window of `valid_months` (6) whatever it
holds and once by the rule (`training.validation_start`: reaching back until it holds
`min_valid_events` people with the need, up to `max_valid_months`), then judged on the
month ends after the training data.

    python bench/validation_window.py --root data/scenarios-seed1 [--service S ...]

`--root` holds `base/features` (the snapshots the champions train on, to 2025-12) and
`no-change/features` (the stable twin's, from 2025-01). Judged on the test window and on
the stable twin's month ends from 2025-10 (labels as the snapshots hold them: every row of
the extract, not the register as known on a monitoring date). Prints, per service and
window, the validation window, its events, the scorer chosen, and per window judged the
observed and expected (sum of probabilities) count and the month ends whose ECE exceeds
the gate's floor (`promotion.calibration_by_month`).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.catalogue.features import LICENCE_SERVICES
from needs_model.catalogue.services import pool_members, service
from needs_model.features.snapshots import load_service
from needs_model.modelling import metrics
from needs_model.modelling.promotion import Gate, calibration_by_month, months_over_floor
from needs_model.modelling.training import FULL, TrainConfig, fit_candidates, temporal_split

LATER_FROM = "2025-10-01"  # month ends after the champions' snapshots end (2025-12), less a horizon


def judged(model, rows: pd.DataFrame) -> str:
    y = rows["label"].to_numpy(float)
    p = model.predict(rows)
    months = calibration_by_month(rows, y, p, Gate())
    return f"O {y.sum():.0f} E {p.sum():.1f}, {len(months_over_floor(months))}/{len(months)} over"


def compare(root: Path, service_id: str) -> list[str]:
    base = root / "base" / "features"
    frame = load_service(base, service_id)
    later = load_service(root / "no-change" / "features", service_id)
    later = later[(later["as_of"] >= LATER_FROM) & later["label"].notna()]
    pool = {o: load_service(base, o) for o in pool_members(service_id)}
    lines = []
    configs: dict[str, TrainConfig] = {
        f"{FULL.valid_months} months": replace(FULL, min_valid_events=0),
        "rule": FULL,
    }
    for name, config in configs.items():
        try:
            split = temporal_split(frame, service(service_id).horizon_months, config)
            model, _ = fit_candidates(split, service_id, config, pool)
        except ValueError as error:
            lines.append(f"  {name:9s} untrainable: {error}")
            continue
        valid = split.valid
        events = len(np.unique(metrics.subjects(valid[valid["label"] == 1])))
        lines.append(
            f"  {name:9s} valid {split.windows['valid'][0]}..{split.windows['valid'][-1]} "
            f"({len(split.windows['valid'])} month ends, {events} events), {model.scorer}: "
            f"test {judged(model, split.test)}; later {judged(model, later)}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--service", action="append")
    args = parser.parse_args()
    services = args.service or [*LICENCE_SERVICES, "transport_business_license"]
    print(f"$ python bench/validation_window.py --root {args.root}")
    for service_id in services:
        print(service_id, flush=True)
        for line in compare(args.root, service_id):
            print(line, flush=True)


if __name__ == "__main__":
    main()
