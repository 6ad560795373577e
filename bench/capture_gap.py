"""Where the capture ratio is lost: the served model's test-window positives split by what
the agencies had recorded about them on the as-of date ([realism]: "where a target is
missed, say which information is missing and show it with numbers").

For a service, scores its test window (the served bundle, `promotion.load_served`, on the
temporal split `needs-model train` uses) and the twin's oracle (`twin.quality.
oracle_for_rows`), selects each commune's monthly list at the service's capacity
(`metrics.selected_at_capacity`), and, per group of positives, counts those the model's
lists reach and those the oracle's lists reach. Groups: the rule's trigger fires or not,
and for birth registration what the health agency had recorded (an open antenatal record,
an unregistered facility birth, or nothing).

Usage: python bench/capture_gap.py [--service birth_registration] [--features data/features]
       [--raw data/raw] [--models models]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import service
from needs_model.features.snapshots import load_service
from needs_model.modelling import metrics
from needs_model.modelling.evaluate import outreach_lists
from needs_model.modelling.promotion import load_served
from needs_model.modelling.training import FULL, temporal_split
from needs_model.twin.quality import oracle_for_rows


def evidence_groups(service_id: str, test: pd.DataFrame) -> pd.Series:
    """What was on record for each row on its as-of date."""
    trigger = np.where(test[TRIGGERS[service_id].name].fillna(0) == 1, "rule fires", "rule silent")
    if service_id != "birth_registration":
        return pd.Series(trigger, index=test.index)
    seen = np.select(
        [test["days_since_unregistered_birth"].notna(), test["days_to_expected_due_date"].notna()],
        ["unregistered facility birth on record", "open antenatal record"],
        "no pregnancy or birth on record",
    )
    return pd.Series(seen, index=test.index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service", default="birth_registration")
    parser.add_argument("--features", type=Path, default=Path("data/features"))
    parser.add_argument("--raw", type=Path, default=Path("data/raw"))
    parser.add_argument("--models", type=Path, default=Path("models"))
    args = parser.parse_args()
    service_id = args.service
    frame = load_service(args.features, service_id)
    # The test window depends on TrainConfig.test_months only, the same in every setting.
    test = temporal_split(frame, service(service_id).horizon_months, FULL).test
    model = load_served(args.models, service_id)
    y = test["label"].to_numpy(dtype=float)
    lists = outreach_lists(test)
    share = service(service_id).outreach_share
    oracle = oracle_for_rows(args.raw, service_id, test).to_numpy(dtype=float)
    reached = {
        "model": metrics.selected_at_capacity(model.predict(test), lists, share),
        "oracle": metrics.selected_at_capacity(oracle, lists, share),
    }
    groups = evidence_groups(service_id, test).to_numpy()
    positives = y == 1
    print(f"{service_id}: test window {test['as_of'].min().date()} to {test['as_of'].max().date()}")
    print(f"{len(test):,} rows, {int(positives.sum()):,} positives, capacity {share:.0%} per list")
    print()
    print(
        "| on record at the as-of date | positives | share | reached by the model "
        "| reached by the oracle | mean oracle probability |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for group in sorted(set(groups)):
        in_group = positives & (groups == group)
        n = int(in_group.sum())
        print(
            f"| {group} | {n:,} | {n / positives.sum():.1%} | "
            f"{int(reached['model'][in_group].sum()):,} | "
            f"{int(reached['oracle'][in_group].sum()):,} | {oracle[in_group].mean():.3f} |"
        )
    model_hits = int(reached["model"][positives].sum())
    oracle_hits = int(reached["oracle"][positives].sum())
    print(
        f"| all | {int(positives.sum()):,} | 100% | {model_hits:,} | {oracle_hits:,} | "
        f"{oracle[positives].mean():.3f} |"
    )
    print()
    print(f"capture ratio {model_hits / oracle_hits:.3f}")


if __name__ == "__main__":
    main()
