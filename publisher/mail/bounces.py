"""Reports that mail systems send back, read into values: delivery status notifications
(RFC 3464), the common non-standard bounce shapes (Postfix, Exim, Exchange/Office 365,
Gmail's: read by ``flufl.bounce``), feedback-loop complaints (ARF, RFC 5965) and unsubscribe
requests sent to the ``List-Unsubscribe`` mailto address. What to do with them is the
delivery use cases' business (``publisher.delivery.bounces``).

A report counts only for a message we sent: it must quote a Message-ID we signed for the
delivery it names (``Signer.message_id``); this module only collects the candidates. Anyone
can mail a multipart/report naming any address; without that check, that would stop a
member's digests (issue 16)."""

from __future__ import annotations

import email
import email.message
import email.policy
import hashlib
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from flufl.bounce import all_failures

from publisher.errors import ConfigError

__all__ = [
    "OURS",
    "UNSUBSCRIBE_SUBJECT",
    "Finding",
    "Report",
    "Stored",
    "parse_report",
    "read_box",
    "report_key",
]

log = logging.getLogger(__name__)

# Our Message-IDs: edition-E.delivery-D.SIGNATURE@host (tokens.Signer.message_id).
OURS = re.compile(
    r"edition-(\d{1,12})\.delivery-(\d{1,12})\.[A-Za-z0-9_-]{22}@[A-Za-z0-9.-]{1,253}"
)
UNSUBSCRIBE_SUBJECT = "unsubscribe"  # the mailto's subject: "unsubscribe TOKEN"
_TOKEN = re.compile(r"\bunsubscribe\s+([0-9a-f]{1,16}\.[0-9a-f]{1,16}\.[A-Za-z0-9_-]{22})\b", re.I)
MAX_SCAN = 512 * 1024  # bytes of a report's text searched for our Message-IDs


@dataclass(frozen=True)
class Finding:
    """One recipient a report is about: ``kind`` hard, soft, complaint or unsubscribe;
    ``address`` empty when the report hides it (feedback loops often redact it)."""

    kind: str
    address: str
    detail: str


@dataclass(frozen=True)
class Report:
    """A report read from a mail: what it says, and the Message-IDs of ours it quotes."""

    key: str  # names the report: the same report read twice has the same key
    findings: tuple[Finding, ...]
    message_ids: tuple[str, ...] = ()
    token: str = ""  # an unsubscribe request's token
    sender: str = ""
    problem: str = ""  # why nothing was found in it (for the log)


def report_key(message: email.message.Message, raw: bytes) -> str:
    """The report's own Message-ID, or a digest of its bytes, as a short key."""
    own = str(message.get("Message-ID", "")).strip()
    return hashlib.sha256((own or raw.hex()).encode("utf-8", "replace")).hexdigest()[:40]


def parse_report(raw: bytes) -> Report:
    """What a mail in the bounce mailbox reports (no findings, with ``problem`` set, for a
    mail that is no report we know)."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    key = report_key(message, raw)
    ids = tuple(dict.fromkeys(_our_message_ids(message)))
    sender = email.utils.parseaddr(str(message.get("From", "")))[1].lower()
    try:
        findings = _complaints(message) or _dsn_findings(message)
        if not findings and _has_part(message, "message/delivery-status"):
            # A delay warning or a success notice: no bounce (the message may still arrive).
            return Report(key, (), ids, sender=sender, problem="a DSN that reports no failure")
        if not findings:
            token = _unsubscribe_token(message)
            if token:
                asked = (Finding("unsubscribe", sender, "asked by mail"),)
                return Report(key, asked, ids, token, sender)
            findings = _heuristic(message)
    except (ValueError, TypeError, LookupError, AttributeError) as exc:  # a malformed report
        return Report(key, (), ids, sender=sender, problem=f"malformed report: {exc}")
    problem = "" if findings else "no bounce, complaint or unsubscribe request found in it"
    return Report(key, tuple(findings), ids, sender=sender, problem=problem)


def _has_part(message: email.message.Message, kind: str) -> bool:
    return any(part.get_content_type() == kind for part in message.walk())


def _address(value: str) -> str:
    address = value.split(";", 1)[-1].strip().strip("<>").strip().lower()
    return address if "@" in address and len(address) <= 320 else ""


def _complaints(message: email.message.Message) -> list[Finding]:
    """ARF (RFC 5965): a message/feedback-report part; the recipient may be redacted."""
    for part in message.walk():
        if part.get_content_type() != "message/feedback-report":
            continue
        fields = _fields(part)
        kind = fields.get("feedback-type", "abuse").lower() or "abuse"
        agent = fields.get("user-agent", "")
        detail = f"complaint ({kind}{', ' + agent if agent else ''})"
        address = _address(fields.get("original-rcpt-to", ""))
        return [Finding("complaint", address, detail[:500])]
    return []


def _fields(part: email.message.Message) -> dict[str, str]:
    """The header fields of a report part (message/feedback-report is parsed as text or as
    a message, depending on the parser)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        found: dict[str, str] = {}
        for block in payload:
            if isinstance(block, email.message.Message):
                found.update({k.lower(): str(v) for k, v in block.items()})
        return found
    text = part.get_payload(decode=True)
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    parsed = email.message_from_string(raw, policy=email.policy.compat32)
    return {k.lower(): str(v) for k, v in parsed.items()}


