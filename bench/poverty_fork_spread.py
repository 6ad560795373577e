"""How far one province's count of poverty confirmations spreads beyond the Bernoulli
variance the single-province oracle check assumes (tests/twin/test_oracle.py,
`check_dates`): forks of one world, drawn to the next review, against the oracle.

Usage: PYTHONPATH=. python bench/poverty_fork_spread.py [--people 3000] [--forks 40]
(the forks are the ones tests/twin/test_poverty.py draws)
"""

from __future__ import annotations

import argparse

import numpy as np
from tests.twin.test_poverty import _fork_confirmations, _world_until

from needs_model.twin import oracle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=3_000)
    parser.add_argument("--forks", type=int, default=40)
    args = parser.parse_args()
    for end in ("2022-12", "2023-03", "2023-06"):
        w, spec = _world_until(args.people, 5, end)
        subjects, p = oracle.poor_household_confirmation(w, 12)
        months = (11 - w.ym % 12) % 12 or 12
        totals = np.array(
            [
                np.isin(subjects, _fork_confirmations(w, spec, months, k)).sum()
                for k in range(args.forks)
            ]
        )
        bernoulli = np.sqrt((p * (1 - p)).sum())
        print(
            f"{end}: expected {p.sum():.1f}, fork mean {totals.mean():.1f}, fork sd "
            f"{totals.std(ddof=1):.2f}, Bernoulli sd {bernoulli:.2f}, ratio "
            f"{totals.std(ddof=1) / bernoulli:.2f}"
        )


if __name__ == "__main__":
    main()
