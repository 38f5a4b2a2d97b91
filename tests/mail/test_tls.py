"""SMTP over STARTTLS and implicit TLS, with a login, against aiosmtpd holding a certificate from
a throwaway CA (trustme): mail goes out encrypted to a server we trust, never to one we do not,
and a server that wants TLS or a login we did not give fails the send for a while, not each
recipient for good."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from publisher.mail.mime import simple_message
from publisher.mail.transports import DeliveryError, SmtpTransport, parse_smtp_url
from tests.smtp import Recorder, SmtpServer

USER, PASSWORD = "newsletter", "s3cret pass/word"


@dataclass
class TlsRecorder(Recorder):
    """Also notes whether each message came over TLS."""

    encrypted: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # session.ssl after STARTTLS; the transport's own SSL object with implicit TLS
        over_tls = server.transport is not None and server.transport.get_extra_info("ssl_object")
        self.encrypted.append(session.ssl is not None or bool(over_tls))
        return await super().handle_DATA(server, session, envelope)


def authenticate(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    good = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=good, handled=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Our CA is the one ssl.create_default_context() trusts (as a system store would)."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    recorder = TlsRecorder()
    server = SmtpServer(
        recorder,
        tls_context=server_context(ca),
        require_starttls=True,
        auth_required=True,
        authenticator=authenticate,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def implicit_tls_server(ca: trustme.CA) -> Iterator[SmtpServer]:
    recorder = TlsRecorder()
    server = SmtpServer(recorder, ssl_context=server_context(ca))
    server.start()
    yield server
    server.stop()


def message(to: str) -> bytes:
    return simple_message(
        sender="newsletter@news.example.com",
        to=to,
        subject="Over TLS",
        text="Encrypted on the way.",
        html="<p>Encrypted on the way.</p>",
        message_id="tls-1@news.example.com",
        date=datetime(2026, 11, 30, tzinfo=UTC),
    )


def send(url: str, to: str = "reader@example.com") -> None:
    transport = SmtpTransport(parse_smtp_url(url))
    try:
        transport.send("newsletter@news.example.com", to, message(to))
    finally:
        transport.close()


def test_starttls_with_login(starttls_server: SmtpServer, trusted: None) -> None:
    password = PASSWORD.replace(" ", "%20").replace("/", "%2F")
    send(f"smtp://{USER}:{password}@127.0.0.1:{starttls_server.port}?starttls=true")
    recorder = starttls_server.recorder
    assert isinstance(recorder, TlsRecorder)
    assert recorder.counts() == {"reader@example.com": 1}
    assert recorder.encrypted == [True]
    parsed = recorder.received[0].parsed()
    assert parsed["Subject"] == "Over TLS"


def test_implicit_tls(implicit_tls_server: SmtpServer, trusted: None) -> None:
    send(f"smtps://127.0.0.1:{implicit_tls_server.port}")
    recorder = implicit_tls_server.recorder
    assert isinstance(recorder, TlsRecorder)
    assert recorder.counts() == {"reader@example.com": 1} and recorder.encrypted == [True]


def test_an_untrusted_certificate_sends_nothing(
    implicit_tls_server: SmtpServer, starttls_server: SmtpServer
) -> None:
    # No SSL_CERT_FILE: the throwaway CA is not trusted, so the certificate is refused.
    for url in (
        f"smtps://127.0.0.1:{implicit_tls_server.port}",
        f"smtp://{USER}:x@127.0.0.1:{starttls_server.port}?starttls=true",
    ):
        with pytest.raises(DeliveryError) as caught:
            send(url)
        assert caught.value.temporary and "CERTIFICATE_VERIFY_FAILED" in caught.value.reply
    assert implicit_tls_server.recorder.received == []
    assert starttls_server.recorder.received == []


def test_a_wrong_password_is_a_clear_temporary_error(
    starttls_server: SmtpServer, trusted: None
) -> None:
    with pytest.raises(DeliveryError) as caught:
        send(f"smtp://{USER}:wrong@127.0.0.1:{starttls_server.port}?starttls=true")
    assert caught.value.temporary and caught.value.reply.startswith("SMTP login refused: 535")
    assert starttls_server.recorder.received == []


def test_a_server_that_wants_tls_or_a_login_fails_the_send_not_the_reader(
    starttls_server: SmtpServer, trusted: None
) -> None:
    # No STARTTLS and no login: the server refuses the sender (530). That is our set-up, not
    # this reader's address: a temporary failure of the connection, tried again later.
    with pytest.raises(DeliveryError) as caught:
        send(f"smtp://127.0.0.1:{starttls_server.port}")
    error = caught.value
    assert error.temporary and error.server_down and not error.mailbox_gone
    assert "refused the sender: 530" in error.reply and "PUBLISHER_SMTP_URL" in error.reply
    assert starttls_server.recorder.received == []


@dataclass
class Throttling(Recorder):
    """Answers MAIL FROM with 421 and hangs up, as a server shedding load does."""

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        assert server.transport is not None
        asyncio.get_running_loop().call_soon(server.transport.close)
        return "421 4.7.0 Too many connections, closing connection"


def test_a_421_and_hang_up_at_mail_from_is_the_server_not_the_reader() -> None:
    server = SmtpServer(Throttling())
    server.start()
    try:
        with pytest.raises(DeliveryError) as caught:
            send(server.url)
    finally:
        server.stop()
    assert caught.value.server_down and caught.value.temporary
    assert "refused the sender: 421" in caught.value.reply
