"""The newsroom's one-off sends and audiences (web/admin/sending_now.py, audiences.py), on both
databases: an admin saves the subscribers page's filter as an audience with its live count; an
editor sends a story now from its page, confirming the count (asked again when it moved), a
test first; a message previewed and sent; bad input a clear message and nothing sent; the
member's breaking-news checkbox."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.settings import Settings
from publisher.store import SubscriberFilter
from publisher.tokens import Signer
from publisher.web import create_app
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.smtp import SmtpServer
from tests.support import NOW, make_settings

EDITOR = "ed@example.com"
ADMIN = "chief@example.com"


def _site(engine: Engine, settings: Settings) -> None:
    publish.import_objects(
        engine,
        settings,
        [
            {
                "title": "Fire at the market",
                "slug": "fire",
                "categories": ["Culture"],
                "published_at": (NOW - timedelta(hours=1)).isoformat(),
            },
            {
                "title": "Later",
                "slug": "later",
                "categories": ["Culture"],
                "published_at": (NOW + timedelta(hours=5)).isoformat(),
            },
        ],
        source="test",
        actor="test",
        now=NOW,
    )
    for n, categories in enumerate([["culture"], ["culture"], []]):
        subscriptions.add_subscriber(
            engine,
            f"reader{n}@example.com",
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            categories=categories,
            now=NOW,
        )
    add_person(engine, settings, EDITOR)
    add_person(engine, settings, ADMIN, role="admin")


def _article_id(engine: Engine, slug: str) -> int:
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug).article.id or 0


def test_an_editor_sends_a_story_now_to_an_audience_saved_from_the_subscribers_filter(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL=smtp.url
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    try:
        _site(engine, settings)
        app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
        chief = newsroom_client(app, settings)
        token = sign_in(chief, ADMIN)
        # The subscribers page counts its filter live, and saves it as an audience.
        page = chief.get("/admin/subscribers?category=culture")
        assert "<strong>2</strong> confirmed members in this filter now" in page.text
        live = chief.get("/admin/audiences/count?category=culture&joined_from=2000-01-01")
        assert "<strong>2</strong> confirmed members" in live.text
        assert 'name="joined_from" value="2000-01-01"' in live.text
        bad = chief.get("/admin/audiences/count?category=nope")
        assert "unknown category" in bad.text and 'name="invalid"' in bad.text
        saved = chief.post(
            "/admin/audiences",
            data={"csrf": token, "name": "Culture readers", "category": "culture"},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        listed = chief.get(saved.headers["location"]).text
        assert "Culture readers" in listed and "chose culture" in listed
        taken = chief.post(
            "/admin/audiences", data={"csrf": token, "name": "Culture readers", "category": ""}
        )
        assert taken.status_code == 409 and "already an audience" in taken.text
        refused = chief.post(
            "/admin/audiences", data={"csrf": token, "name": "Oops", "invalid": "1"}
        )
        assert refused.status_code == 400
        # An editor: from the story's page to the send page, a test, then send.
        editor = newsroom_client(app, settings)
        etoken = sign_in(editor, EDITOR)
        assert (
            editor.post(
                "/admin/audiences", data={"csrf": etoken, "name": "x"}, follow_redirects=False
            ).status_code
            == 403
        )
        story = _article_id(engine, "fire")
        assert f'href="/admin/articles/{story}/send"' in editor.get(f"/admin/articles/{story}").text
        send_page = editor.get(f"/admin/articles/{story}/send")
        assert "Send now to 3 members" in send_page.text  # the built-in audience, first
        chosen = editor.get(f"/admin/articles/{story}/send?audience=Culture+readers")
        assert "Send now to 2 members" in chosen.text
        preview = editor.get(f"/admin/articles/{story}/send/preview")
        assert "Fire at the market" in preview.text
        assert "sandbox" in preview.headers["content-security-policy"]
        count = editor.get(
            f"/admin/sends/count?kind=story&article={story}&audience=Culture+readers"
        )
        assert 'name="expected" value="2"' in count.text
        form = {"csrf": etoken, "kind": "story", "article": str(story)}
        form |= {"audience": "Culture readers", "in_archive": "on"}
        tested = editor.post("/admin/sends", data={**form, "do": "test"})
        assert f"A test went to {EDITOR}" in tested.text
        [received] = smtp.recorder.wait_for(1)
        assert received.parsed()["Subject"] == "[Test] Breaking: Fire at the market"
        moved = editor.post("/admin/sends", data={**form, "do": "send", "expected": "9"})
        assert moved.status_code == 409 and "it now counts 2 member(s)" in moved.text
        with store.reading(engine) as session:
            assert store.edition_list(session) == []
        sent = editor.post(
            "/admin/sends", data={**form, "do": "send", "expected": "2"}, follow_redirects=False
        )
        assert sent.status_code == 303 and "done=sent" in sent.headers["location"]
        edition = editor.get(sent.headers["location"]).text
        assert "breaking news, sent now" in edition and "Culture readers" in edition
        assert "Sending now" in edition
        again = editor.post(
            "/admin/sends", data={**form, "do": "send", "expected": "2"}, follow_redirects=False
        )
        assert "done=already" in again.headers["location"]
        assert again.headers["location"].split("?")[0] == sent.headers["location"].split("?")[0]
        listing = editor.get("/admin/editions").text
        assert "breaking news to Culture readers" in listing
        # A story not published yet: said, nothing sent.
        later = _article_id(engine, "later")
        assert "This story is not published" in editor.get(f"/admin/articles/{later}/send").text
        refused = editor.post(
            "/admin/sends",
            data={**form, "article": str(later), "do": "send", "expected": "2"},
        )
        assert refused.status_code == 400 and "only a published story" in refused.text
        # A message: previewed, then sent to every confirmed member of the audience.
        message = {"csrf": etoken, "kind": "message", "audience": "Culture readers"}
        message |= {"subject": "Down tonight", "body": "We are **down** at 22:00."}
        shown = editor.post("/admin/sends/preview", data=message)
        assert "<strong>down</strong>" in shown.text
        empty = editor.post("/admin/sends", data={**message, "body": "", "do": "send"})
        assert empty.status_code == 400 and "Nothing was sent" in empty.text
        done = editor.post(
            "/admin/sends", data={**message, "do": "send", "expected": "2"}, follow_redirects=False
        )
        assert done.status_code == 303
        assert "a message, sent now" in editor.get(done.headers["location"]).text
    finally:
        engine.dispose()


def test_members_say_whether_they_want_breaking_news(engine: Engine, settings: Settings) -> None:
    _site(engine, settings)
    with store.reading(engine) as session:
        member = store.subscriber_by_email(session, "reader0@example.com")
        assert member is not None and member.breaking  # on for new sign-ups
    view, _ = subscriptions.add_subscriber(
        engine,
        "reader0@example.com",
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        now=NOW,
    )
    signer = Signer.of(settings.secret_key)
    token = subscriptions.preferences_token(signer, view, now=NOW)
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    page = client.get(f"/preferences/{token}")
    assert re.search(r'name="breaking" checked', page.text)
    saved = client.post(f"/preferences/{token}", data={"digest": "daily", "breaking-shown": "1"})
    assert saved.status_code == 200 and 'name="breaking" checked' not in saved.text
    with store.reading(engine) as session:
        member = store.subscriber_by_email(session, "reader0@example.com")
        assert member is not None and not member.breaking and member.status == "confirmed"
    # A form without the checkbox (an old page) leaves the choice as it is.
    client.post(f"/preferences/{token}", data={"digest": "daily"})
    with store.reading(engine) as session:
        member = store.subscriber_by_email(session, "reader0@example.com")
        assert member is not None and not member.breaking


def test_a_held_message_is_approved_from_its_page(tmp_path: Path, database_url: str) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_REVIEW_AUDIENCE_OVER="0"
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    try:
        _site(engine, settings)
        with store.writing(engine) as session:
            store.save_audience(session, "all", SubscriberFilter(), actor="t", now=NOW)
        editor = newsroom_client(
            create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
        )
        token = sign_in(editor, EDITOR)
        form = {"csrf": token, "kind": "message", "audience": "all", "expected": "3"}
        form |= {"subject": "Down tonight", "body": "From 22:00.", "do": "send"}
        held = editor.post("/admin/sends", data=form, follow_redirects=False)
        assert "done=held" in held.headers["location"]
        number = held.headers["location"].split("/")[-1].split("?")[0]
        page = editor.get(held.headers["location"]).text
        assert "Held for review" in page and "a message, sent now" in page
        review = {"csrf": token, "subject": "Down tonight", "intro": ""}
        asked = editor.post(f"/admin/editions/{number}/review", data={**review, "do": "approve"})
        assert asked.status_code == 200 and "It goes to 3 readers of “all”" in asked.text
        sent = editor.post(
            f"/admin/editions/{number}/review",
            data={**review, "do": "send"},
            follow_redirects=False,
        )
        assert sent.status_code == 303 and "done=approved" in sent.headers["location"]
        with store.reading(engine) as session:
            assert store.edition_by_id(session, int(number)).status == "sending"
    finally:
        engine.dispose()


def test_a_fresh_install_sends_breaking_news_to_the_built_in_audience(
    engine: Engine, settings: Settings
) -> None:
    _site(engine, settings)  # no audience saved
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    chief = newsroom_client(app, settings)
    token = sign_in(chief, ADMIN)
    story = _article_id(engine, "fire")
    page = chief.get(f"/admin/articles/{story}/send").text
    options = re.findall(r'<option value="([^"]*)"( selected)?>', page)
    assert options == [("Everyone who wants breaking news", " selected")]
    assert "Send now to 3 members" in page
    listed = chief.get("/admin/audiences").text
    assert "Everyone who wants breaking news" in listed and "Built in: always there" in listed
    assert 'value="Everyone who wants breaking news"' not in listed  # no remove form
    removed = chief.post(
        "/admin/audiences/remove", data={"csrf": token, "name": "Everyone who wants breaking news"}
    )
    assert removed.status_code == 409 and "is built in" in removed.text
    saved = chief.post(
        "/admin/audiences",
        data={"csrf": token, "name": "Everyone who wants breaking news", "category": "culture"},
    )
    assert saved.status_code == 409 and "cannot be changed, renamed or saved over" in saved.text
    form = {"csrf": token, "kind": "story", "article": str(story), "do": "send"}
    form |= {"audience": "Everyone who wants breaking news", "expected": "3"}
    sent = chief.post("/admin/sends", data=form, follow_redirects=False)
    assert sent.status_code == 303 and "done=sent" in sent.headers["location"]
    assert "Everyone who wants breaking news" in chief.get(sent.headers["location"]).text
