"""An edition's page by language (web/admin/edition_languages.py, edition_view.py), on both
databases: a digest with an English and a Thai story previewed as each language's members
get it (the Thai catalog's words and dates; only the Thai story for a member who chose Thai
stories), with how many recipients get each, a bad choice shown whole with a note, and a
test sent as a Thai reader."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.languages import format_date
from publisher.models import Edition
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.web import create_app
from tests.mailing import daily_edition
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.smtp import SmtpServer
from tests.support import NOW, make_settings

EDITOR = "ed@example.com"
ENGLISH = "Durian exporters switch to rail"
THAI = "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่"
# Who reads what: the language of their mail, and the languages of their stories.
MEMBERS = {
    "ada@example.com": ("", None),  # the site's language, every story
    "somchai@example.com": ("th", None),  # Thai words, every story
    "nok@example.com": ("th", ["th"]),  # Thai words, Thai stories only
    "jisoo@example.com": ("ko", None),
}


def _digest(engine: Engine, settings: Settings) -> Edition:
    """Today's daily edition with an English story (Business) and a Thai one (Culture),
    made as the daemon makes it, for MEMBERS (and a Japanese reader not confirmed)."""
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": title,
                "slug": slug,
                "language": tag,
                "published_at": (NOW - timedelta(hours=n + 1)).isoformat(),
                "categories": [category],
            }
            for n, (title, slug, tag, category) in enumerate(
                [(ENGLISH, "durian", "en", "Business"), (THAI, "amphawa", "th", "Culture")]
            )
        ],
        source="test",
        actor="test",
        now=NOW,
    )
    for email, (language, tags) in {**MEMBERS, "aoi@example.com": ("ja", None)}.items():
        subscriptions.add_subscriber(
            engine,
            email,
            confirmed=email != "aoi@example.com",
            digests=["daily"],
            known_digests=["daily"],
            language=language or None,
            languages=tags,
            now=NOW,
        )
    return daily_edition(engine, settings, NOW)


def _editor(engine: Engine, settings: Settings) -> tuple[TestClient, str]:
    add_person(engine, settings, EDITOR)
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    client = newsroom_client(app, settings)
    return client, sign_in(client, EDITOR)


def _tabs(html: str, list_id: str) -> dict[str, int]:
    """A list of choices' names and counts, as the page shows them."""
    found = re.search(
        rf'<ul class="status-tabs" aria-label="[^"]*" id="{list_id}">(.*?)</ul>', html, re.S
    )
    assert found, f"no {list_id}"
    return {
        unescape(name.strip()): int(count.replace(",", ""))
        for name, count in re.findall(r'>([^<>]+) <span class="badge"[^>]*>([\d,]+)<', found[1])
    }


def _frame(html: str) -> str:
    found = re.search(r'<iframe src="([^"]*)"', html)
    assert found, "no frame"
    return found[1].replace("&amp;", "&")


def test_each_language_with_how_many_recipients_get_it(engine: Engine, settings: Settings) -> None:
    edition = _digest(engine, settings)
    client, _ = _editor(engine, settings)
    page = client.get(f"/admin/editions/{edition.id}")
    assert page.status_code == 200
    # The site's language first, then those its members read; nobody confirmed reads Japanese.
    assert _tabs(page.text, "preview-languages") == {
        "English (the site's)": 1,
        "Korean": 1,
        "Thai": 2,
    }
    assert _tabs(page.text, "preview-stories") == {
        "Stories in every language": 3,
        "Stories in Thai": 1,
    }
    assert f'href="?{"language=th&amp;width=desktop"}"' in page.text
    # Once its deliveries started, its recipients are theirs: a member who joins since is
    # not counted.
    with store.writing(engine) as session:
        store.start_deliveries(session, store.edition_by_id(session, edition.id or 0), now=NOW)
    subscriptions.add_subscriber(
        engine,
        "late@example.com",
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        language="th",
        now=NOW,
    )
    again = client.get(f"/admin/editions/{edition.id}")
    assert _tabs(again.text, "preview-languages")["Thai"] == 2


