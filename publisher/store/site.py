"""What the reader's site lists: pages of stories (the index, a section, an author), the
stories related to one, the sitemaps' entries and the bylines readers may see."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from publisher.content import slugify
from publisher.models import Article
from publisher.store.articles import NEWEST_FIRST, ArticleView, article_views, visible
from publisher.store.engine import articles_t, categories_t, links_t

__all__ = [
    "SitemapEntry",
    "author_names",
    "public_authors",
    "related_stories",
    "sitemap_entries",
    "story_page",
]


def story_page(
    session: Session,
    *,
    now: datetime,
    offset: int,
    limit: int,
    category_id: int | None = None,
    authors: Sequence[str] = (),
) -> list[ArticleView]:
    """``limit`` visible stories from ``offset``, newest first (publication time, then id: a
    stable order, so pages never overlap), of one category or of these bylines if given."""
    query = select(Article).where(visible(now))
    if category_id is not None:
        query = query.where(
            exists()
            .where(links_t.c.article_id == articles_t.c.id)
            .where(links_t.c.category_id == category_id)
        )
    if authors:
        query = query.where(articles_t.c.author.in_(list(authors)))
    query = query.order_by(*NEWEST_FIRST).offset(offset).limit(limit)
    return article_views(session, session.scalars(query).all())


def public_authors(session: Session, *, now: datetime) -> list[str]:
    """Every byline on a story readers may see at ``now``, sorted."""
    query = select(articles_t.c.author).where(visible(now), articles_t.c.author != "").distinct()
    return sorted(session.scalars(query).all())


def author_names(session: Session, slug: str, *, now: datetime) -> list[str]:
    """The bylines readers may see whose slug is ``slug`` (usually one; none: no such author)."""
    return [name for name in public_authors(session, now=now) if slugify(name) == slug]


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


def sitemap_entries(
    session: Session, *, now: datetime, since: datetime | None = None
) -> list[SitemapEntry]:
    """Every story readers may see at ``now`` (published after ``since`` if given), in id
    order: a story keeps its place in the numbered sitemaps as others are added."""
    query = select(
        articles_t.c.slug, articles_t.c.title, articles_t.c.published_at, articles_t.c.updated_at
    ).where(visible(now))
    if since is not None:
        query = query.where(articles_t.c.published_at > since)
    query = query.order_by(articles_t.c.id)
    return [
        SitemapEntry(r.slug, r.title, r.published_at, r.updated_at) for r in session.execute(query)
    ]