def _dsn_findings(message: email.message.Message) -> list[Finding]:
    """RFC 3464: failed with 5.x.x is a hard bounce, with 4.x.x a soft one; delay warnings
    (Action: delayed) are no bounce: the message may still arrive."""
    found: list[Finding] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        groups = payload if isinstance(payload, list) else []
        # The first group is about the message; then one group per recipient.
        for group in groups[1:]:
            if not isinstance(group, email.message.Message):
                continue
            action = str(group.get("Action", "")).strip().lower()
            status = str(group.get("Status", "")).strip()
            recipient = str(group.get("Final-Recipient") or group.get("Original-Recipient") or "")
            address = _address(recipient)
            if action != "failed" or not address:
                continue
            diagnostic = " ".join(str(group.get("Diagnostic-Code", "")).split())
            detail = f"{status} {diagnostic}".strip()[:500]
            kind = "hard" if status.startswith("5") else "soft"
            found.append(Finding(kind, address, detail))
    return found


def _heuristic(message: email.message.Message) -> list[Finding]:
    """The non-standard shapes, as flufl.bounce reads them."""
    if not _looks_like_bounce(message):
        return []
    temporary, permanent = all_failures(message)
    found = [
        Finding("hard", a, "permanent failure (non-standard report)")
        for a in sorted(_decoded(permanent))
    ]
    found += [
        Finding("soft", a, "temporary failure (non-standard report)")
        for a in sorted(_decoded(temporary) - _decoded(permanent))
    ]
    return found


def _looks_like_bounce(message: email.message.Message) -> bool:
    """Mail from a mailer daemon (an empty return path, or a MAILER-DAEMON or postmaster
    sender), or a report: a person's ordinary reply is never read as a bounce."""
    sender = str(message.get("From", "")).lower()
    return (
        str(message.get("Return-Path", "")).strip() == "<>"
        or any(n in sender for n in ("mailer-daemon", "postmaster", "mail delivery"))
        or message.get_content_type() == "multipart/report"
        or bool(message.get("X-Failed-Recipients"))
    )


def _decoded(found: frozenset[bytes]) -> set[str]:
    out = set()
    for item in found:
        address = _address(item.decode("utf-8", "replace"))
        if address:
            out.add(address)
    return out


def _unsubscribe_token(message: email.message.Message) -> str:
    subject = " ".join(str(message.get("Subject", "")).split())
    found = _TOKEN.search(subject)
    return found[1] if found else ""


def _our_message_ids(message: email.message.Message) -> Iterator[str]:
    """Every Message-ID of ours the report quotes: in a returned message or its headers, or
    in the text of a non-standard report (the signature tells ours from forged ones)."""
    budget = MAX_SCAN
    for part in message.walk():
        for _name, value in part.items():
            yield from (m[0] for m in OURS.finditer(str(value)))
        if part.is_multipart():
            continue
        body = part.get_payload(decode=True)
        if not isinstance(body, bytes):
            continue
        text = body[:budget].decode("utf-8", "replace")
        budget -= len(body)
        yield from (m[0] for m in OURS.finditer(text))
        if budget <= 0:
            return


# ---------------------------------------------------------------- Maildir and mbox


@dataclass
class Stored:
    """The mails of a Maildir or mbox: each mail's bytes, and the ones that could not be
    read, each with why."""

    mails: list[bytes] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def read_box(path: Path) -> Stored:
    """Every mail of a Maildir (a folder) or mbox (a file); unreadable ones are named."""
    if path.is_dir():
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise ConfigError(f"{path}: no such Maildir or mbox")
    out = Stored()
    for key in box.iterkeys():
        try:
            out.mails.append(box.get_bytes(key))
        except OSError as exc:  # one unreadable file must not stop the run (issue 16)
            out.skipped.append(f"{exc.filename or key}: {exc.strerror or exc}")
    return out
