"""Sending services' bounce and complaint webhooks (issue 28): Amazon SES through SNS,
Postmark, SendGrid and Mailgun. Each is off until configured; each request's signature is
checked the way its provider signs (SNS: RSA with a certificate that must come from an SNS
host; SendGrid: ECDSA; Mailgun: HMAC; Postmark: the basic-auth credentials in the URL given
to it), and replays are refused (a timestamp window, and the ids seen, in the database).

An event names our delivery by the Message-ID we sent (our signed one: in the event's copy of
the headers, SendGrid's ``smtp-id``, Mailgun's ``message-id``, or Postmark's metadata), and
acts through the same rules as the bounce mailbox (``delivery.bounces``)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from sqlalchemy import Engine

from publisher import store
from publisher.delivery import bounces
from publisher.delivery.bounces import Outcome
from publisher.errors import InputError
from publisher.mail.bounces import OURS, Finding
from publisher.settings import Settings
from publisher.tokens import Signer

__all__ = [
    "PROVIDERS",
    "REPLAY_WINDOW",
    "SEEN_DAYS",
    "Event",
    "Received",
    "Refused",
    "configured",
    "prune",
    "receive",
]

log = logging.getLogger(__name__)

PROVIDERS = ("ses", "postmark", "sendgrid", "mailgun")
REPLAY_WINDOW = timedelta(minutes=15)  # a signed timestamp older (or newer) than this: refused
SEEN_DAYS = 30  # event ids kept this long (Postmark's requests carry no signed time)
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
MAX_CERT_BYTES = 64 * 1024


class Refused(InputError):
    """A webhook request refused: ``status`` 401 (no or a bad signature), 409 (a replay) or
    400 (malformed, stale); the message says why."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Event:
    """One event of a provider: what happened, to whom, and the text it carries (searched
    for our Message-ID)."""

    event_id: str
    finding: Finding
    text: str


@dataclass
class Received:
    """What one request did."""

    provider: str
    outcomes: list[Outcome] = field(default_factory=list)
    note: str = ""  # e.g. "subscription confirmed"

    def as_json(self) -> dict[str, Any]:
        actions: dict[str, int] = {}
        for outcome in self.outcomes:
            actions[outcome.action] = actions.get(outcome.action, 0) + 1
        return {"provider": self.provider, "actions": actions, "note": self.note}


def configured(settings: Settings, provider: str) -> bool:
    """Whether the provider's webhook is on (its secret or topic set)."""
    return bool(
        {
            "ses": settings.webhook_ses_topics.strip(),
            "postmark": settings.webhook_postmark_auth,
            "sendgrid": settings.webhook_sendgrid_key.strip(),
            "mailgun": settings.webhook_mailgun_key,
        }.get(provider)
    )


def prune(engine: Engine, *, now: datetime) -> int:
    """Forget the event ids seen more than SEEN_DAYS ago; how many."""
    with store.writing(engine) as session:
        return store.prune_webhook_events(session, before=now - timedelta(days=SEEN_DAYS))


