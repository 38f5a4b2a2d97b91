"""Reports as mail systems send them back, built around a message the product really sent
(as the SMTP server captured it): an RFC 3464 DSN (Gmail, Office 365 and Postfix send these),
Postfix's and Exim's own shapes, an ARF complaint (RFC 5965), and a mailed unsubscribe."""

from __future__ import annotations

import email
import email.policy
import itertools

__all__ = [
    "arf",
    "dsn",
    "exchange",
    "exim",
    "headers_of",
    "mailed_unsubscribe",
    "postfix_plain",
]

_serial = itertools.count(1)


def headers_of(sent: bytes) -> str:
    """The header block of a sent message (CRLF line ends)."""
    head = sent.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    return head + "\r\n"


def _id() -> str:
    return f"<report-{next(_serial)}@mx.example.net>"


def dsn(
    sent: bytes,
    address: str,
    *,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "smtp; 550 5.1.1 <{a}>: Recipient address rejected: User unknown",
    headers_only: bool = False,
) -> bytes:
    """A delivery status notification for ``address`` about ``sent`` (returned whole, or
    only its headers)."""
    returned = (
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers_of(sent)}\r\n"
        if headers_only
        else "--b\r\nContent-Type: message/rfc822\r\n\r\n"
        + sent.decode("utf-8", "replace")
        + "\r\n"
    )
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "To: bounces@news.example.com\r\n"
        f"Message-ID: {_id()}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Description: Notification\r\nContent-Type: text/plain\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: {diagnostic.format(a=address)}\r\n\r\n"
        f"{returned}--b--\r\n"
    ).encode()


def postfix_plain(sent: bytes, address: str) -> bytes:
    """An older Postfix's bounce: multipart/mixed, no delivery-status part."""
    return (
        "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\r\n"
        "To: bounces@news.example.com\r\n"
        f"Message-ID: {_id()}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="p"\r\n\r\n'
        "--p\r\nContent-Description: Notification\r\nContent-Type: text/plain\r\n\r\n"
        "This is the Postfix program at host mx.example.net.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "\t\t\tThe Postfix program\r\n\r\n"
        f"<{address}>: host mx.example.net said: 550 5.1.1 no such user\r\n\r\n"
        "--p\r\nContent-Description: Undelivered Message\r\nContent-Type: message/rfc822\r\n\r\n"
        + sent.decode("utf-8", "replace")
        + "\r\n--p--\r\n"
    ).encode()


def exim(sent: bytes, address: str) -> bytes:
    """Exim's bounce: plain text, X-Failed-Recipients, the message copied below a line."""
    return (
        "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\r\n"
        "To: bounces@news.example.com\r\n"
        f"Message-ID: {_id()}\r\n"
        f"X-Failed-Recipients: {address}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        "Auto-Submitted: auto-replied\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        f"  {address}\r\n    SMTP error from remote mail server after RCPT TO:<{address}>:\r\n"
        "    550 5.1.1 User unknown\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        + sent.decode("utf-8", "replace")
    ).encode()


def exchange(sent: bytes, address: str) -> bytes:
    """An older Exchange server's non-delivery report: text, and the message attached."""
    return (
        "From: System Administrator <postmaster@mail.example.net>\r\n"
        "To: bounces@news.example.com\r\n"
        f"Message-ID: {_id()}\r\n"
        "Subject: Undeliverable: Daily\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
        "--x\r\nContent-Type: text/plain\r\n\r\n"
        "Your message did not reach some or all of the intended recipients.\r\n\r\n"
        "      Subject:  Daily\r\n\r\n"
        "The following recipient(s) could not be reached:\r\n\r\n"
        "Your message did not reach the following recipient(s):\r\n"
        f"      {address} on 05/12/2026 10:00\r\n"
        "            The e-mail account does not exist at the organization.\r\n"
        "            <mail.example.net #5.1.1 smtp;550 5.1.1 User unknown>\r\n"
        "--x\r\nContent-Type: message/rfc822\r\n\r\n"
        + sent.decode("utf-8", "replace")
        + "\r\n--x--\r\n"
    ).encode()


def arf(sent: bytes, address: str = "", *, feedback: str = "abuse") -> bytes:
    """A feedback-loop complaint about ``sent``: the recipient redacted unless given, as
    mailbox providers do."""
    recipient = f"Original-Rcpt-To: {address}\r\n" if address else ""
    head = headers_of(sent)
    if not address:  # redacted, as Microsoft's JMRP does
        head = "\r\n".join(
            "To: [redacted]" if line.lower().startswith("to:") else line
            for line in head.split("\r\n")
        )
    return (
        "From: staff@hotmail.example\r\nTo: bounces@news.example.com\r\n"
        f"Message-ID: {_id()}\r\n"
        "Subject: complaint about message\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="f"\r\n\r\n'
        "--f\r\nContent-Type: text/plain\r\n\r\nThis is an email abuse report.\r\n"
        "--f\r\nContent-Type: message/feedback-report\r\n\r\n"
        f"Feedback-Type: {feedback}\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
        f"{recipient}\r\n"
        f"--f\r\nContent-Type: text/rfc822-headers\r\n\r\n{head}\r\n--f--\r\n"
    ).encode()


def mailed_unsubscribe(sent: bytes) -> bytes:
    """What a mail client sends for the digest's List-Unsubscribe mailto."""
    message = email.message_from_bytes(sent, policy=email.policy.compat32)
    header = str(message["List-Unsubscribe"])
    mailto = next(p.strip(" <>") for p in header.split(",") if "mailto:" in p)
    target, _, query = mailto.removeprefix("mailto:").partition("?")
    subject = query.removeprefix("subject=").replace("%20", " ")
    return (
        f"From: {message['To']}\r\nTo: {target}\r\nMessage-ID: {_id()}\r\n"
        f"Subject: {subject}\r\n\r\nThis message was automatically generated by Gmail.\r\n"
    ).encode()
