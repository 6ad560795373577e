"""Could any statistic see the take-up campaign among the 50,000-person twin's licences?

The campaign (`twin/scenarios.py`: renewals before expiry twice as likely for six months)
changes behaviour, not the population, so no feature or score moves: only the renewals
themselves can show it. This counts the renewals each licence service delivered during the
campaign's months on the campaign twin and on the stable twin (the same seed: the same
people and the same licences), and asks two questions with exact Poisson arithmetic:

1. Did the campaign twin's count exceed the stable twin's by more than chance allows? Two
   Poisson counts with one rate: given their total n, the campaign's count is
   Binomial(n, 1/2); the one-sided p-value is P(X >= the campaign's count).
2. How many renewals would the window need to hold, without a campaign, for a one-sided
   test at 5 % to see a doubling of the rate four times in five (80 % power)? Their ratio
   to what the stable twin delivers in as many months (its mean over the five years before)
   is how many times larger a province would have to be (the full province is 30 times the
   twin).

Usage: python bench/take_up_counts.py [--root data/scenarios]
Writes bench/results/take-up-counts.txt.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import pandas as pd
from scipy import stats

from needs_model.twin.scenarios import SCENARIOS, parse_scenario
from scenario_table import SCENARIO_START
from scenario_table import SCENARIOS as TARGETS

RESULTS = Path(__file__).parent / "results" / "take-up-counts.txt"
CAMPAIGN = "take-up-campaign"
LICENCES = TARGETS[CAMPAIGN][0]  # the services the scenario table expects it to move
# Not a licence the campaign acts on (`twin/careers.py: renewal_probability`, kinds 1-3): how
# far the two twins' counts differ with no campaign at all.
CONTROL = "transport_business_license"
ALPHA, POWER = 0.05, 0.8


def transactions(root: Path, twin: str) -> pd.DataFrame:
    """A twin's delivered services: service_id and the day delivered."""
    tx = pd.read_parquet(
        root / twin / "raw" / "services" / "transactions.parquet",
        columns=["service_id", "delivered_on"],
    )
    return tx.assign(day=pd.to_datetime(tx["delivered_on"]).dt.date)


def delivered(tx: pd.DataFrame, first: dt.date, last: dt.date) -> pd.Series:
    """Renewals delivered per service from `first` to `last` (both kept)."""
    inside = tx[(tx["day"] >= first) & (tx["day"] <= last)]
    return inside["service_id"].value_counts().reindex([*LICENCES, CONTROL], fill_value=0)


def needed_for_doubling(alpha: float = ALPHA, power: float = POWER) -> float:
    """The smallest expected count (to 0.1) at which an exact one-sided Poisson test at
    `alpha` sees a doubled rate with at least `power`."""
    for tenths in range(1, 2000):
        mean = tenths / 10
        critical = stats.poisson.isf(alpha, mean) + 1  # P(X >= critical | mean) <= alpha
        if stats.poisson.sf(critical - 1, 2 * mean) >= power:
            return mean
    raise ValueError("no expected count up to 200 reaches the power")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("data/scenarios"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    months = SCENARIOS[CAMPAIGN].months
    window = parse_scenario(f"{CAMPAIGN}@{SCENARIO_START}")
    start, last = window.start, window.end
    stable_tx = transactions(args.root, "no-change")
    campaign = delivered(transactions(args.root, CAMPAIGN), start, last)
    stable = delivered(stable_tx, start, last)
    # The window's expected count without a campaign: the stable twin's mean over the
    # five years before (a single window's count is itself a noisy estimate of it).
    years = 5
    first = start.replace(year=start.year - years)
    before = delivered(stable_tx, first, start - dt.timedelta(days=1))
    expected = before * months / (12 * years)
    needed = needed_for_doubling()
    lines = [
        f"Renewals delivered {start}..{last} (the campaign's {months} months), "
        f"{args.root}/{{{CAMPAIGN},no-change}}/raw/services/transactions.parquet",
        f"An expected count of {needed:.1f} is the least at which a one-sided exact Poisson "
        f"test at {ALPHA:.0%} sees a doubling with {POWER:.0%} power.",
        "",
        f"| service | campaign | stable | one-sided p (same rate) | stable, mean of {months} "
        f"months over {first}..{start - dt.timedelta(days=1)} | times the twin for the power |",
        "|---|---|---|---|---|---|",
    ]
    for sid in [*LICENCES, CONTROL]:
        a, b = int(campaign[sid]), int(stable[sid])
        p = stats.binom.sf(a - 1, a + b, 0.5) if a + b else float("nan")
        mean = float(expected[sid])
        times = needed / mean if mean else float("inf")
        name = sid if sid in LICENCES else f"{sid} (not in the campaign)"
        lines.append(f"| {name} | {a} | {b} | {p:.3f} | {mean:.1f} | {times:.1f} |")
    text = "\n".join(lines) + "\n"
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
