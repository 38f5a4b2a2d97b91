"""Newsroom passwords: the only argon2 user (argon2-cffi, its default, OWASP-grade parameters)."""

from __future__ import annotations

import functools
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from publisher.errors import InputError

__all__ = [
    "HASHING_AT_ONCE",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "check_new",
    "hash_password",
    "needs_rehash",
    "verify",
]

MIN_LENGTH = 10
MAX_LENGTH = 1024  # argon2 takes any length; a cap keeps one sign-in from costing a lot
_HASHER = PasswordHasher()
# One argon2 hash takes 64 MiB and about 0.2 s of a core: at most this many run at once in a
# process, whatever the number of sign-ins (the others wait their turn), so a burst of them
# costs time, not the machine's memory (issue 24: 40 ran at once).
HASHING_AT_ONCE = 2
_HASHING = threading.BoundedSemaphore(HASHING_AT_ONCE)


@functools.cache
def _dummy() -> str:
    """Checked when there is no such person, so that a wrong address costs as long as a wrong
    password and the time of an answer does not tell who has an account. Made when first
    needed, not at import: a hash costs about 0.2 s of CPU and 64 MB, which every process
    that imports the store would pay (issue 15)."""
    return hash_password("not anybody's password, only for timing")


def check_new(password: str, *, email: str) -> None:
    """InputError unless ``password`` may be used."""
    if len(password) < MIN_LENGTH:
        raise InputError(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InputError(f"a password may have at most {MAX_LENGTH} characters")
    if email and password.strip().lower() == email.lower():
        raise InputError("a password must not be your address")


def hash_password(password: str) -> str:
    with _HASHING:
        return _HASHER.hash(password)


def verify(stored: str, password: str) -> bool:
    """Whether ``password`` matches ``stored`` (an empty ``stored``: nobody, never)."""
    if len(password) > MAX_LENGTH:
        return False
    against = stored or _dummy()
    try:
        with _HASHING:
            return _HASHER.verify(against, password) and bool(stored)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _HASHER.check_needs_rehash(stored)
