"""Sending services' webhooks (issue 28), with requests signed the way each provider signs
them, with test keys: Amazon SES through SNS (RSA, the certificate served over HTTPS from a
host the test allows through PUBLISHER_WEBHOOK_SNS_CERT_HOSTS), Postmark (basic auth),
SendGrid (ECDSA) and Mailgun (HMAC). Events name messages the product really sent. Bad or
missing signatures, certificates from other hosts, stale and replayed requests, and events
about messages we never sent change nobody."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.web import create_app
from tests.mailing import TIMETABLE, audience, run_until_done, start_edition
from tests.smtp import SmtpServer
from tests.support import make_settings

TOPIC = "arn:aws:sns:eu-west-1:123456789012:newsflash-bounces"
POSTMARK = "postmark-hook:a long and secret password"
MAILGUN = "key-mailgun-signing-0123456789abcdef"
SENDGRID = ec.generate_private_key(ec.SECP256R1())
SNS = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class CertServer(BaseHTTPRequestHandler):
    """Serves the SNS signing certificate and notes subscription confirmations."""

    pem = b""
    confirmed: list[str] = []  # noqa: RUF012 (the one server's record)

    def do_GET(self) -> None:
        if self.path.startswith("/confirm"):
            CertServer.confirmed.append(self.path)
            body = b"<ConfirmSubscriptionResponse/>"
        else:
            body = self.pem
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def self_signed(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.now(UTC) - timedelta(days=1))
        .not_valid_after(datetime.now(UTC) + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def cert_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An HTTPS server on loopback (a throwaway CA the client trusts); its host:port."""
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    CertServer.pem = self_signed(SNS)
    CertServer.confirmed = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CertServer)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def site(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer, cert_host: str
) -> tuple[TestClient, dict[str, bytes]]:
    """The app with every provider configured, after an edition went to member0..member5."""
    (tmp_path / "schedules.yaml").write_text(TIMETABLE)
    public = SENDGRID.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SMTP_URL=smtp.url,
        PUBLISHER_MAIL_FROM="Newsflash Asia <newsletter@news.example.com>",
        PUBLISHER_WEBHOOK_SES_TOPICS=TOPIC,
        PUBLISHER_WEBHOOK_SNS_CERT_HOSTS=cert_host,
        PUBLISHER_WEBHOOK_POSTMARK_AUTH=POSTMARK,
        PUBLISHER_WEBHOOK_SENDGRID_KEY=base64.b64encode(public).decode(),
        PUBLISHER_WEBHOOK_MAILGUN_KEY=MAILGUN,
    )
    audience(engine, settings, tmp_path, 6)
    run_until_done(engine, settings, start_edition(engine, settings))
    sent = {r.recipient: r.data for r in smtp.recorder.received}
    return TestClient(create_app(settings, engine, feed_upkeep_every=None)), sent


def message_id(sent: bytes) -> str:
    return str(message_from_bytes(sent, policy=policy.compat32)["Message-ID"])


def status_of(engine: Engine, n: int) -> str:
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, f"member{n}@example.com")
        assert row is not None
        return row.status


def statuses(engine: Engine) -> list[str]:
    return [status_of(engine, n) for n in range(6)]


# ---------------------------------------------------------------- SES through SNS


def sns(
    cert_host: str, kind: str, fields: dict[str, str], *, at: datetime | None = None
) -> dict[str, str]:
    """An SNS message signed as SNS signs (SignatureVersion 2: SHA256withRSA)."""
    message = {
        "Type": kind,
        "MessageId": str(uuid.uuid4()),
        "TopicArn": TOPIC,
        "Timestamp": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "SignatureVersion": "2",
        "SigningCertURL": f"https://{cert_host}/SimpleNotificationService-test.pem",
        **fields,
    }
    order = {
        "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
        "SubscriptionConfirmation": (
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ),
    }[kind]
    text = "".join(f"{k}\n{message[k]}\n" for k in order if k in message)
    signature = SNS.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {**message, "Signature": base64.b64encode(signature).decode()}


def ses_notice(kind: str, sent: bytes, address: str) -> str:
    mail = {
        "messageId": "0100018c-ses-own-id",
        "headers": [{"name": "Message-ID", "value": message_id(sent)}],
        "destination": [address],
    }
    if kind == "Bounce":
        body: dict[str, Any] = {
            "notificationType": "Bounce",
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {"emailAddress": address, "diagnosticCode": "smtp; 550 5.1.1 user unknown"}
                ],
            },
        }
    else:
        body = {
            "notificationType": "Complaint",
            "complaint": {
                "complainedRecipients": [{"emailAddress": address}],
                "complaintFeedbackType": "abuse",
            },
        }
    return json.dumps({**body, "mail": mail})


