"""Signed, purpose-bound tokens for the links in mail: confirm, unsubscribe, preferences, access.

A token is ``SUBJECT.EXPIRES.SIGNATURE``: the subject's id and the expiry time (both lower-case
hex, no leading zero) and an HMAC-SHA256 signature (truncated to 128 bits, unpadded base64url)
over both and the subscriber's own random link key, keyed with a key derived once per purpose
from the secret key. So a token made for one purpose never opens another, every token expires,
and every token dies with its subscriber's key: when they are removed (ids are never reused)
or sign out of all links (issue 16). Exactly one way of writing a token is accepted: another
spelling of the same signature (a changed last base64 character, padding) is refused.

A ``test`` token is the link in a test send (issue 13): it opens the unsubscribe and
preferences pages, which say so and change nobody. The subject is the subscriber for
unsubscribe and preferences links, the pending confirmation
for a confirm link, and the one-time access request for a "Your subscription" link.

Messages we send carry a signed Message-ID too, so that a bounce report can be checked against
a message we really sent to that address (``message_id``, ``genuine_message_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from binascii import b2a_base64
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import SecretStr

from publisher.errors import InputError
from publisher.languages import N_

__all__ = [
    "ACCESS_TTL",
    "BROKEN",
    "CONFIRM_TTL",
    "GONE",
    "PREFERENCES_TTL",
    "PURPOSES",
    "STAFF_LINK_TTL",
    "UNSUBSCRIBE_TTL",
    "Claim",
    "Signer",
    "TokenError",
    "new_link_key",
]

PURPOSES = (
    "confirm", "unsubscribe", "preferences", "access", "message", "staff", "test", "preview",
)  # fmt: skip
CONFIRM_TTL = timedelta(days=3)
PREFERENCES_TTL = timedelta(days=90)
# An unsubscribe link must keep working for readers who open an old digest (RFC 8058 asks for
# no expiry; the law in most places asks for 30 days at least): a year.
UNSUBSCRIBE_TTL = timedelta(days=365)
ACCESS_TTL = timedelta(hours=1)
# A newsroom set-password link (a first admin's, a new user's, a reset): an hour, used once.
STAFF_LINK_TTL = timedelta(hours=1)

_TOKEN = re.compile(r"([1-9a-f][0-9a-f]{0,15})\.([1-9a-f][0-9a-f]{0,15})\.([A-Za-z0-9_-]{22})")
_LEGACY = re.compile(r"([1-9a-f][0-9a-f]{0,15})\.([A-Za-z0-9_-]{22})")
_MESSAGE_ID = re.compile(r"([A-Za-z0-9.-]+)\.([A-Za-z0-9_-]{22})@([A-Za-z0-9.-]+)")
BROKEN = "this link is not valid: it may have been cut short or altered"
GONE = N_(
    "this link is not valid any more: it was altered, signed out of all links, or its "
    "subscription was removed; you can ask for a new one at /subscription"
)


class TokenError(InputError):
    """A token that is malformed, forged, altered, for another purpose, or expired."""

    http_status = 400


@dataclass(frozen=True)
class Claim:
    subject_id: int
    purpose: str
    expires: datetime


def new_link_key() -> str:
    """A subscriber's random link key (rotated to sign out of every link made before)."""
    return secrets.token_urlsafe(24)


_URL_SAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    """URL-safe base64 without padding (as ``urlsafe_b64encode``, in fewer steps)."""
    return b2a_base64(data, newline=False).translate(_URL_SAFE).rstrip(b"=").decode("ascii")


class _Digest(Protocol):
    """A running SHA-256 as ``_pads`` hands it out (hashlib names its own type privately)."""

    def copy(self) -> _Digest: ...
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...


def _pads(key: bytes) -> tuple[_Digest, _Digest]:
    """SHA-256 already fed the key's inner and outer pads (RFC 2104; keys of at most one
    64-byte block, as ours are)."""
    if len(key) > 64:
        raise ValueError("an HMAC key longer than a SHA-256 block is hashed first: not here")
    block = key.ljust(64, b"\0")
    return (
        hashlib.sha256(bytes(b ^ 0x36 for b in block)),
        hashlib.sha256(bytes(b ^ 0x5C for b in block)),
    )


