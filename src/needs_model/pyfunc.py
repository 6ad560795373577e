"""Kept importable for MLflow models logged before the move to `modelling/`: their logged
model code imports `needs_model.pyfunc.NeedsPyfunc`."""

from needs_model.modelling.pyfunc import NeedsPyfunc

__all__ = ["NeedsPyfunc"]
