"""Digest editions and the articles they carry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.errors import NotFoundError
from publisher.models import (
    ONE_OFF,
    Article,
    Edition,
)
from publisher.store.articles import (
    NEWEST_FIRST,
    ArticleView,
    article_views,
    visible,
)
from publisher.store.engine import (
    articles_t,
    categories_t,
    edition_articles_t,
    editions_t,
    insert_ignore,
    links_t,
)

__all__ = [
    "CARRYING",
    "FIRST_EDITION_LOOKBACK",
    "REVIEWABLE",
    "LeftOut",
    "candidate_articles",
    "carry_articles",
    "create_edition",
    "create_one_off",
    "edition_articles",
    "edition_by_id",
    "edition_for",
    "edition_languages",
    "edition_list",
    "edition_topics",
    "hold_for_review",
    "left_out_as_breaking",
    "lock_edition",
    "release_articles",
    "reorder_articles",
    "reviews_due",
    "save_rendering",
    "set_edition_status",
    "update_edition",
]

# ---------------------------------------------------------------- editions

FIRST_EDITION_LOOKBACK = timedelta(days=7)
# Editions whose stories count as taken (a story goes out in one edition of a digest at most).
CARRYING = ("pending", "ready", "sending", "sent", "awaiting_review", "paused", "cancelled")


def create_edition(
    session: Session, digest: str, period_key: str, *, nominal_at: datetime, now: datetime
) -> tuple[Edition, bool]:
    """The edition of ``digest`` for ``period_key``, and whether this call created it.
    Insert-if-absent: a second call, daemon or DST double fire gets the existing one."""
    statement = (
        insert_ignore(session)(editions_t)
        .values(
            digest=digest,
            period_key=period_key,
            nominal_at=nominal_at,
            status="pending",
            subject="",
            html="",
            text="",
            article_count=0,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["digest", "period_key"])
        .returning(editions_t.c.id)
    )
    created = session.execute(statement).first() is not None
    found = session.scalars(
        select(Edition).where(
            and_(editions_t.c.digest == digest, editions_t.c.period_key == period_key)
        )
    ).one()
    return found, created


def create_one_off(
    session: Session, kind: str, period_key: str, *, now: datetime, **values: Any
) -> tuple[Edition, bool]:
    """The one-off edition of ``kind`` (story, message) under ``period_key``, and whether this
    call created it (with ``values``); insert-if-absent, so two editors pressing send at once
    make one edition."""
    statement = (
        insert_ignore(session)(editions_t)
        .values(
            digest=ONE_OFF[kind],
            period_key=period_key,
            kind=kind,
            nominal_at=now,
            status="pending",
            html="",
            text="",
            article_count=0,
            created_at=now,
            **values,
        )
        .on_conflict_do_nothing(index_elements=["digest", "period_key"])
        .returning(editions_t.c.id)
    )
    created = session.execute(statement).first() is not None
    found = session.scalars(
        select(Edition)
        .where(and_(editions_t.c.digest == ONE_OFF[kind], editions_t.c.period_key == period_key))
        .execution_options(populate_existing=True)
    ).one()
    return found, created


def _fresh(
    session: Session,
    digest: str,
    *,
    categories: Sequence[str],
    until: datetime,
    before_id: int | None,
    before_nominal: datetime | None = None,
) -> list[ColumnElement[bool]]:
    """Visible articles that no edition of ``digest`` carried, newer than the last edition
    that carried any (other than ``before_id``, and before ``before_nominal`` when given; a
    week back for a first edition), in the digest's categories."""
    last = select(func.max(editions_t.c.nominal_at)).where(
        and_(editions_t.c.digest == digest, editions_t.c.status.in_(CARRYING))
    )
    if before_id is not None:
        last = last.where(editions_t.c.id != before_id)
    if before_nominal is not None:
        last = last.where(editions_t.c.nominal_at < before_nominal)
    since = session.scalar(last) or until - FIRST_EDITION_LOOKBACK
    conditions = [
        visible(until),
        articles_t.c.published_at > since,
        ~exists()
        .where(edition_articles_t.c.article_id == articles_t.c.id)
        .where(edition_articles_t.c.digest == digest)
        .correlate(articles_t),  # never the breaking edition a caller joins
    ]
    if categories:
        conditions.append(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == categories_t.c.id)
            .where(categories_t.c.slug.in_(list(categories)))
        )
    return conditions


