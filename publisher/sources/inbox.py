"""The inbox: material the sources brought in, waiting for an editor to run it or let it go.
The use cases the newsroom's inbox pages and ``publisher inbox`` both call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.errors import InputError, NotFoundError
from publisher.models import Source, SourceItem
from publisher.settings import Settings
from publisher.sources import polling
from publisher.sources.polling import resume_source, source_states

__all__ = [
    "ItemPage", "ItemView", "article_origin", "article_slug", "discard", "draft", "get_item",
    "list_items", "publish_item", "published", "resume_source", "source_states",
]  # fmt: skip

PER_PAGE = 50
STATUSES = (*store.ITEM_STATUSES, "all")


@dataclass(frozen=True)
class ItemView:
    """An item with the name of its source as readers would see it."""

    item: SourceItem
    source_label: str


@dataclass(frozen=True)
class ItemPage:
    items: list[ItemView]
    page: int
    pages: int
    total: int
    per_page: int
    counts: dict[str, int]  # items with the asked-for status, per source key (for a filter)
    labels: dict[str, str]  # every source key and its label

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _labels(session: Session) -> dict[str, str]:
    return {row.name: row.label or row.title or row.name for row in store.source_rows(session)}


def list_items(
    engine: Engine,
    *,
    source: str | None = None,
    status: str | None = "new",
    query: str | None = None,
    page: int = 1,
) -> ItemPage:
    """Items newest first, by source, status (``all`` or None: any) and text in the title or
    summary; ``page`` from 1. InputError for a status that does not exist."""
    if status == "all":
        status = None
    if status is not None and status not in store.ITEM_STATUSES:
        raise InputError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    page = max(int(page), 1)
    wanted = store.ItemQuery(source=source or None, status=status, query=query)
    with store.reading(engine) as session:
        rows, total = store.find_items(
            session, wanted, offset=(page - 1) * PER_PAGE, limit=PER_PAGE
        )
        labels = _labels(session)
        counts = store.item_counts(session, status=status)
    views = [ItemView(row, labels.get(row.source, row.source)) for row in rows]
    pages = max((total + PER_PAGE - 1) // PER_PAGE, 1)
    return ItemPage(views, page, pages, total, PER_PAGE, counts, labels)


def get_item(engine: Engine, item_id: int) -> ItemView:
    """One item, whatever its status; NotFoundError when there is none."""
    with store.reading(engine) as session:
        row = store.item_by_id(session, item_id)
        labels = _labels(session)
    return ItemView(row, labels.get(row.source, row.source))


def discard(engine: Engine, item_id: int, *, actor: str, now: datetime) -> bool:
    """Let an item go: it never comes back, even when its feed shows it again. False when it
    was discarded already; InputError when it has become an article."""
    with store.writing(engine) as session:
        row = store.item_by_id(session, item_id, lock=True)
        if row.status == "discarded":
            return False
        if row.article_id is not None:
            raise InputError(
                f"inbox item {item_id} is already article {row.article_id}: unpublish the "
                "article instead"
            )
        store.set_item_status(session, item_id, "discarded", now=now)
        store.record(
            session,
            actor=actor,
            action="inbox.discard",
            kind="inbox_item",
            subject_id=item_id,
            label=row.title,
            before={"status": row.status},
            after={"status": "discarded"},
            now=now,
        )
    return True


def draft(engine: Engine, item_id: int) -> dict[str, Any]:
    """The article form's fields prefilled from an item: ``title``, ``summary``, ``body``
    (HTML, so ``body_format`` is ``html``), ``author``, ``image``, ``categories`` (a list of
    names), ``source_name`` and ``source_url`` (the item's link), and ``item_id``."""
    with store.reading(engine) as session:
        row = store.item_by_id(session, item_id)
        state = _state(session, row.source)
    return {
        "item_id": row.id,
        "title": row.title,
        "summary": row.summary,
        "body": row.body_html,
        "body_format": "html",
        "author": row.author,
        "image": row.image,
        "categories": store.source_categories(state) if state else [],
        "source_name": polling.label_of(state, row.source),
        "source_url": row.link,
    }


def _state(session: Session, name: str) -> Source | None:
    try:
        return store.source_row(session, name)
    except NotFoundError:
        return None


def published(
    session: Session, item_id: int, article_id: int, *, actor: str, now: datetime
) -> None:
    """Link an item to the article made from it (call inside the article's transaction):
    the item leaves the inbox and the article keeps where it came from."""
    row = store.item_by_id(session, item_id, lock=True)
    if row.status == "discarded":
        raise InputError(f"inbox item {item_id} was discarded")
    if row.article_id is not None and row.article_id != article_id:
        raise InputError(f"inbox item {item_id} is already article {row.article_id}")
    store.set_item_status(session, item_id, "published", now=now, article_id=article_id)
    store.record(
        session,
        actor=actor,
        action="inbox.publish",
        kind="inbox_item",
        subject_id=item_id,
        label=row.title,
        before={"status": row.status},
        after={"status": "published", "article_id": article_id},
        now=now,
    )


def publish_item(
    engine: Engine,
    settings: Settings,
    item_id: int,
    *,
    editor: str,
    ai_assisted: bool,
    actor: str,
    now: datetime,
) -> int:
    """Publish an item as it is, now, under ``editor``: the article's id. The source's name
    and the item's link go with it as its source."""
    with store.writing(engine) as session:
        row = store.item_by_id(session, item_id, lock=True)
        if row.status == "discarded":
            raise InputError(f"inbox item {item_id} was discarded")
        if row.article_id is not None:
            raise InputError(f"inbox item {item_id} is already article {row.article_id}")
        state = _state(session, row.source)
        article_id = polling.save_item_article(
            session,
            settings,
            row,
            label=polling.label_of(state, row.source),
            categories=store.source_categories(state) if state else [],
            editor=editor,
            ai_assisted=ai_assisted,
            published_at=now,
            article_id=None,
            actor=actor,
            now=now,
        )
        published(session, item_id, article_id, actor=actor, now=now)
    return article_id


def article_origin(engine: Engine, article_id: int) -> ItemView | None:
    """The item an article was made from, if it was."""
    with store.reading(engine) as session:
        row = store.item_for_article(session, article_id)
        if row is None:
            return None
        labels = _labels(session)
    return ItemView(row, labels.get(row.source, row.source))


def article_slug(engine: Engine, article_id: int) -> str:
    with store.reading(engine) as session:
        return store.article_by_id(session, article_id).article.slug
