"""SQLModel tables. No queries and no I/O here: those live in ``store.py``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Text, UniqueConstraint, text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class AwareDateTime(TypeDecorator[datetime]):
    """Timezone-aware in and out on every backend; stored as UTC.

    SQLite has no time zone type and SQLAlchemy drops the offset there, so values are
    normalised to UTC going in and tagged UTC coming out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(sa_column=Column(AwareDateTime(), nullable=nullable, index=index))


class Article(SQLModel, table=True):
    """A story. ``uid`` is its immutable ``tag:`` URI; ``slug`` may be re-used to update it."""

    __tablename__ = "articles"
    __table_args__ = (Index("ix_articles_status_published", "status", "published_at", "id"),)

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
    published_at: datetime = _when()
    created_at: datetime = _when()
    updated_at: datetime = _when()
    body_markdown: str = Field(default="", sa_type=Text)  # as written; the newsroom edits it


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
    created_at: datetime = _when()


class Stamp(SQLModel, table=True):
    """A counter bumped in the same transaction as every change to what it names
    (``articles``), so that any process can tell cheaply whether its cache is stale."""

    __tablename__ = "stamps"

    name: str = Field(primary_key=True, max_length=50)
    version: int = 0


class FeedState(SQLModel, table=True):
    """The ETag each feed path last had, to notice when a feed's bytes change."""

    __tablename__ = "feed_state"

    path: str = Field(primary_key=True, max_length=300)
    etag: str = Field(max_length=80)
    changed_at: datetime = _when()


class WebSubPing(SQLModel, table=True):
    """A hub notification still owed for a feed URL (retried with back-off while it fails)."""

    __tablename__ = "websub_pings"

    feed_url: str = Field(primary_key=True, max_length=2000)
    due_at: datetime = _when(index=True)
    attempts: int = 0
    last_error: str = Field(default="", sa_type=Text)


class Edition(SQLModel, table=True):
    """One issue of a digest for one period: unique on (digest, period key), so a second
    daemon, a retry or a DST double fire creates nothing. Rendered once, with placeholders
    where each recipient's links go."""

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("digest", "period_key"),)

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=50)
    period_key: str = Field(max_length=20)
    nominal_at: datetime = _when()
    # pending, skipped, ready, sending, sent, missed; with review and control (issue 13):
    # awaiting_review, paused, cancelled
    status: str = Field(max_length=20)
    subject: str = Field(default="", max_length=500)
    html: str = Field(default="", sa_type=Text)
    text: str = Field(default="", sa_type=Text)
    article_count: int = 0
    created_at: datetime = _when()
    # migration 0015: review before sending, pause and cancel (who did it and when; the
    # audit trail has every step)
    intro: str = Field(default="", max_length=1000)  # the editor's intro line; empty: default
    review_deadline_at: datetime | None = _when(nullable=True)
    approved_by: str = Field(default="", max_length=400)
    approved_at: datetime | None = _when(nullable=True)
    paused_by: str = Field(default="", max_length=400)
    paused_at: datetime | None = _when(nullable=True)
    resumed_by: str = Field(default="", max_length=400)
    resumed_at: datetime | None = _when(nullable=True)
    cancelled_by: str = Field(default="", max_length=400)
    cancelled_at: datetime | None = _when(nullable=True)


class EditionArticle(SQLModel, table=True):
    """An article carried by an edition; unique per digest, so no story goes out twice."""

    __tablename__ = "edition_articles"
    __table_args__ = (UniqueConstraint("digest", "article_id"),)

    edition_id: int = Field(foreign_key="editions.id", primary_key=True, ondelete="CASCADE")
    article_id: int = Field(foreign_key="articles.id", primary_key=True, ondelete="CASCADE")
    digest: str = Field(max_length=50)
    position: int = 0


class Subscriber(SQLModel, table=True):
    """A community member. ``email`` is stored lower-cased; unique. Ids are never reused
    (AUTOINCREMENT on SQLite), and every link in mail is bound to ``link_key`` (issue 16)."""

    __tablename__ = "subscribers"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(default="", max_length=200)
    status: str = Field(max_length=20, index=True)  # pending, confirmed, unsubscribed, bounced
    created_at: datetime = _when(index=True)  # the newsroom's growth chart counts by day
    confirmed_at: datetime | None = _when(nullable=True)
    updated_at: datetime = _when()
    link_key: str = Field(default="", max_length=64)
    # Unsubscribe links mailed before link keys existed work until then (migration 0008).
    legacy_links_until: datetime | None = _when(nullable=True)


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


