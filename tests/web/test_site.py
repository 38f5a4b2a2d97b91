"""The reader's site as a news site (issue 30): sections, authors, paging, related stories,
what crawlers read (robots.txt, sitemaps valid against the sitemaps.org schema) and what
social apps and search engines read (OpenGraph, Twitter cards, JSON-LD), on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from lxml import etree, html
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.settings import Settings
from publisher.store import SitemapEntry
from publisher.web import create_app
from publisher.web.crawlers import SITEMAP_MAX, story_chunks
from publisher.web.sections import PAGE_SIZE
from tests.pictures import keep_addresses
from tests.processes import cli
from tests.support import EXAMPLES, NOW

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
SITE = "https://news.example.com"


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def json_ld(page: str) -> list[dict[str, Any]]:
    """Every JSON-LD block of a page, parsed."""
    tree = html.fromstring(page)
    return [json.loads(s.text) for s in tree.xpath('//script[@type="application/ld+json"]')]


def of_type(blocks: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    [found] = [b for b in blocks if b["@type"] == kind]
    return found


def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMAS / name)))


def valid(body: bytes, name: str) -> etree._Element:
    """``body`` parsed, after asserting it is valid against the schema ``name``."""
    doc = etree.fromstring(body)
    checker = schema(name)
    assert checker.validate(doc), checker.error_log
    return doc


def add_stories(
    engine: Engine, settings: Settings, tmp_path: Path, rows: list[dict[str, Any]]
) -> None:
    path = tmp_path / "more.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    publish.import_articles(engine, settings, [path], now=NOW, actor="test")


def test_a_section_lists_its_stories_with_its_feeds_and_its_own_join_call(
    client: TestClient,
) -> None:
    page = client.get("/categories/trade/")
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    assert tree.cssselect("h1")[0].text == "Trade"
    assert [a.get("href") for a in tree.cssselect("li.story h2 a")] == [
        "/articles/durian-exports-rail"
    ]
    feeds = {link.get("href") for link in tree.xpath('//link[@rel="alternate"]')}
    assert {
        f"{SITE}/categories/trade/{name}" for name in ("feed.xml", "atom.xml", "feed.json")
    } <= feeds
    [ticked] = tree.xpath('//input[@name="category" and @checked]')
    assert ticked.get("value") == "trade"  # the join form asks for this section only
    assert client.get(f"{SITE}/categories/trade/feed.xml").status_code == 200
    assert client.get("/categories/trade", follow_redirects=False).status_code in (301, 307, 308)


def test_an_unknown_section_or_author_is_a_404_page(client: TestClient) -> None:
    for path in ("/categories/nope/", "/authors/nobody/", "/categories/%3Cscript%3E/"):
        page = client.get(path)
        assert page.status_code == 404 and "<html" in page.text and "<script>" not in page.text


def test_an_author_page_lists_the_bylines_stories_and_its_feeds(client: TestClient) -> None:
    page = client.get("/authors/lim-wei-jie/")
    assert page.status_code == 200
    tree = html.fromstring(page.text)
    assert tree.cssselect("h1")[0].text == "Lim Wei Jie"
    assert [a.get("href") for a in tree.cssselect("li.story h2 a")] == [
        "/articles/durian-exports-rail"
    ]
    for name in ("feed.xml", "atom.xml", "feed.json"):
        assert tree.xpath(f'//link[@rel="alternate" and @href="{SITE}/authors/lim-wei-jie/{name}"]')
        feed = client.get(f"/authors/lim-wei-jie/{name}")
        assert feed.status_code == 200 and "Durian exporters" in feed.text


def test_every_label_links_to_its_section_and_every_byline_to_its_author(
    client: TestClient,
) -> None:
    for path in ("/", "/categories/thailand/", "/articles/durian-exports-rail"):
        tree = html.fromstring(client.get(path).text)
        labels = tree.cssselect("li.story .label:not(.sponsored), article .label:not(.sponsored)")
        assert labels and all(label.tag == "a" for label in labels), path
        for label in labels:
            assert client.get(label.get("href")).status_code == 200, label.get("href")
        for byline in tree.cssselect("main a.byline"):
            assert client.get(byline.get("href")).status_code == 200, byline.get("href")
    story = html.fromstring(client.get("/articles/durian-exports-rail").text)
    header = story.cssselect("article.article")[0]
    assert header.cssselect('a[href="/categories/trade/"]')
    assert header.cssselect('a.byline[href="/authors/lim-wei-jie/"]')


def test_pages_page_in_a_stable_order_with_prev_and_next_and_404_past_the_end(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # 45 stories at the same moment: only the id orders them, and no page may overlap.
    rows = [
        {"title": f"Harbour story {n:02d}", "published_at": (NOW - timedelta(hours=1)).isoformat(),
         "categories": ["Harbour"], "author": "Ana Cruz"}
        for n in range(45)
    ]  # fmt: skip
    add_stories(engine, settings, tmp_path, rows)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    for path in ("/categories/harbour/", "/authors/ana-cruz/"):
        seen: list[str] = []
        for page in (1, 2, 3):
            answer = client.get(path if page == 1 else f"{path}?page={page}")
            assert answer.status_code == 200
            tree = html.fromstring(answer.text)
            seen += [a.get("href") for a in tree.cssselect("li.story h2 a")]
            prev = tree.xpath('//head/link[@rel="prev"]/@href')
            nxt = tree.xpath('//head/link[@rel="next"]/@href')
            assert prev == (
                [] if page == 1 else [f"{SITE}{path}" + (f"?page={page - 1}" if page == 3 else "")]
            )
            assert nxt == ([] if page == 3 else [f"{SITE}{path}?page={page + 1}"])
            canonical = tree.xpath('//link[@rel="canonical"]/@href')
            assert canonical == [f"{SITE}{path}" + ("" if page == 1 else f"?page={page}")]
        assert len(seen) == 45 == len(set(seen))
        assert len(seen[:PAGE_SIZE]) == PAGE_SIZE
        for bad in ("4", "0", "-1", "abc", "99999999999"):
            assert client.get(f"{path}?page={bad}").status_code == 404, bad
    front = html.fromstring(client.get("/?page=2").text)
    assert front.cssselect("li.story") and not front.cssselect("li.lead-story")


def test_json_ld_on_every_page_says_what_the_page_says(client: TestClient) -> None:
    pages = ["/", "/categories/trade/", "/authors/lim-wei-jie/"]
    stories = [
        a.get("href") for a in html.fromstring(client.get("/").text).cssselect("li.story h2 a")
    ]
    assert len(stories) == 6
    for path in pages + stories:
        blocks = json_ld(client.get(path).text)
        site = of_type(blocks, "WebSite")
        action = site["potentialAction"]
        assert action["@type"] == "SearchAction"
        assert action["target"]["urlTemplate"] == f"{SITE}/search?q={{search_term_string}}"
        assert action["query-input"] == "required name=search_term_string"
        assert all(b["@context"] == "https://schema.org" for b in blocks)
    for path in pages:
        page = of_type(json_ld(client.get(path).text), "CollectionPage")
        items = page["mainEntity"]["itemListElement"]
        assert page["mainEntity"]["@type"] == "ItemList" and items
        assert [i["position"] for i in items] == list(range(1, len(items) + 1))
        assert all(i["url"].startswith(f"{SITE}/articles/") for i in items)
    for path in stories:
        article = of_type(json_ld(client.get(path).text), "NewsArticle")
        for key in ("headline", "image", "datePublished", "dateModified", "author", "publisher"):
            assert article[key], (path, key)
        assert article["isAccessibleForFree"] is True
        assert article["publisher"]["logo"]["url"] == f"{SITE}/static/logo.png"
        assert article["url"] == f"{SITE}{path}" and len(article["headline"]) <= 110
    assert client.get("/static/logo.png").headers["content-type"] == "image/png"
    sponsored = of_type(
        json_ld(client.get("/articles/brand-studio-sabah-coffee").text), "NewsArticle"
    )
    assert sponsored["additionalType"] == "https://schema.org/AdvertiserContentArticle"
    assert sponsored["sponsor"]["name"] and "Sponsored" in sponsored["backstory"]
    ai = of_type(json_ld(client.get("/articles/durian-exports-rail").text), "NewsArticle")
    assert "with the help of AI tools" in ai["backstory"] and "Daniel Tan" in ai["backstory"]
    assert ai["author"] == [
        {"@type": "Person", "name": "Lim Wei Jie", "url": f"{SITE}/authors/lim-wei-jie/"}
    ]


def test_a_correction_shows_in_the_json_ld_after_articles_correct(
    client: TestClient, tmp_path: Path, database_url: str
) -> None:
    before = of_type(json_ld(client.get("/articles/durian-exports-rail").text), "NewsArticle")
    assert "correction" not in before
    done = cli(tmp_path, database_url, "articles", "correct", "durian-exports-rail",
               "--note", "The train carried 42 containers, not 24.")  # fmt: skip
    assert done.returncode == 0, done.stderr
    after = of_type(json_ld(client.get("/articles/durian-exports-rail").text), "NewsArticle")
    [correction] = after["correction"]
    assert correction["@type"] == "CorrectionComment"
    assert correction["text"] == "The train carried 42 containers, not 24."
    assert correction["datePublished"] and after["dateModified"] == correction["datePublished"]


def test_json_ld_cannot_close_its_script_element(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    evil = "</script><script>alert(1)</script><!--"
    add_stories(engine, settings, tmp_path, [{"title": evil, "slug": "evil", "summary": evil,
                                              "published_at": NOW.isoformat()}])  # fmt: skip
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    page = client.get("/articles/evil").text
    assert "<script>alert(1)" not in page
    assert of_type(json_ld(page), "NewsArticle")["headline"] == evil


def test_a_shared_story_has_its_card_tags_and_description(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    add_stories(engine, settings, tmp_path, [{
        "title": "Ferry timetable changes", "slug": "ferry", "summary": "New times from Friday.",
        "image": "https://images.example.org/ferry.jpg", "categories": ["Transport", "Singapore"],
        "author": "Ana Cruz", "published_at": NOW.isoformat()}])  # fmt: skip
    keep_addresses(engine, settings, alt="A ferry")  # the daemon's part (issue 26)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    tree = html.fromstring(client.get("/articles/ferry").text)
    ours = publish.article_any(engine, "ferry").picture
    assert ours is not None
    card = f"{SITE}/media/{ours.pick(1200).name}"
    og = {m.get("property"): m.get("content") for m in tree.xpath("//meta[@property]")}
    tags = tree.xpath('//meta[@property="article:tag"]/@content')
    assert og["og:type"] == "article" and og["og:title"] == "Ferry timetable changes"
    assert og["og:image"] == card and og["og:image:alt"] == "A ferry"
    assert (og["og:image:width"], og["og:image:height"]) == ("1200", "675")
    assert (
        og["og:description"] == "New times from Friday."
        and og["og:url"] == f"{SITE}/articles/ferry"
    )
    assert og["article:section"] == "Transport" and tags == ["Transport", "Singapore"]
    assert og["article:published_time"].startswith("2026-11-30T12:00")
    assert og["article:modified_time"]
    names = {m.get("name"): m.get("content") for m in tree.xpath("//meta[@name]")}
    assert names["twitter:card"] == "summary_large_image"
    assert names["twitter:image"] == card
    assert names["description"] == "New times from Friday."
    assert tree.xpath('//link[@rel="canonical"]/@href') == [f"{SITE}/articles/ferry"]
    assert not tree.xpath('//meta[@name="robots"]')


def test_personal_pages_say_noindex(client: TestClient) -> None:
    for path in ("/subscription", "/report?article=durian-exports-rail", "/confirm/not-a-token"):
        tree = html.fromstring(client.get(path).text)
        assert tree.xpath('//meta[@name="robots"]/@content') == ["noindex"], path
    for path in ("/", "/categories/trade/", "/articles/durian-exports-rail"):
        assert not html.fromstring(client.get(path).text).xpath('//meta[@name="robots"]'), path


def test_related_stories_share_a_category_never_the_story_itself_nor_sponsored(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    rows = [
        {"title": f"Business story {n}", "slug": f"business-{n}", "categories": ["Business"],
         "published_at": (NOW - timedelta(minutes=n)).isoformat()}
        for n in range(1, 4)
    ] + [{"title": "Paid for", "slug": "paid", "categories": ["Business"], "sponsored": True,
          "published_at": NOW.isoformat()}]  # fmt: skip
    add_stories(engine, settings, tmp_path, rows)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    tree = html.fromstring(client.get("/articles/business-2").text)
    related = [a.get("href") for a in tree.cssselect("section.related li.story h2 a")]
    assert related[:2] == ["/articles/business-1", "/articles/business-3"]  # newest first
    assert "/articles/business-2" not in related and "/articles/paid" not in related
    assert len(related) <= 4


CACHED = (
    "/",
    "/categories/trade/",
    "/authors/lim-wei-jie/",
    "/articles/durian-exports-rail",
    "/robots.txt",
    "/sitemap.xml",
    "/sitemap-news.xml",
    "/sitemaps/stories-1.xml",
    "/sitemaps/pages.xml",
    "/search?q=rail",
    "/categories/trade/feed.xml",
    "/authors/lim-wei-jie/atom.xml",
)


def test_reader_pages_are_cached_with_etags_and_answer_head(client: TestClient) -> None:
    for path in CACHED:
        page = client.get(path)
        assert page.status_code == 200 and page.headers["etag"], path
        assert page.headers["cache-control"].startswith("public, max-age="), path
        again = client.get(path, headers={"If-None-Match": page.headers["etag"]})
        assert again.status_code == 304 and again.content == b"", path
        head = client.head(path)
        assert head.status_code == 200 and head.headers["etag"] == page.headers["etag"], path


def test_robots_txt_keeps_crawlers_out_of_personal_pages_and_names_the_sitemaps(
    client: TestClient,
) -> None:
    text = client.get("/robots.txt").text
    disallowed = {
        line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Disallow")
    }
    assert {"/admin/", "/api/", "/preferences/", "/confirm/", "/unsubscribe/", "/r/"} <= disallowed
    assert f"Sitemap: {SITE}/sitemap.xml" in text and f"Sitemap: {SITE}/sitemap-news.xml" in text


def test_the_sitemaps_validate_and_a_withdrawn_story_leaves_them_at_once(
    client: TestClient, engine: Engine
) -> None:
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9",
          "n": "http://www.google.com/schemas/sitemap-news/0.9"}  # fmt: skip
    index = valid(client.get("/sitemap.xml").content, "siteindex.xsd")
    children = index.xpath("//s:sitemap/s:loc/text()", namespaces=ns)
    assert children == [f"{SITE}/sitemaps/pages.xml", f"{SITE}/sitemaps/stories-1.xml"]
    pages = valid(client.get("/sitemaps/pages.xml").content, "sitemap.xsd")
    assert f"{SITE}/categories/trade/" in pages.xpath("//s:loc/text()", namespaces=ns)
    assert f"{SITE}/authors/lim-wei-jie/" in pages.xpath("//s:loc/text()", namespaces=ns)
    stories = valid(client.get("/sitemaps/stories-1.xml").content, "sitemap.xsd")
    locs = stories.xpath("//s:loc/text()", namespaces=ns)
    assert len(locs) == 6 and f"{SITE}/articles/durian-exports-rail" in locs
    view = publish.article(engine, "durian-exports-rail", now=NOW)
    [lastmod] = stories.xpath(
        '//s:url[s:loc="https://news.example.com/articles/durian-exports-rail"]/s:lastmod/text()',
        namespaces=ns,
    )
    assert lastmod == view.article.updated_at.isoformat(timespec="seconds")
    news = valid(client.get("/sitemap-news.xml").content, "sitemap-with-news.xsd")
    recent = news.xpath("//s:loc/text()", namespaces=ns)
    assert f"{SITE}/articles/busan-independent-film-section" in recent  # 29 Nov: within 48 h
    assert f"{SITE}/articles/durian-exports-rail" not in recent  # 26 Nov: older
    assert news.xpath("//n:publication/n:name/text()", namespaces=ns)[0] == "Newsflash Asia"
    assert client.get("/sitemaps/stories-2.xml").status_code == 404

    publish.set_article_status(
        engine, "busan-independent-film-section", "unpublished", now=NOW, actor="test"
    )
    gone = f"{SITE}/articles/busan-independent-film-section"
    assert gone not in etree.fromstring(client.get("/sitemaps/stories-1.xml").content).xpath(
        "//s:loc/text()", namespaces=ns
    )
    assert gone not in etree.fromstring(client.get("/sitemap-news.xml").content).xpath(
        "//s:loc/text()", namespaces=ns
    )


def test_the_news_sitemap_without_recent_stories_is_still_valid(
    engine: Engine, settings: Settings
) -> None:
    """A urlset needs a url: with nothing in 48 hours the front page stands in, news tags
    declared but unused."""
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    later = NOW + timedelta(days=30)
    client = TestClient(create_app(settings, engine, clock=lambda: later, feed_upkeep_every=None))
    answer = client.get("/sitemap-news.xml")
    assert b'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"' in answer.content
    news = valid(answer.content, "sitemap-with-news.xsd")
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    assert news.xpath("//s:loc/text()", namespaces=ns) == [f"{SITE}/"]
    assert client.head("/sitemap-news.xml").headers["etag"] == answer.headers["etag"]


def test_story_sitemaps_hold_at_most_50000_urls_each() -> None:
    entry = SitemapEntry("s", "t", NOW, NOW)
    chunks = story_chunks([entry] * (2 * SITEMAP_MAX + 1))
    assert [len(c) for c in chunks] == [SITEMAP_MAX, SITEMAP_MAX, 1]
    assert story_chunks([]) == []
