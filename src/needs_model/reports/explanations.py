"""Global explanations of a served model: its exact TreeSHAP contributions
(`scoring.explain.contributions`, the ones the API returns) over a sample of the reference
year it was trained up to, summarised per feature.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from needs_model.catalogue.features import FEATURES, Feature
from needs_model.modelling.training import ServiceModel
from needs_model.scoring.explain import contributions

# Rows of the reference year explained: the mean |SHAP| of a feature over 2,000 rows is
# within a few per cent of the whole year's, and the beeswarm stays readable.
SAMPLE_ROWS = 2000
TOP_FEATURES = 10  # in the beeswarm
DEPENDENCE_FEATURES = 3  # dependence plots for the features with the largest mean |SHAP|


@dataclass(frozen=True)
class GlobalExplanation:
    features: list[str]  # ordered by mean |SHAP|, largest first
    mean_abs: np.ndarray  # per feature, same order (log-odds)
    contributions: np.ndarray  # rows x features, same order
    values: np.ndarray  # rows x features, same order
    bias: float  # the model's base value (log-odds)
    rows: int
    of_rows: int  # rows in the reference year


BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def plain_name(feature: str, language: str = "vi") -> str:
    """A feature's short name in words (the catalogue's description)."""
    entry = BY_NAME.get(feature)
    if entry is None:
        return feature
    return entry.description_vi if language == "vi" else entry.description_en


def global_explanation(
    model: ServiceModel, reference: pd.DataFrame, seed: int = 0
) -> GlobalExplanation:
    """Mean |SHAP| per feature over up to `SAMPLE_ROWS` reference rows (drawn with `seed`)."""
    sample = (
        reference.sample(n=SAMPLE_ROWS, random_state=seed)
        if len(reference) > SAMPLE_ROWS
        else reference
    )
    matrix = model.matrix(sample)
    values = contributions(model, matrix)
    shap, bias = values[:, :-1], float(values[0, -1]) if len(values) else 0.0
    mean_abs = np.abs(shap).mean(axis=0) if len(shap) else np.zeros(len(model.features))
    order = np.argsort(-mean_abs, kind="stable")
    return GlobalExplanation(
        features=[model.features[i] for i in order],
        mean_abs=mean_abs[order],
        contributions=shap[:, order],
        values=matrix[:, order],
        bias=bias,
        rows=len(sample),
        of_rows=len(reference),
    )
