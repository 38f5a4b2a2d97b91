"""The people who sign in to the newsroom, and the audit trail of every change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from publisher.models.base import when

__all__ = ["AuditEntry", "SignInAttempts", "StaffSession", "StaffUser"]


class StaffUser(SQLModel, table=True):
    """Someone who signs in to the newsroom: an ``editor`` (articles, reports, the inbox, and
    editions: approve, cancel, send) or an ``admin`` (all that, and people and subscribers).
    ``password_hash`` is empty until they set one from their one-time link; ``session_epoch``
    goes up at every "sign out everywhere" and new password (a half-done two-step sign-in
    names it); ``link_nonce`` is the one unused set-password link, cleared when used.
    AUTOINCREMENT on SQLite (migration 0019): an id is never given to a second person, so
    nothing that named the first can name the second."""

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
    created_at: datetime = when()
    updated_at: datetime = when()
    signed_in_at: datetime | None = when(nullable=True)
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
    at: datetime = when()
    actor: str = Field(max_length=400)  # a staff address, "cli:USER" or "api-token"
    action: str = Field(max_length=60)  # e.g. article.correct, subscriber.unsubscribe
    subject_kind: str = Field(max_length=30)  # article, subscriber, report, staff, import
    subject_id: int | None = None
    subject_label: str = Field(default="", max_length=500)  # a slug, an address
    before: str = Field(default="", sa_type=Text)  # JSON, or empty
    after: str = Field(default="", sa_type=Text)  # JSON, or empty


class StaffSession(SQLModel, table=True):
    """One signed-in browser (migration 0020). The cookie carries a random session id of 256
    bits; only its SHA-256 is kept here, so a copy of the database opens no session. The row
    goes at sign-out, "sign out everywhere", a new password, a role change and the person's
    removal; a session also ends PUBLISHER_ADMIN_IDLE_MINUTES after ``seen_at`` and
    PUBLISHER_ADMIN_SESSION_HOURS after ``created_at``."""

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff", "staff_id"),)

    id_hash: str = Field(primary_key=True, max_length=64)
    staff_id: int = Field(foreign_key="staff.id", ondelete="CASCADE")
    created_at: datetime = when()
    seen_at: datetime = when()  # the last request that was not an htmx poll


class SignInAttempts(SQLModel, table=True):
    """Attempts at a secret (a password, a two-step code) counted against one key in a window
    (migration 0020): an address, a client, a person. ``key`` is a SHA-256 of what is
    counted (no address is kept for a failed sign-in). An attempt is reserved (``count`` + 1
    WHERE ``count`` < limit, in one statement) before the secret is checked, and given back
    when it was right: every daemon on the database shares the count, and a burst of
    requests cannot all pass the check before the first failure is counted."""

    __tablename__ = "signin_attempts"

    key: str = Field(primary_key=True, max_length=64)
    count: int = 0
    window_start: datetime = when(index=True)
