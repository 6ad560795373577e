"""Evaluation metrics for calibrated probabilities (pure functions, no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def _has_both(y: np.ndarray) -> bool:
    return 0 < y.sum() < len(y)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if _has_both(y) else float("nan")


def pr_auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(average_precision_score(y, p)) if _has_both(y) else float("nan")


def brier(y: np.ndarray, p: np.ndarray) -> float:
    return float(brier_score_loss(y, p)) if len(y) else float("nan")


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Equal-mass bins (rare events leave equal-width bins empty): mean prediction vs rate."""
    if len(y) == 0:
        return []
    order = np.argsort(p, kind="stable")
    out = []
    for chunk in np.array_split(order, min(bins, len(order))):
        if len(chunk):
            out.append(
                {
                    "predicted": float(p[chunk].mean()),
                    "observed": float(y[chunk].mean()),
                    "n": len(chunk),
                }
            )
    return out


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    curve = calibration_curve(y, p, bins)
    n = sum(b["n"] for b in curve)
    return (
        float(sum(b["n"] * abs(b["predicted"] - b["observed"]) for b in curve) / n)
        if n
        else float("nan")
    )


def at_capacity(y: np.ndarray, p: np.ndarray, share: float) -> dict[str, float]:
    """Precision and recall when planners contact the top `share` of subjects."""
    k = max(round(share * len(p)), 1)
    top = np.argsort(-p, kind="stable")[:k]
    hits = y[top].sum()
    return {
        "precision": float(hits / k),
        "recall": float(hits / y.sum()) if y.sum() else float("nan"),
    }


def selected_at_capacity(p: np.ndarray, groups: np.ndarray, share: float) -> np.ndarray:
    """Which rows each group (a commune's monthly list) contacts when it takes its top
    ceil(share x its size) subjects, highest score first (ties: the order given)."""
    order = np.lexsort((np.arange(len(p)), -p, groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1]
    sizes = np.diff(np.r_[starts, len(order)])
    rank = np.arange(len(order)) - np.repeat(starts, sizes)
    quota = np.repeat(np.ceil(share * sizes), sizes)
    selected = np.zeros(len(p), dtype=bool)
    selected[order[rank < quota]] = True
    return selected


def at_capacity_per_group(
    y: np.ndarray, p: np.ndarray, groups: np.ndarray, share: float
) -> dict[str, float]:
    """Precision and recall when each group (a commune's monthly list) contacts its top
    ceil(share x its size) subjects (`selected_at_capacity`)."""
    if len(y) == 0:
        return {"contacted": 0.0, "hits": 0.0, "positives": 0.0}
    chosen = selected_at_capacity(p, groups, share)
    hits, positives, contacted = float(y[chosen].sum()), float(y.sum()), int(chosen.sum())
    return {
        "contacted": float(contacted),
        "hits": hits,
        "positives": positives,
        "precision": hits / contacted if contacted else float("nan"),
        "recall": hits / positives if positives else float("nan"),
    }


def wilson_interval(successes: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion."""
    if n == 0:
        return (float("nan"), float("nan"))
    rate = successes / n
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(centre - half), float(centre + half))


def tail_reliability(
    y: np.ndarray, p: np.ndarray, shares: tuple[float, ...] = (0.01, 0.001)
) -> list[dict[str, float]]:
    """Mean prediction against the observed rate (with its 95 % interval) among the top
    `share` of scores: calibration where planners look first, which deciles hide."""
    out = []
    order = np.argsort(-p, kind="stable")
    for share in shares:
        k = max(int(np.ceil(share * len(p))), 1) if len(p) else 0
        top = order[:k]
        low, high = wilson_interval(float(y[top].sum()), float(k))
        out.append(
            {
                "share": share,
                "n": float(k),
                "predicted": float(p[top].mean()) if k else float("nan"),
                "observed": float(y[top].mean()) if k else float("nan"),
                "observed_low": low,
                "observed_high": high,
                "max_predicted": float(p[top].max()) if k else float("nan"),
            }
        )
    return out


def summary(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    out = {
        "rows": float(len(y)),
        "positives": float(y.sum()),
        "auc": auc(y, p),
        "pr_auc": pr_auc(y, p),
        "brier": brier(y, p),
        "ece": expected_calibration_error(y, p),
        "mean_predicted": float(p.mean()) if len(p) else float("nan"),
        "observed_rate": float(y.mean()) if len(y) else float("nan"),
    }
    for share in (0.01, 0.05, 0.10):
        cap = at_capacity(y, p, share)
        out[f"precision_at_{int(share * 100)}pct"] = cap["precision"]
        out[f"recall_at_{int(share * 100)}pct"] = cap["recall"]
    return out


def subjects(frame: pd.DataFrame) -> np.ndarray:
    """Who each row is about: `subject_id` (the feature snapshots' key); a frame without it
    (hand-built rows) has one subject per row."""
    if "subject_id" in frame:
        return frame["subject_id"].to_numpy()
    return np.arange(len(frame))


def subject_bootstrap_draws(
    subjects: np.ndarray, n_draws: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Row index arrays of `n_draws` resamples that draw whole subjects with replacement.

    A subject (a person, household or business) appears at every month end of a window,
    and its rows share one future: resampling rows as if independent narrows every
    interval several-fold. Each resample draws as many subjects as there are, and keeps all
    rows of each subject drawn (as often as it is drawn)."""
    codes, uniques = pd.factorize(np.asarray(subjects))
    rows = np.arange(len(codes))
    draws = []
    for _ in range(n_draws):
        times = np.bincount(rng.integers(0, len(uniques), len(uniques)), minlength=len(uniques))
        draws.append(np.repeat(rows, times[codes]))
    return draws


def bootstrap_auc(y: np.ndarray, p: np.ndarray, draws: list[np.ndarray]) -> list[float]:
    """AUC of each bootstrap resample (index arrays), in O(n) per draw after one sort.

    Mann-Whitney with multiplicities: sort once, group tied scores, and count for each
    score group the resampled negatives strictly below it (ties count one half).
    """
    _, group = np.unique(p, return_inverse=True)
    n_groups = int(group.max()) + 1 if len(group) else 0
    out = []
    for draw in draws:
        weight = np.bincount(draw, minlength=len(y)).astype(float)
        positives = np.bincount(group, weights=weight * y, minlength=n_groups)
        negatives = np.bincount(group, weights=weight * (1 - y), minlength=n_groups)
        below = np.cumsum(negatives) - negatives
        total = positives.sum() * negatives.sum()
        out.append(
            float((positives * (below + 0.5 * negatives)).sum() / total) if total else float("nan")
        )
    return out
