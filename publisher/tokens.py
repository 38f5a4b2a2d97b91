"""Signed, purpose-bound tokens for the links in mail: confirm, unsubscribe, preferences.

A token names one subscriber and one purpose and carries an HMAC-SHA256 signature (truncated
to 128 bits) over both, keyed with a key derived once per purpose from the secret key. A token
made for one purpose never opens another; a confirmation token also expires. Signing is the
standard library's C HMAC: about a microsecond, since every recipient of every edition gets two.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from publisher.errors import InputError

PURPOSES = ("confirm", "unsubscribe", "preferences")
CONFIRM_TTL = timedelta(days=3)


class TokenError(InputError):
    """A token that is malformed, forged, altered, for another purpose, or expired."""

    http_status = 400


@dataclass(frozen=True)
class Claim:
    subscriber_id: int
    purpose: str
    expires: datetime | None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """Makes and checks tokens with keys derived from ``secret`` (one key per purpose)."""

    def __init__(self, secret: str) -> None:
        if len(secret) < 32:
            raise ValueError("the secret key must be at least 32 characters")
        self._keys = {
            purpose: hmac.digest(secret.encode("utf-8"), f"newsflash:{purpose}".encode(), "sha256")
            for purpose in PURPOSES
        }

    def _signature(self, purpose: str, body: str) -> str:
        return _b64(hmac.digest(self._keys[purpose], body.encode("ascii"), hashlib.sha256)[:16])

    def make(self, purpose: str, subscriber_id: int, *, expires: datetime | None = None) -> str:
        """A URL-safe token for ``purpose`` and ``subscriber_id`` (valid until ``expires``)."""
        if purpose not in self._keys:
            raise ValueError(f"unknown token purpose {purpose!r}")
        body = (
            f"{subscriber_id:x}.{int(expires.timestamp()):x}" if expires else f"{subscriber_id:x}"
        )
        return f"{body}.{self._signature(purpose, body)}"

    def check(self, purpose: str, token: str, *, now: datetime) -> Claim:
        """The claim in a genuine, unexpired ``purpose`` token; TokenError for anything else."""
        parts = token.split(".")
        if len(parts) not in (2, 3) or purpose not in self._keys:
            raise TokenError("this link is not valid: it may have been cut short or altered")
        body, signature = ".".join(parts[:-1]), parts[-1]
        try:
            genuine = hmac.compare_digest(_unb64(signature), _unb64(self._signature(purpose, body)))
            subscriber_id = int(parts[0], 16)
            expires = datetime.fromtimestamp(int(parts[1], 16), UTC) if len(parts) == 3 else None
        except (ValueError, binascii.Error, OverflowError, OSError):
            genuine = False
        if not genuine:
            raise TokenError("this link is not valid: it may have been cut short or altered")
        if expires is not None and now >= expires:
            raise TokenError("this link has expired: please sign up again to get a fresh one")
        return Claim(subscriber_id, purpose, expires)
