"""Subscribers, the digests and categories they chose, and their confirmation and access links."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["Confirmation", "Interest", "Subscriber", "Subscription"]


class Subscriber(SQLModel, table=True):
    """A community member. ``email`` is stored lower-cased; unique. Ids are never reused
    (AUTOINCREMENT on SQLite), and every link in mail is bound to ``link_key`` (issue 16)."""

    __tablename__ = "subscribers"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    status: str = Field(max_length=20, index=True)  # pending, confirmed, unsubscribed, bounced
    created_at: datetime = when(index=True)  # the newsroom's growth chart counts by day
    confirmed_at: datetime | None = when(nullable=True)
    updated_at: datetime = when()
    link_key: str = Field(default="", max_length=64)
    # Unsubscribe links mailed before link keys existed work until then (migration 0008).
    legacy_links_until: datetime | None = when(nullable=True)
    language: str = Field(default="", max_length=35)  # of their pages and mail; empty: the site's
    languages: str = Field(default="", max_length=200)  # the stories they read; empty: all
    # migration 0025: whether they want breaking news and announcements (one-off editions);
    # on for new sign-ups, off for members who joined before it existed (they never chose it)
    breaking: bool = True


class Subscription(SQLModel, table=True):
    """Which digests a subscriber receives."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index("ix_subscriptions_digest", "digest", "subscriber_id"),)

    subscriber_id: int = Field(foreign_key="subscribers.id", primary_key=True, ondelete="CASCADE")
    digest: str = Field(primary_key=True, max_length=50)


class Interest(SQLModel, table=True):
    """A category a subscriber wants in their digests; a subscriber with none gets them all."""

    __tablename__ = "subscriber_categories"

    subscriber_id: int = Field(foreign_key="subscribers.id", primary_key=True, ondelete="CASCADE")
    category_id: int = Field(foreign_key="categories.id", primary_key=True, ondelete="CASCADE")


class Confirmation(SQLModel, table=True):
    """A link asked for by mail: ``kind`` confirm (a sign-up, with the changes it asks for,
    applied only when confirmed) or access (a one-time "Your subscription" link, used once).
    Counted per mailbox (the address without ``+tag``) to cap mails a day; a request for an
    unknown address has no subscriber and sends nothing."""

    __tablename__ = "confirmations"
    __table_args__ = (
        Index("ix_confirmations_subscriber", "subscriber_id", "sent_at"),
        Index("ix_confirmations_mailbox", "mailbox", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int | None = Field(
        default=None, foreign_key="subscribers.id", ondelete="CASCADE"
    )
    sent_at: datetime = when()
    kind: str = Field(default="confirm", max_length=20)
    mailbox: str = Field(default="", max_length=320)
    name: str = Field(default="", max_length=200)
    digests: str = Field(default="", sa_type=Text)  # space-separated
    categories: str | None = Field(default=None, sa_type=Text)  # space-separated slugs
    used_at: datetime | None = when(nullable=True)
    language: str = Field(default="", max_length=35)
    languages: str | None = Field(default=None, max_length=200)  # None: no change
