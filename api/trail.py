"""The API's side of the audit log: one call per answered or refused request.

Successful reads are logged by their route before the response is sent; refusals (403, 404,
429) by the error handler, with the key, the route template and what was asked for. Each
append also counts the key's use for the day (quota, volume alerts) and may take a
scheduled checkpoint of the chain's head.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import Engine

from needs_model.governance import audit
from needs_model.governance.access import Principal
from needs_model.settings import Settings

log = logging.getLogger("needs.api")


class Trail:
    """Appends audit entries for the app (the engine is opened in the lifespan)."""

    def __init__(self, settings: Settings) -> None:
        self.engine: Engine | None = None
        self.volume = audit.VolumePolicy(
            factor=settings.volume_alert_factor, floor=settings.volume_alert_floor
        )
        self.checkpoints = audit.Checkpointer(
            settings.audit_checkpoint_dir,
            settings.audit_signing_key,
            every=settings.audit_checkpoint_every,
            seconds=settings.audit_checkpoint_seconds,
        )
        # 429s for the request budget are logged at most once per key and minute (with the
        # count of those not logged): each entry is a synchronous disk write, and a client
        # over its budget must not be able to turn its excess into audit-log writes.
        self._throttled: dict[str, tuple[float, int]] = {}
        self._throttle_lock = threading.Lock()

    def record(
        self,
        principal: Principal,
        *,
        action: str,
        route: str,
        subjects: list[str] | None = None,
        purpose: str | None = None,
        details: dict[str, Any] | None = None,
        personal_reads: int = 0,
    ) -> int:
        """Append an entry (durably committed before returning); returns its sequence number."""
        if self.engine is None:
            raise RuntimeError("the service database is not open")
        seq = audit.append(
            self.engine,
            key_id=principal.key_id,
            role=principal.role,
            action=action,
            route=route,
            subjects=subjects or [],
            purpose=purpose,
            details=details,
            personal_reads=personal_reads,
            volume=self.volume,
        )
        try:
            self.checkpoints.after_append(self.engine, seq)
        except OSError:
            # The entry is committed; a missed checkpoint is retried at the next append.
            log.exception("could not write an audit checkpoint to %s", self.checkpoints.directory)
        return seq

    def rate_limited(self, principal: Principal, route: str, retry_after: int) -> None:
        """Log a refusal for the request budget, at most once per key per minute."""
        now = time.monotonic()
        with self._throttle_lock:
            last, suppressed = self._throttled.get(principal.key_id, (float("-inf"), 0))
            if now - last < 60:
                self._throttled[principal.key_id] = (last, suppressed + 1)
                return
            self._throttled[principal.key_id] = (now, 0)
        self.record(
            principal,
            action="rate_limited",
            route=route,
            details={"retry_after_s": retry_after, "not_logged_since_last_entry": suppressed},
        )
