"""What happened after a proactive contact: the feedback that measures whether it works.

Planners record one outcome per contact step (`notified`, then `completed`, `declined` or
`wrong_data`). Take-up = completed / notified, by service and commune.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, select

from needs_model.governance.db import outcomes, reading

Status = Literal["notified", "completed", "declined", "wrong_data"]
STATUSES: tuple[Status, ...] = ("notified", "completed", "declined", "wrong_data")


def record(engine: Engine, key_id: str, rows: list[dict[str, Any]]) -> list[str]:
    """Store outcomes in one transaction; returns their ids."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    stored = [
        {**r, "outcome_id": str(uuid.uuid4()), "recorded_at": now, "key_id": key_id} for r in rows
    ]
    with engine.begin() as connection:
        connection.execute(outcomes.insert(), stored)
    return [r["outcome_id"] for r in stored]


def summary(
    engine: Engine, communes: set[str] | None = None, service_id: str | None = None
) -> pd.DataFrame:
    """Counts per service, commune and status, plus take-up (completed / notified)."""
    query = select(outcomes.c.service_id, outcomes.c.commune_code, outcomes.c.status)
    if service_id is not None:
        query = query.where(outcomes.c.service_id == service_id)
    if communes is not None:
        query = query.where(outcomes.c.commune_code.in_(sorted(communes)))
    with reading(engine) as connection:
        frame = pd.DataFrame(
            connection.execute(query).all(), columns=["service_id", "commune_code", "status"]
        )
    if frame.empty:
        return pd.DataFrame(columns=["service_id", "commune_code", *STATUSES, "take_up"])
    table = (
        frame.groupby(["service_id", "commune_code", "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=list(STATUSES), fill_value=0)
        .reset_index()
    )
    notified = table["notified"].where(table["notified"] > 0)
    table["take_up"] = (table["completed"] / notified).astype(float)
    return table
