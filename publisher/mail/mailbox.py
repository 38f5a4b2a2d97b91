"""The bounce mailbox (issue 28): IMAP or POP3, over TLS or STARTTLS, read with the standard
library. Each mail is handed over, then deleted (or, on IMAP, moved to a folder) once it was
dealt with; a mail whose handling failed stays for the next poll."""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import re
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from publisher.errors import ConfigError, PublisherError

__all__ = ["MAX_PER_POLL", "MailboxConfig", "MailboxError", "parse_mailbox_url", "read_mailbox"]

MAX_PER_POLL = 500  # mails read in one poll; the rest the next time
TIMEOUT = 30.0
PORTS = {"imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995}
SETTING = "PUBLISHER_BOUNCE_MAILBOX_URL"


class MailboxError(PublisherError):
    """The mailbox could not be read: unreachable, TLS failed, or the login refused."""


@dataclass(frozen=True)
class MailboxConfig:
    protocol: str  # imap or pop3
    host: str
    port: int
    username: str
    password: str
    implicit_tls: bool
    starttls: bool
    folder: str  # IMAP: the folder read
    done: str  # "delete", or (IMAP) the folder processed mail is moved to
    timeout: float

    @property
    def where(self) -> str:
        return f"{self.protocol}{'s' if self.implicit_tls else ''}://{self.host}:{self.port}"


def parse_mailbox_url(url: str, password: str | None = None) -> MailboxConfig:
    """``imaps://user:pass@host[:port][/FOLDER][?done=delete|FOLDER]``, ``imap://...?starttls=true``,
    ``pop3s://user@host``, ``pop3://...?starttls=true``; ``password`` (from its own setting)
    when the URL has none."""
    parts = urlsplit(url)
    if parts.scheme not in PORTS or not parts.hostname or not parts.username:
        raise ConfigError(
            f"{SETTING}: use imaps://user:pass@host[/FOLDER], imap://user:pass@host"
            "?starttls=true, pop3s://user:pass@host or pop3://user:pass@host?starttls=true"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout", "done"}
    if unknown:
        raise ConfigError(
            f"{SETTING}: unknown option(s) {', '.join(sorted(unknown))} "
            "(allowed: starttls, timeout, done)"
        )
    protocol = parts.scheme.removesuffix("s")
    done = query.get("done", "delete")
    if protocol == "pop3" and done != "delete":
        raise ConfigError(f"{SETTING}: POP3 has no folders: done=delete is the only choice")
    if not re.fullmatch(r"[\w ./-]{1,100}", done):
        raise ConfigError(f"{SETTING}: done must be delete or a folder name")
    try:
        port = parts.port or PORTS[parts.scheme]
        timeout = float(query.get("timeout", TIMEOUT))
    except ValueError:
        raise ConfigError(f"{SETTING}: the port and timeout must be numbers") from None
    starttls = query.get("starttls", "").lower() in ("true", "1", "yes")
    return MailboxConfig(
        protocol=protocol,
        host=parts.hostname,
        port=port,
        username=unquote(parts.username),
        password=unquote(parts.password) if parts.password else (password or ""),
        implicit_tls=parts.scheme.endswith("s"),
        starttls=starttls,
        folder=unquote(parts.path.strip("/")) or "INBOX",
        done=done,
        timeout=timeout,
    )


def read_mailbox(config: MailboxConfig, handle: Callable[[bytes], None]) -> int:
    """Hand each mail (up to MAX_PER_POLL) to ``handle``, deleting or moving it once it
    returned; how many were handled. MailboxError says why the mailbox could not be read;
    an error raised by ``handle`` stops the poll and leaves that mail where it is."""
    reader = _imap if config.protocol == "imap" else _pop3
    try:
        return reader(config, handle)
    except ssl.SSLError as exc:
        raise MailboxError(f"{config.where}: TLS failed: {exc.reason or exc}") from None
    except (imaplib.IMAP4.error, poplib.error_proto) as exc:
        said = exc.args[0] if exc.args else exc
        text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
        raise MailboxError(f"{config.where}: the server said: {text}") from None
    except OSError as exc:
        raise MailboxError(f"{config.where}: cannot reach the mailbox: {exc}") from None


def _imap(config: MailboxConfig, handle: Callable[[bytes], None]) -> int:
    context = ssl.create_default_context()
    if config.implicit_tls:
        imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            config.host, config.port, ssl_context=context, timeout=config.timeout
        )
    else:
        imap = imaplib.IMAP4(config.host, config.port, timeout=config.timeout)
        if config.starttls:
            imap.starttls(context)
    try:
        try:
            imap.login(config.username, config.password)
        except imaplib.IMAP4.error as exc:
            raise MailboxError(
                f"{config.where}: the server refused the login: {_said(exc)}"
            ) from None
        _ok(imap.select(_quoted(config.folder)), f"cannot open the folder {config.folder}")
        _kind, found = imap.uid("SEARCH", "ALL")
        uids = [u.decode() for u in (found[0] or b"").split()[:MAX_PER_POLL]]
        handled = 0
        try:
            for uid in uids:
                _kind, data = imap.uid("FETCH", uid, "(BODY.PEEK[])")
                raw = next((p[1] for p in data if isinstance(p, tuple)), None)
                if raw is None:
                    continue
                handle(raw)
                _imap_done(imap, config, uid)
                handled += 1
        finally:
            imap.expunge()
        return handled
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            imap.logout()


def _imap_done(imap: imaplib.IMAP4, config: MailboxConfig, uid: str) -> None:
    if config.done != "delete":
        kind, _data = imap.uid("COPY", uid, _quoted(config.done))
        if kind != "OK":
            imap.create(_quoted(config.done))
            _ok(imap.uid("COPY", uid, _quoted(config.done)), f"cannot move mail to {config.done}")
    imap.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")


def _pop3(config: MailboxConfig, handle: Callable[[bytes], None]) -> int:
    context = ssl.create_default_context()
    if config.implicit_tls:
        pop: poplib.POP3 = poplib.POP3_SSL(
            config.host, config.port, context=context, timeout=config.timeout
        )
    else:
        pop = poplib.POP3(config.host, config.port, timeout=config.timeout)
        if config.starttls:
            pop.stls(context)
    handled = 0
    try:
        try:
            pop.user(config.username)
            pop.pass_(config.password)
        except poplib.error_proto as exc:
            raise MailboxError(
                f"{config.where}: the server refused the login: {_said(exc)}"
            ) from None
        count, _size = pop.stat()
        for number in range(1, min(count, MAX_PER_POLL) + 1):
            _resp, lines, _octets = pop.retr(number)
            handle(b"\r\n".join(lines) + b"\r\n")
            pop.dele(number)
            handled += 1
    except Exception:
        with contextlib.suppress(poplib.error_proto, OSError):
            pop.quit()  # QUIT deletes what was handled; the mail that failed stays
        raise
    pop.quit()  # deletes what was handled
    return handled


def _said(exc: Exception) -> str:
    said = exc.args[0] if exc.args else exc
    return said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)


def _ok(answer: tuple[str, Sequence[object]], what: str) -> None:
    kind, data = answer
    if kind != "OK":
        raise MailboxError(f"{what}: {data}")


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
