"""Links as the mail would carry them, for tests: signed with the subscriber's link key."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine

from publisher import store
from publisher.tokens import Signer
from tests.support import NOW, SECRET

__all__ = ["SIGNER", "link_key", "token"]

SIGNER = Signer(SECRET)


def link_key(engine: Engine, subscriber_id: int) -> str:
    """The subscriber's link key, as the store has it."""
    with store.reading(engine) as session:
        return store.subscriber_by_id(session, subscriber_id).link_key


def token(engine: Engine, purpose: str, subscriber_id: int, *, now: datetime = NOW) -> str:
    """A ``purpose`` (unsubscribe or preferences) token for the subscriber, valid 90 days."""
    key = link_key(engine, subscriber_id)
    return SIGNER.make(purpose, subscriber_id, key, expires=now + timedelta(days=90))
