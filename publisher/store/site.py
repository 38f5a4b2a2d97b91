"""What the reader's site lists: pages of stories (the index, a section, an author), the
stories related to one, the sitemaps' entries and the bylines readers may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select, text
from sqlalchemy.orm import Session

from publisher.content import slugify
from publisher.models import Article
from publisher.store.articles import NEWEST_FIRST, ArticleView, article_views, visible
from publisher.store.engine import articles_t, categories_t, links_t

__all__ = [
    "FEW",
    "SitemapEntry",
    "category_counts",
    "public_authors",
    "related_stories",
    "sitemap_entries",
    "story_page",
]

# A category with at most this many visible stories is listed from its links (then sorted);
# a larger one by walking the newest-first index until a page is full (found quickly, being
# dense). Either way a page costs milliseconds at 100,000 stories (bench/site.py).
FEW = 5000


def category_counts(session: Session, *, now: datetime) -> dict[int, int]:
    """How many stories readers may see at ``now`` each category has (none: not listed)."""
    query = (
        select(links_t.c.category_id, func.count())
        .join(articles_t, articles_t.c.id == links_t.c.article_id)
        .where(visible(now))
        .group_by(links_t.c.category_id)
    )
    return {int(category): int(n) for category, n in session.execute(query)}


def story_page(
    session: Session,
    *,
    now: datetime,
    offset: int,
    limit: int,
    category_id: int | None = None,
    category_size: int | None = None,
    authors: Sequence[str] = (),
) -> list[ArticleView]:
    """``limit`` visible stories from ``offset``, newest first (publication time, then id: a
    stable order, so pages never overlap), of one category or of these bylines if given.
    ``category_size`` (its ``category_counts``) picks the faster plan for that category."""
    _serial(session)
    query = select(Article).where(visible(now))
    if category_id is not None and category_size is not None and category_size <= FEW:
        links = select(links_t.c.article_id).where(links_t.c.category_id == category_id)
        query = query.where(articles_t.c.id.in_(links))
    elif category_id is not None:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == category_id)
        )
    if authors:
        query = query.where(articles_t.c.author.in_(list(authors)))
    query = query.order_by(*NEWEST_FIRST).offset(offset).limit(limit)
    return article_views(session, session.scalars(query).all())


def _serial(session: Session) -> None:
    """No parallel workers for the rest of this (reading) transaction on PostgreSQL: a page
    walks a few thousand index entries, and starting two workers for it cost more than it
    saved (page 50 of a section: 59 ms with them, 11 ms without, EXPLAIN ANALYZE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))


def public_authors(session: Session, *, now: datetime) -> list[str]:
    """Every byline on a story readers may see at ``now``, sorted."""
    query = select(articles_t.c.author).where(visible(now), articles_t.c.author != "").distinct()
    return sorted(session.scalars(query).all())


def related_stories(
    session: Session, view: ArticleView, *, now: datetime, limit: int
) -> list[ArticleView]:
    """Visible stories sharing a category with ``view``, newest first, never the story itself
    and never a sponsored one."""
    if not view.categories:
        return []
    slugs = [slugify(name) for name in view.categories]
    shared = (
        exists()
        .where(links_t.c.article_id == articles_t.c.id)
        .where(links_t.c.category_id == categories_t.c.id)
        .where(categories_t.c.slug.in_(slugs))
    )
    query = (
        select(Article)
        .where(visible(now), shared, articles_t.c.id != view.article.id)
        .where(articles_t.c.sponsored.is_(False))
        .order_by(*NEWEST_FIRST)
        .limit(limit)
    )
    return article_views(session, session.scalars(query).all())


@dataclass(frozen=True)
class SitemapEntry:
    """One story as the sitemaps name it."""

    slug: str
    title: str
    published_at: datetime
    updated_at: datetime
    language: str = ""  # "" for the site's
    translation_key: str = ""  # stories sharing one are translations of each other


def sitemap_entries(
    session: Session, *, now: datetime, since: datetime | None = None
) -> list[SitemapEntry]:
    """Every story readers may see at ``now`` (published after ``since`` if given), in id
    order: a story keeps its place in the numbered sitemaps as others are added."""
    query = select(
        articles_t.c.slug,
        articles_t.c.title,
        articles_t.c.published_at,
        articles_t.c.updated_at,
        articles_t.c.language,
        articles_t.c.translation_key,
    ).where(visible(now))
    if since is not None:
        query = query.where(articles_t.c.published_at > since)
    query = query.order_by(articles_t.c.id)
    return [
        SitemapEntry(r.slug, r.title, r.published_at, r.updated_at, r.language, r.translation_key)
        for r in session.execute(query)
    ]
