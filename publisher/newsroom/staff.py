"""The newsroom's people: add, list, remove, set a password from a one-time link, sign in.

A person is added with no password and a one-time set-password link (valid an hour, used
once: the link is bound to a nonce that is cleared when used). The very first admin of a new
site is added the same way, with no address yet, by ``first_run_link``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from publisher import store
from publisher.content import normalise_email
from publisher.errors import DeniedError, InputError, NotFoundError
from publisher.models import StaffUser
from publisher.newsroom import passwords
from publisher.tokens import STAFF_LINK_TTL, Signer, TokenError

__all__ = [
    "LINK_PATH",
    "WRONG",
    "Staff",
    "add_user",
    "as_staff",
    "authenticate",
    "change_password",
    "first_run_link",
    "link",
    "mark_signed_in",
    "nobody_can_sign_in",
    "opened_link",
    "people",
    "remove_user",
    "reset_link",
    "set_password",
    "set_role",
    "sign_out_everywhere",
    "signed_in",
]

WRONG = "wrong address or password"
LINK_PATH = "/admin/welcome/"


@dataclass(frozen=True)
class Staff:
    """A signed-in person, as pages and checks need them."""

    id: int
    email: str
    role: str
    epoch: int
    totp: bool

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_editor(self) -> bool:
        """An editor or an admin: publishes, corrects, sees subscribers' figures and sends
        (a contributor only writes drafts)."""
        return self.role in ("editor", "admin")


def as_staff(row: StaffUser) -> Staff:
    return Staff(row.id or 0, row.email, row.role, row.session_epoch, bool(row.totp_secret))


def _email(address: str) -> str:
    try:
        return normalise_email(address)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def link(settings_url: str, signer: Signer, staff_id: int, nonce: str, *, now: datetime) -> str:
    token = signer.make("staff", staff_id, nonce, expires=now + STAFF_LINK_TTL)
    return f"{settings_url.rstrip('/')}{LINK_PATH}{token}"


def add_user(
    engine: Engine,
    site_url: str,
    signer: Signer,
    email: str,
    role: str,
    *,
    actor: str,
    now: datetime,
) -> str:
    """Add a person; their one-time set-password link."""
    address, nonce = _email(email), secrets.token_urlsafe(24)
    with store.writing(engine) as session:
        staff_id = store.add_staff(session, address, role, nonce=nonce, now=now)
        store.record(
            session,
            actor=actor,
            action="staff.add",
            kind="staff",
            subject_id=staff_id,
            label=address,
            after={"role": role},
            now=now,
        )
    return link(site_url, signer, staff_id, nonce, now=now)


def reset_link(
    engine: Engine, site_url: str, signer: Signer, email: str, *, actor: str, now: datetime
) -> str:
    """A new one-time set-password link for ``email``; their sessions end and the old
    password stops working. Their second factor is turned off too: the one who lost their
    password has often lost their phone, and the admin vouches for them by passing on the
    link (they can turn it on again at once)."""
    address, nonce = _email(email), secrets.token_urlsafe(24)
    with store.writing(engine) as session:
        row = store.staff_by_email(session, address)
        if row is None:
            raise NotFoundError(f"nobody signs in as {address}")
        store.update_staff(
            session,
            row.id or 0,
            link_nonce=nonce,
            password_hash="",
            totp_secret="",
            totp_pending="",
            totp_step=0,
            recovery_codes="",
            now=now,
        )
        store.end_sessions(session, row.id or 0, now=now)
        store.record(
            session,
            actor=actor,
            action="staff.reset-password",
            kind="staff",
            subject_id=row.id,
            label=address,
            now=now,
        )
    return link(site_url, signer, row.id or 0, nonce, now=now)


def first_run_link(engine: Engine, site_url: str, signer: Signer, *, now: datetime) -> str | None:
    """With nobody able to sign in yet, a one-time link for a first admin (a fresh one each
    time this is called: the one printed last works); None once someone has a password."""
    nonce = secrets.token_urlsafe(24)
    with store.writing(engine) as session:
        people = store.staff_list(session)
        if any(p.password_hash for p in people):
            return None
        staff_id = store.first_admin_slot(session, nonce=nonce, now=now)
    return link(site_url, signer, staff_id, nonce, now=now)


def opened_link(engine: Engine, signer: Signer, token: str, *, now: datetime) -> StaffUser:
    """The person a genuine, unused, unexpired set-password link is for."""
    staff_id = Signer.subject(token)
    with store.reading(engine) as session:
        row = store.staff_by_id(session, staff_id)
    if row is None or not row.link_nonce:
        raise TokenError("this link has been used or replaced: ask an admin for a new one")
    signer.check("staff", token, row.link_nonce, now=now)
    return row


def set_password(
    engine: Engine, signer: Signer, token: str, password: str, *, email: str = "", now: datetime
) -> Staff:
    """Use a set-password link: set the password (and, for a first admin, the address);
    the link stops working and every earlier session ends."""
    row = opened_link(engine, signer, token, now=now)
    address = row.email or _email(email)
    passwords.check_new(password, email=address)
    with store.writing(engine) as session:
        current = store.staff_by_id(session, row.id or 0)
        if current is None or current.link_nonce != row.link_nonce:
            raise TokenError("this link has been used or replaced: ask an admin for a new one")
        if not row.email and store.staff_by_email(session, address) is not None:
            raise InputError(f"{address} can already sign in")
        store.update_staff(
            session,
            row.id or 0,
            email=address,
            password_hash=passwords.hash_password(password),
            link_nonce="",
            signed_in_at=now,
            now=now,
        )
        store.end_sessions(session, row.id or 0, now=now)
        store.record(
            session,
            actor=address,
            action="staff.set-password",
            kind="staff",
            subject_id=row.id,
            label=address,
            now=now,
        )
        fresh = store.staff_by_id(session, row.id or 0)
    assert fresh is not None
    return as_staff(fresh)


def authenticate(engine: Engine, email: str, password: str, *, now: datetime) -> StaffUser:
    """The person whose address and password these are; DeniedError (one message for a wrong
    address and a wrong password) otherwise."""
    address = email.strip().lower()
    with store.reading(engine) as session:
        row = store.staff_by_email(session, address) if address else None
    if not passwords.verify(row.password_hash if row else "", password) or row is None:
        raise DeniedError(WRONG)
    with store.writing(engine) as session:
        # With a second factor, the sign-in is not done yet (twofactor.check_code ends it).
        values: dict[str, object] = {} if row.totp_secret else {"signed_in_at": now}
        if passwords.needs_rehash(row.password_hash):
            values["password_hash"] = passwords.hash_password(password)
        store.update_staff(session, row.id or 0, now=now, **values)
    return row


def signed_in(engine: Engine, staff_id: int, epoch: int) -> Staff | None:
    """The person a sign-in under way names (a password given, a code awaited), if nothing
    ended their sessions meanwhile (same epoch). Sessions themselves: ``newsroom.sessions``."""
    with store.reading(engine) as session:
        row = store.staff_by_id(session, staff_id)
    if row is None or row.session_epoch != epoch or not row.password_hash:
        return None
    return as_staff(row)


def sign_out_everywhere(engine: Engine, staff: Staff, *, now: datetime) -> None:
    with store.writing(engine) as session:
        store.end_sessions(session, staff.id, now=now)
        store.record(
            session,
            actor=staff.email,
            action="staff.sign-out-everywhere",
            kind="staff",
            subject_id=staff.id,
            label=staff.email,
            now=now,
        )


def people(engine: Engine) -> list[StaffUser]:
    with store.reading(engine) as session:
        return store.staff_list(session)


def nobody_can_sign_in(engine: Engine) -> bool:
    """Whether nobody has a password yet (a fresh site: the first admin is not set up)."""
    return not any(p.password_hash for p in people(engine))


def remove_user(engine: Engine, email: str, *, actor: str, now: datetime) -> None:
    address = email.strip().lower()
    with store.writing(engine) as session:
        row = store.staff_by_email(session, address)
        if row is None:
            raise NotFoundError(f"nobody signs in as {address}")
        if row.role == "admin" and store.staff_count(session, role="admin") == 1:
            raise InputError(f"{address} is the only admin: add another admin first")
        store.remove_staff(session, address)
        store.record(
            session,
            actor=actor,
            action="staff.remove",
            kind="staff",
            subject_id=row.id,
            label=address,
            before={"role": row.role},
            now=now,
        )


def mark_signed_in(engine: Engine, staff_id: int, *, now: datetime) -> None:
    with store.writing(engine) as session:
        store.update_staff(session, staff_id, signed_in_at=now, now=now)


def change_password(
    engine: Engine, staff: Staff, current: str, new: str, *, now: datetime
) -> Staff:
    """A new password, given the current one; every session ends (the caller starts this
    browser's afresh)."""
    with store.reading(engine) as session:
        row = store.staff_by_id(session, staff.id)
    if row is None or not passwords.verify(row.password_hash, current):
        raise DeniedError("the current password is not right")
    passwords.check_new(new, email=row.email)
    with store.writing(engine) as session:
        store.update_staff(session, staff.id, password_hash=passwords.hash_password(new), now=now)
        store.end_sessions(session, staff.id, now=now)
        store.record(
            session,
            actor=staff.email,
            action="staff.change-password",
            kind="staff",
            subject_id=staff.id,
            label=staff.email,
            now=now,
        )
        fresh = store.staff_by_id(session, staff.id)
    assert fresh is not None
    return as_staff(fresh)


def set_role(engine: Engine, email: str, role: str, *, actor: str, now: datetime) -> bool:
    """Give ``email`` the role ``role`` (never leaving the newsroom without an admin);
    whether it changed. Their sessions end: a session never outlives the role it began with."""
    address = email.strip().lower()
    if role not in store.ROLES:
        raise InputError(f"role must be one of {', '.join(store.ROLES)}, not {role!r}")
    with store.writing(engine) as session:
        row = store.staff_by_email(session, address)
        if row is None:
            raise NotFoundError(f"nobody signs in as {address}")
        if row.role == role:
            return False
        if row.role == "admin" and store.staff_count(session, role="admin") == 1:
            raise InputError(f"{address} is the only admin: make someone else an admin first")
        store.update_staff(session, row.id or 0, role=role, now=now)
        store.end_sessions(session, row.id or 0, now=now)
        store.record(
            session,
            actor=actor,
            action="staff.set-role",
            kind="staff",
            subject_id=row.id,
            label=address,
            before={"role": row.role},
            after={"role": role},
            now=now,
        )
    return True
