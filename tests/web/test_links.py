"""No page or feed of the site points at a page that does not exist: a crawl of the site's own
links, from the index through every page and feed it reaches (issue 25: category labels and
the feeds' category domain led to /categories/..., a 404)."""

from __future__ import annotations

from collections import deque
from urllib.parse import urldefrag, urljoin, urlsplit

import feedparser
from fastapi.testclient import TestClient
from lxml import etree, html
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app
from tests.support import EXAMPLES, NOW

HTML_LINKS = (
    "//a/@href | //link/@href | //img/@src | //script/@src"
    " | //form[not(@method) or @method='get' or @method='GET']/@action"
)


def page_links(base: str, text: str) -> set[str]:
    tree = html.fromstring(text)
    return {urljoin(base, found) for found in tree.xpath(HTML_LINKS)}


def feed_links(base: str, body: bytes) -> set[str]:
    """What a feed reader would follow: feedparser's links, and any category domain or scheme."""
    parsed = feedparser.parse(body)
    found = {parsed.feed.get("link", "")} | {link.href for link in parsed.feed.get("links", [])}
    for entry in parsed.entries:
        found |= {entry.get("link", "")} | {link.href for link in entry.get("links", [])}
        found |= {tag.get("scheme") or "" for tag in entry.get("tags", [])}
        found |= {entry.get("image", "")} if isinstance(entry.get("image"), str) else set()
    if body.lstrip().startswith(b"<"):
        found |= set(etree.fromstring(body).xpath("//@domain | //@scheme"))
    return {urljoin(base, link) for link in found if link}


def crawl(client: TestClient, site: str) -> dict[str, tuple[int, str]]:
    """Every address of the site reached from the index: its status, and where it was found."""
    seen: dict[str, tuple[int, str]] = {}
    todo = deque([(f"{site}/", "the start"), (f"{site}/feed.json", "the start")])
    while todo:
        url, found_on = todo.popleft()
        url = urldefrag(url).url
        if url in seen or not url.startswith(site + "/"):
            continue
        parts = urlsplit(url)
        answer = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        seen[url] = (answer.status_code, found_on)
        assert len(seen) < 500, "the crawl runs away"
        kind = answer.headers.get("content-type", "")
        if answer.status_code != 200:
            continue
        if kind.startswith("text/html"):
            links = page_links(url, answer.text)
        elif "xml" in kind or ("json" in kind and parts.path.endswith("feed.json")):
            links = feed_links(url, answer.content)
        else:
            continue
        todo.extend((link, url) for link in links)
    return seen


def test_every_link_of_the_pages_and_feeds_leads_somewhere(
    engine: Engine, settings: Settings
) -> None:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    client = TestClient(app, base_url=settings.site_url)
    seen = crawl(client, settings.site_url)
    broken = {url: where for url, (status, where) in seen.items() if status != 200}
    assert not broken, broken
    # The crawl reached what it should: stories, feeds (a category's too), the archive.
    paths = {urlsplit(url).path for url in seen}
    assert "/articles/durian-exports-rail" in paths and "/feed.xml" in paths
    assert any(path.startswith("/categories/") for path in paths)
    assert "/static/site.css" in paths and "/report" in paths


def test_the_crawl_finds_a_broken_link(engine: Engine, settings: Settings) -> None:
    # The check itself can fail: a page's link to nowhere is reported with where it was.
    found = page_links(f"{settings.site_url}/", '<a href="/categories/transport">Transport</a>')
    client = TestClient(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None),
        base_url=settings.site_url,
    )
    [url] = found
    assert client.get(urlsplit(url).path).status_code == 404
    rss = b'<rss><channel><item><category domain="https://x.test/c/">t</category></item></channel></rss>'
    assert "https://x.test/c/" in feed_links("https://x.test/feed.xml", rss)
