"""The reader's site in the reader's language (issue 29), on SQLite and PostgreSQL: a story's
page speaks its language, other pages the one the browser asks for, a sign-up keeps the
member's languages, the preferences page changes them, and the sitemap links translations."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import html
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.delivery import outbox
from publisher.settings import Settings
from publisher.web import create_app
from tests.links import token
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.support import EXAMPLES, NOW, make_settings

KOREAN = "/articles/busan-independent-film-section"
THAI = "/articles/amphawa-floating-market-boat-route"


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def page_lang(text: str) -> str:
    return str(html.fromstring(text).get("lang"))


def mails(engine: Engine, settings: Settings) -> list[bytes]:
    """The mail sent so far: the outbox worker sends what sign-ups queued, to the Maildir."""
    outbox.send_due(engine, settings, now=NOW)
    folder = settings.var_dir / "mail" / "new"
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.exists() else []


def test_a_story_page_speaks_the_story_language(client: TestClient) -> None:
    thai = client.get(THAI, headers={"Accept-Language": "en"})
    assert thai.status_code == 200 and page_lang(thai.text) == "th"
    tree = html.fromstring(thai.text)
    assert tree.xpath("//article/@lang") == ["th"]
    assert tree.xpath("//form[@role='search']//button/text()") == ["ค้นหา"]
    assert "พบข้อผิดพลาด? แจ้งเราที่นี่" in thai.text and "Spot an error?" not in thai.text
    assert "29 พ.ย. 2026" in thai.text  # the date as Thai readers write it (CLDR)
    feeds = tree.xpath("//link[@rel='alternate' and @type='application/atom+xml']/@href")
    assert "https://news.example.com/languages/th/atom.xml" in feeds
    korean = client.get(KOREAN)
    assert page_lang(korean.text) == "ko" and "오류를 발견하셨나요?" in korean.text
    english = client.get("/articles/durian-exports-rail", headers={"Accept-Language": "th"})
    assert page_lang(english.text) == "en" and "Spot an error? Report it here" in english.text


def test_other_pages_speak_the_language_the_browser_asks_for(client: TestClient) -> None:
    signup = client.get("/subscribe", headers={"Accept-Language": "th-TH,th;q=0.9,en;q=0.5"})
    assert signup.status_code == 200 and page_lang(signup.text) == "th"
    assert "Accept-Language" in signup.headers["vary"]
    tree = html.fromstring(signup.text)
    assert tree.xpath("//form[@action='/subscribe']//h2/text()") == ["ร่วมเป็นส่วนหนึ่งของชุมชน"]
    assert tree.xpath("//select[@name='language']/option[@selected]/@value") == ["th"]
    stories = tree.xpath("//input[@name='story_language']/@value")
    assert stories == ["en", "ko", "th"]
    assert "<h2>Join The Community</h2>" not in signup.text  # the digest titles are the admin's
    plain = client.get("/subscribe")
    assert page_lang(plain.text) == "en" and "Join The Community" in plain.text
    etags = {
        client.get("/", headers={"Accept-Language": lang}).headers["etag"] for lang in ["ko", "ja"]
    }
    assert len(etags) == 2  # a cache keeps one copy per language (Vary: Accept-Language)
    missing = client.get("/nowhere", headers={"Accept-Language": "vi"})
    assert missing.status_code == 404 and "Không có trang nào ở địa chỉ này." in missing.text


def test_a_member_joins_in_their_language_and_changes_it_later(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    done = client.post(
        "/subscribe",
        data={"email": "minji@example.com", "language": "ko", "story_language": ["ko", "th"]},
        headers={"Accept-Language": "ko"},
    )
    assert done.status_code == 200 and "메일함을 확인하세요" in done.text
    [message] = mails(engine, settings)
    parsed = message_from_bytes(message)
    assert (
        str(make_header(decode_header(parsed["Subject"]))) == "Newsflash Asia 구독을 확인해 주세요"
    )
    body = parsed.get_payload()[1].get_payload(decode=True).decode("utf-8")  # type: ignore[index, union-attr]
    assert "구독 확인" in body and 'lang="ko"' in body
    found = re.search(r"https://news\.example\.com(/confirm/[A-Za-z0-9._-]+)", body)
    assert found
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "minji@example.com")
    assert row is not None and (row.language, row.languages) == ("ko", "ko th")
    confirmed = client.post(found.group(1), headers={"Accept-Language": "en"})
    assert page_lang(confirmed.text) == "ko"  # the member's language, not the browser's
    assert "커뮤니티에 오신 것을 환영합니다" in confirmed.text
    preferences = f"/preferences/{token(engine, 'preferences', row.id or 0)}"
    page = client.get(preferences)
    tree = html.fromstring(page.text)
    assert page_lang(page.text) == "ko"
    assert tree.xpath("//input[@name='story_language'][@checked]/@value") == ["ko", "th"]
    saved = client.post(
        preferences,
        data={"digest": "daily", "language": "ja", "languages": "1", "story_language": "ja"},
    )
    assert (
        saved.status_code == 200
        and page_lang(saved.text) == "ja"
        and "保存しました。" in saved.text
    )
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "minji@example.com")
    assert row is not None and (row.language, row.languages) == ("ja", "ja")
    bad = client.post(preferences, data={"digest": "daily", "language": "tlh", "languages": "1"})
    assert bad.status_code == 400 and "Nothing was changed" not in bad.text  # in Japanese
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "minji@example.com")
    assert row is not None and row.language == "ja"
    wrong = client.post(
        "/subscribe", data={"email": "x@example.com", "story_language": "not a tag"}
    )
    assert wrong.status_code == 400 and "not a language tag" in wrong.text


def test_translations_are_linked_in_pages_and_the_sitemap(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "translations.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(record, ensure_ascii=False)
            for record in (
                {"title": "Busan film festival opens an independent section", "slug": "busan-en",
                 "language": "en", "translation_of": "busan-independent-film-section",
                 "published_at": "2026-11-29T12:00:00+08:00"},
                {"title": "釜山国際映画祭にアジア独立映画部門", "slug": "busan-ja",
                 "translation_of": "busan-en", "published_at": "2026-11-29T12:00:00+08:00"},
            )
        ),
        encoding="utf-8",
    )  # fmt: skip
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    report = publish.import_articles(engine, settings, [path], now=NOW, actor="test")
    assert report.suggestions == [("busan-ja", "ja")]  # suggested, not applied
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    page = html.fromstring(client.get(KOREAN).text)
    alternates = dict(
        zip(
            page.xpath("//link[@hreflang]/@hreflang"),
            page.xpath("//link[@hreflang]/@href"),
            strict=True,
        )
    )
    assert alternates == {
        "en": "https://news.example.com/articles/busan-en",
        "ko": "https://news.example.com/articles/busan-independent-film-section",
    }  # busan-ja has no language given: it is in the site's (en), which busan-en has first
    assert page.xpath("//p[@class='translations']/a/@hreflang") == ["en"]
    sitemap = client.get("/sitemaps/stories-1.xml").text
    links = re.findall(r"<url><loc>([^<]+)</loc>.*?</url>", sitemap)
    assert links
    assert sitemap.count('hreflang="ko"') == 2 and sitemap.count('hreflang="en"') == 2
    news = client.get("/sitemap-news.xml").text
    assert (
        "<news:language>ko</news:language>" in news or "<news:language>en</news:language>" in news
    )
    with pytest.raises(Exception, match="translation_of: no story with slug 'nope'"):
        path.write_text(json.dumps({"title": "x", "translation_of": "nope"}))
        publish.import_articles(engine, settings, [path], now=NOW, actor="test")


def test_the_newsroom_shows_and_filters_languages_and_suggests_one(
    engine: Engine, settings: Settings
) -> None:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    add_person(engine, settings, "ed@example.com")
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    csrf = sign_in(client, "ed@example.com")
    listed = html.fromstring(client.get("/admin/articles?language=th").text)
    assert listed.xpath("//table[@class='articles']//td[1]/a/text()") == [
        "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤"
    ]
    assert listed.xpath("//select[@name='language']/option/@value") == ["", "en", "ko", "th"]
    assert page_lang(client.get("/admin/articles").text) == "en"  # the newsroom stays English
    bad = client.get("/admin/articles?language=not-a-tag")
    assert bad.status_code == 400 and "showing every language" in bad.text
    # Left empty, the language is the site's; the form suggests the one the text reads as.
    saved = client.post(
        "/admin/articles/new",
        data={"csrf": csrf, "action": "save", "title": "호찌민 지하철 1호선 개통",
              "summary": "승객 수가 첫 주에 예상을 넘었다.", "body": "본문"},
        follow_redirects=True,
    )  # fmt: skip
    assert saved.status_code == 200 and "It reads as Korean (ko)." in saved.text
    view = publish.article_any(engine, "호찌민-지하철-1호선-개통")
    assert view.article.language == ""
    wrong = client.post(
        "/admin/articles/new",
        data={"csrf": csrf, "action": "save", "title": "T", "language": "klingon"},
    )
    assert wrong.status_code == 400 and "is not a language tag" in wrong.text


def test_the_api_takes_and_gives_a_story_language(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_API_TOKEN="t" * 24
    )
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    auth = {"Authorization": f"Bearer {'t' * 24}"}
    answer = client.post(
        "/api/articles",
        json=[
            {"title": "Tin nóng từ Hà Nội", "language": "VI"},
            {
                "title": "Berita dari Jakarta hari ini",
                "summary": "Pemerintah mengatakan bahwa jalan ini akan dibuka untuk umum",
            },
        ],
        headers=auth,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["suggested_languages"] == {"berita-dari-jakarta-hari-ini": "id"}
    listed = {a["slug"]: a["language"] for a in client.get("/api/articles", headers=auth).json()}
    assert listed == {"tin-nóng-từ-hà-nội": "vi", "berita-dari-jakarta-hari-ini": "en"}
    refused = client.post("/api/articles", json=[{"title": "x", "language": "xx-"}], headers=auth)
    assert refused.status_code == 400 and "language" in refused.text
