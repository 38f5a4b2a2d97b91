"""An edition of the daily digest for the delivery tests: its timetable, settings, stories
and audience, started and sent to the end by senders in this process, on the real clock."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.delivery import sending
from publisher.delivery.sending import Sender
from publisher.editions import making
from publisher.models import Edition
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from tests.smtp import SmtpServer
from tests.support import make_settings

__all__ = [
    "TIMETABLE",
    "audience",
    "lease_holders",
    "mail_site",
    "member",
    "now",
    "ran_before",
    "run_until_done",
    "start_edition",
]

TIMETABLE = 'timezone: Asia/Singapore\ndigests:\n  daily:\n    cron: "0 7 * * *"\n'


def now() -> datetime:
    """The real clock (these tests send editions as of now)."""
    return datetime.now(UTC)


def mail_site(tmp_path: Path, database_url: str, smtp: SmtpServer, **more: str) -> Settings:
    """Settings for a site in ``tmp_path`` on ``database_url`` with TIMETABLE, mailing
    through ``smtp`` from Newsflash Asia; ``more`` added."""
    (tmp_path / "schedules.yaml").write_text(TIMETABLE)
    return make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SMTP_URL=smtp.url,
        PUBLISHER_MAIL_FROM="Newsflash Asia <newsletter@news.example.com>",
        **more,
    )


def member(
    engine: Engine, address: str, categories: list[str] | None = None, *, confirmed: bool = True
) -> int:
    """A new member of the daily digest, wanting ``categories``' stories (empty or None:
    every category); their id."""
    view, _ = subscriptions.add_subscriber(
        engine,
        address,
        confirmed=confirmed,
        digests=["daily"],
        known_digests=["daily"],
        categories=categories,
        now=now(),
    )
    return view.subscriber.id or 0


def audience(engine: Engine, settings: Settings, tmp_path: Path, confirmed: int) -> list[str]:
    """Stories for this period, ``confirmed`` members, one pending and one who left."""
    digest = load_timetable(settings.schedules).digest("daily")
    nominal = digest.last_time(now())
    assert nominal is not None
    path = tmp_path / "stories.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": f"Story {n}",
                    "summary": "Summary.",
                    "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
                }
            )
            for n in range(3)
        )
    )
    publish.import_articles(engine, settings, [path], now=now(), actor="test")
    addresses = [f"member{n}@example.com" for n in range(confirmed)]
    for address in addresses:
        subscriptions.add_subscriber(
            engine,
            address,
            name=address[:7].title(),
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            now=now(),
        )
    subscriptions.add_subscriber(
        engine,
        "waiting@example.com",
        confirmed=False,
        digests=["daily"],
        known_digests=["daily"],
        now=now(),
    )
    left, _ = subscriptions.add_subscriber(
        engine,
        "left@example.com",
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        now=now(),
    )
    with store.writing(engine) as session:
        store.set_subscriber_status(session, left.subscriber.id or 0, "unsubscribed", now=now())
    return addresses


def daily_edition(engine: Engine, settings: Settings, nominal: datetime) -> Edition:
    """The daily digest's edition for ``nominal``, made as the daemon makes it."""
    timetable = load_timetable(settings.schedules)
    edition, _ = making.ensure_edition(
        engine,
        settings,
        timetable,
        make_environment(zone=settings.zone),
        timetable.digest("daily"),
        nominal=nominal,
        now=nominal,
    )
    return edition


def start_edition(engine: Engine, settings: Settings) -> int:
    """The daily digest's current edition prepared and sending; its id."""
    timetable = load_timetable(settings.schedules)
    plan = sending.prepare_send(
        engine, settings, timetable, make_environment(), timetable.digest("daily"), now=now()
    )
    assert plan.edition.status == "sending"
    return plan.edition.id or 0


def run_until_done(engine: Engine, settings: Settings, edition_id: int, limit: float = 60) -> None:
    """Senders run in this process until nothing of the edition is left to send."""
    deadline = time.monotonic() + limit
    while True:
        Sender(engine, settings, clock=now).run(threading.Event(), once=True)
        tally = sending.counts(engine, [edition_id])[edition_id]
        if not any(tally.get(s) for s in ("pending", "sending", "retry")):
            return
        assert time.monotonic() < deadline, tally
        time.sleep(0.2)


def lease_holders(engine: Engine) -> set[str]:
    """The processes (host:pid) holding deliveries right now."""
    deliveries = store.deliveries_t
    with store.reading(engine) as session:
        owners = session.scalars(
            select(deliveries.c.lease_owner).where(deliveries.c.status == "sending").distinct()
        ).all()
    return {owner.rsplit(":", 1)[0] for owner in owners if owner}


def ran_before(engine: Engine, digest: str, nominal: datetime) -> None:
    """The site ran before: ``digest`` sent an edition a week before ``nominal`` (a digest
    that never had an edition begins its timetable at the first start, and catches up
    on nothing)."""
    earlier = nominal - timedelta(days=7)
    with store.writing(engine) as session:
        edition, _ = store.create_edition(
            session, digest, earlier.strftime("%Y-%m-%dT%H:%M"), nominal_at=earlier, now=earlier
        )
        store.set_edition_status(session, edition.id or 0, "sent")
