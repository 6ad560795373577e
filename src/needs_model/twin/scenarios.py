"""Named scenarios for `needs-model simulate --scenario NAME[@YYYY-MM]`: a change in the
province from a month on, as a `params.Scenario` (a rate scaled for some months, perhaps
only in the mountain districts). Used to prove that monitoring sees what it should.

Two changes the twin makes without being asked, so they are not scenarios here: the
1 July 2025 reorganisation (Quang Nam into Đà Nẵng, new commune codes) and the 2027
poverty line (VND 2.2 M rural / 2.8 M urban, announced in advance; simulate to 2027-12 to
see it).
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

from needs_model.twin.params import PovertyParameters, Scenario

DEFAULT_START = "2025-01"


@dataclass(frozen=True)
class ScenarioTemplate:
    rate: str
    factor: float
    months: int
    mountain_only: bool
    description: str
    # The calendar months in which the rate acts at all (storms: the season); a window
    # without one of them would change nothing, so it is refused.
    acts_in: tuple[int, ...] | None = None
    # Where a bare NAME starts: in time for its months to act.
    default_start: str = DEFAULT_START


SCENARIOS: dict[str, ScenarioTemplate] = {
    "storm-season": ScenarioTemplate(
        "storm",
        4.0,
        6,
        True,
        "storms four times as likely in the mountain districts, 6 months",
        acts_in=PovertyParameters().storm_season_months,
        default_start="2025-06",
    ),
    "out-migration-wave": ScenarioTemplate(
        "out_migration", 3.0, 12, False, "out-migration three times its rate for 12 months"
    ),
    "in-migration-wave": ScenarioTemplate(
        "in_migration", 3.0, 12, False, "in-migration three times its rate for 12 months"
    ),
    "baby-boom": ScenarioTemplate(
        "conception", 1.5, 12, False, "conceptions half as likely again for 12 months"
    ),
    "take-up-campaign": ScenarioTemplate(
        "renewal",
        2.0,
        6,
        False,
        "a reminder campaign: licence renewals before expiry twice as likely for 6 months",
    ),
    "income-slump": ScenarioTemplate(
        "income_drift", -2.0, 12, True, "real incomes falling in the mountain districts, 12 months"
    ),
}


def _add_months(first: dt.date, months: int) -> dt.date:
    """The last day of the month `months - 1` months after `first`'s."""
    index = first.year * 12 + first.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1) - dt.timedelta(days=1)


def parse_scenario(text: str) -> Scenario:
    """`NAME` (from its template's `default_start`) or `NAME@YYYY-MM`; a clear ValueError
    otherwise, also for a window in which the scenario's rate never acts."""
    name, _, start = text.partition("@")
    template = SCENARIOS.get(name)
    if template is None:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    try:
        first = dt.datetime.strptime(start or template.default_start, "%Y-%m").date()
    except ValueError as error:
        raise ValueError(f"scenario {text!r}: the start must be YYYY-MM") from error
    last = _add_months(first, template.months)
    if template.acts_in is not None:
        covered = {(first.month - 1 + k) % 12 + 1 for k in range(template.months)}
        if not covered & set(template.acts_in):
            season = ", ".join(calendar.month_abbr[m] for m in template.acts_in)
            raise ValueError(
                f"scenario {text!r}: {first:%Y-%m}..{last:%Y-%m} holds no month in which "
                f"{template.rate} acts ({season}), so it would change nothing; start it "
                f"within {template.months} months before one of them"
            )
    return Scenario(name, template.rate, template.factor, first, last, template.mountain_only)
