"""Imported stories' image addresses (issue 26): which ones stories still wait for, the
picture kept from one shown by every story naming it, failures tried again later, and a
story whose address changed letting its old picture go."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import and_, delete, func, not_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.models import PictureFetch
from publisher.store.engine import articles_t, insert_ignore
from publisher.store.pictures import pictures_t
from publisher.store.stamps import bump

__all__ = [
    "FETCH_ATTEMPTS",
    "attach_by_url",
    "fetch_failed",
    "picture_fetches_t",
    "release_stale_pictures",
    "unfetched_images",
]

picture_fetches_t = PictureFetch.__table__  # type: ignore[attr-defined]

FETCH_ATTEMPTS = 5  # an address that failed this often is left alone (the log says why)


def release_stale_pictures(session: Session, article_ids: Sequence[int]) -> None:
    """After an import changed these stories: one whose ``image`` now names another address
    than its picture came from lets the picture go, so that the new address is fetched."""
    if not article_ids:
        return
    came_from = (
        select(pictures_t.c.source_url)
        .where(pictures_t.c.id == articles_t.c.picture_id)
        .scalar_subquery()
    )
    session.execute(
        update(articles_t)
        .where(articles_t.c.id.in_(list(article_ids)))
        .where(articles_t.c.picture_id.is_not(None))
        .where(articles_t.c.image != "")
        .where(articles_t.c.image != came_from)
        .values(picture_id=None)
    )


def unfetched_images(session: Session, *, now: datetime, limit: int) -> list[str]:
    """Image addresses of stories with no picture of ours yet, not failed lately (newest
    stories first): what the daemon fetches next."""
    failed = (
        select(picture_fetches_t.c.url)
        .where(picture_fetches_t.c.url == articles_t.c.image)
        .where(
            or_(
                picture_fetches_t.c.next_try_at > now,
                picture_fetches_t.c.attempts >= FETCH_ATTEMPTS,
            )
        )
        .exists()
    )
    newest = func.max(articles_t.c.published_at)
    query = (
        select(articles_t.c.image)
        .where(articles_t.c.picture_id.is_(None))
        .where(articles_t.c.image != "")
        .where(not_(failed))
        .group_by(articles_t.c.image)
        .order_by(newest.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def attach_by_url(session: Session, url: str, picture_id: int, *, now: datetime) -> int:
    """Every story naming ``url`` as its image and showing no picture now shows this one;
    how many."""
    result = session.execute(
        update(articles_t)
        .where(and_(articles_t.c.image == url, articles_t.c.picture_id.is_(None)))
        .values(picture_id=picture_id, updated_at=now)
    )
    count = int(cast(CursorResult[Any], result).rowcount or 0)
    session.execute(delete(picture_fetches_t).where(picture_fetches_t.c.url == url))
    if count:
        bump(session, "articles")
    return count


def fetch_failed(session: Session, url: str, error: str, *, now: datetime) -> None:
    """Fetching ``url`` failed: tried again later (1 h, 4 h, 16 h...), at most
    ``FETCH_ATTEMPTS`` times."""
    attempts = int(
        session.scalar(select(picture_fetches_t.c.attempts).where(picture_fetches_t.c.url == url))
        or 0
    )
    values = {
        "attempts": attempts + 1,
        "error": error[:2000],
        "next_try_at": now + timedelta(hours=4**attempts),
    }
    statement = insert_ignore(session)(picture_fetches_t).values(url=url, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))
