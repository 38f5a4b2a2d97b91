"""Bounce reports: the addresses that delivery status notifications (RFC 3464) in a Maildir
or mbox say failed for good. What to do with them is the delivery use cases' business."""

from __future__ import annotations

import email.message
import mailbox
from pathlib import Path

from publisher.errors import ConfigError


def read_hard_bounces(path: Path) -> tuple[list[str], int, list[str]]:
    """Addresses that delivery status notifications in a Maildir or mbox report as failed
    permanently (Action: failed with a 5.x.x Status); how many messages were read; and the
    messages that could not be read (a broken symlink, say), each with why, skipped."""
    if path.is_dir():
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
    elif path.is_file():
        box = mailbox.mbox(path, create=False)
    else:
        raise ConfigError(f"{path}: no such Maildir or mbox")
    found: list[str] = []
    skipped: list[str] = []
    read = 0
    for key in box.iterkeys():
        try:
            message = box[key]
        except OSError as exc:  # one unreadable file must not stop the run (issue 16)
            skipped.append(f"{exc.filename or key}: {exc.strerror or exc}")
            continue
        read += 1
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
                recipient = str(
                    group.get("Final-Recipient") or group.get("Original-Recipient") or ""
                )
                address = recipient.split(";", 1)[-1].strip().strip("<>").lower()
                if action == "failed" and status.startswith("5") and "@" in address:
                    found.append(address)
    return sorted(set(found)), read, skipped
