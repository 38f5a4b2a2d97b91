"""The links each digest carries for its reader, bound to the reader's link key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, select

from publisher import store
from publisher.tokens import PREFERENCES_TTL, UNSUBSCRIBE_TTL, Signer


def member_links(
    engine: Engine, signer: Signer, site_url: str, subscriber_id: int, *, now: datetime
) -> dict[str, str]:
    """``unsubscribe`` (valid UNSUBSCRIBE_TTL) and ``preferences`` (PREFERENCES_TTL) URLs."""
    with store.reading(engine) as session:
        key = session.scalar(
            select(store.subscribers_t.c.link_key).where(store.subscribers_t.c.id == subscriber_id)
        )
    key = key or ""  # a removed subscriber: links that open nothing
    unsubscribe = signer.make("unsubscribe", subscriber_id, key, expires=now + UNSUBSCRIBE_TTL)
    preferences = signer.make("preferences", subscriber_id, key, expires=now + PREFERENCES_TTL)
    return {
        "unsubscribe": f"{site_url}/unsubscribe/{unsubscribe}",
        "preferences": f"{site_url}/preferences/{preferences}",
    }
