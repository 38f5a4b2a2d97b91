"""Other sites' feeds we read, and each item once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["Source", "SourceItem"]


class Source(SQLModel, table=True):
    """The polling state of one source of ``schedules.yaml`` (its ``name`` there is the key):
    the validators of its last answer, when it was and is next polled, the failures in a row
    (paused after 10, until an editor resumes it), and its WebSub subscription if any."""

    __tablename__ = "sources"

    name: str = Field(primary_key=True, max_length=50)
    title: str = Field(default="", max_length=300)  # the feed's own title, as last seen
    label: str = Field(default="", max_length=300)  # shown to readers: name:, else the title
    mode: str = Field(default="inbox", max_length=20)  # as schedules.yaml last said
    url: str = Field(default="", max_length=2000)  # the feed the validators below are for
    categories: str = Field(default="", sa_type=Text)  # JSON list, as schedules.yaml last said
    etag: str = Field(default="", max_length=500)
    last_modified: str = Field(default="", max_length=100)
    last_poll_at: datetime | None = when(nullable=True)
    next_poll_at: datetime = when()
    failures: int = 0  # in a row
    paused: bool = False
    last_error: str = Field(default="", sa_type=Text)
    items_seen: int = 0
    hub: str = Field(default="", max_length=2000)
    topic: str = Field(default="", max_length=2000)
    secret: str = Field(default="", max_length=100)
    websub_state: str = Field(default="", max_length=20)  # "", pending, active, failed
    lease_until: datetime | None = when(nullable=True)
    updated_at: datetime = when()


class SourceItem(SQLModel, table=True):
    """One item of a source's feed, seen once: unique on (source, key), where the key is the
    item's guid/id, else its link, else its title and date, hashed. ``status`` new,
    published, discarded (never back) or updated (new content since it became an article)."""

    __tablename__ = "source_items"
    __table_args__ = (
        UniqueConstraint("source", "key"),
        Index("ix_source_items_status", "status", "first_seen", "id"),
        Index("ix_source_items_link", "source", "link"),
        Index("ix_source_items_article", "article_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=50)
    key: str = Field(max_length=64)
    title: str = Field(default="", max_length=500)
    summary: str = Field(default="", sa_type=Text)
    body_html: str = Field(default="", sa_type=Text)
    image: str = Field(default="", max_length=2000)
    author: str = Field(default="", max_length=200)
    link: str = Field(default="", max_length=2000)
    published: datetime | None = when(nullable=True)
    content_hash: str = Field(max_length=64)
    status: str = Field(default="new", max_length=20)  # new, published, discarded, updated
    article_id: int | None = Field(default=None, foreign_key="articles.id", ondelete="SET NULL")
    first_seen: datetime = when()
    updated_at: datetime = when()
