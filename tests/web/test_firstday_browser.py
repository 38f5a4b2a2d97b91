"""The first day on a fresh site (issue 25), in a real browser against real `publisher run`
processes on a port other than 8000, without PUBLISHER_SITE_URL: the first admin from the
printed link, an article, a reader's sign-up confirmed from the mail's link, a missed edition
sent by hand, and the dashboard after a SIGHUP with a new cron."""

from __future__ import annotations

import re
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from publisher import store
from tests.browser import DESKTOP, free_port, watched
from tests.mailing import ran_before
from tests.newsroom import PASSWORD
from tests.processes import daemon_env, start_daemon, stop_daemons
from tests.smtp import SmtpServer
from tests.support import wait_for

ADMIN = "chief@example.com"
READER = "ann@example.com"


def schedules_text(send: datetime) -> str:
    """A daily digest, sent at ``send``'s time of day (UTC), caught up for an hour."""
    return (
        f'timezone: UTC\ndigests:\n  daily:\n    cron: "{send.minute} {send.hour} * * *"\n'
        "    catch_up: 1h\n"
    )


def printed(proc: subprocess.Popen[str]) -> list[str]:
    """What a starting daemon printed, up to its first-admin link (the last line)."""
    assert proc.stdout is not None
    lines = []
    for line in iter(proc.stdout.readline, ""):
        lines.append(line.strip())
        if "/admin/welcome/" in line:
            return lines
    raise AssertionError(f"no first-admin link in the daemon's output: {lines}")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_first_day_on_a_fresh_site(browser: Any, tmp_path: Path, database_url: str) -> None:
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    assert port != 8000
    site = f"http://127.0.0.1:{port}"
    send = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(schedules_text(send))
    env = daemon_env(tmp_path, database_url, smtp, schedules, port)
    del env["PUBLISHER_SITE_URL"]  # a fresh clone sets nothing
    page, said = watched(browser, DESKTOP)
    missing: list[str] = []  # the favicon is the reader-site helper's (issue 25, item 17)
    page.on("response", lambda r: missing.extend([r.url] if r.status == 404 else []))
    proc = start_daemon(env, port, tmp_path)
    start = printed(proc)
    try:
        _first_admin(page, start[-1], site)
        _an_article(page, site)
        _a_reader(page, site, smtp)
    finally:
        [rest] = stop_daemons(proc)
    first_day = "\n".join(start) + rest
    # A site that never ran missed nothing: no orange badge before anyone did anything.
    assert "daily: first start, the timetable begins now" in first_day
    assert f"site URL {site} (where this daemon listens" in first_day
    # Days later: the site has sent editions (one a week ago), and the machine was off over
    # today's send time, more than the hour it may still catch up.
    engine = store.make_engine(database_url)
    ran_before(engine, "daily", send)
    proc = start_daemon(env, port, tmp_path)
    try:
        _missed_sent_by_hand(page, site, smtp, engine)
        _reloaded(page, site, proc, schedules, send)
    finally:
        page.close()
        stop_daemons(proc)
        smtp.stop()
        engine.dispose()
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []
    assert not [line for line in said if line.startswith("pageerror")], said


def _first_admin(page: Any, link: str, site: str) -> None:
    assert link.startswith(f"{site}/admin/welcome/")
    page.goto(site + "/admin/")
    assert page.locator("#first-admin-note").is_visible()  # says where the link is
    page.goto(link)
    page.get_by_label("Your email address").fill(ADMIN)
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set the password and sign in").click()
    page.wait_for_selector("h1:text('Dashboard')")
    assert page.locator("#editions-heading").is_visible()
    assert page.locator("table.editions .badge.warn").count() == 0  # nothing missed


