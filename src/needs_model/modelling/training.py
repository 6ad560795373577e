"""Train one calibrated LightGBM classifier per service on a temporal split.

Split: test = the latest fully labelled window; validation (hyper-parameters, early
stopping, calibration) = an earlier window whose labels end before the test window
starts; train = earlier still, with the same embargo. No row's label ever overlaps a
later window's features, and no split is random across time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from needs_model.catalogue.features import features_for, model_inputs
from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import service
from needs_model.modelling import metrics

# Scores must not fall as a licence nears expiry, nor as deprivations rise at equal income.
MONOTONE: dict[str, int] = {
    "days_to_expiry": -1,
    "days_to_nearest_badge_expiry": -1,
    "last_deprivation_count": 1,
    "last_income_to_line_ratio": -1,
}


@dataclass(frozen=True)
class TrainConfig:
    learning_rates: tuple[float, ...] = (0.05,)
    num_leaves: tuple[int, ...] = (7, 15)
    max_depth: int = 5  # bounds exact TreeSHAP cost (grows with depth squared)
    max_rounds: int = 600
    min_child_samples: int = 40
    early_stopping_rounds: int = 40
    test_months: int = 6
    valid_months: int = 6
    # The validation window calibrates, and a calibrator learns a level from its events: a
    # window of `valid_months` with fewer than `min_valid_events` people who had the need
    # reaches back a month at a time until it holds them, up to `max_valid_months` and
    # while the training window keeps `min_train_months` (`validation_start`). Six months of
    # a 50,000-person twin held one tour guide's renewal, and Platt scaling fitted on it
    # served 58 renewals for 19 (bench/results/validation-window.txt). Twenty events for
    # Platt's two parameters (as the gate judges a baseline's AUC on twenty); the longer
    # window also spans more than one year of a profession's renewal propensity.
    min_valid_events: int = 20
    max_valid_months: int = 24
    min_train_months: int = 12
    # Larger training windows keep every positive and a weighted sample of negatives (the
    # calibrator, fitted on the untouched validation window, keeps probabilities honest).
    max_train_rows: int = 250_000
    seed: int = 0
    # The model's inputs, named from the catalogue (`catalogue.features.model_inputs`): None
    # is the service's defaults; a data scientist may drop some or add optional ones.
    features: tuple[str, ...] | None = None


FAST = TrainConfig(learning_rates=(0.1,), num_leaves=(7,), max_rounds=150, early_stopping_rounds=20)
FULL = TrainConfig(
    learning_rates=(0.08,), num_leaves=(7, 15, 31), max_rounds=800, early_stopping_rounds=30
)


@dataclass
class Split:
    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    windows: dict[str, list[str]] = field(default_factory=dict)
    # The last `REFERENCE_MONTHS` month ends the model was trained with, labelled or not:
    # the population it is deployed on, which monitoring compares later months with.
    recent: pd.DataFrame = field(default_factory=pd.DataFrame)


SAMPLE_ROWS = 20_000  # monitoring's sample of a population (drift's power: bench/bench_monitor.py)
# Monitoring's reference: a whole year, so that every calendar month has its own season.
REFERENCE_MONTHS = 12


def sample_rows(frame: pd.DataFrame, rows: int = SAMPLE_ROWS, seed: int = 0) -> pd.DataFrame:
    """At most `rows` rows, drawn without replacement (seeded): the reference kept with a
    model for monitoring (`Split.recent`), and the month end it is compared with."""
    if len(frame) <= rows:
        return frame.reset_index(drop=True)
    return frame.sample(rows, random_state=seed).reset_index(drop=True)


def month_index(days: pd.Series) -> pd.Series:
    return days.dt.year * 12 + days.dt.month - 1


def validation_start(
    labelled: pd.DataFrame,
    index: pd.Series,
    valid_end: int,
    horizon_months: int,
    config: TrainConfig,
) -> int:
    """The first month of the validation window ending at `valid_end`: `valid_months`
    back, or further back while the window holds fewer than `min_valid_events` subjects
    with a positive label, as far as `max_valid_months` and as the training window before it
    (an embargo of one horizon away) still spans `min_train_months` from the first labelled
    month."""
    default = valid_end - config.valid_months + 1
    if config.min_valid_events <= 0:
        return default
    month = index.to_numpy()
    positive = (labelled["label"].to_numpy() == 1) & (month <= valid_end)
    # Each subject's latest positive month end: a window from month s holds the subjects
    # whose latest is s or later, so it holds enough from the k-th latest of them.
    latest = pd.Series(month[positive]).groupby(metrics.subjects(labelled)[positive]).max()
    if len(latest) >= config.min_valid_events:
        needed = int(np.sort(latest.to_numpy())[-config.min_valid_events])
    else:
        needed = valid_end - config.max_valid_months + 1
    longest = max(
        valid_end - config.max_valid_months + 1,
        int(index.min()) + config.min_train_months + horizon_months - 1,
    )
    return min(default, max(needed, longest))


def temporal_split(frame: pd.DataFrame, horizon_months: int, config: TrainConfig) -> Split:
    """Windows of month-end snapshots with an embargo of one horizon between them; the
    validation window long enough to calibrate on (`validation_start`)."""
    labelled = frame[frame["label"].notna()]
    months = sorted(month_index(labelled["as_of"]).unique())
    if not months:
        raise ValueError("no labelled snapshots to train on")
    last = months[-1]
    test_start = last - config.test_months + 1
    valid_end = test_start - horizon_months
    index = month_index(labelled["as_of"])
    valid_start = validation_start(labelled, index, valid_end, horizon_months, config)
    train_end = valid_start - horizon_months
    train = labelled[index <= train_end]
    valid = labelled[(index >= valid_start) & (index <= valid_end)]
    test = labelled[index >= test_start]
    if train.empty or valid.empty:
        raise ValueError(
            f"not enough history for a {horizon_months}-month horizon: need snapshots before "
            f"month {train_end // 12}-{train_end % 12 + 1:02d}"
        )

    def names(part: pd.DataFrame) -> list[str]:
        return sorted(part["as_of"].dt.date.astype(str).unique())

    every = month_index(frame["as_of"])
    recent = frame[every > every.max() - REFERENCE_MONTHS]
    windows = {"train": names(train), "valid": names(valid), "test": names(test)}
    return Split(train, valid, test, windows | {"reference": names(recent)}, recent)


@dataclass
class Calibrator:
    """Maps the booster's margin to a probability: Platt (few positives) or isotonic.

    No probability is more extreme than the evidence behind it: an isotonic block of n
    validation rows with k positives serves (k + 1/2) / (n + 1) (Jeffreys), not k / n, so
    50 positives out of 50 give 0.990, not 1; Platt is not extrapolated beyond the margins
    it was fitted on.
    """

    kind: str
    params: dict[str, list[float]]

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray) -> Calibrator:
        if y.sum() >= 300 and (len(y) - y.sum()) >= 300:
            iso = IsotonicRegression(out_of_bounds="clip").fit(margin, y)
            x, values = iso.X_thresholds_, iso.y_thresholds_
            fitted = iso.predict(margin)
            blocks, inverse = np.unique(fitted, return_inverse=True)
            n = np.bincount(inverse).astype(float)
            k = np.bincount(inverse, weights=y.astype(float))
            shrunk = (k + 0.5) / (n + 1.0)
            # Shrinking can break the order of the blocks (a block of 5 rows with no positive
            # serves 0.083, above a block of 5,000 rows with 5): pool the violators again,
            # weighted by their rows, so a few rows never lift thousands.
            ordered = IsotonicRegression().fit(np.arange(len(blocks)), shrunk, sample_weight=n)
            pooled = ordered.predict(np.arange(len(blocks)))
            position = np.clip(np.searchsorted(blocks, values), 0, len(blocks) - 1)
            return cls("isotonic", {"x": x.tolist(), "y": pooled[position].tolist()})
        if not 0 < y.sum() < len(y):
            raise ValueError("the validation window holds a single class: cannot calibrate")
        platt = LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), y)
        a, b = float(platt.coef_[0, 0]), float(platt.intercept_[0])
        return cls(
            "platt",
            {"a": [a], "b": [b], "margin_range": [float(margin.min()), float(margin.max())]},
        )

    def __call__(self, margin: np.ndarray) -> np.ndarray:
        if self.kind == "isotonic":
            return np.interp(margin, self.params["x"], self.params["y"])
        low, high = self.params.get("margin_range", [-np.inf, np.inf])
        z = self.params["a"][0] * np.clip(margin, low, high) + self.params["b"][0]
        return 1.0 / (1.0 + np.exp(-z))

    def to_json(self) -> str:
        return json.dumps({"kind": self.kind, "params": self.params})

    @classmethod
    def from_json(cls, text: str) -> Calibrator:
        data = json.loads(text)
        return cls(data["kind"], data["params"])


@dataclass
class ServiceModel:
    """What is served: the booster, its calibrator and the feature order."""

    service_id: str
    booster: lgb.Booster
    calibrator: Calibrator
    features: list[str]
    params: dict[str, object] = field(default_factory=dict)

    @property
    def scorer(self) -> str:
        """rule, additive, gbm or pooled (`SCORERS`); models saved before the choice existed:
        gbm."""
        return str(self.params.get("scorer", "gbm"))

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        return frame.reindex(columns=self.features).to_numpy(dtype=np.float64)

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(self.matrix(frame), raw_score=True))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.calibrator(self.margin(frame))

    def save(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        files = {
            "model.txt": self.booster.model_to_string(),
            "calibrator.json": self.calibrator.to_json(),
            "features.json": json.dumps(self.features),
            "params.json": json.dumps(self.params, default=str),
        }
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
        return [folder / name for name in files]

    @classmethod
    def load(cls, folder: Path, service_id: str) -> ServiceModel:
        return cls(
            service_id,
            lgb.Booster(model_str=(folder / "model.txt").read_text(encoding="utf-8")),
            Calibrator.from_json((folder / "calibrator.json").read_text(encoding="utf-8")),
            json.loads((folder / "features.json").read_text(encoding="utf-8")),
            json.loads((folder / "params.json").read_text(encoding="utf-8")),
        )


def _lgb_params(
    service_id: str, features: list[str], lr: float, leaves: int, config: TrainConfig
) -> dict[str, object]:
    return {
        "objective": "binary",
        "learning_rate": lr,
        "num_leaves": leaves,
        "max_depth": config.max_depth,
        "min_data_in_leaf": config.min_child_samples,
        "lambda_l2": 1.0,
        "feature_fraction": 0.9,
        "bagging_fraction": 0.9,
        "bagging_freq": 1,
        "monotone_constraints": [MONOTONE.get(f, 0) for f in features],
        "monotone_constraints_method": "advanced",
        "seed": config.seed,
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": 2,
        "verbosity": -1,
    }


def downsample_negatives(
    train: pd.DataFrame, config: TrainConfig
) -> tuple[pd.DataFrame, np.ndarray]:
    """All positives and a seeded sample of negatives weighted back to their share."""
    if len(train) <= config.max_train_rows:
        return train, np.ones(len(train))
    positive = train["label"].to_numpy() == 1
    keep_rate = max((config.max_train_rows - positive.sum()) / max((~positive).sum(), 1), 0.01)
    rng = np.random.default_rng(config.seed)
    keep = positive | (rng.random(len(train)) < keep_rate)
    weight = np.where(positive[keep], 1.0, 1.0 / keep_rate)
    return train[keep], weight


# The scorers a service may be served with, simplest first. All three are LightGBM boosters
# over the service's full feature vector, so serving, exact TreeSHAP explanations and the
# MLflow pyfunc are the same for each:
# - rule: one split on the service's legal trigger, i.e. the rule's calibrated rate;
# - additive: boosted stumps (one feature per tree), a monotone generalised additive model
#   that plays the logistic regression's part for small populations;
# - gbm: the gradient-boosted trees of the configured grid, on the service's rows alone;
# - pooled: the same trees trained on the service's rows and its pool's
#   (`services.pool_members`: the three practice renewals learn the renewal window
#   together), offered only for pooled services. Last, so that pooling must prove itself on
#   the service's own validation window: another profession's rows can also mislead.
SCORERS = ("rule", "additive", "gbm", "pooled")


@dataclass(frozen=True)
class Candidate:
    scorer: str
    booster: lgb.Booster
    params: dict[str, object]
    valid_margin: np.ndarray


@dataclass(frozen=True)
class Matrices:
    """The training and validation windows as the boosters see them."""

    features: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    weight: np.ndarray  # of the (downsampled) training rows
    x_valid: np.ndarray
    y_valid: np.ndarray


def _train_family(
    scorer: str, leaves_grid: tuple[int, ...], service_id: str, m: Matrices, config: TrainConfig
) -> Candidate:
    """Grid over learning rate x leaves, early stopping on the validation window; the best
    validation log-loss wins."""
    features, x_train, y_train, weight = m.features, m.x_train, m.y_train, m.weight
    x_valid, y_valid = m.x_valid, m.y_valid
    best: tuple[float, lgb.Booster, dict[str, object]] | None = None
    for lr in config.learning_rates:
        for leaves in leaves_grid:
            params = _lgb_params(service_id, features, lr, leaves, config)
            train_set = lgb.Dataset(
                x_train, y_train, weight=weight, feature_name=features, free_raw_data=False
            )
            valid_set = lgb.Dataset(x_valid, y_valid, reference=train_set)
            booster = lgb.train(
                params,
                train_set,
                num_boost_round=config.max_rounds,
                valid_sets=[valid_set],
                callbacks=[lgb.early_stopping(config.early_stopping_rounds, verbose=False)],
            )
            score = booster.best_score["valid_0"]["binary_logloss"]
            if best is None or score < best[0]:
                best = (score, booster, params | {"best_iteration": booster.best_iteration})
    assert best is not None
    _, booster, params = best
    booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=booster.best_iteration))
    margin = np.asarray(booster.predict(x_valid, raw_score=True))
    return Candidate(scorer, booster, params | {"scorer": scorer}, margin)


def _train_rule(service_id: str, m: Matrices, config: TrainConfig) -> Candidate:
    """One split on the legal trigger: every other column is blanked while training, so the
    one tree can split on nothing else (at prediction the other columns are ignored)."""
    rule = m.features.index(TRIGGERS[service_id].name)

    def only_the_rule(x: np.ndarray) -> np.ndarray:
        out = np.full_like(x, np.nan)
        out[:, rule] = np.nan_to_num(x[:, rule])
        return out

    params = _lgb_params(service_id, m.features, 1.0, 2, config) | {
        "min_data_in_leaf": 1,
        "min_sum_hessian_in_leaf": 0.0,
    }
    train_set = lgb.Dataset(
        only_the_rule(m.x_train), m.y_train, weight=m.weight, feature_name=m.features
    )
    booster = lgb.train(params, train_set, 1)
    valid = only_the_rule(m.x_valid)
    margin = np.asarray(booster.predict(valid, raw_score=True))
    return Candidate("rule", booster, params | {"scorer": "rule", "best_iteration": 1}, margin)


def pooled_training_rows(
    split: Split,
    service_id: str,
    pool: Mapping[str, pd.DataFrame],
    features: list[str] | None = None,
) -> pd.DataFrame:
    """The service's training window and, from each other service of its pool, its labelled
    rows on the same month ends (so the embargo before validation holds for them too: pooled
    services share the horizon), with this service's feature columns only. A feature the
    other service lacks (CME hours for a tour guide) is missing there, as LightGBM sees a
    missing value; a `pool_service` column says where each row came from."""
    horizon = service(service_id).horizon_months
    dates = pd.to_datetime(pd.Series(split.windows["train"]))
    columns = [*(features or features_for(service_id)), "label"]
    parts = [split.train.reindex(columns=columns).assign(pool_service=service_id)]
    for other, frame in pool.items():
        if service(other).horizon_months != horizon:
            raise ValueError(
                f"{other} cannot be pooled with {service_id}: horizons differ "
                f"({service(other).horizon_months} and {horizon} months)"
            )
        rows = frame[frame["as_of"].isin(dates) & frame["label"].notna()]
        parts.append(rows.reindex(columns=columns).assign(pool_service=other))
    return pd.concat(parts, ignore_index=True)


def inputs_present(split: Split, service_id: str, config: TrainConfig) -> list[str]:
    """The model's inputs (`model_inputs`), each a column of the split's tables; raises
    ValueError naming a chosen feature the snapshots were built without."""
    features = model_inputs(service_id, config.features)
    missing = [f for f in features if f not in split.train.columns]
    if missing:
        raise ValueError(
            f"{service_id}: the feature snapshots lack {', '.join(missing)} (built by an older "
            "version); rebuild them with `needs-model features --as-of ... --through ...`"
        )
    return features


def choose_scorer(
    candidates: list[Candidate], y_valid: np.ndarray, subjects: np.ndarray, seed: int
) -> Candidate:
    """The simplest candidate unless a more complex one ranks the validation window better
    beyond doubt: the 95 % interval of its paired bootstrap AUC gain over the current choice
    lies above zero, resampling subjects (`subjects`: who each row is about). Small windows
    therefore keep simple scorers."""

    rng = np.random.default_rng(seed)
    draws = metrics.subject_bootstrap_draws(subjects, 200, rng)
    chosen = candidates[0]
    chosen_aucs = np.array(metrics.bootstrap_auc(y_valid, chosen.valid_margin, draws))
    for candidate in candidates[1:]:
        aucs = np.array(metrics.bootstrap_auc(y_valid, candidate.valid_margin, draws))
        if np.nanpercentile(aucs - chosen_aucs, 2.5) > 0:
            chosen, chosen_aucs = candidate, aucs
    return chosen


def train_candidates(
    split: Split,
    service_id: str,
    config: TrainConfig,
    pool: Mapping[str, pd.DataFrame] | None = None,
) -> list[Candidate]:
    """Every scorer of `SCORERS` for the service, simplest first, each with its margins on
    the validation window; `pooled` only when `pool` holds the feature frames of other
    services of the service's pool (its params record the rows it learnt from)."""
    features = inputs_present(split, service_id, config)
    for name, part in (("training", split.train), ("validation", split.valid)):
        if part["label"].nunique() < 2:
            raise ValueError(
                f"{service_id}: the {name} window holds a single class "
                f"({len(part)} rows); more data or a longer history is needed"
            )
    train, weight = downsample_negatives(split.train, config)
    m = Matrices(
        features,
        train[features].to_numpy(np.float64),
        train["label"].to_numpy(),
        weight,
        split.valid[features].to_numpy(np.float64),
        split.valid["label"].to_numpy(),
    )
    candidates = [
        _train_rule(service_id, m, config),
        _train_family("additive", (2,), service_id, m, config),
        _train_family("gbm", config.num_leaves, service_id, m, config),
    ]
    if pool:
        rows = pooled_training_rows(split, service_id, pool, features)
        pooled_rows, pooled_weight = downsample_negatives(rows, config)
        pooled = _train_family(
            "pooled",
            config.num_leaves,
            service_id,
            replace(
                m,
                x_train=pooled_rows[features].to_numpy(np.float64),
                y_train=pooled_rows["label"].to_numpy(),
                weight=pooled_weight,
            ),
            config,
        )
        counts = rows.groupby("pool_service")["label"].agg(["size", "sum"])
        pooled_from = {
            str(name): {"rows": int(row["size"]), "positives": int(row["sum"])}
            for name, row in counts.iterrows()
        }
        candidates.append(replace(pooled, params=pooled.params | {"pooled_from": pooled_from}))
    return candidates


