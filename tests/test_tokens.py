from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from publisher.tokens import CONFIRM_TTL, Signer, TokenError

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SIGNER = Signer("s" * 40)
KEY = "subscriber-link-key-0123456789abcdef"
LATER = NOW + timedelta(days=90)


def make(purpose: str = "unsubscribe", subject: int = 42, key: str = KEY) -> str:
    return SIGNER.make(purpose, subject, key, expires=LATER)


def test_a_token_opens_its_purpose_for_its_subject_with_its_key() -> None:
    token = make()
    claim = SIGNER.check("unsubscribe", token, KEY, now=NOW)
    assert (claim.subject_id, claim.purpose, claim.expires) == (42, "unsubscribe", LATER)
    assert Signer.subject(token) == 42
    assert all(c.isalnum() or c in "-_." for c in token)


def test_a_token_for_one_purpose_opens_no_other() -> None:
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("unsubscribe", make("preferences"), KEY, now=NOW)


def test_a_token_dies_with_its_subscribers_key() -> None:
    """Issue 16: a removed member's id given to someone else, or a member who signed out of
    all links, has a new key; old links open nothing."""
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("unsubscribe", make(), "another-key-0123456789abcdefghij", now=NOW)
    with pytest.raises(TokenError):
        SIGNER.check("unsubscribe", make(key=""), "", now=NOW)


def respell(token: str) -> list[str]:
    """The same signature written other ways a lenient decoder accepts (issue 16, item 7)."""
    body, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "==")
    assert base64.urlsafe_b64encode(raw).rstrip(b"=").decode() == signature
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    # The last character carries 2 bits and 4 zero bits: these 3 decode to the same bytes.
    twins = [alphabet[last | n] for n in (1, 2, 3)]
    return [f"{body}.{signature[:-1]}{c}" for c in twins] + [f"{body}.{signature}=="]


@pytest.mark.parametrize("spelling", respell(make()))
def test_only_the_canonical_spelling_is_accepted(spelling: str) -> None:
    raw = spelling.rsplit(".", 1)[1].rstrip("=")
    assert base64.urlsafe_b64decode(raw + "==") == base64.urlsafe_b64decode(
        make().rsplit(".", 1)[1] + "=="
    )
    with pytest.raises(TokenError, match="not valid"):
        Signer.subject(spelling)
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("unsubscribe", spelling, KEY, now=NOW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "2a",
        "2a.",
        "2b." + make().split(".", 1)[1],  # another subject, same signature
        "02a." + make().split(".", 1)[1],  # the same number written with a leading zero
        "2A." + make().split(".", 1)[1],
        make()[:-2],
        make() + "A",
        "zz.!!!",
        Signer("t" * 40).make("unsubscribe", 42, KEY, expires=LATER),  # another secret
    ],
)
def test_forged_or_altered_tokens_are_refused(token: str) -> None:
    with pytest.raises(TokenError):
        SIGNER.check("unsubscribe", token, KEY, now=NOW)


def test_tokens_expire() -> None:
    token = SIGNER.make("confirm", 7, KEY, expires=NOW + CONFIRM_TTL)
    just_before = NOW + CONFIRM_TTL - timedelta(seconds=1)
    assert SIGNER.check("confirm", token, KEY, now=just_before).subject_id == 7
    with pytest.raises(TokenError, match="expired"):
        SIGNER.check("confirm", token, KEY, now=NOW + CONFIRM_TTL)
    body, expiry, signature = token.split(".")
    longer = f"{body}.{int(expiry, 16) + 86400:x}.{signature}"
    with pytest.raises(TokenError, match="not valid"):
        SIGNER.check("confirm", longer, KEY, now=NOW)


def test_message_ids_are_signed_for_their_address() -> None:
    message_id = SIGNER.message_id("edition-3.delivery-9", "Ann@Example.com", "news.example.com")
    assert message_id.startswith("edition-3.delivery-9.") and message_id.endswith(
        "@news.example.com"
    )
    assert SIGNER.genuine_message_id(f"<{message_id}>", "ann@example.com")
    assert not SIGNER.genuine_message_id(message_id, "bob@example.com")
    forged = message_id.replace("delivery-9", "delivery-8")
    assert not SIGNER.genuine_message_id(forged, "ann@example.com")
    assert not SIGNER.genuine_message_id("edition-3.delivery-9@news.example.com", "ann@example.com")


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="32 characters"):
        Signer("short")


def test_signatures_are_hmac_sha256_of_the_purpose_key() -> None:
    """The pads made once per key give what the standard library's HMAC gives."""
    import base64
    import hashlib
    import hmac

    signer = Signer("s" * 40)
    for purpose in ("unsubscribe", "preferences", "message"):
        key = hmac.digest(b"s" * 40, f"newsflash:{purpose}".encode(), "sha256")
        for body in ("", "7b.6a3e0000.key", "é" * 200):
            expected = hmac.digest(key, body.encode(), hashlib.sha256)[:16]
            made = base64.urlsafe_b64encode(expected).rstrip(b"=").decode()
            assert signer._signature(purpose, body) == made