def test_the_thai_preview_is_what_a_thai_member_gets(engine: Engine, settings: Settings) -> None:
    edition = _digest(engine, settings)
    client, _ = _editor(engine, settings)
    whole = client.get(f"/admin/editions/{edition.id}/preview")
    assert ENGLISH in whole.text and THAI in whole.text and "Read the story" in whole.text
    thai = client.get(f"/admin/editions/{edition.id}/preview?language=th")
    assert thai.status_code == 200
    assert (
        "content-security-policy" in thai.headers
        and "sandbox" in thai.headers["content-security-policy"]
    )
    assert ENGLISH in thai.text and THAI in thai.text
    assert "อ่านข่าว" in thai.text and "Read the story" not in thai.text  # "Read the story"
    assert "สวัสดี" in thai.text and "เลิกรับ" in thai.text  # the greeting, "Unsubscribe"
    zone = load_timetable(settings.schedules).digest("daily").zone
    assert format_date(NOW, "th", zone) in thai.text  # the subject's date, as Thai write it
    assert format_date(NOW, "en", zone) not in thai.text
    # A member who chose only Thai stories gets only the Thai one.
    mine = client.get(f"/admin/editions/{edition.id}/preview?language=th&stories_in=th")
    assert THAI in mine.text and ENGLISH not in mine.text and "อ่านข่าว" in mine.text
    # With a category: that combination; none of its stories in it, no message.
    business = client.get(f"/admin/editions/{edition.id}/preview?variant=business&language=th")
    assert ENGLISH in business.text and THAI not in business.text and "อ่านข่าว" in business.text
    none = client.get(f"/admin/editions/{edition.id}/preview?variant=business&stories_in=th")
    assert "such a reader gets no message this time" in none.text
    # The page frames that preview and says whom it shows.
    page = client.get(f"/admin/editions/{edition.id}?language=th&stories_in=th&width=phone")
    assert _frame(page.text) == f"/admin/editions/{edition.id}/preview?language=th&stories_in=th"
    assert "As a Thai reader who reads stories in Thai gets it." in page.text
    assert 'class="preview-frame preview-phone"' in page.text
    assert "Send a test to me (ed@example.com) as a Thai reader" in page.text
    assert '<input type="hidden" name="language" value="th">' in page.text
    # The site's own language is the edition whole.
    site = client.get(f"/admin/editions/{edition.id}?language=en")
    assert _frame(site.text) == f"/admin/editions/{edition.id}/preview"


def test_a_bad_choice_shows_the_edition_whole_with_a_note(
    engine: Engine, settings: Settings
) -> None:
    edition = _digest(engine, settings)
    client, _ = _editor(engine, settings)
    for query, said in (
        ("language=xx", "The site does not speak &#39;xx&#39;"),
        ("language=%3Cb%3E", "The site does not speak &#39;&lt;b&gt;&#39;"),
        ("language=th&variant=sport", "No story of this edition is in &#39;sport&#39;"),
        ("stories_in=th,%21%21", "Story languages: &#39;!!&#39; is not a language tag"),
    ):
        page = client.get(f"/admin/editions/{edition.id}?{query}")
        assert page.status_code == 200, query
        assert said in page.text and "showing" in page.text, query
        assert _frame(page.text) == f"/admin/editions/{edition.id}/preview", query
        assert 'name="language"' not in page.text, query  # the test is of the whole too
    # The frame's own address, asked directly, says why on a newsroom page: never a 500.
    bad = client.get(f"/admin/editions/{edition.id}/preview?language=xx")
    assert bad.status_code == 400 and "does not speak &#39;xx&#39;" in bad.text
    worse = client.get(f"/admin/editions/{edition.id}/preview?stories_in=%21%21")
    assert worse.status_code == 400 and "is not a language tag" in worse.text


def test_a_test_sent_as_a_thai_reader(tmp_path: Path, database_url: str, smtp: SmtpServer) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL=smtp.url
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    try:
        edition = _digest(engine, settings)
        client, token = _editor(engine, settings)
        sent = client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf": token, "to": EDITOR, "mine": "1", "language": "th", "stories_in": "th"},
            follow_redirects=False,
        )
        assert sent.status_code == 303  # back to the Thai preview it was sent from
        assert sent.headers["location"] == (
            f"/admin/editions/{edition.id}?done=tested&n=1&language=th&stories_in=th"
        )
        [received] = smtp.recorder.wait_for(1)
        message = received.parsed()
        zone = load_timetable(settings.schedules).digest("daily").zone
        assert message["Subject"].startswith("[Test] ")
        assert format_date(NOW, "th", zone) in message["Subject"]
        body = message.get_body(("plain",))
        assert body is not None
        text = body.get_content()
        assert THAI in text and ENGLISH not in text and "สวัสดี" in text and "อ่านข่าว" in text
        wrong = client.post(
            f"/admin/editions/{edition.id}/test",
            data={"csrf": token, "to": EDITOR, "mine": "1", "language": "xx"},
        )
        assert wrong.status_code == 400 and "does not speak &#39;xx&#39;" in wrong.text
        with store.reading(engine) as session:
            [entry] = store.audit_entries(session, kind="edition", subject_id=edition.id)
        assert entry.action == "edition.test"
    finally:
        engine.dispose()
