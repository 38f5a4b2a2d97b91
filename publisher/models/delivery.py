"""Deliveries (one row per edition and reader), the sending processes, the outbox of one-off
mails, and what mail systems report back about them (bounces, complaints; issue 28)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["BounceMailbox", "BounceReport", "Delivery", "OutboxMessage", "WebhookEvent", "Worker"]


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
    next_attempt_at: datetime = when()
    lease_owner: str = Field(default="", max_length=100)
    lease_until: datetime | None = when(nullable=True)
    last_error: str = Field(default="", sa_type=Text)
    sent_at: datetime | None = when(nullable=True)


class Worker(SQLModel, table=True):
    """A sending process, alive while its heartbeat is fresh; deliveries it leased carry its id."""

    __tablename__ = "send_workers"

    id: str = Field(primary_key=True, max_length=100)
    host: str = Field(max_length=255)
    pid: int
    proc_start: str = Field(default="", max_length=40)  # the OS's start time of the pid
    started_at: datetime = when()
    beat_at: datetime = when()


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
    next_attempt_at: datetime = when()
    lease_until: datetime | None = when(nullable=True)
    last_error: str = Field(default="", sa_type=Text)
    created_at: datetime = when()
    sent_at: datetime | None = when(nullable=True)


class BounceReport(SQLModel, table=True):
    """A report about a message we sent, and what it did: a hard or soft bounce, a
    complaint, or an unsubscribe request by mail (``kind``). ``key`` names the report (the
    report mail's Message-ID or digest, a provider's event id), so the same report read twice
    counts once. ``action``: suppressed, unsubscribed, counted (a soft bounce below the
    threshold) or none (the member had already left). An admin clearing a suppressed member
    sets ``cleared_at`` on their reports, so old soft bounces count no more."""

    __tablename__ = "bounce_reports"
    __table_args__ = (
        Index("ix_bounce_reports_subscriber", "subscriber_id", "received_at"),
        Index("ix_bounce_reports_edition", "edition_id", "kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    source: str = Field(max_length=30)  # mailbox, maildir, ses, postmark, sendgrid, mailgun
    kind: str = Field(max_length=20)  # hard, soft, complaint, unsubscribe
    email: str = Field(max_length=320)
    subscriber_id: int | None = Field(
        default=None, foreign_key="subscribers.id", ondelete="SET NULL"
    )
    edition_id: int | None = Field(default=None, foreign_key="editions.id", ondelete="SET NULL")
    delivery_id: int | None = None  # deliveries are pruned; the report stays
    detail: str = Field(default="", sa_type=Text)  # the status and diagnostic, the reason
    action: str = Field(default="", max_length=20)
    received_at: datetime = when()
    cleared_at: datetime | None = when(nullable=True)


class BounceMailbox(SQLModel, table=True):
    """The bounce mailbox's polling state: which daemon polls it (the one whose UPDATE of
    ``next_poll_at`` wins), and since when it fails (shown on the dashboard and /healthz)."""

    __tablename__ = "bounce_mailbox"

    name: str = Field(primary_key=True, max_length=50)
    next_poll_at: datetime = when()
    last_poll_at: datetime | None = when(nullable=True)
    failures: int = 0
    last_error: str = Field(default="", sa_type=Text)
    down_since: datetime | None = when(nullable=True)
    read_total: int = 0


class WebhookEvent(SQLModel, table=True):
    """A provider's webhook event seen once (a replay of it is refused)."""

    __tablename__ = "webhook_events"

    provider: str = Field(primary_key=True, max_length=20)
    event_id: str = Field(primary_key=True, max_length=200)
    seen_at: datetime = when(index=True)
