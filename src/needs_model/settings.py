"""One typed configuration, read from the environment (prefix NEEDS_) or a .env file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NEEDS_", env_file=".env", extra="ignore")

    # The pipeline's folders (data/README.md): extracts, link reviews, feature snapshots.
    raw_dir: Path = Path("data/raw")
    linked_dir: Path = Path("data/linked")
    features_dir: Path = Path("data/features")
    mlflow_tracking_uri: str = "sqlite:///mlflow/mlflow.db"
    mlflow_artifact_root: Path = Path("mlflow/artifacts")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    scores_dir: Path = Path("data/scores")
    # A JSON file of monitoring thresholds to use instead of the defaults
    # (`monitoring.thresholds.Thresholds`; `needs-model monitor --thresholds` wins over it).
    monitor_thresholds: Path | None = None
    # Service state (API keys, audit log, outcomes): any SQLAlchemy URL.
    database_url: str = "sqlite:///data/service/needs.db"
    # Secret for signing audit-log checkpoints (HMAC-SHA256); keep it outside the database.
    audit_signing_key: str = ""
    # Signed checkpoints of the audit chain's head, written outside the database after every
    # `audit_checkpoint_every` entries or `audit_checkpoint_seconds` (whichever comes first).
    audit_checkpoint_dir: Path = Path("data/service/checkpoints")
    audit_checkpoint_every: int = 1000
    audit_checkpoint_seconds: int = 3600
    max_batch: int = 100
    max_body_bytes: int = 1_000_000
    # Per-key budgets (a key may carry its own; these are the defaults): requests per minute
    # (per worker process, 429 beyond), and personal records returned per day (Vietnam time).
    requests_per_minute: int = 300
    personal_reads_per_day: int = 2000
    # A `volume_alert` entry is written when a key's personal reads today exceed this many
    # times its median over its previous active days (and at least the floor).
    volume_alert_factor: float = 3.0
    volume_alert_floor: int = 200
    # Keys expire: `keys create` sets this many days unless told otherwise.
    key_days: int = 90


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings (tests clear the cache or override the environment)."""
    return Settings()
