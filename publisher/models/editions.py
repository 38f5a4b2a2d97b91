"""Digest editions, the stories they carry, their kept figures, tracked links and the unsubscribes
through them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = [
    "ONE_OFF",
    "Audience",
    "Edition",
    "EditionArticle",
    "EditionFigures",
    "EditionUnsubscribe",
    "LinkReader",
    "TrackedLink",
]


# The ``digest`` value of one-off editions: not a valid digest name (schedules.py), so no
# timetabled digest shares their keys. A story is carried by one breaking-news edition at
# most (edition_articles is unique on digest and article): nobody gets the same story twice.
ONE_OFF = {"story": "@breaking", "message": "@message"}


class Audience(SQLModel, table=True):
    """A saved filter over members (issue 27): ``filter`` is JSON of the newsroom's subscriber
    filter (digest, category, status, sign-up dates, clicked in the last N editions), never
    SQL; counted again whenever a send starts."""

    __tablename__ = "audiences"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    filter: str = Field(default="{}", sa_type=Text)
    created_by: str = Field(default="", max_length=400)
    created_at: datetime = when()
    updated_at: datetime = when()


class Edition(SQLModel, table=True):
    """One issue of a digest for one period: unique on (digest, period key), so a second
    daemon, a retry or a DST double fire creates nothing. Rendered once, with placeholders
    where each recipient's links go."""

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("digest", "period_key"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=50)
    period_key: str = Field(max_length=20)
    nominal_at: datetime = when()
    # pending, skipped, ready, sending, sent, missed; with review and control (issue 13):
    # awaiting_review, paused, cancelled
    status: str = Field(max_length=20)
    subject: str = Field(default="", max_length=500)
    html: str = Field(default="", sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    article_count: int = 0
    created_at: datetime = when()
    # migration 0015: review before sending, pause and cancel (who did it and when; the
    # audit trail has every step)
    intro: str = Field(default="", max_length=1000)  # the editor's intro line; empty: default
    review_deadline_at: datetime | None = when(nullable=True)
    approved_by: str = Field(default="", max_length=400)
    approved_at: datetime | None = when(nullable=True)
    paused_by: str = Field(default="", max_length=400)
    paused_at: datetime | None = when(nullable=True)
    resumed_by: str = Field(default="", max_length=400)
    resumed_at: datetime | None = when(nullable=True)
    cancelled_by: str = Field(default="", max_length=400)
    cancelled_at: datetime | None = when(nullable=True)
    # migration 0025 (issue 27): ``digest`` for a timetabled digest, ``story`` (breaking news:
    # one story, sent now) or ``message`` (a written announcement); a one-off edition's
    # ``digest`` is ONE_OFF[kind], which no digest in schedules.yaml can be named
    kind: str = Field(default="digest", max_length=20)
    audience: str = Field(default="", max_length=100)  # the audience's name when it was made
    # The audience's filter (JSON) as confirmed; evaluated again whenever deliveries start,
    # so members who joined or left since are counted at the moment of sending. Empty: the
    # digest's whole list.
    audience_filter: str = Field(default="", sa_type=Text)
    body: str = Field(default="", sa_type=Text)  # a message's Markdown
    in_archive: bool = True  # shown in the public archive once sent
    # migration 0026: the look it was first rendered with (a JSON object of publisher.look's
    # fields; empty before), so that its variants and renderings again look the same
    look: str = Field(default="", sa_type=Text)


class EditionArticle(SQLModel, table=True):
    """An article carried by an edition; unique per digest, so no story goes out twice."""

    __tablename__ = "edition_articles"
    __table_args__ = (UniqueConstraint("digest", "article_id"),)

    edition_id: int = Field(foreign_key="editions.id", primary_key=True, ondelete="CASCADE")
    article_id: int = Field(foreign_key="articles.id", primary_key=True, ondelete="CASCADE")
    digest: str = Field(max_length=50)
    position: int = 0


class EditionFigures(SQLModel, table=True):
    """An edition's delivery figures, kept when its delivery rows are pruned (after
    PUBLISHER_DELIVERY_RETENTION_DAYS), so that its figures stay true; ``failures`` is JSON:
    [[reply, count], ...]."""

    __tablename__ = "edition_figures"

    edition_id: int = Field(foreign_key="editions.id", primary_key=True, ondelete="CASCADE")
    recipients: int = 0
    sent: int = 0
    failed: int = 0
    bounced: int = 0
    complained: int = 0  # migration 0021
    cancelled: int = 0
    failures: str = Field(default="[]", sa_type=Text)
    kept_at: datetime = when()


class TrackedLink(SQLModel, table=True):
    """A story link of an edition that readers followed through ``/r/TOKEN`` (made at its
    first counted click; migration 0016). ``readers`` counts each reader once and stays when
    the per-reader rows are pruned; ``ignored`` counts HEAD requests, link scanners and clicks
    too soon after delivery."""

    __tablename__ = "tracked_links"
    __table_args__ = (UniqueConstraint("edition_id", "url_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    edition_id: int = Field(foreign_key="editions.id", ondelete="CASCADE")
    url_hash: str = Field(max_length=64)  # sha256 of url: a unique key of any length of URL
    url: str = Field(sa_type=Text)
    readers: int = 0
    ignored: int = 0
    created_at: datetime = when()


class LinkReader(SQLModel, table=True):
    """One reader who followed one tracked link. ``reader`` is a keyed hash of a random
    value carried by their copy of the mail (``aggregate``: no one can tell who, nor match
    one reader's clicks on two links), or ``s<subscriber id>`` with ``subscriber_id`` set
    (``individual``, with ``at``)."""

    __tablename__ = "link_readers"

    link_id: int = Field(foreign_key="tracked_links.id", primary_key=True, ondelete="CASCADE")
    reader: str = Field(primary_key=True, max_length=64)
    subscriber_id: int | None = Field(  # removing the subscriber removes their rows
        default=None, foreign_key="subscribers.id", ondelete="CASCADE"
    )
    at: datetime | None = when(nullable=True)


class EditionUnsubscribe(SQLModel, table=True):
    """A reader who left through a link in an edition's mail (the link's token says when
    their copy was made, which names the delivery); ``sent_at`` is when that copy went."""

    __tablename__ = "edition_unsubscribes"
    __table_args__ = (Index("ix_edition_unsubscribes_edition", "edition_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    edition_id: int = Field(foreign_key="editions.id", ondelete="CASCADE")
    subscriber_id: int | None = Field(
        default=None, foreign_key="subscribers.id", ondelete="SET NULL"
    )
    sent_at: datetime = when()
    at: datetime = when()
