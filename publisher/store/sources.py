"""Sources and their items: polling state (who polls is decided here, by a conditional
UPDATE), WebSub subscriptions, and each item once (unique on source and key)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from publisher.content import slugify
from publisher.errors import NotFoundError
from publisher.models import Source, SourceItem
from publisher.schedules import SourceSpec
from publisher.sources.items import FeedItem
from publisher.store.engine import articles_t, insert_ignore

__all__ = [
    "ITEM_STATUSES",
    "PAUSE_AFTER",
    "ItemQuery",
    "claim_poll",
    "ensure_sources",
    "find_item",
    "find_items",
    "free_slug",
    "insert_item",
    "item_by_id",
    "item_counts",
    "item_for_article",
    "items_t",
    "poll_failed",
    "poll_succeeded",
    "resume_source",
    "set_item_status",
    "set_websub",
    "source_categories",
    "source_row",
    "source_rows",
    "sources_t",
    "update_item",
]

sources_t = Source.__table__  # type: ignore[attr-defined]
items_t = SourceItem.__table__  # type: ignore[attr-defined]

ITEM_STATUSES = ("new", "updated", "published", "discarded")
PAUSE_AFTER = 10  # failures in a row


# ---------------------------------------------------------------- sources


def ensure_sources(session: Session, specs: Iterable[SourceSpec], *, now: datetime) -> None:
    """A state row for each source of the timetable (a new one is due at once), carrying
    what schedules.yaml says of it now: its mode, categories, and name if it gives one."""
    rows: list[dict[str, Any]] = [
        {
            "name": spec.key,
            "label": spec.name or spec.key,
            "mode": spec.mode,
            "url": spec.url,
            "categories": json.dumps(list(spec.categories), ensure_ascii=False),
            "next_poll_at": now,
            "updated_at": now,
        }
        for spec in specs
    ]
    if not rows:
        return
    insert = insert_ignore(session)
    session.execute(insert(sources_t).on_conflict_do_nothing(index_elements=["name"]), rows)
    for row in rows:
        values: dict[str, Any] = {"mode": row["mode"], "categories": row["categories"]}
        if row["label"] != row["name"]:
            values["label"] = row["label"][:300]
        session.execute(update(sources_t).where(sources_t.c.name == row["name"]).values(values))
        # A new URL: the last answer's validators were another feed's.
        session.execute(
            update(sources_t)
            .where(sources_t.c.name == row["name"], sources_t.c.url != row["url"])
            .values(url=row["url"], etag="", last_modified="")
        )


def source_categories(row: Source) -> list[str]:
    try:
        found = json.loads(row.categories or "[]")
    except ValueError:
        return []
    return [str(name) for name in found] if isinstance(found, list) else []


def source_rows(session: Session) -> list[Source]:
    return list(session.scalars(select(Source).order_by(sources_t.c.name)).all())


def source_row(session: Session, name: str, *, lock: bool = False) -> Source:
    query = select(Source).where(sources_t.c.name == name).execution_options(populate_existing=True)
    found = session.scalars(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFoundError(f"no source {name!r} has been seen yet")
    return found


def claim_poll(
    session: Session, name: str, *, now: datetime, next_at: datetime, force: bool = False
) -> bool:
    """Take this source's poll for this process: True for exactly one of the daemons that
    ask while it is due (the UPDATE's condition is re-checked after a concurrent one
    commits). ``force`` (``sources poll``) takes it even when not due. Paused: never."""
    query = update(sources_t).where(sources_t.c.name == name, sources_t.c.paused.is_(False))
    if not force:
        query = query.where(sources_t.c.next_poll_at <= now)
    result = cast(CursorResult[Any], session.execute(query.values(next_poll_at=next_at)))
    return result.rowcount == 1


def poll_succeeded(
    session: Session,
    name: str,
    *,
    now: datetime,
    title: str,
    label: str,
    etag: str,
    last_modified: str,
    new_items: int,
) -> None:
    """A poll (or a push) that worked: validators kept, failures forgotten; ``label`` is
    the name to show (schedules.yaml's name, else the feed's title)."""
    session.execute(
        update(sources_t)
        .where(sources_t.c.name == name)
        .values(
            title=title[:300] if title else sources_t.c.title,
            label=label[:300] if label else sources_t.c.label,
            etag=etag[:500],
            last_modified=last_modified[:100],
            last_poll_at=now,
            failures=0,
            last_error="",
            items_seen=sources_t.c.items_seen + new_items,
            updated_at=now,
        )
    )


def poll_failed(
    session: Session, name: str, error: str, *, now: datetime, next_at: datetime
) -> int:
    """Count a failure (paused at ``PAUSE_AFTER`` in a row); the failures in a row now."""
    row = source_row(session, name, lock=True)
    failures = row.failures + 1
    session.execute(
        update(sources_t)
        .where(sources_t.c.name == name)
        .values(
            failures=failures,
            paused=failures >= PAUSE_AFTER,
            last_error=error[:2000],
            last_poll_at=now,
            next_poll_at=next_at,
            updated_at=now,
        )
    )
    return failures


def resume_source(session: Session, name: str, *, now: datetime) -> bool:
    """Unpause (due at once, failures forgotten); False when it was not paused."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(sources_t)
            .where(sources_t.c.name == name, sources_t.c.paused.is_(True))
            .values(paused=False, failures=0, next_poll_at=now, updated_at=now)
        ),
    )
    return result.rowcount == 1


