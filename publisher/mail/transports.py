"""The transports that carry messages: SMTP (PIPELINING, STARTTLS or implicit TLS, login, one
connection reused for many messages) and a Maildir; and what a refusal means (try again
later, give up on this reader, the mailbox is gone, or the server is down). The only smtplib
user."""

from __future__ import annotations

import contextlib
import mailbox
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

from publisher.errors import ConfigError
from publisher.mail.mime import LINE_START_DOT, Outgoing

__all__ = [
    "TIMEOUT",
    "DeliveryError",
    "Done",
    "MaildirTransport",
    "SmtpConfig",
    "SmtpTransport",
    "Transport",
    "classify",
    "make_transport",
    "parse_smtp_url",
]

TIMEOUT = 30.0
_IOV_MAX = 512  # pieces a sendmsg takes at once (Linux allows 1024)
_ENHANCED = re.compile(rb"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_GONE_WORDS = re.compile(
    rb"(no such|unknown|does not exist|doesn't exist|not found|invalid|disabled)\s+"
    rb"(user|mailbox|recipient|address|account)|user unknown|mailbox unavailable|"
    rb"recipient rejected|address rejected",
    re.IGNORECASE,
)


class DeliveryError(Exception):
    """A message that was not accepted. ``temporary``: try again later (4xx, a dropped or
    refused connection); otherwise give up on this recipient. ``mailbox_gone``: a 5xx saying
    the address does not exist, so the subscriber is suppressed from every later edition.
    ``server_down``: the server could not be reached or takes nothing from us (no connection,
    login refused, sender refused) before this recipient was named: not the recipient's fault."""

    def __init__(
        self,
        reply: str,
        *,
        code: int = 0,
        temporary: bool,
        mailbox_gone: bool = False,
        server_down: bool = False,
    ):
        super().__init__(reply)
        self.reply = reply
        self.code = code
        self.temporary = temporary
        self.mailbox_gone = mailbox_gone
        self.server_down = server_down


def classify(code: int, message: bytes) -> DeliveryError:
    """The DeliveryError for an SMTP reply that is not success."""
    text = f"{code} {message.decode('utf-8', 'replace')}".strip()
    if 400 <= code < 500:
        return DeliveryError(text, code=code, temporary=True)
    enhanced = _ENHANCED.search(message)
    if enhanced is not None:
        gone = enhanced.group(1) == b"5" and enhanced.group(2) == b"1"
    else:
        gone = code in (550, 551, 553) and _GONE_WORDS.search(message) is not None
    return DeliveryError(text, code=code, temporary=False, mailbox_gone=gone)


Done = tuple[int, "DeliveryError | None"]  # a message's tag and how it ended (None: accepted)


