"""Bounce reports: the addresses that delivery status notifications (RFC 3464) in a Maildir
or mbox say failed for good. What to do with them is the delivery use cases' business.

Only a report about a message we sent counts: it must quote (in its returned message or
headers part, RFC 3462) a Message-ID we signed for that very address (``Signer.message_id``).
Anyone can mail a multipart/report naming any address; without this check, that would stop
a member's digests (issue 16)."""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import logging
import mailbox
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import ConfigError
from publisher.tokens import Signer

__all__ = ["Bounces", "read_hard_bounces"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Bounces:
    addresses: list[str]  # hard bounces of messages we sent, lower-cased, sorted
    read: int  # messages read
    refused: int  # failure reports naming no message we sent to that address
    skipped: list[str]  # messages that could not be read (a broken symlink, say), each with why


def read_hard_bounces(path: Path, signer: Signer) -> Bounces:
    """Addresses that delivery status notifications in a Maildir or mbox report as failed
    permanently (Action: failed with a 5.x.x Status) for a message we sent them; unreadable
    messages are skipped and named."""
    if path.is_dir():
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise ConfigError(f"{path}: no such Maildir or mbox")
    found: set[str] = set()
    skipped: list[str] = []
    read = refused = 0
    for key in box.iterkeys():
        try:
            message = box[key]
        except OSError as exc:  # one unreadable file must not stop the run (issue 16)
            skipped.append(f"{exc.filename or key}: {exc.strerror or exc}")
            continue
        read += 1
        ids = _quoted_message_ids(message)
        for address in _failed_recipients(message):
            if any(signer.genuine_message_id(i, address) for i in ids):
                found.add(address)
            else:
                refused += 1
                log.warning("bounce report for %s quotes no message we sent it: ignored", address)
    return Bounces(sorted(found), read, refused, skipped)


def _failed_recipients(message: email.message.Message) -> list[str]:
    failed: list[str] = []
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
            address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
            if action == "failed" and status.startswith("5") and "@" in address:
                failed.append(address)
    return failed


def _quoted_message_ids(message: email.message.Message) -> list[str]:
    """The Message-IDs of the returned message (message/rfc822) or its headers
    (text/rfc822-headers) in a report."""
    ids: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            for inner in payload if isinstance(payload, list) else []:
                if isinstance(inner, email.message.Message) and inner.get("Message-ID"):
                    ids.append(str(inner["Message-ID"]))
        elif kind == "text/rfc822-headers":
            text = part.get_payload(decode=True)
            raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(raw)
            if headers.get("Message-ID"):
                ids.append(str(headers["Message-ID"]))
    return ids
