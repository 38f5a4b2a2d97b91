"""The one place where what mail systems report back acts on members (issue 28), whoever
brought the report: the bounce mailbox, ``publisher bounces process``, a sending service's
webhook.

- A hard bounce suppresses the member at once (status ``bounced``).
- Soft bounces are counted per member (each delivery once); PUBLISHER_BOUNCE_SOFT_LIMIT of
  them within PUBLISHER_BOUNCE_SOFT_DAYS suppress the member.
- A complaint ("this is spam") unsubscribes the member at once, and says why.

A report acts only when it names a delivery we made, by a Message-ID we signed for that
delivery's address: a forged report changes nobody. Each is recorded with what it did
(``bounce_reports``: the subscriber's page, the edition's figures) and in the audit trail;
the same report twice counts once."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.community import subscriptions
from publisher.errors import PublisherError
from publisher.mail.bounces import OURS, Finding, Report, parse_report
from publisher.models import BounceReport
from publisher.settings import Settings
from publisher.tokens import Signer

__all__ = [
    "Applied",
    "Outcome",
    "Target",
    "apply_finding",
    "apply_mails",
    "apply_report",
    "find_target",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """The delivery a report is about, checked against our signature."""

    email: str
    subscriber_id: int | None
    edition_id: int
    delivery_id: int


@dataclass(frozen=True)
class Outcome:
    """What one finding did: suppressed, unsubscribed, counted, none (nothing left to do),
    duplicate (counted before) or refused (no delivery of ours), with why."""

    action: str
    email: str = ""
    detail: str = ""


@dataclass
class Applied:
    """What a batch of reports did, for the log and the command's summary."""

    suppressed: int = 0
    unsubscribed: int = 0
    counted: int = 0
    duplicate: int = 0
    refused: int = 0
    unread: int = 0  # mails that are no report we know

    def add(self, outcome: Outcome) -> None:
        name = {"none": "duplicate"}.get(outcome.action, outcome.action)
        if hasattr(self, name):
            setattr(self, name, getattr(self, name) + 1)

    def merge(self, other: Applied) -> None:
        for name in ("suppressed", "unsubscribed", "counted", "duplicate", "refused", "unread"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return (
            f"{self.suppressed} suppressed, {self.unsubscribed} unsubscribed, {self.counted} "
            f"soft bounce(s) counted, {self.duplicate} already done, {self.refused} refused "
            f"(no message we sent), {self.unread} not a report"
        )


def find_target(
    session: Session, signer: Signer, message_id: str, named: str = ""
) -> Target | None:
    """The delivery ``message_id`` names, if we signed it for that delivery's address (or,
    once the delivery is pruned, for ``named``, the address the report gives)."""
    found = OURS.search(message_id)
    if found is None:
        return None
    edition_id, delivery_id = int(found[1]), int(found[2])
    row = store.bounce_target(session, delivery_id)
    if row is not None and row.edition_id == edition_id:
        if signer.genuine_message_id(found[0], row.email):
            return Target(row.email, row.subscriber_id, edition_id, delivery_id)
        return None
    if named and signer.genuine_message_id(found[0], named):
        member = store.subscriber_by_email(session, named)
        return Target(named, member.id if member else None, edition_id, delivery_id)
    return None


def apply_report(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    report: Report,
    *,
    source: str,
    now: datetime,
) -> list[Outcome]:
    """Act on every finding of a report read from a mail (a bounce, a complaint, a mailed
    unsubscribe request); what each did."""
    if report.token:
        return [_unsubscribe_by_mail(engine, signer, report, now=now)]
    out = []
    for finding in report.findings:
        out.append(_apply_mailed(engine, settings, signer, report, finding, source=source, now=now))
    return out


def _apply_mailed(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    report: Report,
    finding: Finding,
    *,
    source: str,
    now: datetime,
) -> Outcome:
    with store.writing(engine) as session:
        target = None
        for message_id in report.message_ids:
            target = find_target(session, signer, message_id, finding.address)
            if target is not None:
                break
        # A bounce must name the very address we sent to (a forwarded copy bouncing elsewhere
        # is not our member's); a complaint's recipient is often redacted.
        named = finding.address
        if target is None or (named and named != target.email):
            return _refused(finding, source)
    return apply_finding(
        engine, settings, target, finding, key=f"{source}:{report.key}", source=source, now=now
    )


def _refused(finding: Finding, source: str) -> Outcome:
    log.warning(
        "%s report (%s) for %s quotes no message we sent it: ignored",
        source,
        finding.kind,
        finding.address or "a hidden address",
    )
    return Outcome("refused", finding.address, "quotes no message we sent to that address")


def apply_finding(
    engine: Engine,
    settings: Settings,
    target: Target,
    finding: Finding,
    *,
    key: str,
    source: str,
    now: datetime,
) -> Outcome:
    """Apply one checked finding about ``target`` (a webhook's event, a mail's report), once
    per ``key`` and delivery."""
    name = hashlib.sha256(f"{key}|{target.delivery_id}|{finding.kind}".encode()).hexdigest()
    with store.writing(engine) as session:
        if target.subscriber_id is not None:
            store.lock_subscriber(session, target.subscriber_id)
        member = store.subscriber_by_email(session, target.email)
        row = BounceReport(
            key=name[:64],
            source=source,
            kind=finding.kind,
            email=target.email,
            subscriber_id=member.id if member else None,
            edition_id=target.edition_id
            if store.edition_exists(session, target.edition_id)
            else None,
            delivery_id=target.delivery_id,
            detail=finding.detail[:1000],
            action="",
            received_at=now,
        )
        report_id = store.add_bounce_report(session, row)
        if report_id is None:
            return Outcome("duplicate", target.email, "reported before")
        action = (
            "none"
            if member is None
            else _act(
                session,
                settings,
                member.id or 0,
                member.status,
                finding,
                report_id,
                source=source,
                now=now,
            )
        )
        store.set_report_action(session, report_id, action)
    log.info(
        "%s %s for %s (edition %s): %s",
        source,
        finding.kind,
        target.email,
        target.edition_id,
        action,
    )
    return Outcome(action, target.email, finding.detail)


def _act(
    session: Session,
    settings: Settings,
    subscriber_id: int,
    status: str,
    finding: Finding,
    report_id: int,
    *,
    source: str,
    now: datetime,
) -> str:
    """The rule for one finding; the action taken (recorded in the audit trail)."""
    if finding.kind == "complaint":
        if status in ("unsubscribed", "bounced"):
            return "none"
        new, action = "unsubscribed", "unsubscribed"
    elif finding.kind == "hard":
        new, action = "bounced", "suppressed"
    else:
        since = now - timedelta(days=settings.bounce_soft_days)
        # This report is recorded already, so it is among those counted.
        if store.soft_bounces_since(session, subscriber_id, since) < settings.bounce_soft_limit:
            return "counted"
        new, action = "bounced", "suppressed"
    if status == new or (status == "bounced" and new == "unsubscribed"):
        return "none"
    store.set_subscriber_status(session, subscriber_id, new, now=now)
    email = store.subscriber_by_id(session, subscriber_id).email
    store.record(
        session,
        actor=f"{source} report",
        action={"complaint": "subscriber.complaint"}.get(finding.kind, "subscriber.bounce"),
        kind=store.SUBSCRIBER,
        subject_id=subscriber_id,
        label=email,
        before={"status": status},
        after={"status": new, "report": f"#{report_id} {finding.kind}: {finding.detail}"[:500]},
        now=now,
    )
    return action


def _unsubscribe_by_mail(
    engine: Engine, signer: Signer, report: Report, *, now: datetime
) -> Outcome:
    """A mail client's unsubscribe button (List-Unsubscribe mailto): the token in the
    subject is the one the digest's unsubscribe link carries."""
    try:
        view = subscriptions.unsubscribe(engine, signer, report.token, now=now)
    except PublisherError as exc:  # a forged, altered, expired or signed-out token
        log.warning("unsubscribe request by mail from %s refused: %s", report.sender, exc)
        return Outcome("refused", report.sender, str(exc))
    log.info("unsubscribe request by mail: %s unsubscribed", view.subscriber.email)
    return Outcome("unsubscribed", view.subscriber.email, "asked by mail")


def apply_mails(
    engine: Engine,
    settings: Settings,
    signer: Signer,
    mails: list[bytes],
    *,
    source: str,
    now: datetime,
) -> Applied:
    """Read each mail as a report and act on it; what they did. A mail that is no report we
    know is logged and changes nobody."""
    applied = Applied()
    for raw in mails:
        report = parse_report(raw)
        if not report.findings:
            log.warning(
                "%s: a mail from %s is no report: %s", source, report.sender or "?", report.problem
            )
            applied.unread += 1
            continue
        for outcome in apply_report(engine, settings, signer, report, source=source, now=now):
            applied.add(outcome)
    return applied
