"""Secrets kept in the database, sealed with a key derived from ``PUBLISHER_SECRET_KEY``
(AES-256-GCM, one key per purpose): a copy of the database alone does not give them away.
The only user of the ``cryptography`` library.

A sealed value is ``v1.`` and the nonce and ciphertext in URL-safe base64. A value without
that prefix was stored before sealing began, and is read as it is (sealed when next written).
"""

from __future__ import annotations

import base64
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import SecretStr

__all__ = ["PREFIX", "SealBroken", "Sealer"]

PREFIX = "v1."


class SealBroken(ValueError):
    """A sealed value that does not open with this key: altered, or sealed with another key."""


class Sealer:
    """Seals and opens short secrets for one ``purpose`` (the purpose is also bound in, so a
    value sealed for one purpose does not open as another)."""

    def __init__(self, secret: str, purpose: str) -> None:
        if len(secret) < 32:
            raise ValueError("the secret key must be at least 32 characters")
        key = hmac.digest(secret.encode("utf-8"), f"newsflash:seal:{purpose}".encode(), "sha256")
        self._aead = AESGCM(key)
        self._purpose = purpose.encode()

    @classmethod
    def of(cls, secret: SecretStr | None, purpose: str) -> Sealer:
        return cls(secret.get_secret_value() if secret else "", purpose)

    def seal(self, plain: str) -> str:
        if not plain:
            return ""
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plain.encode("utf-8"), self._purpose)
        return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii").rstrip("=")

    def open(self, stored: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # stored before sealing began
        raw = stored[len(PREFIX) :]
        try:
            data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            return self._aead.decrypt(data[:12], data[12:], self._purpose).decode("utf-8")
        except (InvalidTag, ValueError) as exc:
            raise SealBroken(
                "a sealed secret does not open with this PUBLISHER_SECRET_KEY"
            ) from exc
