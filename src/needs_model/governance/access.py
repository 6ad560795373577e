"""Who may see what: roles, scopes and API keys.

A key is `needs_<key_id>_<secret>`. Only the SHA-256 of the secret is stored (the secret
is 256 random bits, so a slow password hash adds nothing) and it is compared in constant
time. A key carries one role and one scope:

- `province`: every subject;
- `district:XXX`: subjects whose 2025 commune came mostly from legacy district XXX;
- `commune:XXXXX`: subjects of one 2025 commune.

Every key expires (`expires_at`), and may carry its own budgets (requests per minute,
personal records read per day) instead of the settings' defaults. A key's use per day is
counted in `key_usage`, in the same transaction as the audit entry of each read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, select, update

from needs_model.governance.db import api_keys, driver_sql, reading

Role = Literal["planner", "auditor", "data_scientist", "admin"]
ROLES: tuple[Role, ...] = ("planner", "auditor", "data_scientist", "admin")
KEY_PATTERN = re.compile(r"needs_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
# Days are counted in Vietnam's time (UTC+7 all year: no daylight saving).
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
_DUMMY_HASH = hashlib.sha256(b"no such key").hexdigest()


class ScopeError(ValueError):
    pass


@dataclass(frozen=True)
class Scope:
    level: Literal["province", "district", "commune"]
    code: str = ""

    def __str__(self) -> str:
        return "province" if self.level == "province" else f"{self.level}:{self.code}"

    def allows(self, commune_code: str | None, district_code: str | None) -> bool:
        if self.level == "province":
            return True
        if self.level == "district":
            return district_code == self.code
        return commune_code == self.code


def parse_scope(
    text: str, communes: set[str] | None = None, districts: set[str] | None = None
) -> Scope:
    """`province`, `district:XXX` or `commune:XXXXX`, checked against known units if given."""
    if text == "province":
        return Scope("province")
    level, _, code = text.partition(":")
    if level == "commune" and re.fullmatch(r"[0-9]{5}", code):
        if communes is not None and code not in communes:
            raise ScopeError(f"commune {code} is not a 2025 commune of the province")
        return Scope("commune", code)
    if level == "district" and re.fullmatch(r"[0-9]{3}", code):
        if districts is not None and code not in districts:
            raise ScopeError(f"district {code} is not a district of the province")
        return Scope("district", code)
    raise ScopeError(f"scope {text!r} is not province, district:XXX or commune:XXXXX")


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's role and scope, its budgets (None: the settings' default)
    and what it has read today."""

    key_id: str
    role: Role
    scope: Scope
    requests_per_minute: int | None = None
    personal_reads_per_day: int | None = None
    personal_reads_today: int = 0


Refusal = Literal["unknown", "revoked", "expired"]


def usage_day(now: dt.datetime | None = None) -> str:
    """The day a read counts towards (Vietnam time), as YYYY-MM-DD."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(VIETNAM).date().isoformat()


def seconds_to_next_day(now: dt.datetime | None = None) -> int:
    """Seconds until the daily quota resets (midnight, Vietnam time)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(VIETNAM)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), VIETNAM)
    return max(1, int((midnight - local).total_seconds() + 0.999))


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    engine: Engine,
    role: str,
    scope: Scope,
    label: str = "",
    *,
    expires_at: dt.datetime | None = None,
    requests_per_minute: int | None = None,
    personal_reads_per_day: int | None = None,
) -> tuple[str, str]:
    """Store a new key; returns (key_id, the full key — shown once, never stored).

    `expires_at` None makes a key that never expires: only tests and the bench do that; the
    CLI always sets one. Budgets left None follow the settings' defaults.
    """
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    for name, budget in (
        ("requests_per_minute", requests_per_minute),
        ("personal_reads_per_day", personal_reads_per_day),
    ):
        if budget is not None and budget < 1:
            raise ValueError(f"{name} must be at least 1 (got {budget})")
    now = dt.datetime.now(dt.UTC)
    if expires_at is not None and expires_at <= now:
        raise ValueError(f"expires_at {expires_at.isoformat()} is not in the future")
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with engine.begin() as connection:
        connection.execute(
            api_keys.insert().values(
                key_id=key_id,
                secret_sha256=_hash(secret),
                role=role,
                scope=str(scope),
                label=label,
                created_at=now.isoformat(timespec="seconds"),
                expires_at=_utc_text(expires_at) if expires_at is not None else None,
                requests_per_minute=requests_per_minute,
                personal_reads_per_day=personal_reads_per_day,
            )
        )
    return key_id, f"needs_{key_id}_{secret}"


def _utc_text(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("expires_at must carry a time zone")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def revoke_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as connection:
        result = connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        )
    return result.rowcount == 1


_KEY_LOOKUP = (
    "SELECT k.secret_sha256, k.role, k.scope, k.revoked_at, k.expires_at, "
    "k.requests_per_minute, k.personal_reads_per_day, u.personal_reads "
    "FROM api_keys k LEFT JOIN key_usage u ON u.key_id = k.key_id AND u.day = ? "
    "WHERE k.key_id = ?"
)


def authenticate(
    engine: Engine, presented: str, now: dt.datetime | None = None
) -> Principal | Refusal:
    """The principal of a presented key, or why it is refused (malformed and wrong keys are
    `unknown`; only the holder of the right secret learns that a key is revoked or expired)."""
    now = now or dt.datetime.now(dt.UTC)
    match = KEY_PATTERN.fullmatch(presented)
    key_id, secret = (match.group(1), match.group(2)) if match else ("", presented)
    row = None
    if match:
        connection = engine.raw_connection()  # the hot path: no SQLAlchemy machinery
        try:
            cursor = connection.cursor()
            cursor.execute(driver_sql(engine, _KEY_LOOKUP), (usage_day(now), key_id))
            row = cursor.fetchone()
            connection.rollback()
        finally:
            connection.close()
    stored = str(row[0]) if row is not None else _DUMMY_HASH
    same = hmac.compare_digest(stored, _hash(secret))
    if row is None or not same:
        return "unknown"
    if row[3] is not None:
        return "revoked"
    if row[4] is not None and dt.datetime.fromisoformat(row[4]) <= now:
        return "expired"
    return Principal(key_id, row[1], parse_scope(row[2]), row[5], row[6], int(row[7] or 0))


def list_keys(engine: Engine) -> list[dict[str, str | int | None]]:
    with reading(engine) as connection:
        rows = connection.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
    return [
        {
            "key_id": r.key_id,
            "role": r.role,
            "scope": r.scope,
            "label": r.label,
            "created_at": r.created_at,
            "expires_at": r.expires_at,
            "revoked_at": r.revoked_at,
            "requests_per_minute": r.requests_per_minute,
            "personal_reads_per_day": r.personal_reads_per_day,
        }
        for r in rows
    ]