class Signer:
    """Makes and checks tokens with keys derived from ``secret`` (one key per purpose)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the secret key must be at least 32 characters")
        self._keys = {
            purpose: hmac.digest(secret.encode("utf-8"), f"newsflash:{purpose}".encode(), "sha256")
            for purpose in PURPOSES
        }
        # Links made before per-subscriber keys (kept for unsubscribing only, for a while).
        self._legacy = self._keys["unsubscribe"]
        # HMAC-SHA256 (RFC 2104) with each key's padded inner and outer hashes made once:
        # three signatures a message (Message-ID, unsubscribe, preferences) cost about 9 us
        # each keyed afresh, 3 us from the copies (issue 15).
        self._pads = {purpose: _pads(key) for purpose, key in self._keys.items()}

    @classmethod
    def of(cls, secret: SecretStr | None) -> Signer:
        """The signer of the ``PUBLISHER_SECRET_KEY`` setting."""
        return cls(secret.get_secret_value() if secret else "")

    def _signature(self, purpose: str, body: str) -> str:
        inner, outer = self._pads[purpose]
        first = inner.copy()
        first.update(body.encode("utf-8"))
        second = outer.copy()
        second.update(first.digest())
        return _b64(second.digest()[:16])

    def make(self, purpose: str, subject_id: int, key: str, *, expires: datetime) -> str:
        """A URL-safe token for ``purpose`` and ``subject_id``, bound to the subscriber's link
        ``key`` and valid until ``expires``."""
        if purpose not in self._keys:
            raise ValueError(f"unknown token purpose {purpose!r}")
        body = f"{subject_id:x}.{int(expires.timestamp()):x}"
        return f"{body}.{self._signature(purpose, f'{body}.{key}')}"

    @staticmethod
    def subject(token: str) -> int:
        """The id a token names, read before its signature can be checked (the subscriber's
        key is needed for that); TokenError unless it is written the one canonical way."""
        found = _TOKEN.fullmatch(token)
        if found is None or not _canonical_signature(found[3]):
            raise TokenError(BROKEN)
        return int(found[1], 16)

    def check(self, purpose: str, token: str, key: str, *, now: datetime) -> Claim:
        """The claim in a genuine, unexpired ``purpose`` token signed with ``key``;
        TokenError for anything else."""
        found = _TOKEN.fullmatch(token)
        if found is None or purpose not in self._keys or not key:
            raise TokenError(BROKEN)
        expected = self._signature(purpose, f"{found[1]}.{found[2]}.{key}")
        # Compared as text: the canonical spelling only (issue 16).
        if not hmac.compare_digest(found[3], expected):
            raise TokenError(BROKEN)
        expires = datetime.fromtimestamp(int(found[2], 16), UTC)
        if now >= expires:
            raise TokenError(
                N_("this link has expired: you can ask for a fresh one at /subscription")
            )
        return Claim(int(found[1], 16), purpose, expires)

    def legacy_unsubscribe(self, token: str) -> int | None:
        """The subscriber a genuine unsubscribe link made before per-subscriber keys names
        (``ID.SIGNATURE``), or None."""
        found = _LEGACY.fullmatch(token)
        if found is None:
            return None
        expected = _b64(hmac.digest(self._legacy, found[1].encode(), hashlib.sha256)[:16])
        return int(found[1], 16) if hmac.compare_digest(found[2], expected) else None

    def message_id(self, local: str, address: str, host: str) -> str:
        """A Message-ID (without <>) for a message to ``address``: ``local`` (letters,
        digits, dots, hyphens) and a signature over both, so a bounce report quoting it can
        be told from a forged one."""
        return f"{local}.{self._signature('message', f'{local} {address.lower()}')}@{host}"

    def genuine_message_id(self, message_id: str, address: str) -> bool:
        """Whether ``message_id`` (with or without <>) is one we made for ``address``."""
        found = _MESSAGE_ID.fullmatch(message_id.strip().strip("<>"))
        if found is None:
            return False
        expected = self._signature("message", f"{found[1]} {address.lower()}")
        return hmac.compare_digest(found[2], expected)


def _canonical_signature(text: str) -> bool:
    # 16 bytes are 22 base64 characters whose last one carries 2 bits: the other 4 are zero.
    return text[-1] in "AQgw"
