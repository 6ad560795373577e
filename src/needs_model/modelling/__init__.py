"""Training, evaluation against baselines and the oracle, MLflow tracking, promotion to
served bundles."""