def _breaking_before(made_at: datetime) -> tuple[ColumnElement[bool], ...]:
    """One-off story editions (breaking news) confirmed at or before ``made_at`` that count
    as gone out (any status that carries its stories: held, sending, sent, paused...)."""
    return (
        editions_t.c.digest == ONE_OFF["story"],
        editions_t.c.status.in_(CARRYING),
        editions_t.c.created_at <= made_at,
    )


def candidate_articles(
    session: Session,
    digest: str,
    *,
    categories: Sequence[str],
    limit: int,
    until: datetime,
    made_at: datetime,
    before_id: int | None = None,
) -> list[ArticleView]:
    """Visible articles that no edition of ``digest`` carried, newer than the last edition
    that carried any (a week back for a first edition), newest first. A story that went out
    as breaking news confirmed by ``made_at`` (when the digest is made) is left out: its
    readers had it already."""
    sent_as_breaking = exists().where(
        edition_articles_t.c.article_id == articles_t.c.id,
        edition_articles_t.c.edition_id == editions_t.c.id,
        *_breaking_before(made_at),
    )
    fresh = _fresh(session, digest, categories=categories, until=until, before_id=before_id)
    query = select(Article).where(*fresh, ~sent_as_breaking)
    query = query.order_by(*NEWEST_FIRST).limit(limit)
    return article_views(session, session.scalars(query).all())


@dataclass(frozen=True)
class LeftOut:
    """A story a digest edition left out because it went out as breaking news: when that
    one-off was confirmed, and its edition."""

    view: ArticleView
    sent_at: datetime
    edition_id: int


