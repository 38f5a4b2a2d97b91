"""Message bytes, built once per edition: a :class:`MessageTemplate` holds the headers, both MIME
parts, line lengths and SMTP dot-stuffing, all done once; each recipient then costs a byte join and
a few header lines (docs/architecture.md: EmailMessage costs 6-13 ms per message, which would cap a
2-core machine near 150 messages a second). Parts go as 8bit UTF-8 with every line under 998 octets
(RFC 5322 2.1.1), so placeholders are never split by an encoding. DKIM signs each message. The
transports that carry them are ``transports``."""

from __future__ import annotations

import email.message
import email.policy
import email.utils
import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.message import EmailMessage
from pathlib import Path

import dkim

from publisher.errors import ConfigError
from publisher.templating import Personaliser

__all__ = [
    "DKIM_HEADERS",
    "LINE_START_DOT",
    "MAX_LINE",
    "DkimSigner",
    "MessageTemplate",
    "Outgoing",
    "Recipient",
    "envelope_sender",
    "simple_message",
]

MAX_LINE = 900  # octets; RFC 5322 allows 998
LINE_START_DOT = re.compile(r"(?m)^\.")  # SMTP dot-stuffing (RFC 5321 4.5.2)
DKIM_HEADERS = [
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"list-id",
    b"mime-version",
    b"content-type",
]


def _wrap(text: str) -> str:
    """CRLF line endings and every line under MAX_LINE octets, broken at spaces (which HTML
    and text alike read as spaces), or after a '>' when a line has none."""
    out: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        while len(line.encode("utf-8")) > MAX_LINE:
            head = line.encode("utf-8")[:MAX_LINE].decode("utf-8", "ignore")
            cut = head.rfind(" ")
            if cut <= 0:
                cut = head.rfind(">") + 1
            if cut <= 0:
                cut = len(head)
            out.append(line[:cut])
            line = line[cut:].lstrip(" ") if line[cut : cut + 1] == " " else line[cut:]
        out.append(line)
    return "\r\n".join(out)


def _header(name: str, value: str) -> str:
    if value.isascii():
        return f"{name}: {value}"
    encoded = Header(value, "utf-8", maxlinelen=76, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}"


@functools.lru_cache(maxsize=8)
def _date(when: datetime) -> str:
    """A Date header's value (RFC 5322), made once a second, not once a message."""
    return email.utils.format_datetime(when)


@dataclass(frozen=True)
class Recipient:
    address: str
    message_id: str
    date: datetime
    values: Mapping[str, str]  # placeholder name -> value: greeting, unsubscribe, preferences


