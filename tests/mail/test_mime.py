"""mailer.py and transports.py: message bytes inboxes accept, and the transports, against a
real SMTP server."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from publisher.errors import ConfigError
from publisher.mail.bounces import parse_report, read_box
from publisher.mail.mime import DkimSigner, MessageTemplate, Recipient
from publisher.mail.transports import MaildirTransport, SmtpTransport, classify, parse_smtp_url
from publisher.templating import PLACEHOLDERS
from publisher.tokens import Signer
from tests.smtp import SmtpServer
from tests.support import SECRET

SITE = "https://news.example.com"
LONG_TOKEN = "x" * 120
HTML = (
    f"<html><body><p>{PLACEHOLDERS['greeting']}</p>"
    + "".join(
        f'<p style="color: #111111; margin: 0">Paragraph {n} ' + "word " * 300 + "</p>"
        for n in range(3)
    )
    + f'<p>.starts with a dot</p>\n.<a href="{PLACEHOLDERS["unsubscribe"]}">Unsubscribe</a>'
    + f' <a href="{PLACEHOLDERS["preferences"]}">Preferences</a></body></html>'
)
TEXT = f"{PLACEHOLDERS['greeting']}\n\n.dot line\nUnsubscribe: {PLACEHOLDERS['unsubscribe']}\n"


def template(**extra: object) -> MessageTemplate:
    return MessageTemplate(
        sender="Newsflash Asia <newsletter@news.example.com>",
        subject="Join The Community: Today's Briefing · 30 Nov 2026 — 부산",
        html=HTML,
        text=TEXT,
        list_id="daily.news.example.com",
        **extra,  # type: ignore[arg-type]
    )


def recipient(address: str = "aisyah@example.com", name: str = "Aisyah & <Co>") -> Recipient:
    return Recipient(
        address=address,
        message_id="edition-1.delivery-7@news.example.com",
        date=datetime(2026, 11, 30, 7, 0, 3, tzinfo=UTC),
        values={
            "greeting": f"Hi {name},",
            "unsubscribe": f"{SITE}/unsubscribe/{LONG_TOKEN}",
            "preferences": f"{SITE}/preferences/{LONG_TOKEN}",
        },
    )


def test_headers_that_inboxes_and_rfc_8058_need() -> None:
    raw = template().render(recipient()).as_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) < 998
    head = raw.split(b"\r\n\r\n", 1)[0].decode()
    lines = head.split("\r\n")
    # One line each, never RFC 2047 encoded nor folded inside the URL.
    assert f"List-Unsubscribe: <{SITE}/unsubscribe/{LONG_TOKEN}>" in lines
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in lines
    assert "Message-ID: <edition-1.delivery-7@news.example.com>" in lines
    assert "Date: Mon, 30 Nov 2026 07:00:03 +0000" in lines
    assert "To: aisyah@example.com" in lines
    from email import message_from_bytes, policy

    message = message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "Join The Community: Today's Briefing · 30 Nov 2026 — 부산"
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    text, html = (p.get_content() for p in parts)
    assert "NFPH_" not in text + html
    assert "Hi Aisyah & <Co>," in text and "Hi Aisyah &amp; &lt;Co&gt;," in html
    assert f'href="{SITE}/unsubscribe/{LONG_TOKEN}"' in html
    assert "word word" in html and ".starts with a dot" in html


def test_dkim_signature_covers_the_unsubscribe_headers_and_verifies() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    signer = DkimSigner("mail", "news.example.com", private)
    raw = template(dkim_signer=signer).render(recipient()).as_bytes()
    assert raw.startswith(b"DKIM-Signature:")
    signed = raw.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b"").replace(b"\r\n\t", b"")
    header = next(line for line in signed.split(b"\r\n") if line.startswith(b"DKIM-Signature"))
    assert b"list-unsubscribe" in header.lower() and b"list-unsubscribe-post" in header.lower()
    assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record)
    tampered = raw.replace(LONG_TOKEN.encode(), b"y" * 120, 1)
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)


@pytest.mark.parametrize(
    ("code", "text", "temporary", "gone"),
    [
        (451, b"4.3.0 Try again later", True, False),
        (421, b"Service not available", True, False),
        (550, b"5.1.1 <x@example.com>: Recipient address rejected: User unknown", False, True),
        (550, b"No such user here", False, True),
        (550, b"5.7.1 Message rejected as spam", False, False),
        (552, b"5.2.2 Mailbox full", False, False),
        (554, b"Transaction failed", False, False),
    ],
)
def test_replies_are_classified(code: int, text: bytes, temporary: bool, gone: bool) -> None:
    error = classify(code, text)
    assert (error.temporary, error.mailbox_gone) == (temporary, gone)
    assert error.reply.startswith(str(code))


def test_smtp_transport_reuses_one_connection_and_handles_refusals(smtp: SmtpServer) -> None:
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    smtp.recorder.plans["later@example.com"] = ["451 4.3.0 try later"]
    smtp.recorder.plans["gone@example.com"] = ["550 5.1.1 no such user"]
    sent = []
    for address in ["a@example.com", "later@example.com", "gone@example.com", "b@example.com"]:
        try:
            transport.send(
                "newsletter@news.example.com", address, template().render(recipient(address))
            )
            sent.append(address)
        except Exception as exc:
            sent.append(f"{address}: {exc}")
    transport.close()
    assert sent[0] == "a@example.com" and sent[3] == "b@example.com"
    assert sent[1].startswith("later@example.com: 451") and sent[2].startswith(
        "gone@example.com: 550"
    )
    received = smtp.recorder.received
    assert [r.recipient for r in received] == ["a@example.com", "b@example.com"]
    parsed = received[0].parsed()
    assert ".starts with a dot" in parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert ".dot line" in parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_server_that_is_down_is_a_temporary_failure(smtp: SmtpServer) -> None:
    smtp.stop()
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    with pytest.raises(Exception) as caught:
        transport.send("n@news.example.com", "a@example.com", b"Subject: x\r\n\r\nx\r\n")
    assert getattr(caught.value, "temporary", False) is True
    assert "cannot connect" in str(caught.value)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://x", "use smtp://"),
        ("smtp://h:notaport", "numbers"),
        ("smtp://h?tls=1", "unknown option"),
    ],
)
def test_bad_smtp_urls(url: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_smtp_url(url)


def test_smtp_url_forms() -> None:
    config = parse_smtp_url("smtp://user%40x:p%3Ass@mail.example.com:587?starttls=true")
    assert (config.host, config.port, config.username, config.password, config.starttls) == (
        "mail.example.com",
        587,
        "user@x",
        "p:ss",
        True,
    )
    assert parse_smtp_url("smtps://mail.example.com").port == 465
    assert parse_smtp_url("smtp://127.0.0.1:2525").implicit_tls is False


def test_the_maildir_is_its_owners_only(tmp_path: Path) -> None:
    """Issue 24: each message holds its reader's personal links; the Maildir was readable by
    every local user. Its folders are 0700 (an older one narrowed) and each message 0600."""
    old = os.umask(0o022)
    try:
        box = tmp_path / "var" / "mail"
        (box / "new").mkdir(parents=True, mode=0o755)  # as an older version left it
        MaildirTransport(box).send("n@x", "a@example.com", template().render(recipient()))
        for folder in (box, box / "tmp", box / "new", box / "cur"):
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        (message,) = (box / "new").iterdir()
        assert stat.S_IMODE(message.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_maildir_transport_and_reports_read_back(tmp_path: Path) -> None:
    box = tmp_path / "mail"
    MaildirTransport(box).send("n@x", "a@example.com", template().render(recipient()))
    assert len(list((box / "new").iterdir())) == 1
    bounces = tmp_path / "bounces"
    transport = MaildirTransport(bounces)
    for address, action, status in [
        ("gone@example.com", "failed", "5.1.1"),
        ("full@example.com", "delayed", "4.2.2"),
        ("Other@Example.com", "failed", "4.2.2"),
    ]:
        transport.send("mailer-daemon@x", "n@x", dsn(address, action, status))
    # A broken symlink (a file moved away mid-run, say) is skipped and named; the rest are read
    # (issue 16: one such file aborted the whole run).
    (bounces / "new" / "1700000000.broken.host").symlink_to(bounces / "gone-away")
    stored = read_box(bounces)
    assert len(stored.mails) == 3
    assert len(stored.skipped) == 1 and "No such file or directory" in stored.skipped[0]
    reports = sorted((parse_report(raw) for raw in stored.mails), key=lambda r: len(r.findings))
    found = sorted((f.kind, f.address) for r in reports for f in r.findings)
    assert found == [("hard", "gone@example.com"), ("soft", "other@example.com")]
    assert reports[0].problem == "a DSN that reports no failure"  # a delay warning
    ours = SIGNER.message_id("edition-1.delivery-1", "gone@example.com", "news.example.com")
    assert any(ours in r.message_ids for r in reports)
    # An mbox file works too.
    mbox = tmp_path / "bounces.mbox"
    mbox.write_bytes(
        b"From MAILER-DAEMON Thu Jan  1 00:00:00 2026\n" + dsn("a@x.example", "failed", "5.0.0")
    )
    assert [f.address for f in parse_report(read_box(mbox).mails[0]).findings] == ["a@x.example"]


SIGNER = Signer(SECRET)


def dsn(
    address: str,
    action: str,
    status: str,
    *,
    message_id: str | None = "",
    headers_only: str = "",
) -> bytes:
    """A delivery status notification for ``address``, quoting the returned message with
    ``message_id`` (by default one we signed for that address), or only its headers."""
    if message_id == "":
        message_id = SIGNER.message_id("edition-1.delivery-1", address, "news.example.com")
    if headers_only:
        returned = (
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"From: newsletter@news.example.com\r\nMessage-ID: <{headers_only}>\r\n\r\n"
        )
    elif message_id is not None:
        returned = (
            "--b\r\nContent-Type: message/rfc822\r\n\r\n"
            f"From: newsletter@news.example.com\r\nTo: {address}\r\n"
            f"Message-ID: {message_id if message_id.startswith('<') else f'<{message_id}>'}\r\n"
            "Subject: Daily\r\n\r\nHello\r\n"
        )
    else:
        returned = ""
    return (
        "From: MAILER-DAEMON@mx.example.com\r\nTo: newsletter@news.example.com\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe message could not be delivered.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        f"Final-Recipient: rfc822; {address}\r\nAction: {action}\r\nStatus: {status}\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"{returned}--b--\r\n"
    ).encode()


def pipeline(
    transport: SmtpTransport, addresses: list[str], ready: Callable[[], None] | None = None
) -> dict[str, str]:
    """Submit one message to each address on one connection, then flush; how each ended."""
    outcomes: dict[int, str] = {}
    for tag, address in enumerate(addresses):
        message = template().render(recipient(address))
        done = transport.submit(tag, "newsletter@news.example.com", address, message, ready=ready)
        outcomes.update({t: "sent" if e is None else e.reply for t, e in done})
    outcomes.update({t: "sent" if e is None else e.reply for t, e in transport.flush(ready=ready)})
    return {addresses[t]: outcome for t, outcome in outcomes.items()}


@pytest.mark.parametrize("pipelining", [True, False])
def test_consecutive_messages_pipelined_each_get_their_own_outcome(
    smtp: SmtpServer, pipelining: bool
) -> None:
    smtp.recorder.pipelining = pipelining  # without it: one command at a time, same outcomes
    smtp.recorder.plans["gone@example.com"] = ["550 5.1.1 no such user"]
    smtp.recorder.plans["later@example.com"] = ["451 4.3.0 try later"]
    addresses = ["a@example.com", "gone@example.com", "b@example.com", "later@example.com"]
    addresses += ["c@example.com"]
    ended: list[int] = []  # what the server had received each time a message was about to end
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    outcomes = pipeline(
        transport, addresses, ready=lambda: ended.append(len(smtp.recorder.received))
    )
    assert transport._pipelining is pipelining
    transport.close()
    assert outcomes["a@example.com"] == outcomes["b@example.com"] == outcomes["c@example.com"]
    assert outcomes["c@example.com"] == "sent"
    assert outcomes["gone@example.com"].startswith("550")
    assert outcomes["later@example.com"].startswith("451")
    received = [r.recipient for r in smtp.recorder.received]
    assert received == ["a@example.com", "b@example.com", "c@example.com"]
    # Each message ends only after the one before it was taken and ``ready`` returned.
    assert ended == [0, 1, 2]
    assert smtp.recorder.greeted == 1  # one connection for all, refusals included


def test_a_connection_dropped_after_a_message_fails_it_and_the_next_one(
    smtp: SmtpServer,
) -> None:
    smtp.recorder.pipelining = True
    smtp.recorder.drop_after_data.add("b@example.com")
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    outcomes = pipeline(transport, ["a@example.com", "b@example.com", "c@example.com"])
    # b arrived, but its sender never heard so: it is a temporary failure, tried again (the
    # one duplicate a connection can cause); c had not been taken.
    assert outcomes["a@example.com"] == "sent"
    assert outcomes["b@example.com"].startswith("connection lost")
    assert outcomes["c@example.com"].startswith("connection lost")
    assert [r.recipient for r in smtp.recorder.received] == ["a@example.com", "b@example.com"]
    assert pipeline(transport, ["c@example.com"]) == {"c@example.com": "sent"}  # reconnects
    transport.close()
    assert smtp.recorder.greeted == 2


def test_a_message_in_hand_when_the_connection_closes_is_not_delivered(
    smtp: SmtpServer,
) -> None:
    smtp.recorder.pipelining = True
    transport = SmtpTransport(parse_smtp_url(smtp.url))
    message = template().render(recipient("a@example.com"))
    assert transport.submit(0, "newsletter@news.example.com", "a@example.com", message) == []
    transport.close()  # its content is sent, its end is not: the server drops it
    smtp.stop()  # waits for the server's connections to finish
    assert smtp.recorder.received == []


def test_a_message_sent_in_pieces_arrives_whole_when_the_socket_takes_part_of_one() -> None:
    # A small send buffer and a slow reader: sendmsg takes a few KB at a time, mid-piece, and
    # more pieces than one call accepts (IOV_MAX) are queued.
    import smtplib
    import socket
    import threading

    from publisher.mail.transports import _send_pieces

    pieces = [bytes([65 + n % 26]) * (n * 37 % 3000) for n in range(1500)]
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    got = bytearray()

    def read() -> None:
        while chunk := theirs.recv(1000):
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    smtp = smtplib.SMTP()
    smtp.sock = ours
    _send_pieces(smtp, pieces)
    ours.close()
    reader.join(timeout=30)
    theirs.close()
    assert bytes(got) == b"".join(pieces)
