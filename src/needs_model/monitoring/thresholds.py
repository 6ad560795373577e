"""The monitoring thresholds (`Thresholds`), each with the reasoning behind it, and a
province's own read from a JSON file (`load_thresholds`), checked name by name.

The status rule that applies them is `status.py`; a kept month is decided again under
other thresholds by `replay.py`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from needs_model.modelling.promotion import BASELINE_MIN_POSITIVES


@dataclass(frozen=True)
class Thresholds:
    # Share of a service's features whose drift score reaches its test's threshold.
    feature_drift_share: float = 0.3
    # A drifted feature carrying at least this share of the model's split gain warns by
    # itself when it moved by a medium effect or more (`drift.effect_size`, Cohen's
    # conventions: d 0.5 for a number, w 0.3 for a category): the model leans on it and
    # its values are no longer those it learnt from. A smaller drift of such a feature is
    # a note, and named as the likely cause when the scores or the expected demand move.
    important_feature_gain_share: float = 0.1
    medium_effect_numeric: float = 0.5
    medium_effect_categorical: float = 0.3
    # A drifted feature below that share of the gain warns when it moved by a large effect
    # (Cohen: d 0.8, w 0.5) against the same calendar month: news about the population, not
    # about the model.
    large_effect_numeric: float = 0.8
    large_effect_categorical: float = 0.5
    # Drift score of the calibrated probabilities (population stability index) or of the
    # band counts (Jensen-Shannon distance) at which scores are said to have moved, when it
    # also exceeds what sampling alone gives at the month's size (`drift.noise_floor`).
    prediction_drift: float = 0.1
    # Expected demand (the mean calibrated probability): its relative distance beyond the
    # band of the reference year's monthly means at which planners are told, when it also
    # exceeds what sampling alone gives (`drift.expected_demand`). A fifth more or fewer
    # people than any month the outreach was planned on.
    expected_demand_change: float = 0.2
    # Matured AUC: retrain when the upper end of its 95 % interval lies this far below the
    # champion's test-window AUC. Judged with this many positives and negatives or more, as
    # the gate judges a baseline (`promotion.BASELINE_MIN_POSITIVES`): a window of 48
    # veterinarians with one renewal has an AUC of 0.5 and an interval of 0.5..0.5.
    auc_drop: float = 0.02
    auc_min_positives: int = BASELINE_MIN_POSITIVES
    # Data quality, per feature: a rise in the missing share, or a share of values outside
    # the reference's range, at least this large (values outside: also more than sampling
    # from the reference's own population gives but for a chance of 1 in 1,000,
    # `drift.outside_by_chance`: two of 25 on a small month end are not a finding).
    missing_share_rise: float = 0.05
    out_of_range_share: float = 0.05

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


# Thresholds that are shares of something (features, the model's gain, rows): 0 to 1.
SHARES = frozenset(
    {
        "feature_drift_share",
        "important_feature_gain_share",
        "missing_share_rise",
        "out_of_range_share",
    }
)


class ThresholdsError(ValueError):
    """Thresholds that cannot be used; the message names the threshold and the problem."""


def thresholds_from(values: Mapping[str, Any], source: str = "thresholds") -> Thresholds:
    """`Thresholds` with `values` in place of the defaults they name (a kept summary's
    `thresholds` block is such a mapping). Unknown names, values that are not numbers, and
    values out of range are refused, never ignored: a misspelt threshold silently left at
    its default would decide every status without anyone knowing."""
    defaults = Thresholds()
    known = [f.name for f in fields(Thresholds)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ThresholdsError(
            f"{source}: unknown threshold(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    chosen: dict[str, Any] = {}
    for name, value in values.items():
        whole = isinstance(getattr(defaults, name), int)
        if isinstance(value, bool) or not isinstance(value, int | float):
            kind = "a whole number" if whole else "a number"
            raise ThresholdsError(f"{source}: {name} must be {kind}, not {value!r}")
        if whole and not isinstance(value, int):
            raise ThresholdsError(f"{source}: {name} must be a whole number, not {value!r}")
        if not math.isfinite(value) or value < 0:
            raise ThresholdsError(f"{source}: {name} must be 0 or more, not {value!r}")
        if name in SHARES and value > 1:
            raise ThresholdsError(f"{source}: {name} is a share, between 0 and 1, not {value!r}")
        chosen[name] = value if whole else float(value)
    return Thresholds(**chosen)


def load_thresholds(path: Path) -> Thresholds:
    """The thresholds a JSON file names (an object of name: value; the rest keep their
    defaults), checked by `thresholds_from`."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ThresholdsError(f"{path}: no such file") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ThresholdsError(f"{path}: cannot be read ({error})") from error
    except json.JSONDecodeError as error:
        raise ThresholdsError(
            f"{path}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from error
    if not isinstance(values, dict):
        raise ThresholdsError(
            f"{path}: must hold a JSON object of threshold names and values, "
            f"not {type(values).__name__}"
        )
    return thresholds_from(values, str(path))
