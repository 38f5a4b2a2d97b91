"""Articles, their categories, corrections and revisions, the change stamp, and readers'
error reports."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = [
    "Article",
    "ArticleCategory",
    "Category",
    "Correction",
    "Report",
    "Revision",
    "Stamp",
]


class Article(SQLModel, table=True):
    """A story. ``uid`` is its immutable ``tag:`` URI; ``slug`` may be re-used to update it.
    ``status``: draft, in_review, published (scheduled while ``published_at`` is ahead),
    withdrawn (its page says why) or unpublished (removed before anyone saw it)."""

    __tablename__ = "articles"
    __table_args__ = (
        Index("ix_articles_status_published", "status", "published_at", "id"),
        Index("ix_articles_language", "language", "published_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True, max_length=200)
    slug: str = Field(unique=True, max_length=200)
    title: str = Field(max_length=500)
    summary: str = Field(default="", sa_type=Text)
    body_html: str = Field(default="", sa_type=Text)
    author: str = Field(default="", max_length=200)
    editor: str = Field(default="", max_length=200)
    source_name: str = Field(default="", max_length=300)
    source_url: str = Field(default="", max_length=2000)
    image: str = Field(default="", max_length=2000)
    ai_assisted: bool = False
    sponsored: bool = False
    status: str = Field(default="published", max_length=20)
    content_hash: str = Field(max_length=64)
    published_at: datetime = when()
    created_at: datetime = when()
    updated_at: datetime = when()
    body_markdown: str = Field(default="", sa_type=Text)  # as written; the newsroom edits it
    language: str = Field(default="", max_length=35)  # BCP 47; empty: the site's language
    # Stories with the same key are translations of each other (the first one's uid).
    translation_key: str = Field(default="", max_length=200, index=True)
    # migration 0024: the editorial day
    owner_id: int | None = None  # who wrote it in the newsroom (staff ids are never reused)
    published_by: str = Field(default="", max_length=320)  # the editor who published it
    review_note: str = Field(default="", sa_type=Text)  # an editor's note sending it back
    withdrawn_reason: str = Field(default="", sa_type=Text)
    withdrawn_at: datetime | None = when(nullable=True)
    # The site's own copy of its picture (issue 26); ``image`` is where it came from, if from
    # an address. A picture in use cannot be deleted.
    picture_id: int | None = Field(default=None, foreign_key="pictures.id", index=True)


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(unique=True, max_length=200)
    name: str = Field(max_length=200)


class ArticleCategory(SQLModel, table=True):
    __tablename__ = "article_categories"
    __table_args__ = (Index("ix_article_categories_category", "category_id", "article_id"),)

    article_id: int = Field(foreign_key="articles.id", primary_key=True, ondelete="CASCADE")
    category_id: int = Field(foreign_key="categories.id", primary_key=True, ondelete="CASCADE")
    position: int = 0


class Correction(SQLModel, table=True):
    __tablename__ = "corrections"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True, ondelete="CASCADE")
    note: str = Field(sa_type=Text)
    created_at: datetime = when()


class Stamp(SQLModel, table=True):
    """A counter bumped in the same transaction as every change to what it names
    (``articles``), so that any process can tell cheaply whether its cache is stale."""

    __tablename__ = "stamps"

    name: str = Field(primary_key=True, max_length=50)
    version: int = 0


class Report(SQLModel, table=True):
    """A reader's "Spot an error? Report it here" message about an article, for editors."""

    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int | None = Field(default=None, foreign_key="articles.id", ondelete="SET NULL")
    slug: str = Field(max_length=200)
    message: str = Field(sa_type=Text)
    email: str = Field(default="", max_length=320)
    status: str = Field(default="open", max_length=20, index=True)  # open, resolved
    created_at: datetime = when()
    resolved_at: datetime | None = when(nullable=True)
    correction_id: int | None = Field(
        default=None, foreign_key="corrections.id", ondelete="SET NULL"
    )  # resolved with this correction (the newsroom's "resolve with a correction")


class Revision(SQLModel, table=True):
    """One saved version of an article (every save keeps one): who, when, and the article
    file keys as they were (``fields``, JSON), so any two can be compared and one restored."""

    __tablename__ = "article_revisions"
    __table_args__ = (Index("ix_article_revisions_article", "article_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", ondelete="CASCADE")
    actor: str = Field(max_length=400)
    action: str = Field(max_length=30)  # create, save, restore, publish, ...
    status: str = Field(max_length=20)  # the article's status after this save
    content_hash: str = Field(max_length=64)
    fields: str = Field(sa_type=Text)
    created_at: datetime = when()