def set_websub(session: Session, name: str, *, now: datetime, **values: Any) -> None:
    """Change the WebSub columns given (hub, topic, secret, websub_state, lease_until)."""
    session.execute(
        update(sources_t).where(sources_t.c.name == name).values(updated_at=now, **values)
    )


# ---------------------------------------------------------------- items


def find_item(session: Session, source: str, item: FeedItem) -> SourceItem | None:
    """The row this item already is: by its key, else (a guid scheme that changed) by its
    link, so that the same story never comes in twice."""
    found = session.scalars(
        select(SourceItem).where(items_t.c.source == source, items_t.c.key == item.key)
    ).first()
    if found is None and item.link:
        found = session.scalars(
            select(SourceItem)
            .where(items_t.c.source == source, items_t.c.link == item.link)
            .order_by(items_t.c.id)
            .limit(1)
        ).first()
    return found


def _content(item: FeedItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "summary": item.summary,
        "body_html": item.body_html,
        "image": item.image,
        "author": item.author,
        "link": item.link,
        "published": item.published,
        "content_hash": item.content_hash,
    }


def insert_item(session: Session, source: str, item: FeedItem, *, now: datetime) -> int | None:
    """Add an item as new; its id, or None when another process added it first."""
    insert = insert_ignore(session)
    result = session.execute(
        insert(items_t)
        .values(
            source=source,
            key=item.key,
            status="new",
            first_seen=now,
            updated_at=now,
            **_content(item),
        )
        .on_conflict_do_nothing(index_elements=["source", "key"])
        .returning(items_t.c.id)
    )
    found = result.scalar()
    return None if found is None else int(found)


def update_item(
    session: Session, item_id: int, item: FeedItem, *, status: str, now: datetime
) -> None:
    session.execute(
        update(items_t)
        .where(items_t.c.id == item_id)
        .values(status=status, updated_at=now, **_content(item))
    )


def set_item_status(
    session: Session,
    item_id: int,
    status: str,
    *,
    now: datetime,
    article_id: int | None = None,
) -> None:
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if article_id is not None:
        values["article_id"] = article_id
    session.execute(update(items_t).where(items_t.c.id == item_id).values(**values))


def item_by_id(session: Session, item_id: int, *, lock: bool = False) -> SourceItem:
    # populate_existing: rows here change through Core UPDATEs, which an ORM object already
    # in the session would not show.
    query = (
        select(SourceItem).where(items_t.c.id == item_id).execution_options(populate_existing=True)
    )
    found = session.scalars(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFoundError(f"no inbox item {item_id}")
    return found


def item_for_article(session: Session, article_id: int) -> SourceItem | None:
    return session.scalars(
        select(SourceItem).where(items_t.c.article_id == article_id).order_by(items_t.c.id)
    ).first()


@dataclass(frozen=True)
class ItemQuery:
    source: str | None = None
    status: str | None = "new"  # None: every status
    query: str | None = None


def _where(wanted: ItemQuery) -> list[Any]:
    where: list[Any] = []
    if wanted.source:
        where.append(items_t.c.source == wanted.source)
    if wanted.status:
        where.append(items_t.c.status == wanted.status)
    if wanted.query and wanted.query.strip():
        text = wanted.query.strip().lower()
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        where.append(
            or_(
                func.lower(items_t.c.title).like(pattern, escape="\\"),
                func.lower(items_t.c.summary).like(pattern, escape="\\"),
            )
        )
    return where


def find_items(
    session: Session, wanted: ItemQuery, *, offset: int, limit: int
) -> tuple[list[SourceItem], int]:
    """Items newest first (by when they came in), and how many match in all."""
    where = _where(wanted)
    total = int(session.scalar(select(func.count()).select_from(items_t).where(*where)) or 0)
    rows = session.scalars(
        select(SourceItem)
        .where(*where)
        # One poll brings many items at the same time: among them, the newest story first.
        .order_by(
            items_t.c.first_seen.desc(),
            items_t.c.published.desc().nulls_last(),
            items_t.c.id.desc(),
        )
        .offset(offset)
        .limit(limit)
    ).all()
    return list(rows), total


def item_counts(session: Session, *, status: str | None) -> dict[str, int]:
    """Items per source with this status (every status for None)."""
    query = select(items_t.c.source, func.count()).group_by(items_t.c.source)
    if status:
        query = query.where(items_t.c.status == status)
    return {str(source): int(count) for source, count in session.execute(query)}


def free_slug(session: Session, title: str) -> str:
    """A slug for a new article from ``title`` that no article has yet (``-2``, ``-3``...)."""
    base = slugify(title)[:110].strip("-") or "item"
    taken = set(
        session.scalars(
            select(articles_t.c.slug).where(
                or_(articles_t.c.slug == base, articles_t.c.slug.like(f"{base}-%"))
            )
        )
    )
    slug, number = base, 1
    while slug in taken:
        number += 1
        slug = f"{base}-{number}"
    return slug
