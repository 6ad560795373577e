"""Drift of a service's inputs and scores with Evidently (0.7 API): the current month end's
rows against the champion's reference stored in its bundle.

The reference is the year of month ends up to the newest one the champion was trained with
(`training.Split.recent`, labelled or not): the population it was deployed on. Not the
window its trees were fitted on: with a horizon's embargo before the validation window and
another before the test window, a 12-month service's training window ends three years
before its data do, and a comparison with it measures the years since, not a change (the
stable twin in bench/scenario_table.py shows both). A whole year, so that each month is
compared with the same calendar month (`seasonal_reference`).

Tests, chosen per feature type and stated in every report:
- numeric features: the Wasserstein distance normed by the reference's standard deviation,
  drifted at 0.1 (a tenth of a standard deviation of mass moved). It measures how far the
  distribution moved, not how sure we are that it moved: at a province's tens of thousands
  of rows every p-value test (Kolmogorov-Smirnov, chi-square) flags shifts far too small to
  matter, which is what "crying wolf" means here;
- 0/1 features and the bands: the Jensen-Shannon distance, drifted at 0.1, for the same
  reason (a distance between the two frequency tables);
- the calibrated probability: the population stability index, drifted at 0.1 (the score
  monitoring convention of credit scoring: 0.1 moderate, 0.25 major shift).

Sampling: at most `training.SAMPLE_ROWS` rows of each side (`training.sample_rows`: the
reference when the model is trained, the current month end when it is monitored). A
distance between samples is never zero, and on a small month end (a few dozen transport
businesses or veterinarians) sampling alone moves it past 0.1. So a column counts as
drifted only when its distance also exceeds its noise floor: the `NOISE_PERCENTILE`th
percentile of the same distance (Evidently's test function, computed on value counts:
`noise_scores`) over `NOISE_DRAWS` pairs of samples drawn from the reference, one of its size
and one of the current month end's.
Evidently's page shows its fixed 0.1 verdict; the summary gives both.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from needs_model.catalogue.features import FEATURES
from needs_model.scoring.bands import band_of

NUMERIC_METHOD, CATEGORICAL_METHOD, SCORE_METHOD = "wasserstein", "jensenshannon", "psi"
THRESHOLD = 0.1
NOISE_DRAWS = 200
# A service-month runs about five tests that raise a warning alone (the probability, the
# bands, the features the model leans on): at the 99th percentile each, about 5 % of
# stable service-months would warn by chance (at the 95th, about a fifth).
NOISE_PERCENTILE = 99
MIN_SEASONAL_ROWS = 300
MIN_REFERENCE_VALUES = 30  # fewer values in the reference: a feature's drift is not judged
PREDICTION_COLUMNS = {"probability": SCORE_METHOD, "band": CATEGORICAL_METHOD}
_UNITS = {f.name: f.unit for f in FEATURES}


def seasonal_reference(reference: pd.DataFrame, month: int) -> pd.DataFrame:
    """The reference's month ends in the same calendar month as the one monitored, when they
    hold at least `MIN_SEASONAL_ROWS` rows (else the whole reference). Services follow the
    year (the school year, the December poverty review): a September list compared with a
    year of lists differs for the season alone."""
    same = reference[pd.to_datetime(reference["as_of"]).dt.month == month]
    return same.reset_index(drop=True) if len(same) >= MIN_SEASONAL_ROWS else reference


def categorical_features(features: list[str]) -> list[str]:
    """The 0/1 features among a model's inputs: two values, compared as frequency tables."""
    return [f for f in features if _UNITS[f] == "0/1"]


def scored_columns(frame: pd.DataFrame, features: list[str], p: np.ndarray) -> pd.DataFrame:
    """The features as Evidently reads them, with the calibrated probability and its band.
    0/1 features become strings ('0', '1', 'missing'): Evidently's category tables need
    them without NaN."""
    out = frame[features].copy()
    for column in categorical_features(features):
        values = out[column]
        out[column] = values.astype("Float64").astype(str).where(values.notna(), "missing")
        out[column] = out[column].str.replace(".0", "", regex=False)
    out["probability"] = p
    out["band"] = band_of(p).astype(str)
    return out


