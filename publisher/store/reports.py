"""Readers' error reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.errors import NotFoundError
from publisher.models import Report
from publisher.store.engine import articles_t

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


def resolve_report(session: Session, report_id: int, *, now: datetime) -> bool:
    """Mark a report resolved; False when it already was."""
    if session.get(Report, report_id) is None:
        raise NotFoundError(f"no report {report_id}")
    result = session.execute(
        update(reports_t)
        .where(and_(reports_t.c.id == report_id, reports_t.c.status == "open"))
        .values(status="resolved", resolved_at=now)
    )
    return bool(cast(CursorResult[Any], result).rowcount)
