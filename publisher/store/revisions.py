"""Articles' revisions: one kept at every save and every change of state (who, when, the
article file keys as they were), read back to compare two and to restore one."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from publisher.errors import NotFoundError
from publisher.models import Article, Revision
from publisher.store.engine import articles_t, categories_t, links_t

if TYPE_CHECKING:
    from publisher.articles.cleaning import ArticleInput

__all__ = [
    "RevisionView",
    "keep_input_revisions",
    "keep_revisions",
    "revision_by_id",
    "revision_fields",
    "revision_list",
    "revisions_t",
]

revisions_t = Revision.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RevisionView:
    id: int
    article_id: int
    number: int  # 1 for an article's first revision
    actor: str
    action: str
    status: str
    content_hash: str
    created_at: datetime
    fields: dict[str, Any]


def revision_fields(
    article: Article | ArticleInput, categories: Sequence[str], published_at: datetime
) -> dict[str, Any]:
    """An article (stored, or about to be) as the article file keys
    (docs/reference/article-files.md): what a revision keeps and what a restore saves again."""
    fields: dict[str, Any] = {
        "title": article.title,
        "slug": article.slug,
        "summary": article.summary,
        "author": article.author,
        "editor": article.editor,
        "categories": list(categories),
        "image": article.image,
        "ai_assisted": article.ai_assisted,
        "sponsored": article.sponsored,
        "published_at": published_at.astimezone(UTC).isoformat(),
    }
    if article.body_markdown or not article.body_html:
        fields["body"] = article.body_markdown
    else:
        fields["body_html"] = article.body_html
    if article.source_name or article.source_url:
        fields["source"] = {"name": article.source_name, "url": article.source_url}
    if article.language:
        fields["language"] = article.language
    return fields


def keep_input_revisions(
    session: Session,
    written: Sequence[tuple[int, ArticleInput, str, datetime]],
    *,
    actor: str,
    action: str,
    now: datetime,
) -> None:
    """A revision of each article an import just wrote, made from what it wrote (article id,
    input, status, publication time) instead of reading a hundred thousand rows back."""
    if not written:
        return
    session.execute(
        insert(revisions_t),
        [
            {
                "article_id": article_id,
                "actor": actor[:400],
                "action": action,
                "status": status,
                "content_hash": item.content_hash,
                "fields": json.dumps(
                    revision_fields(item, item.categories, published_at), ensure_ascii=False
                ),
                "created_at": now,
            }
            for article_id, item, status, published_at in written
        ],
    )


def keep_revisions(
    session: Session, ids: Sequence[int], *, actor: str, action: str, now: datetime
) -> None:
    """A revision of each of these articles as they are now in this transaction."""
    if not ids:
        return
    rows = session.scalars(select(Article).where(articles_t.c.id.in_(list(ids)))).all()
    names: dict[int, list[str]] = {a.id or 0: [] for a in rows}
    for article_id, name in session.execute(
        select(links_t.c.article_id, categories_t.c.name)
        .join(categories_t, categories_t.c.id == links_t.c.category_id)
        .where(links_t.c.article_id.in_(list(names)))
        .order_by(links_t.c.article_id, links_t.c.position)
    ):
        names[article_id].append(name)
    session.execute(
        insert(revisions_t),
        [
            {
                "article_id": a.id,
                "actor": actor[:400],
                "action": action,
                "status": a.status,
                "content_hash": a.content_hash,
                "fields": json.dumps(
                    revision_fields(a, names[a.id or 0], a.published_at), ensure_ascii=False
                ),
                "created_at": now,
            }
            for a in rows
        ],
    )


def _view(row: Any, number: int) -> RevisionView:
    return RevisionView(
        row.id,
        row.article_id,
        number,
        row.actor,
        row.action,
        row.status,
        row.content_hash,
        row.created_at,
        json.loads(row.fields),
    )


def revision_list(session: Session, article_id: int) -> list[RevisionView]:
    """An article's revisions, newest first, numbered from the oldest."""
    rows = session.execute(
        select(revisions_t).where(revisions_t.c.article_id == article_id).order_by(revisions_t.c.id)
    ).all()
    return [_view(row, n) for n, row in enumerate(rows, 1)][::-1]


def revision_by_id(session: Session, article_id: int, revision_id: int) -> RevisionView:
    for found in revision_list(session, article_id):
        if found.id == revision_id:
            return found
    raise NotFoundError(f"no revision {revision_id} of article {article_id}")
