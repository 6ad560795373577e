"""One typed configuration, read from the environment (prefix NEEDS_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEEDS_", env_file=".env", extra="ignore")

    mlflow_tracking_uri: str = "sqlite:///mlflow/mlflow.db"
    mlflow_artifact_root: Path = Path("mlflow/artifacts")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    scores_dir: Path = Path("data/scores")
    # Service state (API keys, audit log, outcomes): any SQLAlchemy URL.
    database_url: str = "sqlite:///data/service/needs.db"
    # Secret for signing audit-log checkpoints (HMAC-SHA256); keep it outside the database.
    audit_signing_key: str = ""
    max_batch: int = 100
    max_body_bytes: int = 1_000_000


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (tests clear the cache or override the environment)."""
    return Settings()
