"""The inbox in Chromium at 390 and 1280 px, against a real server and a real feed on
loopback: an editor opens a press release from the inbox, adapts it, ticks AI-assisted and
publishes it under their name; it is on the site, in the three feeds and in the next
digest, each time with its source and the AI disclosure. No CSP message on the way."""

from __future__ import annotations

import shutil
import struct
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from publisher import store
from publisher.articles import publish
from publisher.editions import making
from publisher.sources import polling
from publisher.templating import make_environment
from publisher.web import create_app
from tests.browser import (
    ARTIFACTS,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    LiveServer,
    free_port,
    screenshot,
    widest,
)
from tests.newsroom import PASSWORD, add_person
from tests.press import PRESS, RELEASES, FeedServer, rss, timetable
from tests.support import EXAMPLES, NOW, make_settings, wait_for

EDITOR = "desk@example.com"
DISCLOSURE = "adapted from source material with the help of AI tools"


def _png(width: int = 160, height: int = 120) -> bytes:
    """A small solid PNG: the press site's image, answered by the browser's router (the
    test machine has no way out to press.example.org)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x2a\x6f\xb5" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _shot(page: Any, name: str, width: int) -> None:
    (ARTIFACTS / "admin").mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, f"admin/{name}-{width}")
    assert widest(page) <= width, f"{name} is wider than {width} px"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / f"admin-{name}-{width}.png")  # the README shows these


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_an_editor_publishes_an_inbox_item_with_the_ai_mark(
    browser: Any, tmp_path: Path, viewport: dict[str, int]
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db", PUBLISHER_SITE_URL=base
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    add_person(engine, settings, EDITOR)
    feeds = FeedServer()
    feeds.feeds["press"] = rss("Press", RELEASES)
    feeds.fail["cms"] = 503  # a second source that keeps failing: paused after 10 polls
    table = timetable(tmp_path, feeds, cms="cms")
    for n in range(10):
        polling.poll_now(engine, settings, table, now=NOW - timedelta(minutes=10 - n))
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None, timetable=table)
    server = LiveServer(app, port)
    page = browser.new_page(viewport=viewport)
    said: list[str] = []
    page.on("console", lambda message: said.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: said.append(f"pageerror: {error}"))
    image = _png()
    page.route(
        "https://press.example.org/**",
        lambda route: route.fulfill(status=200, content_type="image/png", body=image),
    )
    width = viewport["width"]
    try:
        page.goto(base + "/admin/inbox")
        page.get_by_label("Email address").fill(EDITOR)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(base + "/admin/inbox")
        assert page.locator("#inbox-count").text_content() == "2 new"
        card = page.locator("li.inbox-item").filter(has_text="Hallyu exhibition")
        assert PRESS in card.inner_text()
        card.locator("img.thumb").wait_for()
        assert card.locator("img.thumb").evaluate("img => img.naturalWidth") == 160
        paused = page.locator(".paused-source")
        assert "cms is paused after 10 failures" in paused.inner_text()
        assert "503" in paused.inner_text()
        _shot(page, "inbox", width)

        # The material as it came in (sanitised: the feed's script is gone).
        card.get_by_role("link", name="Hallyu exhibition opens in Singapore").click()
        page.locator("#item-status").filter(has_text="new").wait_for()
        assert "until March" in page.locator(".article-preview").inner_text()
        assert page.locator(".article-preview script").count() == 0
        _shot(page, "inbox-item", width)
        page.get_by_role("link", name="Open in the article form").click()
        page.locator("#from-item").wait_for()
        assert page.get_by_label("Title").input_value() == "Hallyu exhibition opens in Singapore"
        assert page.get_by_label("Source name").input_value() == PRESS
        page.get_by_label("Title").fill("Hallyu comes to the National Museum")
        page.get_by_label("Editor").fill("Min-ji Park")
        page.get_by_label("AI-assisted").check()
        # The press picture's host is not reachable from the site under test (the browser's
        # router answers for it, not the server's fetch): the editor leaves it out.
        page.get_by_label("Or the address of a picture").fill("")
        _shot(page, "inbox-article-form", width)
        # Enter on the focused button: a mouse click on it right after the full-page
        # screenshot sent nothing in this test (seen after the merge with the picture box).
        page.get_by_role("button", name="Publish", exact=True).focus()
        page.keyboard.press("Enter")
        page.locator("#article-status").filter(has_text="published").wait_for()
        assert PRESS in page.locator("#article-origin").inner_text()
        assert page.locator("#inbox-count").count() == 1  # one item left
        _shot(page, "inbox-article", width)

        # The paused source, on the dashboard and the sources page; resumed from there.
        page.goto(base + "/admin/")
        assert "paused" in page.locator("section[aria-labelledby=sources-heading]").inner_text()
        page.goto(base + "/admin/sources")
        _shot(page, "sources", width)
        feeds.fail.clear()
        page.get_by_role("button", name="Resume cms").click()
        page.get_by_role("status").filter(has_text="Resumed").wait_for()
        assert page.locator("#source-cms .badge").inner_text() in ("ok", "new", "failing (1)")
        assert page.locator("#source-cms button").count() == 0

        # On the site: the story page with its source and the AI disclosure.
        page.goto(base + "/articles/hallyu-comes-to-the-national-museum")
        story = page.locator("body").inner_text()
        assert f"Source: {PRESS}" in story and DISCLOSURE in story
        # In the three feeds: RSS and Atom read by a real feed parser, JSON Feed as JSON.
        for path in ("/feed.xml", "/atom.xml"):
            wait_for(lambda p=path: "Hallyu comes" in httpx.get(base + p).text, path)
            parsed = feedparser.parse(httpx.get(base + path).content)
            entry = next(e for e in parsed.entries if e.title.startswith("Hallyu comes"))
            content = entry.get("content", [{}])[0].get("value", "") or entry.get("summary", "")
            assert PRESS in content and DISCLOSURE in content, path
        wait_for(lambda: "Hallyu comes" in httpx.get(base + "/feed.json").text, "JSON Feed")
        items = httpx.get(base + "/feed.json").json()["items"]
        item = next(i for i in items if i["title"].startswith("Hallyu comes"))
        assert PRESS in item["content_html"] and DISCLOSURE in item["content_html"]
        assert item["_newsflash"]["ai_assisted"] is True
        # In the next digest, with its source and the disclosure.
        rendered = making.preview(
            engine,
            settings,
            table,
            make_environment(zone=settings.zone),
            table.digests["daily"],
            now=NOW,
        )
        assert "Hallyu comes to the National Museum" in rendered.html
        assert f"Source: {PRESS}" in rendered.text.replace("\n", " ")
        assert DISCLOSURE in rendered.html and PRESS in rendered.html
        assert not [line for line in said if "Content Security Policy" in line], said
    finally:
        page.close()
        server.stop()
        feeds.stop()
        engine.dispose()
