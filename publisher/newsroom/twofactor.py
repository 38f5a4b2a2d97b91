"""The newsroom's optional second factor: set up TOTP with a code, sign in with a code or a
recovery code, turn it off with a code.

A code is taken once: its time step is recorded, and a step at or before the last one used
is refused, so a code seen over someone's shoulder cannot be used again in its 90 seconds.
Recovery codes are shown once, when made, and only their hashes are kept. The TOTP secret
is kept sealed with a key derived from ``PUBLISHER_SECRET_KEY`` (``sealing.py``), so a copy
of the database alone cannot make codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.errors import DeniedError, InputError, NotFoundError
from publisher.models import StaffUser
from publisher.newsroom import otp
from publisher.newsroom.staff import Staff, as_staff
from publisher.sealing import SealBroken, Sealer

__all__ = [
    "KEY_CHANGED",
    "WRONG_CODE",
    "Setup",
    "TurnedOn",
    "begin_setup",
    "check_code",
    "confirm_setup",
    "new_recovery_codes",
    "pending_setup",
    "recovery_codes_left",
    "turn_off",
]

WRONG_CODE = "that code is not right (or was used already): try the next one your app shows"
KEY_CHANGED = (
    "your two-step sign-in was set up under another PUBLISHER_SECRET_KEY: use a recovery code, "
    "or ask an admin to reset your sign-in"
)


@dataclass(frozen=True)
class Setup:
    """A second factor waiting for its first code: what the set-up page shows."""

    secret: str
    uri: str
    svg: str

    @property
    def grouped(self) -> str:
        return otp.grouped(self.secret)


@dataclass(frozen=True)
class TurnedOn:
    staff: Staff  # with the new session epoch: every other session has ended
    codes: list[str]  # the recovery codes, shown this once


def _row(engine: Engine, staff_id: int) -> StaffUser:
    with store.reading(engine) as session:
        row = store.staff_by_id(session, staff_id)
    if row is None:
        raise NotFoundError("this person no longer signs in here")
    return row


def _open(sealer: Sealer, stored: str) -> str:
    try:
        return sealer.open(stored)
    except SealBroken as exc:
        raise DeniedError(KEY_CHANGED) from exc


def _setup(row: StaffUser, issuer: str, sealer: Sealer) -> Setup:
    secret = _open(sealer, row.totp_pending)
    uri = otp.setup_uri(secret, account=row.email, issuer=issuer)
    return Setup(secret, uri, otp.qr_svg(uri))


def pending_setup(engine: Engine, staff: Staff, *, issuer: str, sealer: Sealer) -> Setup | None:
    """The set-up begun and not yet confirmed, if any."""
    row = _row(engine, staff.id)
    if not row.totp_pending or row.totp_secret:
        return None
    try:
        return _setup(row, issuer, sealer)
    except DeniedError:
        return None  # begun under another secret key: it can only be begun again


def begin_setup(
    engine: Engine, staff: Staff, *, issuer: str, sealer: Sealer, now: datetime
) -> Setup:
    """A new secret to scan (kept until confirmed with a code or replaced by a new one)."""
    if _row(engine, staff.id).totp_secret:
        raise InputError("two-step sign-in is on already: turn it off first to set it up again")
    with store.writing(engine) as session:
        pending = sealer.seal(otp.new_secret())
        store.update_staff(session, staff.id, totp_pending=pending, now=now)
    setup = pending_setup(engine, staff, issuer=issuer, sealer=sealer)
    assert setup is not None
    return setup


def confirm_setup(
    engine: Engine, staff: Staff, code: str, *, sealer: Sealer, now: datetime
) -> TurnedOn:
    """Turn the second factor on with a first code from the app; the recovery codes."""
    row = _row(engine, staff.id)
    if row.totp_secret:
        raise InputError("two-step sign-in is on already")
    if not row.totp_pending:
        raise InputError("start the set-up again: it was not found")
    secret = _open(sealer, row.totp_pending)
    step = otp.matching_step(secret, code, now=now)
    if step is None:
        raise DeniedError(WRONG_CODE)
    codes = otp.new_recovery_codes()
    with store.writing(engine) as session:
        store.update_staff(
            session,
            staff.id,
            totp_secret=sealer.seal(secret),
            totp_pending="",
            totp_step=step,
            recovery_codes="\n".join(otp.recovery_hash(c) for c in codes),
            now=now,
        )
        store.end_sessions(session, staff.id, now=now)
        _record(session, staff, "staff.totp-on", staff.email, now=now)
    return TurnedOn(_fresh(engine, staff.id), codes)


def check_code(
    engine: Engine, staff_id: int, code: str, *, sealer: Sealer, actor: str, now: datetime
) -> str:
    """Take one code, TOTP or recovery, for this person: which kind it was; DeniedError if
    it is wrong or used already (nothing is changed then). ``actor``: who the audit trail
    names for a recovery code used (empty: the person themselves)."""
    row = _row(engine, staff_id)
    actor = actor or row.email
    if not row.totp_secret:
        raise DeniedError(WRONG_CODE)
    if otp.looks_like_recovery_code(code):
        with store.writing(engine) as session:
            left = store.take_recovery_code(session, staff_id, otp.recovery_hash(code), now=now)
            if left is None:
                raise DeniedError("that recovery code is not right, or was used already")
            store.record(
                session,
                actor=actor,
                action="staff.recovery-code-used",
                kind="staff",
                subject_id=staff_id,
                label=row.email,
                after={"recovery_codes_left": left},
                now=now,
            )
        return "recovery"
    step = otp.matching_step(_open(sealer, row.totp_secret), code, now=now)
    with store.writing(engine) as session:
        if step is None or not store.take_totp_step(session, staff_id, step, now=now):
            raise DeniedError(WRONG_CODE)
    return "totp"


def recovery_codes_left(engine: Engine, staff: Staff) -> int:
    return len(_row(engine, staff.id).recovery_codes.split())


def new_recovery_codes(
    engine: Engine, staff: Staff, code: str, *, sealer: Sealer, now: datetime
) -> list[str]:
    """Ten new recovery codes (the old ones stop working), given a code."""
    check_code(engine, staff.id, code, sealer=sealer, actor=staff.email, now=now)
    codes = otp.new_recovery_codes()
    with store.writing(engine) as session:
        hashes = "\n".join(otp.recovery_hash(c) for c in codes)
        store.update_staff(session, staff.id, recovery_codes=hashes, now=now)
        _record(session, staff, "staff.recovery-codes-renewed", staff.email, now=now)
    return codes


def turn_off(engine: Engine, staff: Staff, code: str, *, sealer: Sealer, now: datetime) -> None:
    """The second factor off, given a code (TOTP or recovery)."""
    check_code(engine, staff.id, code, sealer=sealer, actor=staff.email, now=now)
    with store.writing(engine) as session:
        store.update_staff(
            session, staff.id, totp_secret="", recovery_codes="", totp_step=0, now=now
        )
        _record(session, staff, "staff.totp-off", staff.email, now=now)


def _record(session: Session, staff: Staff, action: str, label: str, *, now: datetime) -> None:
    store.record(
        session,
        actor=staff.email,
        action=action,
        kind="staff",
        subject_id=staff.id,
        label=label,
        now=now,
    )


def _fresh(engine: Engine, staff_id: int) -> Staff:
    return as_staff(_row(engine, staff_id))
