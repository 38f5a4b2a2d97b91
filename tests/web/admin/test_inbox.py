"""The newsroom's inbox (web/admin/inbox.py) and the article form opened from an item, on
both databases, with items brought in by the real poller from feeds served on loopback:
the list (newest first, by source, filters, paging), opening an item into the article form
and publishing it (linked in the same transaction), discarding, paused sources resumed,
and every kind of bad input answered by a newsroom page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.editions import making
from publisher.errors import InputError
from publisher.schedules import Timetable
from publisher.settings import Settings
from publisher.sources import inbox, polling
from publisher.templating import make_environment
from publisher.web import create_app
from publisher.web.admin import inbox as inbox_area
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.press import PRESS, RELEASES, FeedServer, rss, timetable, when
from tests.support import NOW

EDITOR = "desk@example.com"


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


def poll(engine: Engine, settings: Settings, table: Timetable, now: datetime = NOW) -> None:
    polling.poll_now(engine, settings, table, now=now)


def client_for(engine: Engine, settings: Settings, table: Timetable) -> tuple[TestClient, str]:
    add_person(engine, settings, EDITOR)
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None, timetable=table)
    client = newsroom_client(app, settings)
    return client, sign_in(client, EDITOR)


def item_ids(engine: Engine, status: str = "all") -> dict[str, int]:
    """Every item's id by its title."""
    found = inbox.list_items(engine, status=status)
    return {view.item.title: view.item.id or 0 for view in found.items}


def listed(html: str) -> list[str]:
    return re.findall(r'<h2 class="inbox-title"><a href="/admin/inbox/\d+">([^<]+)</a>', html)


