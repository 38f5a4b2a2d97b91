from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.application import DaemonHooks
from tests.browser import LiveServer
from tests.pictures import keep_addresses
from tests.support import EXAMPLES, NOW, SECRET, make_settings


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def test_index_lists_the_visible_articles(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Durian exporters switch to rail" in page.text
    assert "부산 국제 영화제" in page.text
    assert 'href="/articles/durian-exports-rail"' in page.text
    assert "Sponsored" in page.text


def test_article_page_shows_provenance_and_corrections(client: TestClient) -> None:
    page = client.get("/articles/second-link-lane-closures")
    assert page.status_code == 200
    assert "Corrections" in page.text and "They start at" in page.text
    assert "Spot an error? Report it here" in page.text
    ai = client.get("/articles/durian-exports-rail").text
    assert "adapted from source material with the help of AI tools" in ai
    assert "Selected and edited by Daniel Tan" in ai


def test_the_newest_story_leads_the_index_with_its_image_sized_and_described(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    import json

    from lxml import html

    story = tmp_path / "new.jsonl"
    story.write_text(
        json.dumps(
            {
                "title": "Ferry timetable <changes> on Friday",
                "published_at": NOW.isoformat(),
                "image": "https://images.example.org/ferry.jpg",
            }
        )
    )
    publish.import_articles(engine, settings, [EXAMPLES, story], now=NOW, actor="test")
    keep_addresses(engine, settings, alt="A ferry at the pier")  # the daemon's part (issue 26)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    tree = html.fromstring(client.get("/").text)
    [lead, *rest] = tree.cssselect("li.story")
    assert "lead-story" in lead.classes and not any("lead-story" in li.classes for li in rest)
    [image] = lead.cssselect(".story-image img")
    assert image.get("alt") == "A ferry at the pier"  # the picture's own alt text
    assert int(image.get("width")) > 0 and int(image.get("height")) > 0  # the page won't jump
    assert not tree.cssselect("li.story:not(.lead-story) img")  # the rest as before
    page = client.get("/articles/ferry-timetable-changes-on-friday")
    [image] = html.fromstring(page.text).cssselect(".story-image img")
    assert image.get("alt") == "A ferry at the pier"
    assert '<script src="/static/images.js" defer></script>' in page.text
    assert client.get("/static/images.js").status_code == 200


def test_a_members_browser_gets_story_pages_without_the_join_form(client: TestClient) -> None:
    story = client.get("/articles/durian-exports-rail")
    assert 'action="/subscribe"' in story.text and "Join The Community" in story.text
    assert story.headers["vary"] == "Cookie"
    assert story.text.index('class="provenance"') < story.text.index('class="brand-studio"')
    assert story.text.index('class="brand-studio"') < story.text.index('action="/subscribe"')
    client.cookies.set("member", "1")
    member = client.get("/articles/durian-exports-rail")
    assert 'action="/subscribe"' not in member.text and 'class="brand-studio"' in member.text


def test_unknown_article_is_a_404_page(client: TestClient) -> None:
    page = client.get("/articles/no-such-story")
    assert page.status_code == 404
    assert "no article with slug" in page.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow  # `publisher run` as a process
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_publisher_run_demo_serves_the_samples(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert page.status_code == 200
        assert "Penang culture forum" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["database"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "loaded 6 sample articles" in output


def test_feeds_are_served_with_validators_and_types(client: TestClient) -> None:
    for path, media_type in [
        ("/feed.xml", "application/rss+xml; charset=utf-8"),
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/feed.json", "application/feed+json; charset=utf-8"),
        ("/categories/trade/feed.xml", "application/rss+xml; charset=utf-8"),
    ]:
        response = client.get(path, headers={"Accept-Encoding": "identity"})
        assert response.status_code == 200, path
        assert response.headers["content-type"] == media_type
        assert response.headers["etag"].startswith('"')
        assert response.headers["cache-control"] == "public, max-age=300"
        assert "content-encoding" not in response.headers
    assert client.get("/feed.xml").headers["last-modified"] == "Sun, 29 Nov 2026 10:30:00 GMT"


def test_conditional_requests_get_304(client: TestClient) -> None:
    first = client.get("/atom.xml")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    by_etag = client.get("/atom.xml", headers={"If-None-Match": f'"other", {etag}'})
    assert by_etag.status_code == 304 and by_etag.content == b""
    assert by_etag.headers["etag"] == etag
    by_date = client.get("/atom.xml", headers={"If-Modified-Since": modified})
    assert by_date.status_code == 304
    older = client.get("/atom.xml", headers={"If-Modified-Since": "Sat, 28 Nov 2026 00:00:00 GMT"})
    assert older.status_code == 200
    stale_etag = client.get(
        "/atom.xml", headers={"If-None-Match": '"stale"', "If-Modified-Since": modified}
    )
    assert stale_etag.status_code == 200  # If-None-Match wins (RFC 9110 13.2.2)


def test_gzip_is_served_when_asked(client: TestClient) -> None:
    import gzip

    plain = client.get("/feed.json", headers={"Accept-Encoding": "identity"}).content
    raw = client.get("/feed.json", headers={"Accept-Encoding": "gzip"}, extensions={})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == plain  # httpx decodes; the bytes on the wire were gzip
    stream = client.stream("GET", "/feed.json", headers={"Accept-Encoding": "gzip"})
    with stream as response:
        wire = b"".join(response.iter_raw())
    assert gzip.decompress(wire) == plain
    refused = client.get("/feed.json", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


def test_gzip_and_identity_feeds_have_their_own_etags(client: TestClient) -> None:
    """RFC 9110 8.8.3: a strong ETag names one representation, so the gzip bytes need a tag
    of their own; a 304 names the representation the client's cache holds."""
    plain = client.get("/feed.xml", headers={"Accept-Encoding": "identity"})
    zipped = client.get("/feed.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["etag"] != zipped.headers["etag"]
    for held, accept in [(plain, "identity"), (zipped, "gzip"), (plain, "gzip"), (zipped, "br")]:
        again = client.get(
            "/feed.xml",
            headers={"Accept-Encoding": accept, "If-None-Match": held.headers["etag"]},
        )
        assert again.status_code == 304, (held.headers["etag"], accept)
        assert again.headers["etag"] == held.headers["etag"]
    both = f"{plain.headers['etag']}, {zipped.headers['etag']}"
    chosen = client.get("/feed.xml", headers={"Accept-Encoding": "gzip", "If-None-Match": both})
    assert chosen.status_code == 304 and chosen.headers["etag"] == zipped.headers["etag"]
    weak = client.get("/feed.xml", headers={"If-None-Match": f"W/{zipped.headers['etag']}"})
    assert weak.status_code == 304  # If-None-Match compares weakly (RFC 9110 13.1.2)
    other = client.get("/feed.json", headers={"If-None-Match": zipped.headers["etag"]})
    assert other.status_code == 200


def test_unknown_category_and_feed_name_are_404(client: TestClient) -> None:
    assert client.get("/categories/no-such-thing/feed.xml").status_code == 404
    assert client.get("/categories/trade/feed.rdf").status_code == 404


def test_browsers_get_a_readable_feed(client: TestClient) -> None:
    browser = client.get("/feed.xml", headers={"Accept": "text/html,application/xml;q=0.9"})
    assert browser.headers["content-type"] == "text/xml; charset=utf-8"
    assert b'<?xml-stylesheet type="text/xsl" href="/feed.xsl"?>' in browser.content
    xsl = client.get("/feed.xsl")
    assert xsl.status_code == 200 and b"xsl:stylesheet" in xsl.content


@pytest.mark.parametrize("path", ["/feed.xml", "/atom.xml", "/categories/trade/feed.xml"])
def test_a_browser_opening_a_feed_gets_a_page(client: TestClient, path: str) -> None:
    """Browsers are dropping XSLT: a navigation gets the page feed.xsl makes, done here."""
    navigate = {"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document", "Accept": "text/html"}
    page = client.get(path, headers=navigate)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text.startswith("<!DOCTYPE html>") and "This is a web feed." in page.text
    assert "Durian exporters switch to rail" in page.text and "<script" not in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no inline script
    assert "Sec-Fetch-Mode" in page.headers["vary"]
    again = client.get(path, headers={**navigate, "If-None-Match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert len(page.headers.get_list("content-security-policy")) == 1
    # The feed's 304 adds no policy to the stored feed, whose XSLT view would then be blocked.
    stored = client.get(path, headers={"If-None-Match": client.get(path).headers["etag"]})
    assert stored.status_code == 304 and "content-security-policy" not in stored.headers
    # A feed reader, or a script fetching it, still gets the feed itself, with its own ETag.
    reader = client.get(path)
    assert reader.headers["content-type"].startswith("application/")
    assert (
        reader.headers["etag"] != page.headers["etag"]
        and "Sec-Fetch-Mode" in reader.headers["vary"]
    )
    fetched = client.get(path, headers={"Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"})
    assert fetched.content == reader.content


def test_pages_advertise_the_feeds(client: TestClient) -> None:
    index = client.get("/").text
    assert '<link rel="alternate" type="application/rss+xml"' in index
    assert 'href="https://news.example.com/atom.xml"' in index
    assert 'href="https://news.example.com/feed.json"' in index
    article = client.get("/articles/durian-exports-rail").text
    assert 'href="https://news.example.com/categories/trade/feed.xml"' in article


def test_hub_is_advertised_in_the_link_header(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_WEBSUB_HUB="https://hub.example.com/",
    )
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    response = TestClient(app).get("/feed.xml")
    assert response.headers["link"] == (
        '<https://hub.example.com/>; rel="hub", <https://news.example.com/feed.xml>; rel="self"'
    )


def test_metrics_report_the_queue_editions_and_this_process(
    engine: Engine, settings: Settings
) -> None:
    from publisher.community import subscriptions
    from publisher.delivery import sending
    from publisher.editions import making
    from publisher.schedules import load_timetable
    from publisher.templating import make_environment

    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    subscriptions.add_subscriber(
        engine, "a@example.com", confirmed=True, digests=["daily"], known_digests=["daily"], now=NOW
    )
    timetable = load_timetable(settings.schedules)
    edition, _ = making.ensure_edition(
        engine,
        settings,
        timetable,
        make_environment(),
        timetable.digest("daily"),
        nominal=NOW,
        now=NOW,
    )
    sending.start(engine, edition, now=NOW)
    app = create_app(
        settings,
        engine,
        clock=lambda: NOW,
        feed_upkeep_every=None,
        daemon=DaemonHooks(counters=lambda: {"messages_sent": 7}),
    )
    client = TestClient(app)
    client.get("/feed.xml")
    text = client.get("/metrics").text
    assert 'newsflash_deliveries{status="pending"} 1.0' in text
    assert "newsflash_queue_depth 1.0" in text
    assert 'newsflash_editions{status="sending"} 1.0' in text
    assert 'newsflash_process_events_total{event="messages_sent"} 7.0' in text
    assert 'newsflash_process_events_total{event="feed_builds"} 1.0' in text


def test_metrics_can_ask_for_a_bearer_token(
    engine: Engine, tmp_path: Path, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 24: /metrics shows per-edition recipient counts to whoever reaches it. With
    PUBLISHER_METRICS_TOKEN set, only the token opens it, and the token is never logged."""
    token = "metrics-token-0123456789abcdef"
    open_app = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    assert TestClient(create_app(open_app, engine)).get("/metrics").status_code == 200
    guarded = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_METRICS_TOKEN=token
    )
    client = TestClient(create_app(guarded, engine, feed_upkeep_every=None))
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
        refused = client.get("/metrics", headers=headers)
        assert refused.status_code == 401 and "newsflash_" not in refused.text
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200 and "newsflash_queue_depth" in answer.text
    assert client.get("/healthz").status_code == 200  # a load balancer's probe needs none
    assert token not in caplog.text


def test_a_client_that_hangs_up_mid_form_is_no_server_error(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO)
    server = LiveServer(create_app(settings, engine, feed_upkeep_every=None))
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as raw:
            raw.sendall(
                b"POST /subscribe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n"
                b"Content-Length: 1000\r\n\r\nemail=half"
            )
        deadline = time.monotonic() + 10
        while not any("disconnected" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.05)
        assert not any("Exception in ASGI application" in r.getMessage() for r in caplog.records)
    finally:
        server.stop()
