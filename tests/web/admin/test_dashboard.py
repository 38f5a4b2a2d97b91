"""The newsroom's dashboard: its figures for a known set of rows, the growth chart's SVG, the
live figures the page polls, and the mail server's health as the daemon reports it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from publisher import store
from publisher.delivery import bounces, mailbox
from publisher.delivery.bounces import Target
from publisher.mail.bounces import Finding
from publisher.newsroom import dashboard
from publisher.schedules import load_timetable, parse_timetable
from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.admin.chart import TOP, growth_chart
from publisher.web.application import DaemonHooks
from tests.browser import free_port
from tests.newsroom import add_person, newsroom_client, newsroom_rows, set_delivery, sign_in
from tests.support import NOW, make_settings

SVG = "{http://www.w3.org/2000/svg}"


def _client(engine: Engine, settings: Settings, **options: object) -> TestClient:
    hooks = DaemonHooks(**options)  # type: ignore[arg-type]
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None, daemon=hooks)
    return newsroom_client(app, settings)


def test_the_figures_for_a_known_newsroom(engine: Engine, settings: Settings) -> None:
    rows = newsroom_rows(engine, settings)
    timetable = load_timetable(settings.schedules)
    board = dashboard.dashboard(engine, settings, timetable, now=NOW)
    assert board.subscribers == {"pending": 1, "confirmed": 3, "unsubscribed": 1, "bounced": 1}
    assert board.total == 6
    assert len(board.growth) == 90
    assert board.growth[0].day == date(2026, 9, 2) and board.growth[-1].day == date(2026, 11, 30)
    assert board.growth[0].total == 2  # January's and August's, from before the window
    by_day = {d.day: d for d in board.growth}
    assert by_day[date(2026, 10, 1)].new == 1 and by_day[date(2026, 10, 1)].total == 3
    assert by_day[date(2026, 11, 29)].new == 1 and by_day[date(2026, 11, 29)].total == 4
    assert by_day[date(2026, 11, 30)].new == 2 and by_day[date(2026, 11, 30)].total == 6
    assert sum(d.new for d in board.growth) == 4
    first, second = (
        next(e for e in board.editions if e.id == rows[k]) for k in ("first", "second")
    )
    assert board.editions[0].id == rows["second"]  # newest first
    assert (first.sent, first.failed, first.pending, first.cancelled) == (1, 1, 1, 0)
    assert (second.sent, second.failed, second.pending) == (0, 0, 3)
    assert first.subject == "Briefing 2026-11-29" and first.status == "sending"
    queue = board.queue
    assert (queue.pending, queue.sending, queue.retry, queue.due) == (3, 0, 1, 3)
    assert (queue.outbox, queue.workers, queue.waiting) == (1, 1, 4)
    [send] = board.next_sends
    assert send.digest == "daily" and send.at is not None
    assert send.at == datetime(2026, 11, 30, 23, tzinfo=UTC)  # 07:00 in Singapore
    assert send.at.utcoffset() == timedelta(hours=8)
    assert board.open_reports == 2
    assert [r.id for r in board.reports] == [3, 2]  # newest first, the resolved one left out
    assert board.scheduled == 2
    assert [a.slug for a in board.soonest] == ["budget", "later"]


def test_an_empty_newsroom_has_zeros_and_a_flat_line(engine: Engine, settings: Settings) -> None:
    board = dashboard.dashboard(engine, settings, load_timetable(settings.schedules), now=NOW)
    assert board.total == 0 and board.editions == [] and board.reports == []
    assert [d.total for d in board.growth] == [0] * 90
    add_person(engine, settings, "chief@example.com", "admin")
    client = _client(engine, settings)
    sign_in(client, "chief@example.com")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "No edition yet." in page.text and "Nothing scheduled." in page.text
    _svg(page.text)


def _svg(html: str) -> ET.Element:
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no chart"
    return ET.fromstring(found[0])  # parses as XML, or this raises


def test_the_dashboard_page_shows_the_figures_and_a_chart(
    engine: Engine, settings: Settings
) -> None:
    rows = newsroom_rows(engine, settings)
    add_person(engine, settings, "chief@example.com", "admin")
    client = _client(engine, settings)
    sign_in(client, "chief@example.com")
    page = client.get("/admin/")
    assert page.status_code == 200
    text = page.text
    svg = _svg(text)
    assert svg.get("role") == "img"
    assert "90 days" in svg.findtext(f"{SVG}title", "")
    desc = svg.find(f"{SVG}desc")
    assert desc is not None and "6 subscribers on 30 Nov 2026: +4 in the last 90 days" in (
        desc.text or ""
    )
    circles = svg.findall(f".//{SVG}circle")
    assert len(circles) == 90  # a point per day
    assert "30 Nov 2026: 6 subscribers (+2)" in circles[-1].findtext(f"{SVG}title", "")
    line = svg.find(f".//{SVG}polyline")
    assert line is not None
    points = line.get("points", "").split()
    assert len(points) == 90
    ys = [float(p.split(",")[1]) for p in points]
    assert ys == sorted(ys, reverse=True)  # the total never falls here: y only goes up the page
    # The same figures as a table, for screen readers and for copying.
    assert re.search(r"Mon 30 Nov 2026</time></td><td>2</td><td>6</td>", text)
    assert f'href="/admin/articles/{_article_id(engine, "budget")}"' in text
    assert "Budget &lt;b&gt;day&lt;/b&gt;" in text  # escaped, never markup
    assert "&lt;script&gt;" in text and "<script>x" not in text
    assert 'href="/admin/reports"' in text
    assert "Briefing 2026-11-29" in text
    assert 'href="/admin/subscribers?status=confirmed"' in text  # an admin's links
    assert 'hx-get="/admin/live"' in text and 'hx-trigger="every 10s"' in text
    assert "style=" not in text and "<script>" not in text.replace(
        '<script src="/static/htmx.min.js" defer></script>', ""
    )
    assert rows["first"]


def _article_id(engine: Engine, slug: str) -> int:
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug).article.id or 0


def test_an_editor_sees_the_counts_but_no_subscriber_pages(
    engine: Engine, settings: Settings
) -> None:
    newsroom_rows(engine, settings)
    add_person(engine, settings, "ed@example.com", "editor")
    client = _client(engine, settings)
    sign_in(client, "ed@example.com")
    page = client.get("/admin/")
    assert page.status_code == 200
    assert "/admin/subscribers" not in page.text
    assert "confirmed" in page.text


def test_no_session_no_dashboard(engine: Engine, settings: Settings) -> None:
    client = _client(engine, settings)
    for path in ("/admin/", "/admin/live"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/admin/login?next=")


def test_the_live_figures_stop_polling_once_the_session_ends(
    engine: Engine, settings: Settings
) -> None:
    newsroom_rows(engine, settings)
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings)
    sign_in(client, "ed@example.com")
    live = client.get("/admin/live", headers={"HX-Request": "true"})
    assert live.status_code == 200
    assert 'hx-trigger="every 10s"' in live.text and "deliveries in the queue" in live.text
    assert re.search(r'class="figure">4</span> deliveries in the queue', live.text)
    client.cookies.clear()
    gone = client.get("/admin/live", headers={"HX-Request": "true"}, follow_redirects=False)
    # htmx stops polling on 286 and swaps the note in: no sign-in page inside the dashboard.
    assert gone.status_code == 286
    assert "session has ended" in gone.text and "hx-trigger" not in gone.text
    assert "deliveries in the queue" not in gone.text


def _mail_client(
    engine: Engine, tmp_path: Path, database_url: str, status: Callable[[], str] | None
) -> TestClient:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL="smtp://127.0.0.1:2525"
    )
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings, mail_status=status)
    sign_in(client, "ed@example.com")
    return client


def test_the_mail_server_as_the_daemon_sees_it(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    state = ["ok"]
    client = _mail_client(engine, tmp_path, database_url, lambda: state[0])
    assert "accepting mail" in client.get("/admin/").text
    state[0] = "unavailable since 2026-11-30T11:00:00+00:00"
    live = client.get("/admin/live", headers={"HX-Request": "true"}).text
    assert "badge bad" in live and "unavailable" in live
    assert "30 Nov 2026, 19:00 +08" in live  # since when, in the site's time zone


def test_the_mail_server_unknown_where_no_mail_is_sent(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    client = _mail_client(engine, tmp_path, database_url, None)
    assert "not known here" in client.get("/admin/").text


def test_without_an_smtp_server_mail_goes_to_the_maildir(
    engine: Engine, settings: Settings
) -> None:
    add_person(engine, settings, "ed@example.com")
    client = _client(engine, settings, mail_status=lambda: "ok")
    sign_in(client, "ed@example.com")
    assert "Maildir" in client.get("/admin/").text


def test_the_chart_fits_any_figures() -> None:
    first = date(2026, 9, 2)
    days = [dashboard.Day(first + timedelta(days=i), 100, 990_000 + 100 * i) for i in range(90)]
    chart = growth_chart(days)
    assert len(chart.points) == 90
    assert all(TOP <= p.y <= chart.baseline for p in chart.points)
    labels = [t.label for t in chart.y_ticks]
    assert labels == ["0.985M", "0.990M", "0.995M", "1.000M", "1.005M"]
    assert "998,900 subscribers on 30 Nov 2026: +9,000 in the last 90 days" in chart.summary
    assert growth_chart([]).points == []


def test_a_finished_editions_counts_are_counted_once(engine: Engine, settings: Settings) -> None:
    rows = newsroom_rows(engine, settings)
    timetable = load_timetable(settings.schedules)
    with store.writing(engine) as session:
        store.set_edition_status(session, rows["first"], "sent")
    known: dashboard.Counted = {}

    def first() -> dashboard.EditionFigures:
        board = dashboard.dashboard(engine, settings, timetable, now=NOW, known=known)
        return next(e for e in board.editions if e.id == rows["first"])

    assert (first().sent, first().failed) == (1, 1)
    assert list(known) == [(rows["first"], "sent")]  # the second edition is still sending
    set_delivery(engine, rows["first"], rows["october"], "sent")
    assert first().sent == 1  # kept: a sent edition's deliveries are done
    with store.writing(engine) as session:  # sent again, to people confirmed since
        store.set_edition_status(session, rows["first"], "sending")
    assert (first().sent, first().failed) == (2, 0)
    assert list(known) == []


def test_next_sends_follow_the_timetable_the_daemon_reloaded(
    engine: Engine, settings: Settings
) -> None:
    """Issue 25: after a SIGHUP with a new cron, /healthz showed the new time and the
    dashboard the old one until a restart: both read the daemon's timetable now."""
    in_force = [parse_timetable('timezone: UTC\ndigests:\n  daily:\n    cron: "0 7 * * *"\n')]
    client = _client(engine, settings, timetable=lambda: in_force[0])
    add_person(engine, settings, "chief@example.com", "admin")
    sign_in(client, "chief@example.com")
    assert '<time datetime="2026-12-01T07:00:00+00:00">' in client.get("/admin/").text
    in_force[0] = parse_timetable('timezone: UTC\ndigests:\n  daily:\n    cron: "30 18 * * *"\n')
    page = client.get("/admin/").text
    assert '<time datetime="2026-11-30T18:30:00+00:00">' in page
    assert "2026-12-01T07:00:00" not in page