def test_providers_are_off_until_configured(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    client = TestClient(
        create_app(make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url), engine)
    )
    for provider in ("ses", "postmark", "sendgrid", "mailgun", "other"):
        answer = client.post(f"/webhooks/bounces/{provider}", content=b"{}")
        assert answer.status_code == 404, provider


def test_ses_through_sns(
    engine: Engine, site: tuple[TestClient, dict[str, bytes]], cert_host: str
) -> None:
    client, sent = site
    url = "/webhooks/bounces/ses"
    confirm = sns(
        cert_host,
        "SubscriptionConfirmation",
        {
            "Message": "confirm",
            "Token": "t0k3n",
            "SubscribeURL": f"https://{cert_host}/confirm?t=1",
        },
    )
    answer = client.post(url, json=confirm)
    assert answer.status_code == 200 and answer.json()["note"] == "subscription confirmed"
    assert CertServer.confirmed == ["/confirm?t=1"]
    bounce = sns(
        cert_host,
        "Notification",
        {"Message": ses_notice("Bounce", sent["member1@example.com"], "member1@example.com")},
    )
    assert client.post(url, json=bounce).json()["actions"] == {"suppressed": 1}
    replay = client.post(url, json=bounce)
    assert replay.status_code == 409 and "replay" in replay.json()["error"]
    complaint = sns(
        cert_host,
        "Notification",
        {"Message": ses_notice("Complaint", sent["member2@example.com"], "member2@example.com")},
    )
    assert client.post(url, json=complaint).json()["actions"] == {"unsubscribed": 1}
    assert statuses(engine)[:3] == ["confirmed", "bounced", "unsubscribed"]

    victim = "member3@example.com"
    forged = sns(
        cert_host,
        "Notification",
        {"Message": ses_notice("Bounce", sent["member4@example.com"], victim)},
    )
    assert client.post(url, json=forged).json()["actions"] == {"refused": 1}
    genuine = ses_notice("Bounce", sent[victim], victim)
    tampered = {
        **sns(cert_host, "Notification", {"Message": genuine.replace("x", "x")}),
        "Message": genuine.replace("General", "OnAccountSuppressionList"),
    }
    assert client.post(url, json=tampered).status_code == 401
    elsewhere = sns(cert_host, "Notification", {"Message": genuine})
    elsewhere = {
        **elsewhere,
        "SigningCertURL": "https://sns.eu-west-1.amazonaws.com.evil.example/c.pem",
    }
    answer = client.post(url, json=elsewhere)
    assert answer.status_code == 401 and "not on an SNS host" in answer.json()["error"]
    stale = sns(
        cert_host, "Notification", {"Message": genuine}, at=datetime.now(UTC) - timedelta(hours=2)
    )
    assert client.post(url, json=stale).status_code == 400
    unsigned = {
        k: v
        for k, v in sns(cert_host, "Notification", {"Message": genuine}).items()
        if k != "Signature"
    }
    assert client.post(url, json=unsigned).status_code == 401
    assert statuses(engine)[3] == "confirmed"


# ---------------------------------------------------------------- Postmark


def test_postmark_with_basic_auth(
    engine: Engine, site: tuple[TestClient, dict[str, bytes]]
) -> None:
    client, sent = site
    member = "member1@example.com"
    mid = str(
        message_from_bytes(sent[member], policy=policy.compat32)["X-PM-Metadata-newsflash-id"]
    )
    assert mid == message_id(sent[member])  # the metadata Postmark hands back
    event = {
        "RecordType": "Bounce",
        "ID": 4323372036854775807,
        "Type": "HardBounce",
        "Email": member,
        "Description": "The server was unable to deliver your message",
        "Metadata": {"newsflash-id": mid},
    }
    user, password = POSTMARK.split(":", 1)
    url = "/webhooks/bounces/postmark"
    assert client.post(url, json=event).status_code == 401
    assert client.post(url, json=event, auth=(user, "wrong")).status_code == 401
    assert client.post(url, json=event, auth=(user, password)).json()["actions"] == {
        "suppressed": 1
    }
    assert client.post(url, json=event, auth=(user, password)).status_code == 409
    spam = {
        "RecordType": "SpamComplaint",
        "ID": 1,
        "Type": "SpamComplaint",
        "Email": "member2@example.com",
        "Metadata": {"newsflash-id": message_id(sent["member2@example.com"])},
    }
    assert client.post(url, json=spam, auth=(user, password)).json()["actions"] == {
        "unsubscribed": 1
    }
    assert statuses(engine)[:3] == ["confirmed", "bounced", "unsubscribed"]