def evidently_report(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str]
) -> tuple[Any, list[str]]:
    """Run the drift preset and the data-quality counts; returns (snapshot, the columns
    left out because one side holds no value at all: Evidently cannot compare them)."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import MissingValueCount, OutListValueCount, OutRangeValueCount
    from evidently.presets import DataDriftPreset

    categorical = [*categorical_features(features), "band"]
    empty = [c for c in reference.columns if reference[c].isna().all() or current[c].isna().all()]
    columns = [c for c in reference.columns if c not in empty]
    numeric = [c for c in columns if c not in categorical]
    categorical = [c for c in categorical if c in columns]
    definition = DataDefinition(
        numerical_columns=numeric,
        categorical_columns=categorical,
        text_columns=[],
        datetime_columns=[],
        unknown_columns=[],
        list_columns=[],
    )
    quality = [MissingValueCount(column=c) for c in columns]
    quality += [
        OutRangeValueCount(
            column=c, left=float(reference[c].min()), right=float(reference[c].max())
        )
        for c in numeric
    ]
    quality += [
        OutListValueCount(column=c, values=sorted(reference[c].dropna().unique().tolist()))
        for c in categorical
    ]
    preset = DataDriftPreset(
        columns=columns,
        num_method=NUMERIC_METHOD,
        cat_method=CATEGORICAL_METHOD,
        per_column_method={c: m for c, m in PREDICTION_COLUMNS.items() if c in columns},
        num_threshold=THRESHOLD,
        cat_threshold=THRESHOLD,
        per_column_threshold={c: THRESHOLD for c in PREDICTION_COLUMNS if c in columns},
    )
    report = Report([preset, *quality], include_tests=True)
    # Evidently correlates the numeric columns for its page; a column constant in a month
    # (no one pregnant in a small commune set) has no spread, and numpy warns on the 0/0.
    # The correlations are not among the statistics judged here.
    with np.errstate(divide="ignore", invalid="ignore"):
        snapshot = report.run(
            Dataset.from_pandas(current[columns], data_definition=definition),
            Dataset.from_pandas(reference[columns], data_definition=definition),
        )
    return snapshot, empty


def summarise(
    snapshot: Any, reference: pd.DataFrame, current: pd.DataFrame, features: list[str]
) -> dict[str, Any]:
    """Per-feature drift (score, method, threshold, drifted), the drifted share of the
    features, the drift of the scores, and per-feature quality: missing share now and in the
    reference, values outside the reference's range or categories."""
    d = json.loads(snapshot.json())
    status = {
        t["metric_config"]["metric_id"]: t["status"] for t in d["tests"] if t["id"] == "drift"
    }
    drift: dict[str, dict[str, Any]] = {}
    quality: dict[str, dict[str, Any]] = {}
    for metric in d["metrics"]:
        config = metric["config"]
        kind = config["type"].rsplit(":", 1)[-1]
        column = config.get("column")
        if kind == "ValueDrift":
            drift[column] = {
                "column": column,
                "method": config["method"],
                "score": float(metric["value"]),
                "threshold": float(config["threshold"]),
                "drifted": status.get(metric["id"]) == "FAIL",
            }
        elif kind == "MissingValueCount":
            quality.setdefault(column, {})["missing_share"] = float(metric["value"]["share"])
        elif kind in ("OutRangeValueCount", "OutListValueCount"):
            quality.setdefault(column, {})["outside_reference_share"] = float(
                metric["value"]["share"]
            )
            quality[column]["outside_reference_count"] = int(metric["value"]["count"])
            quality[column]["outside_reference_by_chance"] = outside_by_chance(
                reference[column], int(current[column].notna().sum()), kind == "OutRangeValueCount"
            )
    for column, values in quality.items():
        values["reference_missing_share"] = float(reference[column].isna().mean())
    for column, entry in drift.items():
        floor = noise_floor(reference[column], current[column].notna().sum(), entry["method"])
        entry["noise_floor"] = floor
        entry["evidently_drifted"] = entry["drifted"]
        # A handful of reference values (a rare record in one calendar month) has no spread
        # to norm a distance by: not compared, and said so.
        entry["reference_values"] = int(reference[column].notna().sum())
        too_few = entry["reference_values"] < MIN_REFERENCE_VALUES
        entry["drifted"] = entry["drifted"] and entry["score"] > floor and not too_few
        entry["effect_size"] = effect_size(reference[column], current[column], entry["method"])
    judged = [drift[c] for c in features if c in drift]
    return {
        "features": judged,
        "drifted_share": (sum(f["drifted"] for f in judged) / len(judged) if judged else 0.0),
        "prediction": {c: drift[c] for c in PREDICTION_COLUMNS if c in drift},
        "quality": quality,
        "rows": {"reference": len(reference), "current": len(current)},
    }