def test_complaint_and_bounce_rates_against_the_bulk_sender_limits(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """Issue 28: an edition whose complaints pass 0.3% of what it sent is flagged; a bounce
    mailbox that keeps failing is shown."""
    rows = newsroom_rows(engine, settings)
    with store.reading(engine) as session:
        delivery = session.execute(
            select(store.deliveries_t).where(
                store.deliveries_t.c.edition_id == rows["first"],
                store.deliveries_t.c.subscriber_id == rows["today"],
            )
        ).one()
    target = Target(delivery.email, rows["today"], rows["first"], delivery.id)
    complaint = Finding("complaint", delivery.email, "complaint (abuse)")
    bounces.apply_finding(engine, settings, target, complaint, key="t", source="ses", now=NOW)
    board = dashboard.dashboard(engine, settings, load_timetable(settings.schedules), now=NOW)
    first = next(e for e in board.editions if e.id == rows["first"])
    assert (first.sent, first.complained, first.complaint_rate) == (1, 1, 1.0)
    assert first.warnings == ["complaints 100.00%: over the 0.3% bulk-sender limit"]
    assert not next(e for e in board.editions if e.id == rows["second"]).warnings
    # A mailbox nothing answers at: down after three polls, on the dashboard.
    down = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=settings.database_url,
        PUBLISHER_BOUNCE_MAILBOX_URL=f"imap://bounces:pw@127.0.0.1:{free_port()}",
    )
    for n in range(3):
        mailbox.poll_mailbox(engine, down, now=NOW + timedelta(hours=n))
    add_person(engine, down, "chief@example.com", "admin")
    client = _client(engine, down)
    sign_in(client, "chief@example.com")
    page = client.get("/admin/").text
    assert 'id="sender-limits"' in page and "over the 0.3% bulk-sender limit" in page
    assert 'id="mailbox-down"' in page and "cannot reach the mailbox" in page
