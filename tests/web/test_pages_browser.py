"""Pages and feeds as a reader sees them in Chromium, on a phone and on a desktop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import DESKTOP, PHONE, LiveServer, screenshot, widest
from tests.smtp import SmtpServer
from tests.stories import context, stories
from tests.support import EXAMPLES, NOW, make_settings


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_index_and_article_fit_the_screen(
    browser: Any, site: LiveServer, viewport: dict[str, int]
) -> None:
    page = browser.new_page(viewport=viewport)
    page.goto(site.url + "/")
    assert page.locator("h2 a").first.inner_text() == "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤"
    assert widest(page) <= viewport["width"]
    screenshot(page, f"index-{viewport['width']}")
    page.get_by_role("link", name="Second Link bridge lane closures moved to the weekend").click()
    assert (
        page.locator("h1").inner_text() == "Second Link bridge lane closures moved to the weekend"
    )
    assert "They start at 11 pm" in page.locator(".corrections").inner_text()
    assert page.get_by_role("link", name="Spot an error? Report it here").is_visible()
    assert widest(page) <= viewport["width"]
    screenshot(page, f"article-{viewport['width']}")
    page.close()


@pytest.mark.parametrize("path", ["/feed.xml", "/atom.xml"])
def test_a_feed_opened_in_the_browser_reads_as_a_page(
    browser: Any, site: LiveServer, path: str
) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(site.url + path)
    page.wait_for_selector("li.story")
    assert "This is a web feed." in page.inner_text("body")
    titles = page.locator("li.story h2").all_inner_texts()
    assert "Durian exporters switch to rail as the new freight corridor opens" in titles
    assert widest(page) <= PHONE["width"]
    screenshot(page, f"feed-{path.strip('/').replace('.', '-')}")
    page.close()


WIDEST_ELEMENT = """() => Math.max(...Array.from(document.querySelectorAll('body *'))
    .filter(e => e.getClientRects().length)
    .map(e => e.getBoundingClientRect().right))"""


@pytest.mark.parametrize("width", [390, 1024])
def test_the_digest_fits_a_phone_and_a_desktop(browser: Any, tmp_path: Path, width: int) -> None:
    from publisher.editions.compose import greeting, render_edition
    from publisher.templating import Personaliser, make_environment

    rendered = render_edition(make_environment(), context(), stories(12))
    values = {
        "greeting": greeting("Aisyah"),
        "unsubscribe": "https://news.example.com/u/T",
        "preferences": "https://news.example.com/p/T",
    }
    html = Personaliser(rendered.html, escape_html=True).fill(values).decode()
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_content(html)
    assert page.locator(".story-title").count() == 12
    assert widest(page) <= width
    assert page.evaluate(WIDEST_ELEMENT) <= width
    screenshot(page, f"digest-{width}")
    dark = browser.new_page(viewport={"width": width, "height": 900}, color_scheme="dark")
    dark.set_content(html)
    background = dark.evaluate(
        "getComputedStyle(document.querySelector('.container')).backgroundColor"
    )
    assert background == "rgb(24, 28, 32)"
    screenshot(dark, f"digest-{width}-dark")
    page.close()
    dark.close()


def test_report_and_unsubscribe_pages_on_a_phone(browser: Any, site: LiveServer) -> None:
    page = browser.new_page(viewport=PHONE)
    page.goto(site.url + "/articles/durian-exports-rail")
    page.get_by_role("link", name="Spot an error? Report it here").click()
    page.get_by_label("What is wrong?").fill("The train carried 42 containers, not 24.")
    page.get_by_label("Your email (optional, if you would like an answer)").fill(
        "reader@example.com"
    )
    assert widest(page) <= PHONE["width"]
    screenshot(page, "report-390")
    page.get_by_role("button", name="Send to the editors").click()
    assert page.locator("h1").inner_text() == "Thank you"
    page.goto(site.url + "/unsubscribe/forged.token")
    assert "not valid" in page.inner_text("body")
    screenshot(page, "unsubscribe-forged-390")
    page.close()


def test_a_reader_joins_gets_the_digest_and_leaves(browser: Any, tmp_path: Path) -> None:
    """At 390x844: sign up on the index page, confirm from the mail aiosmtpd received, get the
    next digest, and unsubscribe from the link in it."""
    import re
    import threading
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from publisher.delivery import sending
    from publisher.editions import making
    from publisher.schedules import load_timetable
    from publisher.templating import make_environment

    smtp = SmtpServer()
    smtp.start()
    now = datetime.now(UTC)
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/j.db", PUBLISHER_SMTP_URL=smtp.url
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=now, actor="test")
    # The samples carry fixed dates, and the test runs on the real clock: the daily digest is
    # sent a minute after its last timetabled time (within its catch-up window at any hour),
    # and the stories are dated an hour before that, inside a first edition's week.
    timetable = load_timetable(settings.schedules)
    send_at = making.current_nominal(timetable.digest("daily"), now) + timedelta(minutes=1)
    with store.writing(engine) as session:
        stories_at = send_at - timedelta(hours=1)
        session.execute(update(store.articles_t).values(published_at=stories_at))
    server = LiveServer(create_app(settings, engine, feed_upkeep_every=None, send_mail_now=True))
    page = browser.new_page(viewport=PHONE)
    try:
        page.goto(server.url + "/")
        page.get_by_label("Email").fill("reader@example.com")
        page.get_by_label("Name (optional)").fill("Priya")
        page.get_by_text("Only some topics? (optional)").click()
        page.get_by_label("Malaysia").check()
        screenshot(page, "join-390")
        assert widest(page) <= PHONE["width"]
        page.get_by_role("button", name="Join").click()
        assert page.locator("h1").inner_text() == "Check your inbox"
        [mail] = smtp.recorder.wait_for(1)  # queued, then sent apart from the answer
        text = mail.parsed().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https://news\.example\.com(/confirm/[\w.-]+)", text)
        assert link is not None
        page.goto(server.url + link.group(1))
        screenshot(page, "confirm-390")
        page.get_by_role("button", name="Yes, send me the newsletter").click()
        assert page.locator("h1").inner_text() == "Welcome to the community"
        page.get_by_role("link", name="choose your newsletters and topics").click()
        assert page.get_by_label("Malaysia").is_checked()  # chosen when joining
        page.get_by_label("Transport").check()
        screenshot(page, "preferences-390")
        assert widest(page) <= PHONE["width"]
        page.get_by_role("button", name="Save").click()
        assert page.get_by_role("status").inner_text() == "Saved."
        assert page.get_by_label("Malaysia").is_checked()
        assert page.get_by_label("Transport").is_checked()
        assert not page.get_by_label("Penang").is_checked()
        sending.prepare_send(
            engine, settings, timetable, make_environment(), timetable.digest("daily"), now=send_at
        )
        sending.Sender(engine, settings, clock=lambda: datetime.now(UTC)).run(
            threading.Event(), once=True
        )
        digest = smtp.recorder.received[-1].parsed()
        assert digest["To"] == "reader@example.com"
        html = digest.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert "Hi Priya," in html
        # Only the stories in Malaysia or Transport, the topics chosen above.
        assert "Durian exporters switch to rail" in html and "Penang culture forum" not in html
        unsubscribe = digest["List-Unsubscribe"].strip("<>").replace("https://news.example.com", "")
        page.goto(server.url + unsubscribe)
        screenshot(page, "unsubscribe-390")
        page.get_by_role("button", name="Unsubscribe").click()
        assert page.locator("h1").inner_text() == "You are unsubscribed"
        assert widest(page) <= PHONE["width"]
        with store.reading(engine) as session:
            row = store.subscriber_by_email(session, "reader@example.com")
        assert row is not None and row.status == "unsubscribed"
    finally:
        page.close()
        server.stop()
        smtp.stop()
        engine.dispose()


@pytest.mark.slow
def test_swagger_ui_runs_under_its_policy_in_a_browser(browser: Any, tmp_path: Path) -> None:
    # Served from /static with a CSP allowing only the site's own script: the page must still
    # work in a real browser (no inline script, nothing from a CDN).
    url = f"sqlite:///{tmp_path}/docs.db"
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=url, PUBLISHER_API_TOKEN="t" * 20)
    engine = store.make_engine(url)
    store.migrate(engine)
    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    page = browser.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(server.url) else elsewhere.append(r.url))
    try:
        page.goto(f"{server.url}/docs")
        page.wait_for_selector(".opblock", timeout=20_000)
        shown = page.inner_text("body")
        screenshot(page, "api-docs")
    finally:
        page.close()
        server.stop()
        engine.dispose()
    assert "/api/subscribers/import" in shown
    assert refused == [] and elsewhere == []


@pytest.mark.slow
def test_your_subscription_sends_a_one_time_link(browser: Any, tmp_path: Path) -> None:
    """Issue 17 at 390x844: a member asks on /subscription, gets the link by mail (aiosmtpd),
    opens their preferences with it once; a stranger gets the same answer and no mail."""
    import re

    from publisher.community import subscriptions

    smtp = SmtpServer()
    smtp.start()
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/s.db", PUBLISHER_SMTP_URL=smtp.url
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    subscriptions.add_subscriber(
        engine, "member@example.com", confirmed=True, digests=[], known_digests=["daily"], now=NOW
    )
    server = LiveServer(create_app(settings, engine, feed_upkeep_every=None, send_mail_now=True))
    page = browser.new_page(viewport=PHONE)
    try:
        answers = []
        for address in ("stranger@example.com", "member@example.com"):
            page.goto(server.url + "/subscription")
            page.get_by_label("Email").fill(address)
            assert widest(page) <= PHONE["width"]
            page.get_by_role("button", name="Mail me a link").click()
            answers.append(page.get_by_role("status").inner_text().replace(address, "@"))
        screenshot(page, "subscription-390")
        assert answers[0] == answers[1] and "works once, for one hour" in answers[0]
        [mail] = smtp.recorder.wait_for(1)  # the member's; none for the stranger
        assert mail.recipient == "member@example.com"
        text = mail.parsed().get_body(("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https://news\.example\.com(/subscription/[\w.-]+)", text)
        assert link is not None
        page.goto(server.url + link.group(1))
        page.get_by_role("button", name="Open my subscription").click()
        assert page.locator("h1").inner_text() == "Your newsletters"
        assert "member@example.com" in page.inner_text("body")
        assert widest(page) <= PHONE["width"]
        page.goto(server.url + link.group(1))  # the second time
        assert "used already" in page.inner_text("body")
        screenshot(page, "subscription-used-390")
        assert len(smtp.recorder.received) == 1
    finally:
        page.close()
        server.stop()
        smtp.stop()
        engine.dispose()
