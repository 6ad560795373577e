"""The hash-chained audit log and each citizen's access log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import AuditorReads, CccdPath, EngineDep, PurposeQuery, StoreDep, TrailDep
from api.errors import ApiError
from api.schemas import MAX_SEQ, AccessLogResponse, AuditLogResponse
from api.views import citizen_in_scope
from needs_model.governance import audit

router = APIRouter(tags=["audit"])


@router.get("/v1/audit/log", response_model=AuditLogResponse)
def audit_log(
    principal: AuditorReads,
    engine: EngineDep,
    trail: TrailDep,
    after: Annotated[int, Query(ge=0, le=MAX_SEQ)] = 0,
    until: Annotated[
        int | None,
        Query(ge=1, le=MAX_SEQ, description="Stop at this entry (the `until` of page 1)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    action: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]+$")] = None,
) -> dict[str, Any]:
    """The hash-chained log, oldest first, for province-wide auditors. Page with `after`
    (the last seq seen) and the `until` of the first page: the log grows with every
    read (this one too), so paging stops at the head as it was when paging began."""
    if principal.scope.level != "province":
        # Entries name citizens of every commune, and other keys and their purposes: a
        # district or commune auditor reads its citizens' access logs instead.
        raise ApiError(
            403,
            "out_of_scope",
            f"the audit log covers the whole province; a {principal.scope.level} key "
            "reads the access log of each citizen in its scope",
            None,
        )
    head = audit.head(engine)
    stop = head if until is None else min(until, head)
    entries = audit.read(
        engine,
        after_seq=after,
        until_seq=stop,
        limit=limit,
        actions=[action] if action else None,
    )
    last = entries[-1]["seq"] if entries else None
    more = last is not None and last < stop and len(entries) == limit
    trail.record(
        principal,
        action="read_audit_log",
        route="GET /v1/audit/log",
        details={"after": after, "until": stop, "returned": len(entries)},
        personal_reads=len({s for e in entries for s in e["subjects"]}),
    )
    return {
        "head": head,
        "until": stop,
        "entries": entries,
        "next_after": last if more else None,
    }


@router.get("/v1/citizens/{cccd}/access-log", response_model=AccessLogResponse)
def access_log(
    principal: AuditorReads,
    cccd: CccdPath,
    store: StoreDep,
    engine: EngineDep,
    trail: TrailDep,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_SEQ, description="The `next_before` of a page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    purpose: PurposeQuery = None,
) -> dict[str, Any]:
    """Who read this citizen's data, when and why (after Estonia's Data Tracker), newest
    first, paged with `before`."""
    citizen_in_scope(store, principal, cccd, "cccd")
    head = audit.head(engine)
    total = audit.count_subject(engine, cccd, until_seq=head)
    entries = audit.read(
        engine,
        subject=cccd,
        until_seq=head,
        before_seq=before,
        limit=limit,
        newest_first=True,
    )
    more = len(entries) == limit and entries[-1]["seq"] > 1
    trail.record(
        principal,
        action="read_access_log",
        route="GET /v1/citizens/{cccd}/access-log",
        subjects=[cccd],
        purpose=purpose,
        details={"before": before, "returned": len(entries)},
        personal_reads=1,
    )
    return {
        "cccd": cccd,
        "total": total,
        "accesses": [
            {
                "seq": e["seq"],
                "at": e["at"],
                "key_id": e["key_id"],
                "role": e["role"],
                "action": e["action"],
                "purpose": e["purpose"],
            }
            for e in entries
        ],
        "next_before": entries[-1]["seq"] if more else None,
    }
