"""The people who sign in to the newsroom (the ``staff`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from publisher.errors import InputError, NotFoundError
from publisher.models import StaffSession, StaffUser
from publisher.store.engine import insert_ignore

__all__ = [
    "ROLES",
    "add_staff",
    "end_sessions",
    "first_admin_slot",
    "remove_staff",
    "staff_by_email",
    "staff_by_id",
    "staff_count",
    "staff_list",
    "staff_t",
    "take_recovery_code",
    "take_totp_step",
    "update_staff",
]

staff_t = StaffUser.__table__  # type: ignore[attr-defined]
_sessions_t = StaffSession.__table__  # type: ignore[attr-defined]
ROLES = ("contributor", "editor", "admin")


def add_staff(session: Session, email: str, role: str, *, nonce: str, now: datetime) -> int:
    """A new person with no password yet (``nonce`` is their set-password link's); their id."""
    if role not in ROLES:
        raise InputError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if session.scalar(select(staff_t.c.id).where(staff_t.c.email == email)) is not None:
        raise InputError(f"{email} can already sign in")
    result = session.execute(
        insert(staff_t)
        .values(email=email, role=role, link_nonce=nonce, created_at=now, updated_at=now)
        .returning(staff_t.c.id)
    )
    return int(result.scalar_one())


def staff_by_email(session: Session, email: str) -> StaffUser | None:
    return session.scalars(select(StaffUser).where(staff_t.c.email == email)).first()


def staff_by_id(session: Session, staff_id: int) -> StaffUser | None:
    return session.get(StaffUser, staff_id, populate_existing=True)


def staff_list(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(staff_t.c.email)).all())


def staff_count(session: Session, *, role: str | None = None) -> int:
    """How many people (with an address: a first admin not set up yet does not count)."""
    query = select(func.count()).select_from(staff_t).where(staff_t.c.email != "")
    if role is not None:
        query = query.where(staff_t.c.role == role)
    return int(session.scalar(query) or 0)


def update_staff(session: Session, staff_id: int, *, now: datetime, **values: Any) -> None:
    """Set columns of one person; NotFoundError if they are gone."""
    result = session.execute(
        update(staff_t).where(staff_t.c.id == staff_id).values(updated_at=now, **values)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFoundError(f"no newsroom user {staff_id}")


def end_sessions(session: Session, staff_id: int, *, now: datetime) -> None:
    """Every session of this person ends now (sign out everywhere, a new password, a role
    change); a two-step sign-in half done (which names the epoch) ends too."""
    session.execute(delete(_sessions_t).where(_sessions_t.c.staff_id == staff_id))
    session.execute(
        update(staff_t)
        .where(staff_t.c.id == staff_id)
        .values(session_epoch=staff_t.c.session_epoch + 1, updated_at=now)
    )


def remove_staff(session: Session, email: str) -> bool:
    """This person can no longer sign in: their row goes, and every session of theirs (also
    by the foreign key's cascade, said here for a database that does not enforce it)."""
    gone = select(staff_t.c.id).where(staff_t.c.email == email).scalar_subquery()
    session.execute(delete(_sessions_t).where(_sessions_t.c.staff_id == gone))
    result = session.execute(delete(staff_t).where(staff_t.c.email == email))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def take_totp_step(session: Session, staff_id: int, step: int, *, now: datetime) -> bool:
    """Record ``step`` as this person's last TOTP step, if it is later than the last one:
    False for a step already used (a replayed code), in one statement, so that of two
    requests with the same code only one wins."""
    result = session.execute(
        update(staff_t)
        .where(staff_t.c.id == staff_id, staff_t.c.totp_step < step)
        .values(totp_step=step, updated_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def take_recovery_code(
    session: Session, staff_id: int, digest: str, *, now: datetime
) -> int | None:
    """Strike the recovery code whose hash is ``digest`` off this person's list; how many
    are left, or None if it is not (or no longer) on it. Compare-and-set on the whole list,
    so a code is taken once even by two requests at the same instant."""
    stored = session.scalar(select(staff_t.c.recovery_codes).where(staff_t.c.id == staff_id))
    hashes = (stored or "").split()
    if digest not in hashes:
        return None
    left = [h for h in hashes if h != digest]
    result = session.execute(
        update(staff_t)
        .where(staff_t.c.id == staff_id, staff_t.c.recovery_codes == stored)
        .values(recovery_codes="\n".join(left), updated_at=now)
    )
    return len(left) if result.rowcount else None  # type: ignore[attr-defined]


def first_admin_slot(session: Session, *, nonce: str, now: datetime) -> int:
    """The id of the first admin not set up yet (the one row with no address), made if
    missing, with ``nonce`` as their link's: ON CONFLICT, so that several daemons starting
    together on one database make one row (a plain INSERT lost that race on PostgreSQL)."""
    session.execute(
        insert_ignore(session)(staff_t)
        .values(email="", role="admin", link_nonce=nonce, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["email"])
    )
    session.execute(
        update(staff_t)
        .where(staff_t.c.email == "")
        .values(role="admin", link_nonce=nonce, updated_at=now)
    )
    return int(session.scalar(select(staff_t.c.id).where(staff_t.c.email == "")) or 0)