def effect_size(reference: pd.Series, current: pd.Series, method: str) -> float:
    """How far a feature moved, on a scale with published conventions (Cohen, 1988): for a
    number, the Wasserstein distance in reference standard deviations (Cohen's d for a
    shift: 0.2 small, 0.5 medium, 0.8 large); for a category, Cohen's w over the categories'
    shares (0.1 small, 0.3 medium, 0.5 large). Unlike the drift test, it does not grow with
    the sample: it says whether a drift is big, not whether it is real."""
    before, now = reference.dropna(), current.dropna()
    if not len(before) or not len(now):
        return 0.0
    if method == NUMERIC_METHOD:
        spread = float(before.astype(float).std())
        if not spread > 0:
            return 0.0
        from scipy.stats import wasserstein_distance

        return float(wasserstein_distance(before.astype(float), now.astype(float)) / spread)
    shares_before = before.astype(str).value_counts(normalize=True)
    shares_now = now.astype(str).value_counts(normalize=True)
    values = shares_before.index.union(shares_now.index)
    p0 = shares_before.reindex(values, fill_value=0.0).to_numpy()
    p1 = shares_now.reindex(values, fill_value=0.0).to_numpy()
    # Categories the reference never had: taken at half a row's share, not infinitely rare.
    p0 = np.maximum(p0, 0.5 / len(before))
    return float(np.sqrt(np.sum((p1 - p0) ** 2 / p0)))


def outside_by_chance(reference: pd.Series, size: int, numeric: bool, seed: int = 0) -> int:
    """The most of `size` values from the reference's own population that fall outside its
    range (numeric) or categories, but for a chance of 1 in 1,000.

    Numeric: the reference's N values fix a range whose tails are themselves random (the
    lowest and highest of N uniform ranks: Beta(1, N) each), and each new value falls past
    them binomially: a quantile of that mixture (a reference month of nine values has a
    narrow range that many new values leave together, so a plain binomial at 2 / (N + 1)
    would cry wolf). Categories: binomial at the share of categories seen once
    (Good-Turing's chance of an unseen one)."""
    from scipy.stats import binom

    values = reference.dropna()
    if len(values) == 0 or size == 0:
        return 0
    if not numeric:
        counts = values.value_counts()
        return int(binom.ppf(0.999, size, float((counts == 1).sum()) / len(values)))
    rng = np.random.default_rng(seed)
    below, above = rng.beta(1, len(values), (2, OUTSIDE_DRAWS))
    outside = rng.binomial(size, below) + rng.binomial(size, above)
    return int(np.quantile(outside, 0.999))


def noise_floor(reference: pd.Series, size: int, method: str, seed: int = 0) -> float:
    """`NOISE_PERCENTILE`th percentile of `method`'s distance between two samples drawn from
    the reference (with replacement), one of its own size and one of `size`: what sampling
    alone gives between a reference month and a month end of that size (the reference is a
    sample too: a floor from the current side alone is about 1/sqrt(2) of it)."""
    scores = noise_scores(reference, size, method, seed)
    if not len(scores):
        return float("nan")
    # A constant reference column: sampling moves nothing, the threshold alone decides.
    return float(np.nan_to_num(np.percentile(scores, NOISE_PERCENTILE), nan=0.0))


def noise_scores(reference: pd.Series, size: int, method: str, seed: int = 0) -> np.ndarray:
    """`method`'s distance for each of `NOISE_DRAWS` pairs of samples from the reference:
    Evidently's test functions (`evidently.legacy.calculations.stattests`, the ones its
    report runs) computed on the samples' value counts, not on 200 pairs of pandas Series
    (the demo's monitor: 43.1 s against 92.5 s, `bench/results/monitor-demo-noise-counts.json`);
    tests/monitoring/test_drift.py checks every draw against Evidently's own function."""
    values = reference.dropna().reset_index(drop=True)
    if size == 0 or values.empty:
        return np.array([])
    codes, uniques = pd.factorize(values, sort=True)
    numeric = method != CATEGORICAL_METHOD
    points = np.asarray(uniques, dtype=float) if numeric else np.asarray(uniques)
    rng = np.random.default_rng(seed)
    scores = np.empty(NOISE_DRAWS)
    with np.errstate(divide="ignore", invalid="ignore"):  # a constant column: no spread
        for draw in range(NOISE_DRAWS):
            ref = np.bincount(codes[rng.integers(0, len(codes), len(codes))], minlength=len(points))
            cur = np.bincount(codes[rng.integers(0, len(codes), size)], minlength=len(points))
            scores[draw] = _distance(method, points, ref, cur)
    return scores


