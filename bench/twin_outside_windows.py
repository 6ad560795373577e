"""Positives the scored populations and rule windows miss, on a simulated province: birth
registrations of mothers outside 15-49 (features/build.py scores women 15-49) and grade-1
entries at an age other than 6 (rules.turns_six) or outside the scored 4-9. Quoted in
docs/twin.md.

Usage: python bench/twin_outside_windows.py --people 75000 --seed 0
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from needs_model.twin.params import TwinParameters
from needs_model.twin.simulate import SimulationSpec, run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=75_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    w = run(SimulationSpec(people=args.people, seed=args.seed), TwinParameters(), None)
    p = w.people
    tx = pd.DataFrame(w.log.frame("transactions"))
    when = pd.to_datetime(tx["date"])
    ym = (when.dt.year * 12 + when.dt.month - 1).to_numpy()
    births = (tx["service"] == "birth_registration").to_numpy()
    mother = tx["subject"].to_numpy()[births]
    # The mother's age at the month end before the registration (an as-of that scores her).
    age = (ym[births] - 1 - p["birth_ym"][mother]) // 12
    print(
        f"birth registrations {births.sum():,}; mothers under 15 {int((age < 15).sum())}, "
        f"over 49 {int((age > 49).sum())}"
    )
    school = (tx["service"] == "school_admission").to_numpy()
    child = tx["subject"].to_numpy()[school]
    at_round = ym[school] // 12 - p["birth_ym"][child] // 12
    ages, counts = np.unique(at_round, return_counts=True)
    print(
        f"grade-1 entries {school.sum():,}; by age at the round "
        f"{dict(zip(ages.tolist(), counts.tolist(), strict=True))}; "
        f"age other than 6: {int((at_round != 6).sum())}; "
        f"outside 4-9: {int(((at_round < 4) | (at_round > 9)).sum())}"
    )


if __name__ == "__main__":
    main()
