"""Who may see what: roles, scopes and API keys.

A key is `needs_<key_id>_<secret>`. Only the SHA-256 of the secret is stored (the secret
is 256 random bits, so a slow password hash adds nothing) and it is compared in constant
time. A key carries one role and one scope:

- `province`: every subject;
- `district:XXX`: subjects whose 2025 commune came mostly from legacy district XXX;
- `commune:XXXXX`: subjects of one 2025 commune.
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

from needs_model.servicedb import api_keys, driver_sql, reading

Role = Literal["planner", "auditor", "data_scientist", "admin"]
ROLES: tuple[Role, ...] = ("planner", "auditor", "data_scientist", "admin")
KEY_PATTERN = re.compile(r"^needs_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
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
    if level == "commune" and re.fullmatch(r"\d{5}", code):
        if communes is not None and code not in communes:
            raise ScopeError(f"commune {code} is not a 2025 commune of the province")
        return Scope("commune", code)
    if level == "district" and re.fullmatch(r"\d{3}", code):
        if districts is not None and code not in districts:
            raise ScopeError(f"district {code} is not a district of the province")
        return Scope("district", code)
    raise ScopeError(f"scope {text!r} is not province, district:XXX or commune:XXXXX")


@dataclass(frozen=True)
class Principal:
    key_id: str
    role: Role
    scope: Scope


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(engine: Engine, role: str, scope: Scope, label: str = "") -> tuple[str, str]:
    """Store a new key; returns (key_id, the full key — shown once, never stored)."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
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
                created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            )
        )
    return key_id, f"needs_{key_id}_{secret}"


def revoke_key(engine: Engine, key_id: str) -> bool:
    with engine.begin() as connection:
        result = connection.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
        )
    return result.rowcount == 1


def authenticate(engine: Engine, presented: str) -> Principal | None:
    """The principal of a presented key, or None (unknown, malformed, wrong or revoked)."""
    match = KEY_PATTERN.match(presented)
    key_id, secret = (match.group(1), match.group(2)) if match else ("", presented)
    row = None
    if match:
        connection = engine.raw_connection()  # the hot path: no SQLAlchemy machinery
        try:
            cursor = connection.cursor()
            cursor.execute(
                driver_sql(
                    engine,
                    "SELECT secret_sha256, role, scope, revoked_at FROM api_keys WHERE key_id = ?",
                ),
                (key_id,),
            )
            row = cursor.fetchone()
            connection.rollback()
        finally:
            connection.close()
    stored = str(row[0]) if row is not None else _DUMMY_HASH
    same = hmac.compare_digest(stored, _hash(secret))
    if row is None or not same or row[3] is not None:
        return None
    return Principal(key_id, row[1], parse_scope(row[2]))


def list_keys(engine: Engine) -> list[dict[str, str | None]]:
    with reading(engine) as connection:
        rows = connection.execute(select(api_keys).order_by(api_keys.c.created_at)).all()
    return [
        {
            "key_id": r.key_id,
            "role": r.role,
            "scope": r.scope,
            "label": r.label,
            "created_at": r.created_at,
            "revoked_at": r.revoked_at,
        }
        for r in rows
    ]
