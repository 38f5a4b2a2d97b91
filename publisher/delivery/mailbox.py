"""The daemon's polls of the bounce mailbox (issue 28): one daemon at a time (the one whose
claim in the database wins, as sources are claimed), each mail read as a report and acted on
(``delivery.bounces``), then deleted or moved. A mailbox that is down or refuses the login is
logged once, with why, kept in the database (the dashboard and /healthz show it), and polled
again at the next interval."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from publisher import store
from publisher.delivery import bounces
from publisher.delivery.bounces import Applied
from publisher.errors import ConfigError
from publisher.mail.mailbox import MailboxConfig, MailboxError, parse_mailbox_url, read_mailbox
from publisher.settings import Settings
from publisher.tokens import Signer

__all__ = [
    "DOWN_AFTER",
    "MailboxHealth",
    "bounce_address",
    "health",
    "mailbox_config",
    "poll_mailbox",
]

log = logging.getLogger(__name__)

DOWN_AFTER = 3  # failed polls in a row before the mailbox counts as down


def mailbox_config(settings: Settings) -> MailboxConfig | None:
    """The bounce mailbox the settings name (None: none configured); ConfigError for a
    URL that cannot be used."""
    if settings.bounce_mailbox_url is None:
        return None
    password = settings.bounce_mailbox_password
    return parse_mailbox_url(
        settings.bounce_mailbox_url.get_secret_value(),
        password.get_secret_value() if password else None,
    )


def bounce_address(settings: Settings) -> str:
    """The address the digest's List-Unsubscribe mailto names: the bounce mailbox's (empty
    when no mailbox is configured, so mail clients use the link)."""
    try:
        config = mailbox_config(settings)
    except ConfigError:
        return ""
    if config is None:
        return ""
    if settings.bounce_address:
        return settings.bounce_address
    return config.username if "@" in config.username else ""


def poll_mailbox(engine: Engine, settings: Settings, *, now: datetime) -> Applied | None:
    """Read the bounce mailbox if it is due and this process wins it; what its reports did
    (None: not polled)."""
    config = mailbox_config(settings)
    if config is None:
        return None
    every = timedelta(seconds=settings.bounce_mailbox_every)
    with store.writing(engine) as session:
        if not store.claim_mailbox(session, now=now, next_at=now + every):
            return None
        was = store.mailbox_state(session)
        failures_before = was.failures if was else 0
        error_before = was.last_error if was else ""
    signer = Signer.of(settings.secret_key)
    applied = Applied()

    def handle(raw: bytes) -> None:
        done = bounces.apply_mails(engine, settings, signer, [raw], source="mailbox", now=now)
        applied.merge(done)

    try:
        read = read_mailbox(config, handle)
    except MailboxError as exc:
        with store.writing(engine) as session:
            store.mailbox_failed(session, exc.message, now=now)
        if exc.message != error_before:  # logged once, not at every poll
            log.warning(
                "bounce mailbox: %s; trying again every %.0f s", exc.message, every.total_seconds()
            )
        return applied
    with store.writing(engine) as session:
        store.mailbox_succeeded(session, now=now, read=read)
    if failures_before:
        log.warning("bounce mailbox %s back after %d failed poll(s)", config.where, failures_before)
    if read:
        log.info("bounce mailbox: %d mail(s) read: %s", read, applied)
    return applied


@dataclass(frozen=True)
class MailboxHealth:
    """The bounce mailbox as the dashboard and /healthz show it."""

    configured: bool
    down: bool = False
    failures: int = 0
    error: str = ""
    since: datetime | None = None
    last_poll_at: datetime | None = None


def health(engine: Engine, settings: Settings) -> MailboxHealth:
    """Whether the mailbox is configured, and down (DOWN_AFTER failed polls in a row)."""
    if settings.bounce_mailbox_url is None:
        return MailboxHealth(False)
    with store.reading(engine) as session:
        row = store.mailbox_state(session)
    if row is None:
        return MailboxHealth(True)
    return MailboxHealth(
        True,
        down=row.failures >= DOWN_AFTER,
        failures=row.failures,
        error=row.last_error,
        since=row.down_since,
        last_poll_at=row.last_poll_at,
    )
