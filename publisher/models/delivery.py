"""Deliveries (one row per edition and reader), the sending processes, and the outbox of one-off
mails."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["Delivery", "OutboxMessage", "Worker"]


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