class Transport(Protocol):
    def send(
        self,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> None:
        """Hand over one message (or canonical CRLF bytes); DeliveryError if refused."""

    def submit(
        self,
        tag: int,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> list[Done]:
        """Start handing over a message; the messages (this one or earlier ones) whose end
        is known now, in order. ``ready`` is called before a message is ended (the server
        takes it), so the caller's record of the ones before it can be committed first."""

    def flush(self, *, ready: Callable[[], None] | None = None) -> list[Done]:
        """End the message in hand, if any; how it ended."""

    def close(self) -> None: ...


# ---------------------------------------------------------------- SMTP


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    username: str | None
    password: str | None
    implicit_tls: bool
    starttls: bool
    timeout: float


def parse_smtp_url(url: str) -> SmtpConfig:
    """``smtp://user:pass@host:587?starttls=true``, ``smtps://host:465``, ``smtp://host:2525``."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ConfigError(
            "PUBLISHER_SMTP_URL: use smtp://[user:pass@]host[:port][?starttls=true] or "
            "smtps://[user:pass@]host[:port]"
        )
    query = {k: v[-1].lower() for k, v in parse_qs(parts.query).items()}
    unknown = set(query) - {"starttls", "timeout"}
    if unknown:
        raise ConfigError(
            f"PUBLISHER_SMTP_URL: unknown option(s) {', '.join(sorted(unknown))} "
            "(allowed: starttls, timeout)"
        )
    try:
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
        timeout = float(query.get("timeout", TIMEOUT))
    except ValueError:
        raise ConfigError("PUBLISHER_SMTP_URL: the port and timeout must be numbers") from None
    return SmtpConfig(
        host=parts.hostname,
        port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        implicit_tls=parts.scheme == "smtps",
        starttls=query.get("starttls") in ("true", "1", "yes"),
        timeout=timeout,
    )


class SmtpTransport:
    """One SMTP connection, opened when first needed and reused for many messages. With
    PIPELINING (RFC 2920) offered, a message costs one round trip: the end of one message goes
    out in the same write as the next one's MAIL, RCPT and DATA, and the four replies come back
    together. Without it, one command at a time. The message in hand (content sent, not yet
    ended) is ended by the next ``submit`` or by ``flush``; closed before that, the server
    discards it."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None
        self._pipelining = False
        self._eight_bit = False
        self._open: int | None = None  # the tag of the message in hand

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        try:
            if c.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    c.host, c.port, timeout=c.timeout, context=ssl.create_default_context()
                )
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            # The end of a message (".") goes out in its own small write, after the sender's
            # last outcome is committed: without TCP_NODELAY, Nagle's algorithm holds it for
            # the receiver's delayed ACK (about 40 ms a message).
            if smtp.sock is not None:
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            smtp.ehlo()
            if c.starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"SMTP login refused: {exc.smtp_code} {exc.smtp_error!r}",
                code=exc.smtp_code,
                temporary=True,
                server_down=True,
            ) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryError(
                f"cannot connect to {c.host}:{c.port}: {exc}", temporary=True, server_down=True
            ) from None
        self._pipelining = smtp.has_extn("pipelining")
        self._eight_bit = smtp.has_extn("8bitmime")
        return smtp

    def send(
        self,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> None:
        """One message, ended before this returns (not to be mixed with ``submit``)."""
        for _, error in self.submit(0, sender, recipient, message) + self.flush(ready=ready):
            if error is not None:
                raise error

    def submit(
        self,
        tag: int,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> list[Done]:
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except DeliveryError as exc:
                return [(tag, exc)]
        smtp = self._smtp
        commands = self._commands(sender, recipient)
        done: list[Done] = []
        ended, self._open = self._open, None
        replies: list[tuple[int, bytes]] = []
        try:
            if ended is not None and not self._pipelining:
                done.append((ended, self._end(smtp, ready)))
                ended = None
            if self._pipelining:
                lead = b""
                if ended is not None:
                    if ready is not None:
                        ready()  # the caller's earlier outcomes are committed before this ends
                    lead = b".\r\n"
                smtp.send(lead + b"\r\n".join(commands) + b"\r\n")
                if ended is not None:
                    done.append((ended, _ending(*smtp.getreply())))
                    ended = None
                for _ in commands:
                    replies.append(smtp.getreply())
            else:
                for command in commands:
                    smtp.send(command + b"\r\n")
                    replies.append(smtp.getreply())
                    if replies[-1][0] >= 400:
                        break
            refused = self._refused(smtp, replies)
            if refused is not None:
                done.append((tag, refused))
                return done
            _send_content(smtp, message)
            self._open = tag
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            done.extend(self._lost(exc, tag, ended, replies))
        return done

    def _commands(self, sender: str, recipient: str) -> list[bytes]:
        """MAIL (with BODY=8BITMIME when the server offers it), RCPT and DATA for a message."""
        body = b" BODY=8BITMIME" if self._eight_bit else b""
        return [
            b"MAIL FROM:<" + sender.encode() + b">" + body,
            b"RCPT TO:<" + recipient.encode() + b">",
            b"DATA",
        ]

    def _lost(
        self, exc: OSError, tag: int, ended: int | None, replies: list[tuple[int, bytes]]
    ) -> list[Done]:
        """The connection broke during ``submit``: closed, and the outcomes of the message it
        was ending (``ended``, if any) and of message ``tag``."""
        self.close()
        lost = DeliveryError(f"connection lost: {exc or type(exc).__name__}", temporary=True)
        done: list[Done] = []
        if ended is not None:
            done.append((ended, lost))  # ended or not, it may have arrived: tried again
        if replies and replies[0][0] >= 400:  # "421 closing connection" to MAIL FROM
            done.append((tag, _sender_refused(*replies[0])))
        else:
            done.append((tag, lost))
        return done

    def _refused(
        self, smtp: smtplib.SMTP, replies: list[tuple[int, bytes]]
    ) -> DeliveryError | None:
        """Why MAIL, RCPT or DATA was refused (the transaction reset), None when all went."""
        failed = next(((code, text) for code, text in replies[:2] if code >= 400), None)
        if failed is None and replies[-1][0] != 354:
            failed = replies[-1]
        if failed is None:
            return None
        if len(replies) == 3 and replies[2][0] == 354:
            smtp.send(b".\r\n")  # a server that said 354 anyway: end the empty message
            smtp.getreply()
        if replies[0][0] >= 400:
            self.close()
            return _sender_refused(*replies[0])
        smtp.rset()
        return classify(*failed)

    def flush(self, *, ready: Callable[[], None] | None = None) -> list[Done]:
        ended, self._open = self._open, None
        if ended is None or self._smtp is None:
            return []
        try:
            return [(ended, self._end(self._smtp, ready))]
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.close()
            return [
                (
                    ended,
                    DeliveryError(f"connection lost: {exc or type(exc).__name__}", temporary=True),
                )
            ]

    @staticmethod
    def _end(smtp: smtplib.SMTP, ready: Callable[[], None] | None) -> DeliveryError | None:
        if ready is not None:
            ready()
        smtp.send(b".\r\n")
        return _ending(*smtp.getreply())

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        unended, self._open = self._open, None
        if smtp is not None:
            try:
                if unended is not None:
                    smtp.close()  # no QUIT inside a message's content: the server drops it
                else:
                    smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()


def _send_content(smtp: smtplib.SMTP, message: Outgoing | bytes) -> None:
    """A message's content, after DATA's 354; its end (".") is left to what comes next."""
    if isinstance(message, Outgoing):
        _send_pieces(smtp, message.wire_parts())
    else:
        smtp.send(LINE_START_DOT.sub("..", message.decode("utf-8")).encode("utf-8"))


def _send_pieces(smtp: smtplib.SMTP, pieces: list[bytes]) -> None:
    """Send a message's pieces in order with no copy into one buffer (sendmsg gathers them;
    a TLS socket has no sendmsg, so there they are joined). Each copy of a 28 KB message
    costs about 10 us of CPU a message on a loaded machine (issue 15)."""
    sock = smtp.sock
    if sock is None:
        raise smtplib.SMTPServerDisconnected("please run connect() first")
    if isinstance(sock, ssl.SSLSocket):
        sock.sendall(b"".join(pieces))
        return
    left: list[bytes | memoryview] = [piece for piece in pieces if piece]
    first = 0  # the pieces before this one are all sent
    while first < len(left):
        sent = sock.sendmsg(left[first : first + _IOV_MAX])
        while sent and sent >= len(left[first]):
            sent -= len(left[first])
            first += 1
        if sent:  # part of a piece: the rest of it next (a view, not a copy)
            left[first] = memoryview(left[first])[sent:]


def _ending(code: int, text: bytes) -> DeliveryError | None:
    """The reply to a message's end: None when the server took it."""
    return None if code == 250 else classify(code, text)


def _sender_refused(code: int, text: bytes) -> DeliveryError:
    """MAIL FROM refused: the server takes nothing from us (it wants STARTTLS or a login,
    refuses our address, or is rate-limiting us). Our set-up or its state, not the reader's
    address: the connection failed, and the message is tried again later."""
    return DeliveryError(
        f"the server refused the sender: {code} {text.decode('utf-8', 'replace')} (check "
        "PUBLISHER_SMTP_URL: starttls, user and password, and PUBLISHER_MAIL_FROM)",
        temporary=True,
        server_down=True,
    )


class MaildirTransport:
    """Writes each message into a Maildir (the default: ``make run`` needs no mail server)."""

    def __init__(self, path: Path) -> None:
        # Made here, not by mailbox.Maildir(create=True), which races between threads. Its
        # owner's only (0700; issue 24): every message holds its reader's personal links.
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in (path, path / "tmp", path / "new", path / "cur"):
            folder.mkdir(mode=0o700, exist_ok=True)
            # Made by an older version: narrowed (someone else's is theirs to narrow).
            with contextlib.suppress(PermissionError):
                if folder.stat().st_mode & 0o077:
                    folder.chmod(0o700)
        self.path = path
        self.box = mailbox.Maildir(path, create=False)

    def send(
        self,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> None:
        data = message.as_bytes() if isinstance(message, Outgoing) else message
        if ready is not None:
            ready()
        key = self.box.add(data)
        (self.path / "new" / key).chmod(0o600)  # mailbox makes it 0666 less the umask

    def submit(
        self,
        tag: int,
        sender: str,
        recipient: str,
        message: Outgoing | bytes,
        *,
        ready: Callable[[], None] | None = None,
    ) -> list[Done]:
        self.send(sender, recipient, message, ready=ready)
        return [(tag, None)]

    def flush(self, *, ready: Callable[[], None] | None = None) -> list[Done]:
        return []

    def close(self) -> None:
        pass


def make_transport(smtp_url: str | None, maildir: Path) -> Transport:
    """A fresh transport (one per sending thread: connections are not shared)."""
    if smtp_url:
        return SmtpTransport(parse_smtp_url(smtp_url))
    return MaildirTransport(maildir)
