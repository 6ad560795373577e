"""The MLflow pyfunc that serves a service model: calibrated probabilities."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from needs_model.modelling.training import ServiceModel


class NeedsPyfunc(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
    """Calibrated probabilities of one service from a DataFrame of its features."""

    def load_context(self, context: Any) -> None:
        folder = Path(context.artifacts["bundle"])
        params = json.loads((folder / "params.json").read_text(encoding="utf-8"))
        self.model = ServiceModel.load(folder, str(params.get("service_id", "")))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.Series:
        frame = model_input.reindex(columns=self.model.features).apply(
            pd.to_numeric, errors="coerce"
        )
        return pd.Series(self.model.predict(frame), name="probability")
