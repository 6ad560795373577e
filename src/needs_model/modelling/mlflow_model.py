"""Model code MLflow executes when it logs or loads a Needs model (models-from-code).

Not imported by the package: MLflow runs this file itself, and `set_model` tells it which
object is the model.
"""

import mlflow

from needs_model.modelling.pyfunc import NeedsPyfunc

mlflow.models.set_model(NeedsPyfunc())
