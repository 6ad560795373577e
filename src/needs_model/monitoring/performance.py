"""How the champion does once labels mature: a month end's label is known when its whole
horizon lies on or before the monitoring date.

The newest `MATURED_MONTHS` matured month ends are scored by the served model and judged by
the gate's own checks (`promotion.calibration_by_month`, the fairness gap of
`evaluate.fairness`), and their AUC is compared with the champion's on its test window, the
interval resampling subjects (`metrics.subject_bootstrap_draws`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.services import service
from needs_model.features.build import horizon_end
from needs_model.modelling import metrics
from needs_model.modelling.evaluate import fairness
from needs_model.modelling.promotion import Gate, calibration_by_month, fairness_failures
from needs_model.modelling.training import ServiceModel

MATURED_MONTHS = 3
BOOTSTRAP_DRAWS = 200


@dataclass(frozen=True)
class MaturedWindow:
    """The month ends whose labels are known on `as_of`, newest `MATURED_MONTHS` of them."""

    as_of: dt.date
    dates: list[dt.date]


def matured_window(service_id: str, as_of: dt.date, available: list[dt.date]) -> MaturedWindow:
    horizon = service(service_id).horizon_months
    matured = sorted(d for d in available if horizon_end(d, horizon) <= as_of)
    return MaturedWindow(as_of, matured[-MATURED_MONTHS:])


def matured_performance(
    model: ServiceModel,
    rows: pd.DataFrame,
    champion_test: dict[str, Any],
    gate: Gate,
    seed: int = 0,
) -> dict[str, Any]:
    """The served model on matured rows beside its test window (`champion_test`: the
    bundle's `results.model`): AUC with its subject-resampled 95 % interval, the gate's
    month-by-month calibration, calibration by decile, and fairness by group."""
    y = rows["label"].to_numpy(dtype=float)
    p = model.predict(rows)
    draws = metrics.subject_bootstrap_draws(
        metrics.subjects(rows), BOOTSTRAP_DRAWS, np.random.default_rng(seed)
    )
    aucs = np.array(metrics.bootstrap_auc(y, p, draws))
    low, high = np.nanpercentile(aucs, [2.5, 97.5]) if np.isfinite(aucs).any() else (np.nan, np.nan)
    groups = fairness(rows, y, p, seed)
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "summary": metrics.summary(y, p),
        "auc_ci": [float(low), float(high)],
        "test_window_auc": champion_test.get("auc"),
        "test_window_ece": champion_test.get("ece"),
        "calibration_by_month": calibration_by_month(rows, y, p, gate),
        "calibration_curve": metrics.calibration_curve(y, p),
        "fairness": groups,
        "fairness_failures": fairness_failures(groups, gate),
    }
