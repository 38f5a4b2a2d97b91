"""Change stamps: a counter per thing (``articles``), bumped in the same transaction as every
change to it, so that any process can tell cheaply whether its cache is stale."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from publisher.store.engine import insert_ignore, stamps_t

__all__ = ["bump", "stamp"]


def bump(session: Session, name: str) -> None:
    """Move the stamp ``name`` on; call inside the transaction that changes the thing."""
    statement = insert_ignore(session)(stamps_t).values(name=name, version=1)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["name"], set_={"version": stamps_t.c.version + 1}
        )
    )


def stamp(session: Session, name: str) -> int:
    return int(session.scalar(select(stamps_t.c.version).where(stamps_t.c.name == name)) or 0)
