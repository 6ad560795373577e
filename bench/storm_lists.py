"""What a storm season puts in the extracts and how much of it reaches the poverty model:
the figures of the README's storm bullet, from a scenario root (`bench/scenario_table.py`).

    python bench/storm_lists.py --root data/scenarios

For the stable twin and the storm season: storm commune-months per year and per month of
2026's season (truth), households on the damage lists per storm year, rows recorded per
month from 2026-09 to 2026-12; the champion's split gain on the two storm features and
their shares in its reference sample; the monitor's expected demand and drifted share for
poverty, 2026-09 to 2026-12.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import lightgbm as lgb
import pandas as pd

SERVICE = "poor_household_confirmation"
STORM_FEATURES = ("storm_damage_12m", "commune_storm_12m")
TWINS = ("no-change", "storm-season")
MONTHS = ("2026-09-30", "2026-10-31", "2026-11-30", "2026-12-31")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("data/scenarios"))
    args = parser.parse_args()
    for twin in TWINS:
        raw = args.root / twin / "raw"
        storm_month = pd.to_datetime(pd.read_parquet(raw / "truth/storms.parquet")["month"])
        per_year = storm_month.dt.year.value_counts().sort_index()
        lists = pd.read_parquet(raw / "welfare/storm_damage.parquet")
        storm_year = pd.to_datetime(lists["storm_date"]).dt.year.value_counts().sort_index()
        recorded = pd.to_datetime(lists["recorded_at"]).dt.to_period("M").value_counts()
        print(f"{twin}: storm commune-months by year {per_year.loc[2022:].to_dict()}")
        season = storm_month.dt.to_period("M").value_counts()
        print(
            "  storm commune-months in 2026 "
            + ", ".join(f"{m[:7]} {season.get(pd.Period(m[:7], 'M'), 0)}" for m in MONTHS)
        )
        print(f"  listed households by storm year {storm_year.loc[2022:].to_dict()}")
        print(
            "  list rows recorded "
            + ", ".join(f"{m[:7]} {recorded.get(pd.Period(m[:7], 'M'), 0)}" for m in MONTHS)
        )
        for as_of in MONTHS:
            folder = args.root / twin / "store/reports/monitoring" / as_of / SERVICE
            drift = json.loads((folder / "summary.json").read_text(encoding="utf-8"))["drift"]
            effects = {
                f["column"]: f["effect_size"]
                for f in drift["features"]
                if f["column"] in STORM_FEATURES
            }
            print(
                f"  {as_of}: expected demand {drift['expected_demand']['current']:.4f}, "
                f"drifted share {drift['drifted_share']:.2f}, effect sizes "
                + ", ".join(f"{c} {e:.2f}" for c, e in effects.items())
            )
    models = args.root / "base/store/models" / SERVICE
    version = (models / "current").resolve().name
    booster = lgb.Booster(model_file=str(models / version / "model.txt"))
    gain = pd.Series(booster.feature_importance("gain"), index=booster.feature_name())
    share = gain / gain.sum()
    reference = pd.read_parquet(models / version / "reference.parquet")
    print(f"champion v{version}: split gain of the storm features")
    for name in STORM_FEATURES:
        print(f"  {name}: {share[name]:.2%} of the gain, mean {reference[name].mean():.3f}")
    print(f"  together: {share[list(STORM_FEATURES)].sum():.2%}")


if __name__ == "__main__":
    main()
