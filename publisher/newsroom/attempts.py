"""Limits on guessing the newsroom's secrets (issue 24): wrong passwords per address and per
client, wrong two-step codes per person, wrong "current password"s and codes on the account
page per person, all counted in the database so that every daemon shares one count.

An attempt is reserved before its secret is checked (one ``UPDATE ... WHERE count < limit``
per key): a burst of requests at once gets at most the limit's number checked, and whoever is
over it gets TOO_MANY without any check. A right secret gives its attempt back; a wrong one
keeps it for WINDOW.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Engine

from publisher import store
from publisher.errors import DeniedError, NotFoundError

__all__ = [
    "PER_ADDRESS",
    "PER_CLIENT",
    "PER_PERSON",
    "TOO_MANY",
    "WINDOW",
    "Limit",
    "TooManyAttempts",
    "account",
    "guarded",
    "password",
    "second_step",
]

T = TypeVar("T")

WINDOW = timedelta(minutes=15)
PER_ADDRESS = 5  # wrong passwords for one address in WINDOW
PER_CLIENT = 20  # wrong passwords or codes from one client (an IPv4 address, an IPv6 /64)
PER_PERSON = 5  # wrong codes for one person at sign-in; wrong secrets on their account page
TOO_MANY = "Too many attempts to sign in. Please wait 15 minutes, then try again."

Limit = tuple[str, int]  # (the hashed key, its limit)


class TooManyAttempts(DeniedError):
    """Over a limit: nothing was checked."""

    http_status = 429

    def __init__(self) -> None:
        super().__init__(TOO_MANY)


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def password(address: str, client: str) -> list[Limit]:
    """A password given at sign-in: counted for the client and for the address."""
    return [(_key("client", client), PER_CLIENT), (_key("address", address), PER_ADDRESS)]


def second_step(staff_id: int, client: str) -> list[Limit]:
    """A two-step code given at sign-in: counted for the client and for the person."""
    return [(_key("client", client), PER_CLIENT), (_key("code", str(staff_id)), PER_PERSON)]


def account(what: str, staff_id: int) -> list[Limit]:
    """A secret given on one's account page (``what``: password, code), counted apart from
    sign-in's, for the person."""
    return [(_key(f"account-{what}", str(staff_id)), PER_PERSON)]


def guarded(
    engine: Engine,
    limits: Sequence[Limit],
    check: Callable[[], T],
    *,
    now: datetime,
    wrong: tuple[type[Exception], ...] = (DeniedError, NotFoundError),
) -> T:
    """``check()``, once an attempt is reserved against every limit (TooManyAttempts if one
    is full: ``check`` is not called). A ``wrong`` error keeps the attempt counted; success,
    or any other error (the database, a bad form), gives it back."""
    with store.writing(engine) as session:
        reserved = store.reserve_attempts(session, limits, since=now - WINDOW, now=now)
    with store.writing(engine) as session:  # apart: it holds no row a reservation holds
        store.prune_attempts(session, before=now - WINDOW)
    if not reserved:
        raise TooManyAttempts()
    try:
        result = check()
    except wrong:
        raise
    except BaseException:
        _give_back(engine, limits)
        raise
    _give_back(engine, limits)
    return result


def _give_back(engine: Engine, limits: Sequence[Limit]) -> None:
    with store.writing(engine) as session:
        store.release_attempts(session, [key for key, _ in limits])
