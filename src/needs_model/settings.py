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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (tests clear the cache or override the environment)."""
    return Settings()
