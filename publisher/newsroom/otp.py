"""One-time codes for the newsroom's second factor: the only pyotp and segno user.

TOTP is RFC 6238 with the authenticator apps' defaults (SHA-1, 6 digits, 30 s steps); a
code is taken for its own step or the one either side (a phone's clock a little off), and
``matching_step`` says which step matched, so that a caller can refuse a step used before.
Recovery codes are about 80 random bits each, so a SHA-256 of one is as safe to store as a slow
hash of a password would be.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import segno

__all__ = [
    "DIGITS",
    "DRIFT_STEPS",
    "RECOVERY_CODES",
    "STEP_SECONDS",
    "code_at",
    "grouped",
    "looks_like_recovery_code",
    "matching_step",
    "new_recovery_codes",
    "new_secret",
    "qr_svg",
    "recovery_hash",
    "setup_uri",
]

DIGITS = 6
STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud, typed from paper


def new_secret() -> str:
    """A fresh base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def setup_uri(secret: str, *, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The QR code of ``uri`` as an inline <svg> (no script, no style attribute)."""
    qr = segno.make(uri, error="m")
    return str(qr.svg_inline(scale=5, border=2, dark="#111", light="#fff", omitsize=True))


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing into an app by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def matching_step(secret: str, code: str, *, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now's or one either side), or None."""
    digits = "".join(code.split())
    if not secret or len(digits) != DIGITS or not digits.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # every step compared, in constant time: the answer's time tells nothing
        if hmac.compare_digest(totp.generate_otp(step), digits):
            found = step
    return found


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator app shows at ``now`` (for tests and the set-up check)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(now)


def new_recovery_codes() -> list[str]:
    """Ten one-time recovery codes, each 16 characters (80 bits) in four groups."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
    return codes


def looks_like_recovery_code(code: str) -> bool:
    return len(_plain(code)) == 16


def recovery_hash(code: str) -> str:
    """What is stored of a recovery code (spaces, dashes and case do not matter)."""
    return hashlib.sha256(_plain(code).encode()).hexdigest()


def _plain(code: str) -> str:
    return "".join(ch for ch in code.lower() if ch.isalnum())
