"""The audit trail: every change made in the admin, the CLI or the API, in the same
transaction as the change itself, so a change is never without its record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select
from sqlalchemy.orm import Session

from publisher.models import AuditEntry

__all__ = [
    "actions_since",
    "audit_entries",
    "audit_t",
    "changes",
    "one_at_a_time",
    "record",
    "record_many",
]

audit_t = AuditEntry.__table__  # type: ignore[attr-defined]


def _json(values: Mapping[str, Any] | None) -> str:
    if not values:
        return ""
    return json.dumps(dict(values), default=str, ensure_ascii=False, sort_keys=True)


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    kind: str,
    subject_id: int | None,
    label: str = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    now: datetime,
) -> None:
    """Record one change (``before``/``after``: the fields that changed, or None)."""
    session.execute(
        insert(audit_t).values(
            at=now,
            actor=actor[:400],
            action=action,
            subject_kind=kind,
            subject_id=subject_id,
            subject_label=label[:500],
            before=_json(before),
            after=_json(after),
        )
    )


def actions_since(
    session: Session, *, actor: str, action: str, since: datetime
) -> list[tuple[datetime, dict[str, Any]]]:
    """When ``actor`` did ``action`` since ``since``, oldest first, each with its ``after``."""
    rows = session.execute(
        select(audit_t.c.at, audit_t.c.after)
        .where(
            and_(
                audit_t.c.at >= since,
                audit_t.c.actor == actor[:400],
                audit_t.c.action == action,
            )
        )
        .order_by(audit_t.c.at, audit_t.c.id)
    ).all()
    return [(at, json.loads(after) if after else {}) for at, after in rows]


def one_at_a_time(session: Session, name: str) -> None:
    """Until this write transaction ends, another that asks for ``name`` waits (PostgreSQL:
    an advisory lock; SQLite's write transactions already go one at a time), so that a count
    and the row that uses it up are one step: a burst cannot pass a limit."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(func.hashtext(name))))


def record_many(session: Session, entries: list[dict[str, Any]], *, now: datetime) -> None:
    """``record`` for many changes in one statement (an import of thousands of articles);
    each entry has ``record``'s keyword arguments but ``now``."""
    if not entries:
        return
    session.execute(
        insert(audit_t),
        [
            {
                "at": now,
                "actor": e["actor"][:400],
                "action": e["action"],
                "subject_kind": e["kind"],
                "subject_id": e["subject_id"],
                "subject_label": e.get("label", "")[:500],
                "before": _json(e.get("before")),
                "after": _json(e.get("after")),
            }
            for e in entries
        ],
    )


def audit_entries(
    session: Session,
    *,
    kind: str | None = None,
    subject_id: int | None = None,
    actor: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first; ``before_id`` pages on (the smallest id of the last page)."""
    query = select(AuditEntry).order_by(audit_t.c.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(audit_t.c.subject_kind == kind)
    if subject_id is not None:
        query = query.where(audit_t.c.subject_id == subject_id)
    if actor is not None:
        query = query.where(audit_t.c.actor == actor)
    if before_id is not None:
        query = query.where(audit_t.c.id < before_id)
    return list(session.scalars(query).all())


def changes(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}