class Delivery(SQLModel, table=True):
    """One edition to one subscriber: pending, sending (leased), sent, retry, failed or
    cancelled (the subscriber left, or an editor cancelled the edition)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index(
            "ix_deliveries_open",
            "id",
            postgresql_where=text("status IN ('pending', 'sending', 'retry')"),
            sqlite_where=text("status IN ('pending', 'sending', 'retry')"),
        ),
        # An edition's progress and send rate, polled while it sends (migration 0016).
        Index("ix_deliveries_edition_status", "edition_id", "status", "sent_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    edition_id: int = Field(foreign_key="editions.id", ondelete="CASCADE")
    subscriber_id: int = Field(foreign_key="subscribers.id", ondelete="CASCADE")
    email: str = Field(max_length=320)
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime = _when()
    lease_owner: str = Field(default="", max_length=100)
    lease_until: datetime | None = _when(nullable=True)
    last_error: str = Field(default="", sa_type=Text)
    sent_at: datetime | None = _when(nullable=True)


class Worker(SQLModel, table=True):
    """A sending process, alive while its heartbeat is fresh; deliveries it leased carry its id."""

    __tablename__ = "send_workers"

    id: str = Field(primary_key=True, max_length=100)
    host: str = Field(max_length=255)
    pid: int
    proc_start: str = Field(default="", max_length=40)  # the OS's start time of the pid
    started_at: datetime = _when()
    beat_at: datetime = _when()


class Report(SQLModel, table=True):
    """A reader's "Spot an error? Report it here" message about an article, for editors."""

    __tablename__ = "reports"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int | None = Field(default=None, foreign_key="articles.id", ondelete="SET NULL")
    slug: str = Field(max_length=200)
    message: str = Field(sa_type=Text)
    email: str = Field(default="", max_length=320)
    status: str = Field(default="open", max_length=20, index=True)  # open, resolved
    created_at: datetime = _when()
    resolved_at: datetime | None = _when(nullable=True)
    correction_id: int | None = Field(
        default=None, foreign_key="corrections.id", ondelete="SET NULL"
    )  # resolved with this correction (the newsroom's "resolve with a correction")


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
    sent_at: datetime = _when()
    kind: str = Field(default="confirm", max_length=20)
    mailbox: str = Field(default="", max_length=320)
    name: str = Field(default="", max_length=200)
    digests: str = Field(default="", sa_type=Text)  # space-separated
    categories: str | None = Field(default=None, sa_type=Text)  # space-separated slugs
    used_at: datetime | None = _when(nullable=True)


class OutboxMessage(SQLModel, table=True):
    """A one-off mail (a confirmation, an access link) waiting to go out, so that no web
    request waits on the mail server: sent by the daemon's outbox worker, retried with
    back-off. The message is cleared once sent (it holds a live link)."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    recipient: str = Field(max_length=320)
    message: str = Field(default="", sa_type=Text)
    status: str = Field(default="pending", max_length=20)  # pending, sending, sent, failed
    attempts: int = 0
    next_attempt_at: datetime = _when()
    lease_until: datetime | None = _when(nullable=True)
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = _when()
    sent_at: datetime | None = _when(nullable=True)


class StaffUser(SQLModel, table=True):
    """Someone who signs in to the newsroom: an ``editor`` (articles, reports) or an ``admin``
    (also people, subscribers and sends). ``password_hash`` is empty until they set one from
    their one-time link; ``session_epoch`` goes up to end every session ("sign out everywhere",
    a new password); ``link_nonce`` is the one unused set-password link, cleared when used."""

    __tablename__ = "staff"
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    role: str = Field(max_length=20)  # editor, admin
    password_hash: str = Field(default="", max_length=200)
    totp_secret: str = Field(default="", max_length=200)  # sealed (sealing.py)
    recovery_codes: str = Field(default="", sa_type=Text)  # hashes, one per line
    session_epoch: int = 0
    link_nonce: str = Field(default="", max_length=64)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    signed_in_at: datetime | None = _when(nullable=True)
    # migration 0012: the last TOTP time step taken (a code is never taken twice) and the
    # secret of a second-factor set-up waiting for its first code
    totp_step: int = 0
    totp_pending: str = Field(default="", max_length=200)


class AuditEntry(SQLModel, table=True):
    """One change made in the admin, the CLI or the API: who, when, what, and for articles and
    subscribers the values before and after (JSON objects of the fields that changed)."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_subject", "subject_kind", "subject_id", "at"),
        Index("ix_audit_at", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when()
    actor: str = Field(max_length=400)  # a staff address, "cli:USER" or "api-token"
    action: str = Field(max_length=60)  # e.g. article.correct, subscriber.unsubscribe
    subject_kind: str = Field(max_length=30)  # article, subscriber, report, staff, import
    subject_id: int | None = None
    subject_label: str = Field(default="", max_length=500)  # a slug, an address
    before: str = Field(default="", sa_type=Text)  # JSON, or empty
    after: str = Field(default="", sa_type=Text)  # JSON, or empty


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
    created_at: datetime = _when()


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
    at: datetime | None = _when(nullable=True)


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
    sent_at: datetime = _when()
    at: datetime = _when()


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
    cancelled: int = 0
    failures: str = Field(default="[]", sa_type=Text)
    kept_at: datetime = _when()


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
    last_poll_at: datetime | None = _when(nullable=True)
    next_poll_at: datetime = _when()
    failures: int = 0  # in a row
    paused: bool = False
    last_error: str = Field(default="", sa_type=Text)
    items_seen: int = 0
    hub: str = Field(default="", max_length=2000)
    topic: str = Field(default="", max_length=2000)
    secret: str = Field(default="", max_length=100)
    websub_state: str = Field(default="", max_length=20)  # "", pending, active, failed
    lease_until: datetime | None = _when(nullable=True)
    updated_at: datetime = _when()


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
    published: datetime | None = _when(nullable=True)
    content_hash: str = Field(max_length=64)
    status: str = Field(default="new", max_length=20)  # new, published, discarded, updated
    article_id: int | None = Field(default=None, foreign_key="articles.id", ondelete="SET NULL")
    first_seen: datetime = _when()
    updated_at: datetime = _when()