# ---------------------------------------------------------------- SendGrid


def sendgrid_post(
    client: TestClient,
    events: list[dict[str, Any]],
    *,
    at: float | None = None,
    key: ec.EllipticCurvePrivateKey = SENDGRID,
) -> Any:
    body = json.dumps(events).encode()
    stamp = str(int(at if at is not None else time.time()))
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post(
        "/webhooks/bounces/sendgrid",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
        },
    )


def test_sendgrid_signed_event_webhook(
    engine: Engine, site: tuple[TestClient, dict[str, bytes]]
) -> None:
    client, sent = site
    events = [
        {
            "email": "member1@example.com",
            "event": "bounce",
            "type": "bounce",
            "status": "5.1.1",
            "reason": "550 no such user",
            "sg_event_id": "ev-1",
            "smtp-id": message_id(sent["member1@example.com"]),
        },
        {
            "email": "member2@example.com",
            "event": "spamreport",
            "sg_event_id": "ev-2",
            "smtp-id": message_id(sent["member2@example.com"]),
        },
        {"email": "member3@example.com", "event": "delivered", "sg_event_id": "ev-3"},
    ]
    assert (
        sendgrid_post(client, events, key=ec.generate_private_key(ec.SECP256R1())).status_code
        == 401
    )
    assert sendgrid_post(client, events, at=time.time() - 3600).status_code == 400
    assert statuses(engine)[:3] == ["confirmed"] * 3
    assert sendgrid_post(client, events).json()["actions"] == {"suppressed": 1, "unsubscribed": 1}
    assert sendgrid_post(client, events).status_code == 409
    assert statuses(engine)[:4] == ["confirmed", "bounced", "unsubscribed", "confirmed"]


# ---------------------------------------------------------------- Mailgun


def mailgun(
    data: dict[str, Any], *, at: float | None = None, key: str = MAILGUN, token: str = ""
) -> dict[str, Any]:
    stamp, token = str(int(at if at is not None else time.time())), token or uuid.uuid4().hex
    signature = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": stamp, "token": token, "signature": signature},
        "event-data": data,
    }


def test_mailgun_hmac(engine: Engine, site: tuple[TestClient, dict[str, bytes]]) -> None:
    client, sent = site
    url = "/webhooks/bounces/mailgun"

    def failed(n: int) -> dict[str, Any]:
        member = f"member{n}@example.com"
        return {
            "id": f"mg-{n}",
            "event": "failed",
            "severity": "permanent",
            "recipient": member,
            "delivery-status": {"code": 550, "message": "5.1.1 no such user"},
            "message": {"headers": {"message-id": message_id(sent[member]).strip("<>")}},
        }

    assert client.post(url, json=mailgun(failed(1), key="not-the-key")).status_code == 401
    assert client.post(url, json={"event-data": failed(1)}).status_code == 401
    assert client.post(url, json=mailgun(failed(1), at=time.time() - 3600)).status_code == 400
    once = mailgun(failed(1))
    assert client.post(url, json=once).json()["actions"] == {"suppressed": 1}
    assert client.post(url, json=once).status_code == 409  # the token is used once
    # Mailgun signs the timestamp and token, not the event: a captured signature carrying
    # another event is a replay too.
    assert client.post(url, json={**once, "event-data": failed(3)}).status_code == 409
    assert status_of(engine, 3) == "confirmed"
    complained = {**failed(2), "event": "complained", "id": "mg-c"}
    assert client.post(url, json=mailgun(complained)).json()["actions"] == {"unsubscribed": 1}
    forged = {**failed(3), "recipient": "member3@example.com", "message": failed(4)["message"]}
    assert client.post(url, json=mailgun(forged)).json()["actions"] == {"refused": 1}
    assert statuses(engine)[:5] == [
        "confirmed",
        "bounced",
        "unsubscribed",
        "confirmed",
        "confirmed",
    ]
