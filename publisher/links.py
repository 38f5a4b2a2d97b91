"""The links each digest carries for its reader, bound to the reader's link key."""

from __future__ import annotations

from datetime import datetime

from publisher.tokens import PREFERENCES_TTL, UNSUBSCRIBE_TTL, Signer


def member_links(
    signer: Signer, site_url: str, subscriber_id: int, key: str, *, now: datetime
) -> dict[str, str]:
    """``unsubscribe`` (valid UNSUBSCRIBE_TTL) and ``preferences`` (PREFERENCES_TTL) URLs, bound
    to the subscriber's link ``key`` (empty for a removed subscriber: links that open nothing)."""
    unsubscribe = signer.make("unsubscribe", subscriber_id, key, expires=now + UNSUBSCRIBE_TTL)
    preferences = signer.make("preferences", subscriber_id, key, expires=now + PREFERENCES_TTL)
    return {
        "unsubscribe": f"{site_url}/unsubscribe/{unsubscribe}",
        "preferences": f"{site_url}/preferences/{preferences}",
    }