def fit_candidates(
    split: Split,
    service_id: str,
    config: TrainConfig,
    pool: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[ServiceModel, list[ServiceModel]]:
    """Fit every scorer (`train_candidates`), each calibrated on the validation window;
    returns the one chosen on the validation window (`choose_scorer`) and the simpler ones,
    most complex first: the fallbacks promotion tries when the chosen one fails the gate."""
    candidates = train_candidates(split, service_id, config, pool)
    y_valid = split.valid["label"].to_numpy()
    chosen = choose_scorer(candidates, y_valid, metrics.subjects(split.valid), config.seed)
    extra = {"config": asdict(config), "horizon_months": service(service_id).horizon_months}
    features = model_inputs(service_id, config.features)

    def served(candidate: Candidate) -> ServiceModel:
        calibrator = Calibrator.fit(candidate.valid_margin, y_valid)
        return ServiceModel(
            service_id, candidate.booster, calibrator, features, candidate.params | extra
        )

    simpler = candidates[: candidates.index(chosen)][::-1]
    return served(chosen), [served(c) for c in simpler]


def fit_service(split: Split, service_id: str, config: TrainConfig) -> ServiceModel:
    """The scorer chosen on the validation window, calibrated (`fit_candidates`)."""
    return fit_candidates(split, service_id, config)[0]