class MessageTemplate:
    """One edition's message with holes for each recipient; ``render`` fills them."""

    def __init__(
        self,
        *,
        sender: str,
        subject: str,
        html: str,
        text: str,
        list_id: str,
        dkim_signer: DkimSigner | None = None,
    ) -> None:
        boundary = f"==nf{abs(hash((subject, len(html), len(text)))):x}=="
        head = "\r\n".join(
            [
                _header("From", sender),
                _header("Subject", subject),
                "MIME-Version: 1.0",
                f"List-Id: <{list_id}>",
                f'Content-Type: multipart/alternative; boundary="{boundary}"',
            ]
        )
        body = "\r\n".join(
            [
                "",
                "This is a multi-part message in MIME format.",
                f"--{boundary}",
                "Content-Type: text/plain; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                "",
                _wrap(text),
                f"--{boundary}",
                "Content-Type: text/html; charset=utf-8",
                "Content-Transfer-Encoding: 8bit",
                "",
                _wrap(html),
                f"--{boundary}--",
                "",
            ]
        )
        self.head = head.encode("utf-8")
        # The text part takes values as they are, the HTML part escaped. The SMTP variant is
        # dot-stuffed here, once (RFC 5321 4.5.2): placeholders never start a line.
        split = body.find("Content-Type: text/html")
        stuffed = LINE_START_DOT.sub("..", body)
        stuffed_split = stuffed.find("Content-Type: text/html")
        self._body = (
            Personaliser(body[:split], escape_html=False),
            Personaliser(body[split:], escape_html=True),
        )
        self._wire = (
            Personaliser(stuffed[:stuffed_split], escape_html=False),
            Personaliser(stuffed[stuffed_split:], escape_html=True),
        )
        self.dkim = dkim_signer

    def render(self, recipient: Recipient) -> Outgoing:
        """The message for one recipient."""
        unsubscribe = f"<{recipient.values['unsubscribe']}>"
        if recipient.values.get("unsubscribe_mailto"):  # the bounce mailbox reads these
            unsubscribe = f"<{recipient.values['unsubscribe_mailto']}>, {unsubscribe}"
        lines = [
            f"To: {recipient.address}",
            f"Date: {_date(recipient.date.replace(microsecond=0))}",
            f"Message-ID: <{recipient.message_id}>",
            f"List-Unsubscribe: {unsubscribe}",  # RFC 8058; kept on one line, never encoded
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if recipient.values.get("postmark_metadata"):  # Postmark's bounce webhook returns it
            lines.append(f"X-PM-Metadata-newsflash-id: <{recipient.message_id}>")
        head = b"".join(["\r\n".join(lines).encode("ascii"), b"\r\n", self.head, b"\r\n"])
        if self.dkim is not None:
            head = self.dkim.signature(head + self._fill(self._body, recipient.values)) + head
        return Outgoing(self, head, recipient.values)

    @staticmethod
    def _fill(parts: tuple[Personaliser, Personaliser], values: Mapping[str, str]) -> bytes:
        return b"".join(MessageTemplate._pieces(parts, values))

    @staticmethod
    def _pieces(parts: tuple[Personaliser, Personaliser], values: Mapping[str, str]) -> list[bytes]:
        return parts[0].parts(values) + parts[1].parts(values)


class Outgoing:
    """One recipient's message: canonical bytes for a mailbox, dot-stuffed bytes for SMTP,
    each made only when asked for."""

    __slots__ = ("head", "template", "values")

    def __init__(self, template: MessageTemplate, head: bytes, values: Mapping[str, str]) -> None:
        self.template = template
        self.head = head  # header lines never start with a dot
        self.values = values

    def as_bytes(self) -> bytes:
        return self.head + self.template._fill(self.template._body, self.values)

    def as_wire(self) -> bytes:
        return b"".join(self.wire_parts())

    def wire_parts(self) -> list[bytes]:
        """``as_wire`` in pieces: the edition's own bytes and this reader's, never copied
        into one (a transport can hand them to the socket as they are)."""
        return [self.head, *self.template._pieces(self.template._wire, self.values)]


@dataclass(frozen=True)
class DkimSigner:
    """DKIM signatures (dkimpy) covering List-Unsubscribe and List-Unsubscribe-Post."""

    selector: str
    domain: str
    private_key: bytes

    @classmethod
    def from_file(cls, selector: str, domain: str, key_file: Path) -> DkimSigner:
        try:
            key = key_file.read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"PUBLISHER_DKIM_KEY_FILE: cannot read {key_file}: {exc.strerror}"
            ) from None
        if b"PRIVATE KEY" not in key:
            raise ConfigError(f"PUBLISHER_DKIM_KEY_FILE: {key_file} is not a PEM private key")
        return cls(selector, domain, key)

    def signature(self, message: bytes) -> bytes:
        """The DKIM-Signature header line(s) for ``message``."""
        signature: bytes = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.private_key,
            include_headers=DKIM_HEADERS,
            linesep=b"\r\n",
        )
        return signature


# ---------------------------------------------------------------- addresses and one-off messages


def envelope_sender(mail_from: str) -> str:
    """The bare address of a From value such as ``Newsflash Asia <newsletter@example.com>``."""
    address = email.utils.parseaddr(mail_from)[1]
    if "@" not in address:
        raise ConfigError(f"PUBLISHER_MAIL_FROM: {mail_from!r} has no address")
    return address


def simple_message(
    *, sender: str, to: str, subject: str, text: str, html: str, message_id: str, date: datetime
) -> bytes:
    """A one-off message (a confirmation, say): text and HTML alternatives, canonical CRLF.
    Few of these are sent, so the standard library builds them."""
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = email.utils.format_datetime(date)
    message["Message-ID"] = f"<{message_id}>"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message.as_bytes()
