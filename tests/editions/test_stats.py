"""An edition's progress and figures against a real SMTP server (aiosmtpd), on SQLite and
PostgreSQL: the numbers during a send, and after it the figures match what the server took,
with the servers' replies to failures and the readers who left through the edition's links."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.community import links, subscriptions
from publisher.delivery.sending import Sender
from publisher.editions import stats
from publisher.errors import NotFoundError
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web import create_app
from tests.mailing import audience, mail_site, now, run_until_done, start_edition
from tests.processes import cli
from tests.smtp import SmtpServer

API_TOKEN = "api-token-0123456789abcdef"


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_SEND_RETRY_BASE="0.2",  # retries come back within the test, not in a minute
        PUBLISHER_SEND_CONCURRENCY="2",
        PUBLISHER_API_TOKEN=API_TOKEN,
    )


def test_figures_after_a_send_match_what_the_server_took(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, mail_settings, tmp_path, 12)
    plans = smtp.recorder.plans
    plans["member1@example.com"] = ["550 5.1.1 <member1@example.com>: user unknown"]
    plans["member2@example.com"] = ["550 5.1.1 <member2@example.com>: user unknown"]
    plans["member3@example.com"] = ["554 5.7.1 rejected by policy"]
    plans["member4@example.com"] = ["451 4.3.0 greylisted"]  # then taken: sent, not failed
    edition_id = start_edition(engine, mail_settings)
    with store.writing(engine) as session:  # leaves after the edition started: cancelled
        row = store.subscriber_by_email(session, "member5@example.com")
        assert row is not None
        store.set_subscriber_status(session, row.id or 0, "unsubscribed", now=now())
    run_until_done(engine, mail_settings, edition_id)
    took = smtp.recorder.counts()
    # One reader leaves through the edition's one-click unsubscribe; one leaves with a link
    # made later (not this edition's), which is not counted for it.
    client = TestClient(create_app(mail_settings, engine, feed_upkeep_every=None))
    mail = next(r for r in smtp.recorder.received if r.recipient == "member6@example.com")
    one_click = urlsplit(mail.parsed()["List-Unsubscribe"].strip("<>")).path
    answer = client.post(
        one_click,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 200
    client.post(one_click, content=b"List-Unsubscribe=One-Click")  # twice: still one
    signer = Signer.of(mail_settings.secret_key)
    with store.reading(engine) as session:
        later = store.subscriber_by_email(session, "member7@example.com")
    assert later is not None
    made = now() + timedelta(hours=2)
    unsubscribe = links.member_links(signer, "", later.id or 0, later.link_key, now=made)
    subscriptions.unsubscribe(
        engine, signer, unsubscribe["unsubscribe"].split("/")[-1], now=made + timedelta(1)
    )
    # One more leaves by choosing no newsletter on the preferences page the mail links to.
    mail = next(r for r in smtp.recorder.received if r.recipient == "member8@example.com")
    html = mail.parsed().get_body(("html",)).get_content()  # type: ignore[union-attr]
    preferences = html.split('href="https://news.example.com/preferences/')[1].split('"')[0]
    subscriptions.set_preferences(
        engine, signer, preferences, [], known_digests=["daily"], now=now() + timedelta(days=1)
    )
    # And one through this edition's link, but eight days on: past the 7 days, not counted.
    mail = next(r for r in smtp.recorder.received if r.recipient == "member9@example.com")
    token = mail.parsed()["List-Unsubscribe"].strip("<>").split("/")[-1]
    subscriptions.unsubscribe(engine, signer, token, now=now() + timedelta(days=8))

    figures = stats.figures(engine, mail_settings, edition_id, now=now())
    assert figures.recipients == len(members) == 12
    assert figures.sent == sum(took.values()) == 8  # everyone the server took, once
    assert set(took) == set(members) - {f"member{n}@example.com" for n in (1, 2, 3, 5)}
    assert (figures.failed, figures.bounced, figures.cancelled) == (3, 2, 1)
    assert [(f.reply, f.count) for f in figures.failures] == [
        ("550 5.1.1 <address>: user unknown", 2),
        ("554 5.7.1 rejected by policy", 1),
    ]
    assert figures.unsubscribed == 2
    assert (figures.owed, figures.retrying, figures.status) == (0, 0, "sent")
    assert figures.tracking == "off" and figures.links == []

    # The same through the API and on /metrics.
    bearer = {"Authorization": f"Bearer {API_TOKEN}"}
    listed = client.get("/api/editions", headers=bearer).json()
    assert [(e["edition_id"], e["sent"], e["failed"]) for e in listed] == [(edition_id, 8, 3)]
    detail = client.get(f"/api/editions/{edition_id}", headers=bearer).json()
    assert detail["bounced"] == 2 and detail["progress"]["sent"] == 8
    assert sum(n for _, n in detail["series"]) == 8
    assert client.get("/api/editions/999", headers=bearer).status_code == 404
    assert client.get(f"/api/editions/{edition_id}").status_code == 401
    scrape = client.get("/metrics").text
    assert (
        f'newsflash_edition_messages{{digest="daily",edition="{edition_id}",outcome="sent"}} 8.0'
        in scrape
    )
    assert f'newsflash_edition_unsubscribed{{digest="daily",edition="{edition_id}"}} 2.0' in scrape


@pytest.mark.slow
def test_digest_stats_prints_the_figures(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, mail_settings, tmp_path, 3)
    smtp.recorder.plans["member1@example.com"] = ["550 5.1.1 <member1@example.com>: unknown"]
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    url = mail_settings.database_url
    schedules = {"PUBLISHER_SCHEDULES": str(mail_settings.schedules)}
    shown = cli(tmp_path, url, "digest", "stats", str(edition_id), "--json", **schedules)
    assert shown.returncode == 0, shown.stderr
    said = json.loads(shown.stdout)
    assert (said["recipients"], said["sent"], said["failed"], said["bounced"]) == (3, 2, 1, 1)
    assert said["failures"] == [{"reply": "550 5.1.1 <address>: unknown", "count": 1}]
    assert said["progress"]["owed"] == 0 and said["tracking"] == "off"
    text = cli(tmp_path, url, "digest", "stats", str(edition_id), **schedules)
    assert text.returncode == 0, text.stderr
    assert "bounced       1" in text.stdout and "1  550 5.1.1 <address>: unknown" in text.stdout
    missing = cli(tmp_path, url, "digest", "stats", "999", **schedules)
    assert missing.returncode == 1 and missing.stderr.strip() == "Error: no edition 999"
    wrong = cli(tmp_path, url, "digest", "stats", "first", **schedules)
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr


def test_progress_while_it_sends(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    members = audience(engine, mail_settings, tmp_path, 40)
    edition_id = start_edition(engine, mail_settings)
    before = stats.progress(engine, edition_id, now=now())
    assert (before.total, before.owed, before.sent, before.rate, before.eta_seconds) == (
        40,
        40,
        0,
        0.0,
        None,
    )
    stop = threading.Event()
    worker = threading.Thread(target=Sender(engine, mail_settings, clock=now).run, args=(stop,))
    worker.start()
    try:
        smtp.recorder.wait_for(10)
        smtp.recorder.gate.clear()  # hold the rest at DATA: the send is halfway, for a while
        deadline = time.monotonic() + 30
        while True:  # until every message the server took is recorded
            taken = len(smtp.recorder.received)
            mid = stats.progress(engine, edition_id, now=now())
            if mid.sent == taken and smtp.recorder.waiting:
                break
            assert time.monotonic() < deadline, mid
            time.sleep(0.05)
        assert 10 <= mid.sent < 40 and mid.status == "sending"
        assert mid.owed == 40 - mid.sent and mid.total == 40
        assert mid.rate > 0 and mid.eta_seconds is not None and mid.eta_seconds > 0
    finally:
        smtp.recorder.gate.set()
    run_until_done(engine, mail_settings, edition_id)
    stop.set()
    worker.join()
    done = stats.progress(engine, edition_id, now=now())
    assert (done.sent, done.owed, done.eta_seconds, done.status) == (40, 0, 0.0, "sent")
    assert smtp.recorder.counts() == {m: 1 for m in members}
    series = stats.rate_series(engine, edition_id)
    assert sum(n for _, n in series) == 40
    steps = {b - a for (a, _), (b, _) in pairwise(series)}
    assert len(steps) <= 1  # evenly spaced, gaps filled
    states = stats.overview(engine)
    assert [(s.edition_id, s.status, s.sent, s.owed) for s in states] == [
        (edition_id, "sent", 40, 0)
    ]
    with pytest.raises(NotFoundError):
        stats.progress(engine, 999, now=now())


def test_chart_buckets_are_a_minute_for_long_sends_and_finer_for_short_ones() -> None:
    assert stats.bucket_for(timedelta(seconds=30)) == 1
    assert stats.bucket_for(timedelta(minutes=9)) == 5
    assert stats.bucket_for(timedelta(hours=1)) == 30
    assert stats.bucket_for(timedelta(hours=2)) == 60
    assert stats.bucket_for(timedelta(hours=9)) == 300


def test_figures_stay_true_after_the_deliveries_are_pruned(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    audience(engine, mail_settings, tmp_path, 4)
    smtp.recorder.plans["member1@example.com"] = ["550 5.1.1 <member1@example.com>: unknown"]
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    before = stats.figures(engine, mail_settings, edition_id, now=now())
    listed = stats.overview(engine)
    later = now() + timedelta(days=1)
    assert stats.keep_figures(engine, before=later, now=later) == 1
    assert stats.keep_figures(engine, before=later, now=later) == 0  # once
    with store.writing(engine) as session:
        assert store.prune_deliveries(session, before=later) == 4
    assert stats.figures(engine, mail_settings, edition_id, now=later) == before
    assert stats.overview(engine) == listed
    assert (before.recipients, before.sent, before.failed, before.bounced) == (4, 3, 1, 1)
