"""The three scorers a service may be served with, and how one is chosen."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from needs_model.catalogue.features import features_for
from needs_model.catalogue.rules import TRIGGERS
from needs_model.catalogue.services import pool_members, service
from needs_model.features.snapshots import load_service
from needs_model.modelling.training import (
    FAST,
    SCORERS,
    Candidate,
    Matrices,
    Split,
    _train_rule,
    choose_scorer,
    fit_service,
    pooled_training_rows,
    temporal_split,
    train_candidates,
)
from needs_model.scoring.explain import contributions

SERVICE = "medical_license_renewal"


def _candidate(scorer: str, margin: np.ndarray) -> Candidate:
    return Candidate(scorer, None, {"scorer": scorer}, margin)  # type: ignore[arg-type]


def test_a_complex_scorer_is_chosen_only_when_it_ranks_better_beyond_doubt():
    rng = np.random.default_rng(0)
    truth = rng.random(4000)
    y = (rng.random(4000) < truth).astype(float)
    weak = truth + rng.normal(0, 0.4, 4000)  # validation AUC 0.70
    strong = truth + rng.normal(0, 0.2, 4000)  # 0.77
    chosen = choose_scorer(
        [_candidate("rule", weak), _candidate("additive", strong), _candidate("gbm", strong)],
        y,
        np.arange(4000),
        seed=0,
    )
    # additive ranks better beyond doubt; gbm is no better than additive (the same
    # scores), so the simpler one stays.
    assert chosen.scorer == "additive"
    # On 60 rows the same kind of gain (0.81 -> 0.90 there) is not beyond doubt: the rule
    # stays.
    small = choose_scorer(
        [_candidate("rule", weak[:60]), _candidate("gbm", strong[:60])],
        y[:60],
        np.arange(60),
        seed=0,
    )
    assert small.scorer == "rule"


@pytest.fixture(scope="module")
def split(snapshots):
    frame = load_service(snapshots, SERVICE)
    return temporal_split(frame, service(SERVICE).horizon_months, replace(FAST, valid_months=6))


def test_the_rule_scorer_splits_on_the_trigger_alone_and_explains_exactly(split):
    features = features_for(SERVICE)
    x = split.train[features].to_numpy(np.float64)
    m = Matrices(
        features,
        x,
        split.train["label"].to_numpy(),
        np.ones(len(x)),
        split.valid[features].to_numpy(np.float64),
        split.valid["label"].to_numpy(),
    )
    rule = _train_rule(SERVICE, m, FAST)
    fitted = fit_service(split, SERVICE, FAST)
    model = replace(fitted, booster=rule.booster)
    rows = split.test[features].to_numpy(np.float64)
    margin = rule.booster.predict(rows, raw_score=True)
    trigger = features.index(TRIGGERS[SERVICE].name)
    fires = np.nan_to_num(rows[:, trigger]) == 1
    # Two scores only: the trigger's two rates, higher when it fires.
    assert len(np.unique(margin)) == 2 and margin[fires].min() > margin[~fires].max()
    values = contributions(model, rows)
    assert np.allclose(values.sum(axis=1), margin)
    others = np.delete(values[:, :-1], trigger, axis=1)
    assert np.abs(others).max() == 0.0


def test_every_fitted_model_names_its_scorer(split):
    model = fit_service(split, SERVICE, FAST)
    assert model.scorer in SCORERS and model.params["scorer"] == model.scorer


def _licence_frame(service_id: str, dates: list[str], labels: list[float]) -> pd.DataFrame:
    """Rows of a licence service's feature table: one subject per (date, label)."""
    n = len(dates)
    frame = pd.DataFrame({name: np.arange(n, dtype=float) for name in features_for(service_id)})
    return frame.assign(
        subject_id=[f"{service_id[:3]}{i}" for i in range(n)],
        as_of=pd.to_datetime(dates),
        label=labels,
    )


def test_pooled_rows_are_the_training_month_ends_of_the_pool_with_this_services_columns():
    vet = "veterinary_certificate_renewal"
    own = _licence_frame(vet, ["2023-01-31", "2023-02-28"], [0.0, 1.0])
    split = Split(own, own.iloc[:0], own.iloc[:0], {"train": ["2023-01-31", "2023-02-28"]})
    tour = _licence_frame(
        "tour_guide_card_renewal",
        # training month ends; a validation-window and a test-window month end; unlabelled
        ["2023-01-31", "2023-02-28", "2024-06-30", "2025-06-30", "2023-01-31"],
        [1.0, 0.0, 1.0, 1.0, np.nan],
    )
    rows = pooled_training_rows(split, vet, {"tour_guide_card_renewal": tour})
    # The vet's own rows and the tour guides' labelled rows on the vet's training dates only:
    # a row from a later window would carry labels past the embargo.
    assert rows["pool_service"].value_counts().to_dict() == {vet: 2, "tour_guide_card_renewal": 2}
    assert list(rows.columns) == [*features_for(vet), "label", "pool_service"]
    assert "refresher_course_done" not in rows.columns
    medical = _licence_frame("medical_license_renewal", ["2023-01-31"], [1.0])
    pooled = pooled_training_rows(
        Split(medical, medical, medical, {"train": ["2023-01-31"]}),
        "medical_license_renewal",
        {vet: own},
    )
    # CME hours are the medical service's own: missing on the vets' rows, kept on its own.
    cme = pooled.groupby("pool_service")["cme_hours_reported_since_issue"].count()
    assert cme.to_dict() == {vet: 0, "medical_license_renewal": 1}


def test_a_service_is_pooled_only_with_services_of_the_same_horizon():
    vet = "veterinary_certificate_renewal"
    own = _licence_frame(vet, ["2023-01-31"], [1.0])
    school = _licence_frame(vet, ["2023-01-31"], [1.0])
    with pytest.raises(ValueError, match="horizons differ"):
        pooled_training_rows(
            Split(own, own, own, {"train": ["2023-01-31"]}), vet, {"school_admission": school}
        )


def test_the_practice_renewals_are_one_pool_and_other_services_are_alone():
    assert set(pool_members("veterinary_certificate_renewal")) == {
        "medical_license_renewal",
        "tour_guide_card_renewal",
    }
    assert pool_members("poor_household_confirmation") == ()


def test_a_pooled_service_trains_a_pooled_candidate_on_its_pool(split, snapshots):
    pool = {other: load_service(snapshots, other) for other in pool_members(SERVICE)}
    candidates = train_candidates(split, SERVICE, FAST, pool)
    assert [c.scorer for c in candidates] == ["rule", "additive", "gbm", "pooled"]
    pooled = candidates[3].params["pooled_from"]
    train_dates = pd.to_datetime(pd.Series(split.windows["train"]))
    for other, frame in pool.items():
        on_train_dates = frame[frame["as_of"].isin(train_dates) & frame["label"].notna()]
        assert pooled[other] == {
            "rows": len(on_train_dates),
            "positives": int(on_train_dates["label"].sum()),
        }
    assert pooled[SERVICE]["rows"] == len(split.train)
    # Without a pool, no pooled candidate: the service's own rows only.
    assert [c.scorer for c in train_candidates(split, SERVICE, FAST)] == ["rule", "additive", "gbm"]
