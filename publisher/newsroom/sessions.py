"""Newsroom sessions, kept in the database (issue 24): every daemon on it sees the same.

A session is a random id of 256 bits, given to the browser in its (signed) cookie; the
database keeps only its SHA-256. It names nothing that outlives it: a person removed, and
another added with any id, is never reached through the first one's cookie. It ends at
sign-out, "sign out everywhere", a new password, a role change and the person's removal,
PUBLISHER_ADMIN_IDLE_MINUTES after the last request that was not an htmx poll, and at the
latest PUBLISHER_ADMIN_SESSION_HOURS after sign-in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine

from publisher import store
from publisher.newsroom.staff import Staff, as_staff
from publisher.settings import Settings

__all__ = ["TOUCH_EVERY", "end", "person", "start"]

# seen_at is written at most this often (not at every request): the idle time is kept to
# the minute, without a write for every page.
TOUCH_EVERY = timedelta(seconds=60)


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _limits(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """(idle since before this: ended, made before this: ended)."""
    return (
        now - timedelta(minutes=settings.admin_idle_minutes),
        now - timedelta(hours=settings.admin_session_hours),
    )


def start(engine: Engine, who: Staff, settings: Settings, *, now: datetime) -> str:
    """A new session for ``who``: its id, for the cookie (sessions that have ended are
    forgotten meanwhile)."""
    session_id = secrets.token_urlsafe(32)
    idle_before, made_before = _limits(settings, now)
    with store.writing(engine) as session:
        store.prune_sessions(session, idle_before=idle_before, made_before=made_before)
        store.add_session(session, _hash(session_id), who.id, now=now)
    return session_id


def person(
    engine: Engine, session_id: object, settings: Settings, *, now: datetime, active: bool
) -> Staff | None:
    """The person whose session this is, while it lasts; ``active``: the request counts as
    activity (an htmx poll does not), so the idle time starts again."""
    if not isinstance(session_id, str) or not 16 <= len(session_id) <= 100:
        return None
    digest = _hash(session_id)
    with store.reading(engine) as session:
        found = store.session_row(session, digest)
    if found is None:
        return None
    row, staff = found
    idle_before, made_before = _limits(settings, now)
    if row.seen_at < idle_before or row.created_at < made_before or not staff.password_hash:
        end(engine, session_id)
        return None
    if active and now - row.seen_at >= TOUCH_EVERY:
        with store.writing(engine) as session:
            store.touch_session(session, digest, now=now)
    return as_staff(staff)


def end(engine: Engine, session_id: object) -> None:
    """This session ends (a copy of its cookie opens nothing any more)."""
    if isinstance(session_id, str):
        with store.writing(engine) as session:
            store.drop_session(session, _hash(session_id))
