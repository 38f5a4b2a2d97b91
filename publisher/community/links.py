"""The links each digest carries for its reader, bound to the reader's link key."""

from __future__ import annotations

from datetime import datetime, timedelta

from publisher.tokens import PREFERENCES_TTL, UNSUBSCRIBE_TTL, Signer, TokenError

__all__ = ["TEST_KEY", "TEST_TTL", "is_test_link", "member_links", "test_links"]


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


# A test send's links (issue 13): a ``test`` token names no subscriber, so the unsubscribe and
# preferences pages it opens say it was a test and change nobody.
TEST_KEY = "test-send"
TEST_TTL = timedelta(days=30)


def test_links(signer: Signer, site_url: str, *, now: datetime) -> dict[str, str]:
    """``unsubscribe`` and ``preferences`` URLs for a test message: working, inert."""
    token = signer.make("test", 1, TEST_KEY, expires=now + TEST_TTL)
    return {
        "unsubscribe": f"{site_url}/unsubscribe/{token}",
        "preferences": f"{site_url}/preferences/{token}",
    }


def is_test_link(signer: Signer, token: str, *, now: datetime) -> bool:
    """Whether ``token`` is a genuine, unexpired test send's link."""
    try:
        signer.check("test", token, TEST_KEY, now=now)
    except TokenError:
        return False
    return True