def _an_article(page: Any, site: str) -> None:
    page.goto(site + "/admin/articles")
    page.get_by_role("link", name="Write an article").click()
    page.get_by_label("Title").fill("Night market reopens")
    page.get_by_label("Summary").fill("Stalls are back on Jalan Alor.")
    page.get_by_label("Body (Markdown)").fill("The market reopens with **120 stalls**.")
    page.get_by_label("Categories").fill("Food")
    page.get_by_label("Editor").fill("Daniel Tan")
    page.get_by_role("button", name="Publish", exact=True).click()
    page.locator("#article-status").filter(has_text="published").wait_for()
    page.goto(site + "/articles/night-market-reopens")
    assert page.locator("h1").first.inner_text() == "Night market reopens"
    alternate = page.locator("link[rel=alternate]").first.get_attribute("href")
    assert alternate.startswith(site + "/"), alternate


def _a_reader(page: Any, site: str, smtp: SmtpServer) -> None:
    reader = page.context.browser.new_page(viewport=DESKTOP)
    reader.goto(site + "/subscribe")
    reader.get_by_label("Email").fill(READER)
    reader.get_by_role("button", name="Join").click()
    [mail] = smtp.recorder.wait_for(1)
    link = re.search(re.escape(site) + r"/confirm/[\w.-]+", mail.data.decode())
    assert link is not None, mail.data[:600]
    reader.goto(link[0])
    reader.get_by_role("button", name="Yes, send me the newsletter").click()
    assert reader.locator("h1").inner_text() == "Welcome to the community"
    reader.close()


def _missed_sent_by_hand(page: Any, site: str, smtp: SmtpServer, engine: Any) -> None:
    with store.reading(engine) as session:
        [missed] = store.edition_list(session, digest="daily", statuses=["missed"])
    page.goto(site + "/admin/")
    if page.get_by_role("heading", name="Sign in to the newsroom").count():
        page.get_by_label("Email address").fill(ADMIN)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("h1:text('Dashboard')")
    assert page.locator("table.editions .badge.warn").filter(has_text="missed").count() == 1
    page.goto(f"{site}/admin/editions/{missed.id}")
    assert page.get_by_role("heading", name="Missed: nothing was made or sent").is_visible()
    assert page.locator("iframe").count() == 0  # no empty frame
    page.get_by_role("button", name="Make this edition now").click()
    page.wait_for_selector("text=Made now, by hand")
    page.get_by_role("button", name=f"Send a test to me ({ADMIN})").click()
    page.wait_for_selector("text=The test is on its way.")
    test = smtp.recorder.wait_for(2)[-1]
    assert test.recipient == ADMIN and "[Test]" in test.parsed()["Subject"]
    page.get_by_role("button", name="Approve and send").click()
    assert "It goes to 1 reader of daily" in page.locator("#confirm-readers").inner_text()
    page.get_by_role("button", name="Send to 1 reader").click()
    page.wait_for_selector("text=Approved: sending has started.")
    edition = smtp.recorder.wait_for(3)[-1]
    assert edition.recipient == READER
    text = edition.parsed().get_body(("plain",))
    assert text is not None and "Night market reopens" in text.get_content()
    assert edition.parsed()["List-Unsubscribe"].startswith(f"<{site}/unsubscribe/")


def _reloaded(
    page: Any, site: str, proc: subprocess.Popen[str], schedules: Path, send: datetime
) -> None:
    later = send + timedelta(hours=5, minutes=30)
    schedules.write_text(schedules_text(later))
    proc.send_signal(signal.SIGHUP)
    cron = f"{later.minute} {later.hour} * * *"
    wait_for(
        lambda: httpx.get(site + "/healthz").json()["digests"]["daily"]["cron"] == cron,
        "the new cron in /healthz",
    )
    expected = httpx.get(site + "/healthz").json()["digests"]["daily"]["next_send"]
    page.goto(site + "/admin/")
    shown = page.locator("section[aria-labelledby=sends-heading] time").get_attribute("datetime")
    assert datetime.fromisoformat(shown) == datetime.fromisoformat(expected)
