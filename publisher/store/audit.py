"""The audit trail: every change made in the admin, the CLI or the API, in the same
transaction as the change itself, so a change is never without its record."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
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


def _normalised(value: Any) -> Any:
    """A value as the trail compares and keeps it: a time in UTC to the second (the newsroom's
    form shows and sends whole seconds), text with plain line ends and no space around it,
    nothing as "", a sequence item by item."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).replace(microsecond=0).isoformat()
    if isinstance(value, str):
        return value.replace("\r\n", "\n").strip()
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return [_normalised(item) for item in value]
    return value


def changes(
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """What changed, as (before, after), normalised: the one place every audited change is
    compared. A field on both sides is kept only if its value differs; a field on one side
    only (a count, a deadline) is kept as it is."""
    old = {k: _normalised(v) for k, v in (before or {}).items()}
    new = {k: _normalised(v) for k, v in (after or {}).items()}
    same = {k for k in old.keys() & new.keys() if old[k] == new[k]}
    return (
        {k: v for k, v in old.items() if k not in same},
        {k: v for k, v in new.items() if k not in same},
    )


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
    """Record one change (``before``/``after``: the fields it touched, or None; only those
    whose value changed are kept, see :func:`changes`)."""
    before, after = changes(before, after)
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
    rows = []
    for e in entries:
        before, after = changes(e.get("before"), e.get("after"))
        rows.append(
            {
                "at": now,
                "actor": e["actor"][:400],
                "action": e["action"],
                "subject_kind": e["kind"],
                "subject_id": e["subject_id"],
                "subject_label": e.get("label", "")[:500],
                "before": _json(before),
                "after": _json(after),
            }
        )
    session.execute(insert(audit_t), rows)


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