def receive(
    engine: Engine,
    settings: Settings,
    provider: str,
    body: bytes,
    headers: dict[str, str],
    *,
    now: datetime,
) -> Received:
    """Check a webhook request and act on its events; Refused says why it was not."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused("the body is not JSON", 400) from None
    if provider == "ses":
        events, note = _ses(settings, payload, now=now)
    elif provider == "postmark":
        events, note = _postmark(settings, payload, headers), ""
    elif provider == "sendgrid":
        events, note = _sendgrid(settings, body, payload, headers, now=now), ""
    else:
        events, note = _mailgun(settings, payload, now=now), ""
    received = Received(provider, note=note)
    signer = Signer.of(settings.secret_key)
    for event in events:
        # An event without an id of its own is named by what it says.
        name = event.event_id.strip("/") or hashlib.sha256(event.text.encode()).hexdigest()
        with store.writing(engine) as session:
            fresh = store.see_webhook_event(session, provider, name, now=now)
        if not fresh:
            raise Refused(f"event {name} was received before: a replay", 409)
        received.outcomes.append(_act(engine, settings, signer, provider, event, now=now))
    return received


def _act(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    provider: str,
    event: Event,
    *,
    now: datetime,
) -> Outcome:
    named = event.finding.address
    with store.reading(engine) as session:
        target = None
        for found in OURS.finditer(event.text):
            target = bounces.find_target(session, signer, found[0], named)
            if target is not None:
                break
    if target is None or (named and named != target.email):
        log.warning(
            "%s webhook: %s event for %s names no message we sent it: ignored",
            provider,
            event.finding.kind,
            named or "a hidden address",
        )
        return Outcome("refused", named, "names no message we sent to that address")
    key = f"{provider}:{event.event_id}"
    return bounces.apply_finding(
        engine, settings, target, event.finding, key=key, source=provider, now=now
    )


def _fresh(when: datetime, now: datetime) -> None:
    if abs(now - when) > REPLAY_WINDOW:
        raise Refused(
            f"the signed timestamp {when.isoformat()} is more than "
            f"{REPLAY_WINDOW.total_seconds() / 60:.0f} minutes from now: a replay or stale",
            400,
        )


def _epoch(value: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(str(value).strip()), UTC)
    except (ValueError, OverflowError, OSError):
        raise Refused("the signed timestamp is not a number of seconds", 400) from None


def _text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)[:100_000]


def _lower(value: Any) -> str:
    address = str(value or "").strip().strip("<>").lower()
    return address if "@" in address else ""


# ---------------------------------------------------------------- Amazon SES through SNS

_SIGNED = {
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
}
_certificates: dict[str, x509.Certificate] = {}
_certificates_lock = threading.Lock()


def _sns_url(settings: Settings, url: str, what: str) -> str:
    """``url`` if it is https on an SNS host (or one the settings allow for tests)."""
    parts = urlsplit(str(url))
    allowed = settings.webhook_sns_cert_hosts.replace(",", " ").split()
    host = parts.netloc.lower()
    if parts.scheme != "https" or not (
        (SNS_HOST.fullmatch(parts.hostname or "") and parts.port is None) or host in allowed
    ):
        raise Refused(f"the {what} {url!r} is not on an SNS host")
    return str(url)


def _certificate(settings: Settings, url: str) -> x509.Certificate:
    url = _sns_url(settings, url, "signing certificate")
    with _certificates_lock:
        known = _certificates.get(url)
    if known is not None:
        return known
    try:
        answer = httpx.get(url, timeout=10.0, follow_redirects=False)
        answer.raise_for_status()
        if len(answer.content) > MAX_CERT_BYTES:
            raise Refused("the signing certificate is too large")
        cert = x509.load_pem_x509_certificate(answer.content)
    except (httpx.HTTPError, ValueError) as exc:
        raise Refused(f"the signing certificate could not be read: {exc}") from None
    with _certificates_lock:
        _certificates[url] = cert
    return cert


def _sns_verify(settings: Settings, message: dict[str, Any], *, now: datetime) -> None:
    kind = str(message.get("Type", ""))
    if kind not in _SIGNED:
        raise Refused(f"an SNS message of type {kind!r} is not taken", 400)
    text = "".join(
        f"{name}\n{message[name]}\n" for name in _SIGNED[kind] if message.get(name) is not None
    )
    version = str(message.get("SignatureVersion", "1"))
    digest = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)
    if digest is None:
        raise Refused(f"unknown SNS signature version {version!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except binascii.Error:
        raise Refused("the SNS signature is not base64") from None
    key = _certificate(settings, str(message.get("SigningCertURL", ""))).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise Refused("the SNS signing certificate holds no RSA key")
    try:
        key.verify(signature, text.encode(), padding.PKCS1v15(), digest)
    except InvalidSignature:
        raise Refused("the SNS signature does not match") from None
    try:
        when = datetime.fromisoformat(str(message.get("Timestamp", "")).replace("Z", "+00:00"))
    except ValueError:
        raise Refused("the SNS timestamp is not a time", 400) from None
    _fresh(when, now)


def _ses(settings: Settings, message: Any, *, now: datetime) -> tuple[list[Event], str]:
    if not isinstance(message, dict):
        raise Refused("an SNS message is a JSON object", 400)
    topics = settings.webhook_ses_topics.replace(",", " ").split()
    if str(message.get("TopicArn", "")) not in topics:  # before fetching any certificate
        raise Refused(f"the topic {message.get('TopicArn')!r} is not ours", 403)
    _sns_verify(settings, message, now=now)
    if message["Type"] == "SubscriptionConfirmation":
        url = _sns_url(settings, str(message.get("SubscribeURL", "")), "subscribe URL")
        try:
            httpx.get(url, timeout=10.0, follow_redirects=False).raise_for_status()
        except httpx.HTTPError as exc:
            raise Refused(f"confirming the subscription failed: {exc}", 502) from None
        log.info("SES webhook: subscription to %s confirmed", message.get("TopicArn"))
        return [], "subscription confirmed"
    try:
        notice = json.loads(str(message.get("Message", "")))
    except ValueError:
        raise Refused("the SNS message carries no SES notification", 400) from None
    return list(_ses_events(str(message.get("MessageId", "")), notice)), ""


def _ses_events(message_id: str, notice: Any) -> Iterator[Event]:
    if not isinstance(notice, dict):
        return
    kind = str(notice.get("notificationType") or notice.get("eventType") or "")
    mail = notice.get("mail") if isinstance(notice.get("mail"), dict) else {}
    text = _text(mail)
    if kind == "Bounce":
        bounce = notice.get("bounce") or {}
        hard = str(bounce.get("bounceType", "")) == "Permanent"
        detail = f"{bounce.get('bounceType', '')} {bounce.get('bounceSubType', '')}".strip()
        for n, who in enumerate(bounce.get("bouncedRecipients") or []):
            said = f"{detail}: {who.get('diagnosticCode', '')}".strip(": ")
            finding = Finding("hard" if hard else "soft", _lower(who.get("emailAddress")), said)
            yield Event(f"{message_id}/{n}", finding, text)
    elif kind == "Complaint":
        complaint = notice.get("complaint") or {}
        detail = f"complaint ({complaint.get('complaintFeedbackType') or 'abuse'})"
        for n, who in enumerate(complaint.get("complainedRecipients") or []):
            finding = Finding("complaint", _lower(who.get("emailAddress")), detail)
            yield Event(f"{message_id}/{n}", finding, text)


# ---------------------------------------------------------------- Postmark


def _postmark(settings: Settings, payload: Any, headers: dict[str, str]) -> list[Event]:
    """Postmark signs nothing: its webhook URL carries basic-auth credentials, checked here."""
    wanted = settings.webhook_postmark_auth
    given = headers.get("authorization", "")
    expected = (
        "Basic " + base64.b64encode((wanted.get_secret_value() if wanted else "").encode()).decode()
    )
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Refused("missing or wrong credentials")
    if not isinstance(payload, dict):
        raise Refused("a Postmark event is a JSON object", 400)
    record = str(payload.get("RecordType", ""))
    kind = str(payload.get("Type", ""))
    if record == "SpamComplaint" or kind == "SpamComplaint":
        finding = Finding("complaint", _lower(payload.get("Email")), "complaint (SpamComplaint)")
    elif record == "Bounce":
        hard = kind in ("HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked")
        detail = f"{kind}: {payload.get('Description', '')}".strip(": ")[:500]
        finding = Finding("hard" if hard else "soft", _lower(payload.get("Email")), detail)
    else:
        return []
    return [Event(str(payload.get("ID", "")), finding, _text(payload.get("Metadata") or {}))]


# ---------------------------------------------------------------- SendGrid


def _sendgrid(
    settings: Settings, body: bytes, payload: Any, headers: dict[str, str], *, now: datetime
) -> list[Event]:
    """SendGrid's signed event webhook: ECDSA (P-256, SHA-256) over the timestamp and body."""
    signature = headers.get("x-twilio-email-event-webhook-signature", "")
    stamp = headers.get("x-twilio-email-event-webhook-timestamp", "")
    if not signature or not stamp:
        raise Refused("the request is not signed")
    try:
        key = serialization.load_der_public_key(base64.b64decode(settings.webhook_sendgrid_key))
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ValueError("not an elliptic curve key")
        key.verify(base64.b64decode(signature), stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (ValueError, binascii.Error, InvalidSignature):
        raise Refused("the signature does not match") from None
    _fresh(_epoch(stamp), now)
    if not isinstance(payload, list):
        raise Refused("SendGrid's events are a JSON list", 400)
    return [e for e in map(_sendgrid_event, payload) if e is not None]


def _sendgrid_event(item: Any) -> Event | None:
    if not isinstance(item, dict):
        return None
    kind, address = str(item.get("event", "")), _lower(item.get("email"))
    if kind == "spamreport":
        finding = Finding("complaint", address, "complaint (spamreport)")
    elif kind == "bounce":
        hard = str(item.get("type", "bounce")) != "blocked"
        detail = f"{item.get('status', '')} {item.get('reason', '')}".strip()[:500]
        finding = Finding("hard" if hard else "soft", address, detail)
    else:
        return None
    return Event(str(item.get("sg_event_id", "")), finding, _text(item))


# ---------------------------------------------------------------- Mailgun


def _mailgun(settings: Settings, payload: Any, *, now: datetime) -> list[Event]:
    """Mailgun's HMAC-SHA256 of timestamp and token with the webhook signing key; the token
    is used once."""
    if not isinstance(payload, dict) or not isinstance(payload.get("signature"), dict):
        raise Refused("the request is not signed")
    signed = payload["signature"]
    stamp, token = str(signed.get("timestamp", "")), str(signed.get("token", ""))
    key = settings.webhook_mailgun_key.get_secret_value() if settings.webhook_mailgun_key else ""
    if not token:
        raise Refused("the request's token is missing")
    expected = hmac.new(key.encode(), (stamp + token).encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, str(signed.get("signature", ""))):
        raise Refused("the signature does not match")
    _fresh(_epoch(stamp), now)
    data = payload.get("event-data")
    if not isinstance(data, dict):
        return []
    kind, address = str(data.get("event", "")), _lower(data.get("recipient"))
    if kind == "complained":
        finding = Finding("complaint", address, "complaint")
    elif kind == "failed":
        said = data.get("delivery-status")
        status: dict[str, Any] = said if isinstance(said, dict) else {}
        detail = f"{status.get('code', '')} {status.get('message', '')}".strip()[:500]
        hard = str(data.get("severity", "permanent")) == "permanent"
        finding = Finding("hard" if hard else "soft", address, detail)
    else:
        return []
    # The signature covers the timestamp and token only, not the event: the token alone
    # names the request, so a captured signature cannot carry another event.
    return [Event(token, finding, _text(data))]
