"""What the server's own logs may say: routes and statuses, never whom they were about.

Uvicorn's access log writes the full path and query string: CCCDs in `/v1/citizens/...`
paths and the free-text `purpose`. `install_log_masking` puts a filter on uvicorn's access
logger that drops the query string and replaces every run of 6 or more digits (CCCDs,
household and subject ids) with `{id}`. The audit log, not the access log, is where reads of
personal data are recorded.
"""

from __future__ import annotations

import logging
import re
from typing import Any

_IDENTIFIER = re.compile(r"[0-9]{6,}")
# Identifiers of subjects other than people (e.g. household ids) start with a letter prefix.
_PREFIXED_ID = re.compile(r"(?<=/)[A-Za-z]{1,4}[_-]?[0-9]{4,}(?=/|$)")


def mask_path(path: str) -> str:
    """The path without its query string and with identifiers replaced by `{id}`."""
    bare = path.split("?", 1)[0]
    return _IDENTIFIER.sub("{id}", _PREFIXED_ID.sub("{id}", bare))


class MaskAccessLog(logging.Filter):
    """Rewrites uvicorn's access-log records (args: client, method, path, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, path, version, status = args
            masked: Any = (client, method, mask_path(str(path)), version, status)
            record.args = masked
        return True


def install_log_masking() -> None:
    """Attach the filter to uvicorn's access logger (idempotent; called at start-up)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, MaskAccessLog) for f in access.filters):
        access.addFilter(MaskAccessLog())