def _distance(method: str, points: np.ndarray, ref: np.ndarray, cur: np.ndarray) -> float:
    """Evidently's `method` between two samples given as counts of the same sorted values
    (`stattests.wasserstein_distance_norm`, `jensenshannon`, `psi`)."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    if method == NUMERIC_METHOD:
        mean = float(np.dot(ref, points) / ref.sum())
        spread = float(np.sqrt(np.dot(ref, (points - mean) ** 2) / ref.sum()))
        return float(wasserstein_distance(points, points, ref, cur) / max(spread, 0.001))
    p, q = _binned(points, ref, cur, numeric=method != CATEGORICAL_METHOD)
    if method == CATEGORICAL_METHOD:
        return float(jensenshannon(p, q))
    p, q = _fill_zeroes(p), _fill_zeroes(q)
    return float(np.sum((p - q) * np.log(p / q)))


def _binned(
    points: np.ndarray, ref: np.ndarray, cur: np.ndarray, numeric: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's `stattests.utils.get_binned_data` on counts: a number with more than 20
    values in the reference sample in Sturges' bins over both samples, else each value seen
    on either side."""
    present = (ref > 0) | (cur > 0)
    if numeric and int((ref > 0).sum()) > 20:
        both = np.repeat(points[present], (ref + cur)[present])
        bins = np.histogram_bin_edges(both, bins="sturges")
        return (
            np.histogram(points, bins, weights=ref)[0] / ref.sum(),
            np.histogram(points, bins, weights=cur)[0] / cur.sum(),
        )
    return ref[present] / ref.sum(), cur[present] / cur.sum()


def _fill_zeroes(shares: np.ndarray) -> np.ndarray:
    """Evidently's `feel_zeroes`: an empty bin at a millionth of the smallest share when that
    is at most 0.0001, else at 0.0001 (the PSI's logarithm needs no zero)."""
    smallest = shares[shares != 0].min()
    return np.where(shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001, shares)


DEMAND_DRAWS = 400
OUTSIDE_DRAWS = 20_000


def expected_demand(
    year: pd.Series, months: pd.Series, current: pd.Series, seed: int = 0
) -> dict[str, Any]:
    """Expected demand, the mean calibrated probability (the share of the population
    expected to need the service within its horizon), against the reference year's month
    ends (`year`: their probabilities, `months`: each row's month end).

    The month's demand counts as moved only outside the band of the year's monthly means
    (a season the year has seen is no change), by its relative distance from the nearest
    edge, and only past what sampling alone gives: the 99th percentile of |change| between
    two samples of the sizes of that edge month and this one, drawn from both pooled.

    For a rare service the distances above barely move when its demand rises by half (2 %
    to 3 % of a population is a PSI of 0.004), yet planners staff for that half: expected
    demand is the statistic that moves."""
    cur = current.dropna().to_numpy(dtype=float)
    frame = pd.DataFrame({"p": year.to_numpy(dtype=float), "month": months.to_numpy()})
    means = frame.dropna().groupby("month")["p"].mean()
    now = float(cur.mean()) if len(cur) else float("nan")
    result: dict[str, Any] = {
        "current": now,
        "reference_months": {str(pd.Timestamp(m).date()): float(v) for m, v in means.items()},
        "relative_change": 0.0,
        "noise_floor": 0.0,
    }
    if not len(cur) or means.empty or means.min() <= 0:
        return result
    edge_month = means.idxmax() if now > means.max() else means.idxmin()
    edge = float(means[edge_month])
    result["edge"] = edge
    if means.min() <= now <= means.max():
        return result
    ref = frame.loc[frame["month"] == edge_month, "p"].dropna().to_numpy()
    rng = np.random.default_rng(seed)
    pooled = np.concatenate([ref, cur])
    changes = np.empty(DEMAND_DRAWS)
    for i in range(DEMAND_DRAWS):
        ref_draw = rng.choice(pooled, size=len(ref)).mean()
        cur_draw = rng.choice(pooled, size=len(cur)).mean()
        changes[i] = cur_draw / ref_draw - 1 if ref_draw > 0 else np.inf
    result["relative_change"] = now / edge - 1
    result["noise_floor"] = float(np.percentile(np.abs(changes), 99))
    return result


def save_html(snapshot: Any, path: Path) -> Path:
    """Evidently's page, self-contained (its script and font are inlined: readable offline).
    Written from the string: `save_html` writes nothing when given a Path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot.get_html_str(as_iframe=False), encoding="utf-8")
    return path