def test_the_inbox_lists_new_material_newest_first_by_source_with_filters_and_pages(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.feeds["press"] = rss("Press", RELEASES)
    feeds.feeds["cms"] = rss(
        "Our CMS",
        [
            {
                "title": f"CMS story {n:02}",
                "link": f"https://cms.example.org/{n}",
                "description": "Local news" if n % 2 else "Weather",
                "date": when(n),
            }
            for n in range(55)
        ],
    )
    table = timetable(tmp_path, feeds, cms="cms")
    polling.poll_now(engine, settings, table, "kofice-press", now=NOW - timedelta(hours=1))
    polling.poll_now(engine, settings, table, "cms", now=NOW)
    client, _ = client_for(engine, settings, table)

    page = client.get("/admin/inbox")
    assert page.status_code == 200, page.text
    titles = listed(page.text)
    assert len(titles) == 50 and titles[:2] == ["CMS story 00", "CMS story 01"]  # newest first
    assert "Showing 1–50 of 57 items" in page.text and 'rel="next"' in page.text
    assert re.search(r'id="inbox-count">57<span class="visually-hidden"> new', page.text)
    second = client.get("/admin/inbox?page=2").text
    assert "Showing 51–57 of 57" in second
    assert listed(second)[-2:] == ["Hallyu exhibition opens in Singapore", "Film week announced"]

    by_source = client.get("/admin/inbox?source=kofice-press").text
    assert listed(by_source) == ["Hallyu exhibition opens in Singapore", "Film week announced"]
    assert PRESS in by_source  # the source's name as readers will see it
    assert listed(client.get("/admin/inbox?q=KOREAN+FILM").text) == ["Film week announced"]
    assert listed(client.get("/admin/inbox?q=100%25").text) == []  # % is no wildcard
    # Each item: its source, date, summary, a thumbnail that sends no referrer, its actions.
    card = by_source.split('id="item-', 2)[1]
    assert "An exhibition of Korean pop culture" in card
    assert 'src="https://press.example.org/img/hallyu.jpg"' in card
    assert 'referrerpolicy="no-referrer"' in card
    assert "/admin/articles/new?from_item=" in card and "/discard" in card
    assert "<script" not in by_source.split("<main", 1)[1]

    bad = client.get("/admin/inbox?status=nonsense&page=-1")
    assert bad.status_code == 400 and "showing the first" in bad.text
    assert client.get("/admin/inbox?status=published").status_code == 200


def test_an_item_opens_in_the_article_form_and_becomes_an_article_linked_to_it(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.feeds["press"] = rss("Press", RELEASES)
    table = timetable(tmp_path, feeds)
    poll(engine, settings, table)
    client, token = client_for(engine, settings, table)
    item_id = item_ids(engine)["Hallyu exhibition opens in Singapore"]

    form = client.get(f"/admin/articles/new?from_item={item_id}")
    assert form.status_code == 200, form.text
    html = form.text
    assert f'name="from_item" value="{item_id}"' in html
    assert 'value="Hallyu exhibition opens in Singapore"' in html
    assert (
        f'value="{PRESS}"' in html and 'value="https://press.example.org/releases/hallyu"' in html
    )
    assert 'value="Culture"' in html and 'value="https://press.example.org/img/hallyu.jpg"' in html
    assert "until March" in html and "alert(" not in html  # the body, sanitised
    assert 'id="from-item"' in html

    fields = {
        "csrf": token,
        "action": "publish",
        "from_item": str(item_id),
        "title": "Hallyu comes to the National Museum",
        "summary": "Korean pop culture, until March.",
        "body": "<p>Adapted by the desk: the show runs <strong>until March</strong>.</p>",
        "body_format": "html",
        "categories": "Culture",
        # The press picture's host is not reachable from the tests: the editor leaves it out
        # (a picture from an address is fetched and kept: tests/web/admin/test_pictures.py).
        "image": "",
        "source_name": PRESS,
        "source_url": "https://press.example.org/releases/hallyu",
        "ai_assisted": "on",
    }
    nameless = client.post("/admin/articles/new", data=fields, follow_redirects=False)
    assert nameless.status_code == 400 and 'id="f-editor-error"' in nameless.text
    assert "Hallyu comes to the National Museum" in nameless.text  # nothing typed is lost
    assert inbox.get_item(engine, item_id).item.status == "new"

    saved = client.post(
        "/admin/articles/new", data={**fields, "editor": "Min-ji Park"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    article_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    view = publish.article_by_id(engine, article_id)
    assert view.article.editor == "Min-ji Park" and view.article.ai_assisted
    assert view.article.source_name == PRESS
    assert view.status(NOW) == "published"
    row = inbox.get_item(engine, item_id).item
    assert (row.status, row.article_id) == ("published", article_id)
    with store.reading(engine) as db:
        linked = store.audit_entries(db, kind="inbox_item", subject_id=item_id)
        created = store.audit_entries(db, kind="article", subject_id=article_id)
    assert [(e.action, e.actor) for e in linked] == [("inbox.publish", EDITOR)]
    assert [(e.action, e.actor) for e in created] == [
        ("article.publish", EDITOR),
        ("article.create", EDITOR),
    ]

    # The next digest names its source and says AI helped, in both parts.
    digest = making.preview(
        engine, settings, table, make_environment(zone=settings.zone), table.digests["daily"],
        now=NOW,
    )  # fmt: skip
    assert "Hallyu comes to the National Museum" in digest.html
    assert f"Source: {PRESS} (https://press.example.org/releases/hallyu)." in digest.text
    assert 'Source: <a href="https://press.example.org/releases/hallyu"' in digest.html
    assert "with the help of AI tools" in digest.text
    article_page = client.get(f"/admin/articles/{article_id}").text
    origin = article_page.split('id="article-origin">', 1)[1].split("</p>", 1)[0]
    assert PRESS in origin and f'href="/admin/inbox/{item_id}"' in origin
    material = client.get(f"/admin/inbox/{item_id}").text
    assert f'href="/admin/articles/{article_id}"' in material and "inbox.publish" in material
    # It has left the inbox's new items, and it cannot become a second article.
    assert "Hallyu exhibition" not in "".join(listed(client.get("/admin/inbox").text))
    again = client.get(f"/admin/articles/new?from_item={item_id}")
    assert again.status_code == 409 and f'href="/admin/articles/{article_id}"' in again.text
    kept = client.post(f"/admin/inbox/{item_id}/discard", data={"csrf": token})
    assert kept.status_code == 409 and "unpublish the article instead" in kept.text
    twice = client.post(
        "/admin/articles/new",
        data={**fields, "editor": "Min-ji Park", "title": "Again"},
        follow_redirects=False,
    )
    assert twice.status_code == 409
    assert "Again" not in [v.article.title for v in publish.find_articles(
        engine, store.ArticleFilter(), now=NOW, offset=0, limit=50)[0]]  # fmt: skip


def test_an_item_discarded_between_the_check_and_the_save_makes_no_article(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    """The link is made in the article's transaction: if it fails, the article is not saved."""
    feeds.feeds["press"] = rss("Press", RELEASES)
    poll(engine, settings, timetable(tmp_path, feeds))
    found = inbox.get_item(engine, item_ids(engine)["Film week announced"])
    inbox.discard(engine, found.item.id or 0, actor="cli:other", now=NOW)
    link = inbox_area.linker(found, actor=EDITOR, now=NOW)
    with pytest.raises(InputError, match="discarded"):
        publish.save_article(
            engine, settings, {"title": "Film week"}, article_id=None, now=NOW, actor=EDITOR,
            then=link,
        )  # fmt: skip
    _, counts = publish.find_articles(engine, store.ArticleFilter(), now=NOW, offset=0, limit=1)
    assert counts["all"] == 0


def test_an_item_taken_meanwhile_saves_nothing_and_loses_nothing_typed(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.feeds["press"] = rss("Press", RELEASES)
    table = timetable(tmp_path, feeds)
    poll(engine, settings, table)
    client, token = client_for(engine, settings, table)
    item_id = item_ids(engine)["Film week announced"]
    assert client.get(f"/admin/articles/new?from_item={item_id}").status_code == 200
    # Another editor discards it while this one writes: the save makes no article.
    inbox.discard(engine, item_id, actor="cli:other", now=NOW)
    answer = client.post(
        "/admin/articles/new",
        data={
            "csrf": token,
            "action": "save",
            "from_item": str(item_id),
            "title": "Film week is back",
            "editor": "Min-ji Park",
            "body": "Words.",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 409 and "discarded" in answer.text
    _, counts = publish.find_articles(engine, store.ArticleFilter(), now=NOW, offset=0, limit=1)
    assert counts["all"] == 0


def test_a_discarded_item_never_comes_back(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.feeds["press"] = rss("Press", RELEASES)
    table = timetable(tmp_path, feeds)
    poll(engine, settings, table)
    client, token = client_for(engine, settings, table)
    item_id = item_ids(engine)["Film week announced"]

    forged = client.post(
        f"/admin/inbox/{item_id}/discard", data={"csrf": "forged" * 8}, follow_redirects=False
    )
    assert forged.status_code == 403 and "did not come from the newsroom" in forged.text
    assert 'href="/static/admin.css"' in forged.text  # a newsroom page, not the reader's
    assert inbox.get_item(engine, item_id).item.status == "new"

    gone = client.post(
        f"/admin/inbox/{item_id}/discard",
        data={"csrf": token, "back": "/admin/inbox?source=kofice-press"},
        follow_redirects=False,
    )
    assert gone.status_code == 303
    assert gone.headers["location"] == "/admin/inbox?source=kofice-press&done=discarded"
    assert inbox.get_item(engine, item_id).item.status == "discarded"
    # Seen again in its feed, with new content even: it stays discarded.
    feeds.feeds["press"] = rss(
        "Press", [RELEASES[0], {**RELEASES[1], "description": "Now in June."}]
    )
    poll(engine, settings, table, NOW + timedelta(hours=1))
    assert inbox.get_item(engine, item_id).item.status == "discarded"
    assert listed(client.get("/admin/inbox").text) == ["Hallyu exhibition opens in Singapore"]
    assert "Film week announced" in listed(client.get("/admin/inbox?status=discarded").text)
    opened = client.get(f"/admin/articles/new?from_item={item_id}")
    assert opened.status_code == 409 and "was discarded" in opened.text
    again = client.post(
        f"/admin/inbox/{item_id}/discard", data={"csrf": token}, follow_redirects=False
    )
    assert again.headers["location"] == "/admin/inbox?done=already"
    # Somewhere else to go back to is not followed.
    off = client.post(
        f"/admin/inbox/{item_id}/discard",
        data={"csrf": token, "back": "https://evil.example/"},
        follow_redirects=False,
    )
    assert off.headers["location"].startswith("/admin/inbox?")
    with store.reading(engine) as db:
        trail = store.audit_entries(db, kind="inbox_item", subject_id=item_id)
    assert [(e.action, e.actor) for e in trail] == [("inbox.discard", EDITOR)]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/inbox/abc",
        "/admin/inbox/0",
        "/admin/inbox/99999",
        "/admin/inbox/99999999999999",
        "/admin/articles/new?from_item=abc",
        "/admin/articles/new?from_item=99999",
        "/admin/articles/new?from_item=-1",
    ],
)
def test_bad_item_addresses_get_a_newsroom_page(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer, path: str
) -> None:
    client, _ = client_for(engine, settings, timetable(tmp_path, feeds))
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert "There is no inbox item" in answer.text and 'href="/admin/inbox"' in answer.text


def test_bad_posts_get_a_newsroom_page_and_change_nothing(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    table = timetable(tmp_path, feeds)
    client, token = client_for(engine, settings, table)
    for path in ("/admin/inbox/abc/discard", "/admin/inbox/424242/discard"):
        answer = client.post(path, data={"csrf": token}, follow_redirects=False)
        assert answer.status_code == 404 and "There is no inbox item" in answer.text, path
    made = client.post(
        "/admin/articles/new",
        data={"csrf": token, "action": "save", "from_item": "x1", "title": "T", "editor": "E"},
        follow_redirects=False,
    )
    assert made.status_code == 404 and "There is no inbox item" in made.text
    unknown = client.post("/admin/sources/nope/resume", data={"csrf": token})
    assert unknown.status_code == 404 and "There is no source" in unknown.text
    # Without a session: the sign-in page, nothing done.
    fresh = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None, timetable=table),
        settings,
    )
    assert fresh.get("/admin/inbox", follow_redirects=False).status_code == 303
    assert fresh.post("/admin/inbox/1/discard", data={"csrf": "x"}).status_code == 401


def test_a_paused_source_shows_its_error_and_an_editor_resumes_it(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.fail["press"] = 500
    table = timetable(tmp_path, feeds)
    for n in range(10):  # each a real poll of the real server, ten in a row
        poll(engine, settings, table, NOW + timedelta(minutes=n))
    client, token = client_for(engine, settings, table)

    page = client.get("/admin/inbox").text
    notice = page.split('class="notice bad paused-sources"', 1)[1].split("</div>\n</div>", 1)[0]
    assert PRESS in notice and "paused after 10 failures" in notice and "500" in notice
    listing = client.get("/admin/sources").text
    assert 'class="badge bad">paused' in listing and "500" in listing
    board = client.get("/admin/").text
    panel = board.split('id="sources-heading"', 1)[1].split("</section>", 1)[0]
    assert PRESS in panel and "paused" in panel

    feeds.fail.clear()
    feeds.feeds["press"] = rss("Press", RELEASES)
    resumed = client.post(
        "/admin/sources/kofice-press/resume",
        data={"csrf": token, "back": "/admin/inbox"},
        follow_redirects=False,
    )
    assert resumed.status_code == 303 and resumed.headers["location"] == "/admin/inbox?done=resumed"
    state = {s.name: s for s in inbox.source_states(engine)}["kofice-press"]
    assert state.state != "paused" and state.failures == 0
    poll(engine, settings, table, NOW + timedelta(hours=1))
    assert len(listed(client.get("/admin/inbox").text)) == 2
    again = client.post(
        "/admin/sources/kofice-press/resume", data={"csrf": token}, follow_redirects=False
    )
    assert again.headers["location"] == "/admin/sources?done=running"
    with store.reading(engine) as db:
        trail = store.audit_entries(db, kind="source")
    assert [(e.action, e.actor, e.subject_label) for e in trail] == [
        ("source.resume", EDITOR, "kofice-press")
    ]


def test_editors_find_inbox_changes_in_the_audit_trail(
    engine: Engine, settings: Settings, tmp_path: Path, feeds: FeedServer
) -> None:
    feeds.feeds["press"] = rss("Press", RELEASES)
    table = timetable(tmp_path, feeds)
    poll(engine, settings, table)
    client, token = client_for(engine, settings, table)
    item_id = item_ids(engine)["Film week announced"]
    client.post(f"/admin/inbox/{item_id}/discard", data={"csrf": token})
    page = client.get("/admin/audit?kind=inbox_item")
    assert page.status_code == 200, page.text
    assert "inbox.discard" in page.text and f'href="/admin/inbox/{item_id}"' in page.text
