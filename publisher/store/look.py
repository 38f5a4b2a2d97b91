"""The digest's look as stored: the fields an admin chose (one row) and the logos uploaded."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from publisher.models import Look, LookLogo
from publisher.store.audit import one_at_a_time
from publisher.store.engine import insert_ignore

__all__ = [
    "LogoFile",
    "add_logo",
    "lock_look",
    "look_chosen",
    "look_logo",
    "look_logos_t",
    "look_t",
    "set_look",
]

look_t = Look.__table__  # type: ignore[attr-defined]
look_logos_t = LookLogo.__table__  # type: ignore[attr-defined]
_ROW = 1


@dataclass(frozen=True)
class LogoFile:
    """A logo's bytes and what they are."""

    key: str  # the SHA-256 of ``data``, in hex
    content_type: str
    width: int
    height: int
    data: bytes


def look_chosen(session: Session) -> tuple[dict[str, Any], int]:
    """What an admin chose (the fields set, by name) and the look's version (0: never set)."""
    row = session.execute(select(look_t.c.chosen, look_t.c.version).where(look_t.c.id == _ROW))
    found = row.first()
    if found is None:
        return {}, 0
    chosen = json.loads(found.chosen) if found.chosen else {}
    return (chosen if isinstance(chosen, dict) else {}), int(found.version)


def lock_look(session: Session, *, now: datetime) -> tuple[dict[str, Any], int]:
    """The look's row held by this write transaction until it ends (made if missing): what an
    admin chose and its version, read under the lock."""
    one_at_a_time(session, "look")
    session.execute(
        insert_ignore(session)(look_t)
        .values(id=_ROW, chosen="", version=0, changed_at=now, changed_by="")
        .on_conflict_do_nothing()
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(look_t.c.id).where(look_t.c.id == _ROW).with_for_update())
    return look_chosen(session)


def set_look(
    session: Session, chosen: Mapping[str, Any], *, version: int, actor: str, now: datetime
) -> None:
    """Store ``chosen`` as the look at ``version`` (after :func:`lock_look`)."""
    session.execute(
        update(look_t)
        .where(look_t.c.id == _ROW)
        .values(
            chosen=json.dumps(dict(chosen), ensure_ascii=False, sort_keys=True),
            version=version,
            changed_at=now,
            changed_by=actor[:400],
        )
    )


def add_logo(session: Session, logo: LogoFile, *, actor: str, now: datetime) -> None:
    """Keep ``logo`` (once: the same bytes again change nothing)."""
    session.execute(
        insert_ignore(session)(look_logos_t)
        .values(
            key=logo.key,
            content_type=logo.content_type,
            width=logo.width,
            height=logo.height,
            data=logo.data,
            created_at=now,
            created_by=actor[:400],
        )
        .on_conflict_do_nothing()
    )


def look_logo(session: Session, key: str, *, with_data: bool = True) -> LogoFile | None:
    """The logo kept under ``key``, if any (``with_data=False``: what it is, without its
    bytes)."""
    t = look_logos_t
    columns = [t.c.key, t.c.content_type, t.c.width, t.c.height]
    row = session.execute(
        select(*columns, t.c.data if with_data else t.c.key).where(t.c.key == key[:64])
    ).first()
    if row is None:
        return None
    data = bytes(row[4]) if with_data else b""
    return LogoFile(row.key, row.content_type, row.width, row.height, data)
