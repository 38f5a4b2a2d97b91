from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from publisher.tokens import CONFIRM_TTL, Signer, TokenError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SIGNER = Signer("s" * 40)


def test_a_token_opens_its_purpose_for_its_subscriber() -> None:
    token = SIGNER.make("unsubscribe", 42)
    claim = SIGNER.check("unsubscribe", token, now=NOW)
    assert (claim.subscriber_id, claim.purpose, claim.expires) == (42, "unsubscribe", None)
    assert token == SIGNER.make("unsubscribe", 42)  # stable: the same link in every edition
    assert all(c.isalnum() or c in "-_." for c in token)


def test_a_token_for_one_purpose_opens_no_other() -> None:
    token = SIGNER.make("preferences", 42)
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("unsubscribe", token, now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "2a",
        "2a.",
        "2b." + SIGNER.make("unsubscribe", 42).split(".")[1],  # another subscriber, same signature
        SIGNER.make("unsubscribe", 42)[:-2],
        SIGNER.make("unsubscribe", 42) + "A",
        "zz.!!!",
        Signer("t" * 40).make("unsubscribe", 42),  # signed with another key
    ],
)
def test_forged_or_altered_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.check("unsubscribe", token, now=NOW)


def test_confirmation_tokens_expire() -> None:
    token = SIGNER.make("confirm", 7, expires=NOW + CONFIRM_TTL)
    assert (
        SIGNER.check("confirm", token, now=NOW + CONFIRM_TTL - timedelta(seconds=1)).subscriber_id
        == 7
    )
    with pytest.raises(TokenError, match="expired"):
        SIGNER.check("confirm", token, now=NOW + CONFIRM_TTL)
    body, expiry, signature = token.split(".")
    longer = f"{body}.{int(expiry, 16) + 86400:x}.{signature}"
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("confirm", longer, now=NOW)


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        Signer("short")
