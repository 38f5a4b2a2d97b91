"""Readers' error reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, case, func, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.errors import NotFoundError
from publisher.models import Article, Report
from publisher.store.audit import record
from publisher.store.engine import articles_t

__all__ = [
    "add_report",
    "report_by_id",
    "report_list",
    "report_queue",
    "reports_t",
    "resolve_report",
]

reports_t = Report.__table__  # type: ignore[attr-defined]


def add_report(session: Session, slug: str, message: str, email: str, *, now: datetime) -> int:
    """Store a report about the article ``slug``; its id."""
    article_id = session.scalar(select(articles_t.c.id).where(articles_t.c.slug == slug))
    if article_id is None:
        raise NotFoundError(f"no article with slug {slug!r}")
    result = session.execute(
        insert(reports_t)
        .values(
            article_id=article_id,
            slug=slug,
            message=message,
            email=email,
            status="open",
            created_at=now,
        )
        .returning(reports_t.c.id)
    )
    return int(result.scalar_one())


def report_list(session: Session, *, include_resolved: bool = False) -> list[Report]:
    query = select(Report).order_by(reports_t.c.created_at, reports_t.c.id)
    if not include_resolved:
        query = query.where(reports_t.c.status == "open")
    return list(session.scalars(query).all())


def resolve_report(
    session: Session,
    report_id: int,
    *,
    now: datetime,
    actor: str,
    correction_id: int | None = None,
) -> bool:
    """Mark a report resolved (with the correction that answered it, if one did); False
    when it already was."""
    report = session.get(Report, report_id)
    if report is None:
        raise NotFoundError(f"no report {report_id}")
    result = session.execute(
        update(reports_t)
        .where(and_(reports_t.c.id == report_id, reports_t.c.status == "open"))
        .values(status="resolved", resolved_at=now, correction_id=correction_id)
    )
    changed = bool(cast(CursorResult[Any], result).rowcount)
    if changed:
        after: dict[str, Any] = {"status": "resolved"}
        if correction_id is not None:
            after["correction_id"] = correction_id
        record(
            session,
            actor=actor,
            action="report.resolve",
            kind="report",
            subject_id=report_id,
            label=report.slug,
            before={"status": "open"},
            after=after,
            now=now,
        )
    return changed


def report_by_id(session: Session, report_id: int, *, lock: bool = False) -> Report:
    """A report; with ``lock``, held until the transaction ends (PostgreSQL), so that two
    people resolving it at once cannot both add a correction."""
    found = session.get(Report, report_id, with_for_update=lock)
    if found is None:
        raise NotFoundError(f"no report {report_id}")
    return found


def report_queue(
    session: Session, *, status: str = "", article_id: int | None = None, offset: int, limit: int
) -> tuple[list[tuple[Report, Article | None]], dict[str, int]]:
    """One page of reports, open ones first, newest first, each with its article (None when
    the article is gone); and how many are open and resolved."""
    query = select(Report, Article).outerjoin(Article, articles_t.c.id == reports_t.c.article_id)
    counted = select(reports_t.c.status, func.count()).group_by(reports_t.c.status)
    if article_id is not None:
        query = query.where(reports_t.c.article_id == article_id)
        counted = counted.where(reports_t.c.article_id == article_id)
    if status:
        query = query.where(reports_t.c.status == status)
    query = query.order_by(
        case((reports_t.c.status == "open", 0), else_=1),
        reports_t.c.created_at.desc(),
        reports_t.c.id.desc(),
    )
    rows: list[tuple[Report, Article | None]] = [
        (r, a) for r, a in session.execute(query.offset(offset).limit(limit))
    ]
    counts = {"open": 0, "resolved": 0}
    counts.update({str(name): int(n) for name, n in session.execute(counted)})
    return rows, counts