def left_out_as_breaking(
    session: Session, edition: Edition, *, categories: Sequence[str], limit: int = 50
) -> list[LeftOut]:
    """The stories a digest ``edition`` would have carried but left out because breaking
    news confirmed before it was made had carried them (what its review page says)."""
    fresh = _fresh(
        session,
        edition.digest,
        categories=categories,
        until=edition.nominal_at,
        before_id=edition.id,
        before_nominal=edition.nominal_at,
    )
    query = (
        select(Article, editions_t.c.created_at, editions_t.c.id)
        .join(edition_articles_t, edition_articles_t.c.article_id == articles_t.c.id)
        .join(editions_t, editions_t.c.id == edition_articles_t.c.edition_id)
        .where(*fresh, *_breaking_before(edition.created_at))
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    rows = session.execute(query).all()
    views = article_views(session, [row[0] for row in rows])
    return [LeftOut(v, row[1], int(row[2])) for v, row in zip(views, rows, strict=True)]


def carry_articles(session: Session, edition: Edition, article_ids: Sequence[int]) -> None:
    rows = [
        {
            "edition_id": edition.id,
            "article_id": article_id,
            "digest": edition.digest,
            "position": position,
        }
        for position, article_id in enumerate(article_ids)
    ]
    if rows:
        session.execute(insert(edition_articles_t), rows)
    session.execute(
        update(editions_t)
        .where(editions_t.c.id == edition.id)
        .values(article_count=len(rows), status="pending" if rows else "skipped")
    )


def edition_articles(session: Session, edition_id: int) -> list[ArticleView]:
    """The articles an edition carries, in its order."""
    query = (
        select(Article)
        .join(edition_articles_t, edition_articles_t.c.article_id == articles_t.c.id)
        .where(edition_articles_t.c.edition_id == edition_id)
        .order_by(edition_articles_t.c.position)
    )
    return article_views(session, session.scalars(query).all())


def edition_topics(session: Session, edition_id: int) -> list[tuple[int, frozenset[int]]]:
    """Each article an edition carries, in its order, with its category ids."""
    order = [
        article_id
        for (article_id,) in session.execute(
            select(edition_articles_t.c.article_id)
            .where(edition_articles_t.c.edition_id == edition_id)
            .order_by(edition_articles_t.c.position)
        )
    ]
    found: dict[int, set[int]] = {article_id: set() for article_id in order}
    for article_id, category_id in session.execute(
        select(links_t.c.article_id, links_t.c.category_id).where(links_t.c.article_id.in_(order))
    ):
        found[article_id].add(category_id)
    return [(article_id, frozenset(found[article_id])) for article_id in order]


def edition_languages(session: Session, edition_id: int) -> dict[int, str]:
    """The language of each article an edition carries ("" for the site's), by article id."""
    return {
        row.id: str(row.language or "")
        for row in session.execute(
            select(articles_t.c.id, articles_t.c.language)
            .join(edition_articles_t, edition_articles_t.c.article_id == articles_t.c.id)
            .where(edition_articles_t.c.edition_id == edition_id)
        )
    }


def save_rendering(
    session: Session,
    edition_id: int,
    *,
    subject: str,
    html: str,
    text: str,
    count: int,
    look: str = "",
) -> bool:
    """Store a pending edition's rendering (and ``look``, the look's JSON it was rendered
    with) and make it ready; False if another process did."""
    values: dict[str, Any] = {
        "subject": subject,
        "html": html,
        "text": text,
        "status": "ready",
        "article_count": count,
    }
    if look:
        values["look"] = look
    result = session.execute(
        update(editions_t)
        .where(and_(editions_t.c.id == edition_id, editions_t.c.status == "pending"))
        .values(**values)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def set_edition_status(session: Session, edition_id: int, status: str) -> None:
    session.execute(update(editions_t).where(editions_t.c.id == edition_id).values(status=status))


def edition_by_id(session: Session, edition_id: int) -> Edition:
    found = session.get(Edition, edition_id)
    if found is None:
        raise NotFoundError(f"no edition {edition_id}")
    return found


def edition_list(
    session: Session, *, digest: str | None = None, statuses: Sequence[str] = (), limit: int = 100
) -> list[Edition]:
    query = select(Edition).order_by(editions_t.c.nominal_at.desc(), editions_t.c.id.desc())
    if digest is not None:
        query = query.where(editions_t.c.digest == digest)
    if statuses:
        query = query.where(editions_t.c.status.in_(list(statuses)))
    return list(session.scalars(query.limit(limit)).all())


def edition_for(session: Session, digest: str, period_key: str) -> Edition | None:
    return session.scalars(
        select(Edition).where(
            and_(editions_t.c.digest == digest, editions_t.c.period_key == period_key)
        )
    ).first()


# ---------------------------------------------------------------- review and control (issue 13)

REVIEWABLE = ("awaiting_review",)


def hold_for_review(session: Session, edition_id: int, *, deadline: datetime) -> bool:
    """A ready edition waits for an editor until ``deadline``; False if it was not ready."""
    result = session.execute(
        update(editions_t)
        .where(and_(editions_t.c.id == edition_id, editions_t.c.status == "ready"))
        .values(status="awaiting_review", review_deadline_at=deadline)
    )
    return bool(cast(CursorResult[Any], result).rowcount)


def lock_edition(session: Session, edition_id: int) -> Edition:
    """The edition, its row locked for this transaction (FOR UPDATE on PostgreSQL; SQLite
    has one writer), so two people acting on it at once act one after the other."""
    query = select(Edition).where(editions_t.c.id == edition_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found = session.scalars(query.execution_options(populate_existing=True)).first()
    if found is None:
        raise NotFoundError(f"no edition {edition_id}")
    return found


def update_edition(session: Session, edition_id: int, **values: Any) -> None:
    """Set these columns of one edition (the use cases in ``sends`` check the transition)."""
    session.execute(update(editions_t).where(editions_t.c.id == edition_id).values(**values))


def reorder_articles(session: Session, edition_id: int, article_ids: Sequence[int]) -> None:
    """Keep only these of the edition's stories, in this order; the others are let go (no
    longer carried by it)."""
    keep = list(article_ids)
    session.execute(
        edition_articles_t.delete().where(
            and_(
                edition_articles_t.c.edition_id == edition_id,
                edition_articles_t.c.article_id.notin_(keep),
            )
        )
    )
    for position, article_id in enumerate(keep):
        session.execute(
            update(edition_articles_t)
            .where(
                and_(
                    edition_articles_t.c.edition_id == edition_id,
                    edition_articles_t.c.article_id == article_id,
                )
            )
            .values(position=position)
        )


def release_articles(session: Session, edition_id: int) -> int:
    """The edition carries no story any more (it was never sent): the next one may take them."""
    result = session.execute(
        edition_articles_t.delete().where(edition_articles_t.c.edition_id == edition_id)
    )
    return max(cast(CursorResult[Any], result).rowcount, 0)


def reviews_due(session: Session, *, now: datetime) -> list[Edition]:
    """Editions awaiting review whose deadline has passed, oldest first."""
    return list(
        session.scalars(
            select(Edition)
            .where(
                and_(
                    editions_t.c.status == "awaiting_review",
                    editions_t.c.review_deadline_at <= now,
                )
            )
            .order_by(editions_t.c.review_deadline_at, editions_t.c.id)
        ).all()
    )
