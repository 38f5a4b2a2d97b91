"""The newsroom's articles and reports (web/admin/articles.py, article_form.py, reports.py), on
both databases: the list's filters, the form's validation (the same as `articles add`),
scheduling, unpublishing, corrections, resolving a report with a correction, and the audit
trail of every change from the admin, the CLI and the API."""

from __future__ import annotations

import getpass
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.errors import NotFoundError
from publisher.settings import Settings
from publisher.web import create_app
from tests.feedserver import FeedServer
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.pictures import picture
from tests.processes import cli
from tests.support import NOW, Clock, make_settings, wait_for

EDITOR = "ed@example.com"


def _app(engine: Engine, settings: Settings, clock: Any = lambda: NOW) -> TestClient:
    return newsroom_client(
        create_app(settings, engine, clock=clock, feed_upkeep_every=None), settings
    )


def _editor(engine: Engine, settings: Settings, clock: Any = lambda: NOW) -> tuple[TestClient, str]:
    add_person(engine, settings, EDITOR)
    client = _app(engine, settings, clock)
    return client, sign_in(client, EDITOR)


def _add(engine: Engine, settings: Settings, *items: dict[str, Any]) -> None:
    publish.import_objects(engine, settings, list(items), source="test", now=NOW, actor="test")


def _form(token: str, **values: str) -> dict[str, str]:
    return {"csrf": token, "action": "save", **values}


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="f-([\w]+)-error">([^<]*)</p>', html))


def _trail(engine: Engine, kind: str, subject_id: int) -> list[Any]:
    with store.reading(engine) as db:
        return store.audit_entries(db, kind=kind, subject_id=subject_id)


def _view(engine: Engine, slug: str) -> store.ArticleView:
    return publish.article_any(engine, slug)


def test_the_list_filters_searches_counts_and_pages(engine: Engine, settings: Settings) -> None:
    _add(
        engine,
        settings,
        {"title": "Durian exports by rail", "author": "Mei", "categories": ["Trade"]},
        {"title": "Brand studio coffee", "sponsored": True, "summary": "A durian latte"},
        {"title": "Robot-written weather", "ai_assisted": True, "author": "Bot"},
        {"title": "Tomorrow's festival", "published_at": (NOW + timedelta(days=1)).isoformat()},
        {"title": "Spiked story"},
        *({"title": f"Filler {n}", "published_at": "2026-01-01T00:00:00+00:00"} for n in range(55)),
    )
    publish.set_article_status(engine, "spiked-story", "unpublished", now=NOW, actor="test")
    client, _ = _editor(engine, settings)

    def titles(query: str) -> list[str]:
        page = client.get("/admin/articles?" + query)
        assert page.status_code == 200, page.text
        return re.findall(r'<a href="/admin/articles/\d+">([^<]+)</a>', page.text)

    assert titles("q=durian") == ["Brand studio coffee", "Durian exports by rail"]  # summary too
    assert titles("q=DURIAN-exports") == ["Durian exports by rail"]  # the slug, any case
    assert titles("q=100%25") == []  # % is a character, not a wildcard
    assert titles("status=scheduled") == ["Tomorrow&#39;s festival"]
    assert titles("status=unpublished") == ["Spiked story"]
    assert titles("sponsored=yes") == ["Brand studio coffee"]
    assert titles("ai_assisted=yes&author=Bot") == ["Robot-written weather"]
    assert titles("category=trade") == ["Durian exports by rail"]
    first = client.get("/admin/articles").text
    assert "Showing 1–50 of 60 articles" in first and 'rel="next"' in first
    assert re.search(r"Scheduled <span class=\"badge\">1</span>", first)
    newest = titles("")
    assert newest[0] == "Tomorrow&#39;s festival" and len(newest) == 50  # newest first
    second = client.get("/admin/articles?page=2").text
    assert "Showing 51–60 of 60" in second and 'rel="prev"' in second
    bad = client.get("/admin/articles?status=nonsense&page=-3")
    assert bad.status_code == 400 and "showing the first" in bad.text


def test_the_form_validates_as_articles_add_does_and_loses_nothing(
    engine: Engine, settings: Settings
) -> None:
    client, token = _editor(engine, settings)
    typed = {
        "title": "   ",
        "slug": "Not A Slug",
        "image": "javascript:alert(1)",
        "source_url": "ftp://example.com/x",
        "published_at": "next tuesday",
        "summary": "Kept <b>as typed</b>",
        "author": "x" * 201,
    }
    answer = client.post("/admin/articles/new", data=_form(token, **typed))
    assert answer.status_code == 400
    errors = _errors(answer.text)
    assert errors["title"] == "must not be empty"
    assert "is not a URL slug" in errors["slug"] and "not-a-slug" in errors["slug"]
    assert "not an absolute http(s) URL" in errors["image"]
    assert "not an absolute http(s) URL" in errors["source_url"]
    assert "ISO 8601" in errors["published_at"]
    assert "longer than 200" in errors["author"]
    assert (
        'aria-invalid="true"' in answer.text
        and 'aria-describedby="f-slug-hint f-slug-error"' in answer.text
    )
    assert 'value="Not A Slug"' in answer.text and 'value="next tuesday"' in answer.text
    assert "Kept &lt;b&gt;as typed&lt;/b&gt;</textarea>" in answer.text  # escaped, not lost
    with store.reading(engine) as db:
        assert store.article_count(db) == 0
    # The validator of `articles add` gives the same answer for the same keys.
    same = client.post("/admin/articles/new", data=_form(token, title="A", slug="Not A Slug"))
    assert _errors(same.text) == {"slug": errors["slug"]}


def test_html_and_script_are_sanitised_and_escaped(engine: Engine, settings: Settings) -> None:
    client, token = _editor(engine, settings)
    saved = client.post(
        "/admin/articles/new",
        data=_form(
            token,
            title='<img src=x onerror="alert(1)"> Flood warning',
            body='Rain **today**.\n\n<script>alert(1)</script>\n\n<a href="javascript:x()">x</a>',
            categories="Weather, <b>Local</b>",
            ai_assisted="on",
        ),
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    article_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    view = publish.article_by_id(engine, article_id)
    assert "<script" not in view.article.body_html and "javascript:" not in view.article.body_html
    assert "<strong>today</strong>" in view.article.body_html
    assert view.article.ai_assisted and not view.article.sponsored
    page = client.get(f"/admin/articles/{article_id}").text
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert "<script>alert(1)</script>" not in page
    # The preview renders through the same sanitiser, for htmx and for the Preview button.
    live = client.post(
        "/admin/articles/preview", data={"body": "<script>x()</script>\n\n**b**"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert (
        live.status_code == 200 and "<strong>b</strong>" in live.text and "<script" not in live.text
    )
    button = client.post(
        "/admin/articles/new",
        data={"csrf": token, "action": "preview", "title": "", "body": "_hi_"},
    )
    assert button.status_code == 200 and "<em>hi</em>" in button.text
    with store.reading(engine) as db:
        assert store.article_count(db) == 1  # a preview saves nothing


def test_an_edit_keeps_the_id_a_new_slug_included_and_is_in_the_trail(
    engine: Engine, settings: Settings
) -> None:
    _add(engine, settings, {"title": "Old title", "body": "Body *one*", "categories": ["Trade"]})
    _add(engine, settings, {"title": "Other story"})
    before = _view(engine, "old-title")
    article_id = before.article.id
    client, token = _editor(engine, settings)
    page = client.get(f"/admin/articles/{article_id}").text
    assert "Body *one*</textarea>" in page  # the Markdown it was written in, to edit again
    base = re.search(r'name="base" value="(\w+)"', page)
    assert base is not None
    fields = {
        "title": "New title",
        "slug": "new-title",
        "body": "Body *two*",
        "categories": "Trade, Culture",
        "published_at": before.article.published_at.astimezone(settings.zone).strftime(
            "%Y-%m-%dT%H:%M:%S"
        ),
        "base": base[1],
    }
    taken = client.post(
        f"/admin/articles/{article_id}", data=_form(token, **{**fields, "slug": "other-story"})
    )
    assert taken.status_code == 400 and "another article" in _errors(taken.text)["slug"]
    saved = client.post(
        f"/admin/articles/{article_id}", data=_form(token, **fields), follow_redirects=False
    )
    assert saved.headers["location"] == f"/admin/articles/{article_id}?done=saved"
    after = _view(engine, "new-title")
    assert (after.article.id, after.article.uid) == (article_id, before.article.uid)
    assert after.article.published_at == before.article.published_at
    assert after.categories == ("Trade", "Culture")
    [edit, create] = _trail(engine, "article", article_id or 0)
    assert (edit.actor, edit.action, create.actor, create.action) == (
        EDITOR,
        "article.edit",
        "test",
        "article.create",
    )
    changed = json.loads(edit.after)
    assert changed == {
        "title": "New title", "slug": "new-title", "body_markdown": "Body *two*",
        "categories": "Trade, Culture",
    }  # fmt: skip
    assert json.loads(edit.before)["title"] == "Old title"
    assert "New title" in client.get(f"/admin/articles/{article_id}").text  # the trail shows
    # A save from the page as it was before that edit would undo it: refused, nothing lost.
    stale = client.post(
        f"/admin/articles/{article_id}", data=_form(token, **{**fields, "title": "Mine"})
    )
    assert stale.status_code == 409 and "someone else changed" in stale.text
    assert "Their version" in stale.text and "Mine" in stale.text  # both versions shown
    assert 'value="Mine"' in stale.text and _view(engine, "new-title").article.title == "New title"


def test_a_save_that_leaves_the_time_alone_records_no_time_change(
    engine: Engine, settings: Settings
) -> None:
    # Issue 25: the form shows whole seconds; a save that did not touch the time logged
    # "published_at: ...09.493666+00:00 -> ...09+00:00" (and cut the stored time).
    exact = (NOW - timedelta(hours=3)).replace(second=9, microsecond=493666)
    _add(engine, settings, {"title": "Old title", "published_at": exact.isoformat()})
    article_id = _view(engine, "old-title").article.id or 0
    client, token = _editor(engine, settings)
    page = client.get(f"/admin/articles/{article_id}").text
    fields = dict(re.findall(r'<input[^>]* name="(\w+)"[^>]* value="([^"]*)"', page))
    fields.pop("csrf", None)
    assert fields["published_at"].endswith(":09")  # as the form shows it
    same = client.post(f"/admin/articles/{article_id}", data=_form(token, **fields))
    assert "Nothing had changed." in same.text
    fields["title"] = "New title"
    client.post(f"/admin/articles/{article_id}", data=_form(token, **fields))
    assert _view(engine, "old-title").article.published_at == exact  # to the microsecond
    [edit, _] = _trail(engine, "article", article_id)
    assert json.loads(edit.before) == {"title": "Old title"}
    assert json.loads(edit.after) == {"title": "New title"}


def test_schedule_then_see_it_at_its_time_unpublish_and_publish_again(
    engine: Engine, settings: Settings
) -> None:
    clock = Clock(NOW)
    client, token = _editor(engine, settings, clock)
    # within PUBLISHER_ADMIN_IDLE_MINUTES of the app's clock, so the session lasts till then
    later = NOW + timedelta(minutes=45)
    local = later.astimezone(settings.zone).strftime("%Y-%m-%dT%H:%M")
    saved = client.post(
        "/admin/articles/new",
        data=_form(
            token,
            title="Embargoed results",
            body="Results.",
            published_at=local,
            editor="Ed",
            action="publish",
        ),
        follow_redirects=False,
    )
    path = saved.headers["location"].split("?")[0]
    page = client.get(path).text
    assert 'id="article-status"><span class="badge warn">scheduled' in page
    assert settings.zone.key in page
    assert client.get("/articles/embargoed-results").status_code == 404
    assert "Embargoed results" not in client.get("/feed.xml").text
    clock.now = later  # the app's clock, passed in: its time has come
    assert client.get("/articles/embargoed-results").status_code == 200
    assert "Embargoed results" in client.get("/feed.xml").text
    # Readers have seen it: it is withdrawn (with a reason), not unpublished.
    refused = client.post(path + "/status", data={"csrf": token, "status": "unpublished"})
    assert refused.status_code == 409 and "withdraw" in refused.text
    off = client.post(
        path + "/withdraw",
        data={"csrf": token, "reason": "the results were not final."},
        follow_redirects=False,
    )
    assert off.headers["location"].endswith("done=withdrawn")
    withdrawn = client.get("/articles/embargoed-results")
    assert withdrawn.status_code == 200 and "the results were not final." in withdrawn.text
    assert "Results.</p>" not in withdrawn.text  # no body
    # The feed cache looks at the change stamp once a second (its default): wait for that.
    wait_for(lambda: "Embargoed results" not in client.get("/feed.xml").text, "feed without it")
    client.post(path + "/status", data={"csrf": token, "status": "published"})
    assert "Results.</p>" in client.get("/articles/embargoed-results").text
    wait_for(lambda: "Embargoed results" in client.get("/feed.xml").text, "feed with it again")
    article_id = int(path.rsplit("/", 1)[1])
    actions = [e.action for e in _trail(engine, "article", article_id)]
    assert actions == ["article.publish", "article.withdraw", "article.publish", "article.create"]
    bad = client.post(path + "/status", data={"csrf": token, "status": "deleted"})
    assert bad.status_code == 400


def test_a_correction_needs_a_note_and_shows_everywhere(engine: Engine, settings: Settings) -> None:
    _add(engine, settings, {"title": "Bridge opens", "body": "It is 12 km long."})
    article_id = _view(engine, "bridge-opens").article.id
    client, token = _editor(engine, settings)
    empty = client.post(
        f"/admin/articles/{article_id}/corrections", data={"csrf": token, "note": "  "}
    )
    assert empty.status_code == 400 and 'id="note-error"' in empty.text
    assert _view(engine, "bridge-opens").corrections == ()
    client.post(
        f"/admin/articles/{article_id}/corrections",
        data={"csrf": token, "note": "The bridge is 1.2 km long, not 12 km."},
    )
    assert "1.2 km long, not 12 km" in client.get("/articles/bridge-opens").text
    wait_for(lambda: "1.2 km long, not 12 km" in client.get("/feed.xml").text, "correction")
    [entry, _] = _trail(engine, "article", article_id or 0)
    assert (entry.actor, entry.action) == (EDITOR, "article.correct")


def test_a_report_is_resolved_with_a_linked_correction_in_one_step(
    engine: Engine, settings: Settings
) -> None:
    _add(engine, settings, {"title": "Durian tonnage", "body": "500 tonnes."})
    report_id = subscriptions.report_error(
        engine, "durian-tonnage", "It was 50 tonnes.", "", now=NOW
    )
    other = subscriptions.report_error(
        engine, "durian-tonnage", "Typo <script>x</script>", "", now=NOW
    )
    client, token = _editor(engine, settings)
    queue = client.get("/admin/reports").text
    assert "It was 50 tonnes." in queue and "Durian tonnage" in queue
    assert "<script>x</script>" not in queue and "&lt;script&gt;" in queue
    url = f"/admin/reports/{report_id}/resolve"
    empty = client.post(url, data={"csrf": token, "with": "correction", "note": ""})
    assert empty.status_code == 400 and 'id="note-error"' in empty.text
    assert _view(engine, "durian-tonnage").corrections == ()
    done = client.post(
        url, data={"csrf": token, "with": "correction", "note": "It was 50 tonnes, not 500."},
        follow_redirects=False,
    )  # fmt: skip
    assert done.headers["location"] == f"/admin/reports/{report_id}?done=corrected"
    with store.reading(engine) as db:
        report = store.report_by_id(db, report_id)
        [(correction_id, _, note)] = store.correction_ids(db, report.article_id or 0)
    assert report.status == "resolved" and report.correction_id == correction_id
    assert note == "It was 50 tonnes, not 500."
    assert "50 tonnes, not 500" in client.get("/articles/durian-tonnage").text
    wait_for(lambda: "50 tonnes, not 500" in client.get("/feed.json").text, "correction")
    article_page = client.get(f"/admin/articles/{report.article_id}").text
    assert f"from report #{report_id}" in article_page
    again = client.post(url, data={"csrf": token, "with": "correction", "note": "Twice?"})
    assert (
        "already resolved" in again.text and len(_view(engine, "durian-tonnage").corrections) == 1
    )
    client.post(f"/admin/reports/{other}/resolve", data={"csrf": token})
    [resolved] = _trail(engine, "report", other)
    assert (resolved.actor, resolved.action, json.loads(resolved.after)) == (
        EDITOR,
        "report.resolve",
        {"status": "resolved"},
    )
    assert client.get("/admin/reports/999999").status_code == 404
    assert client.get(f"/admin/reports/{2**40}").status_code == 404


def test_no_change_without_a_session_or_with_a_forged_form_token(
    engine: Engine, settings: Settings
) -> None:
    _add(engine, settings, {"title": "Kept story"})
    view = _view(engine, "kept-story")
    report_id = subscriptions.report_error(engine, "kept-story", "Wrong name.", "", now=NOW)
    client, token = _editor(engine, settings)
    anonymous = _app(engine, settings)
    posts = [
        ("/admin/articles/new", {"title": "Sneaky"}),
        (f"/admin/articles/{view.article.id}", {"title": "Defaced"}),
        (f"/admin/articles/{view.article.id}/status", {"status": "unpublished"}),
        (f"/admin/articles/{view.article.id}/corrections", {"note": "Forged"}),
        (f"/admin/reports/{report_id}/resolve", {"with": "correction", "note": "Forged"}),
    ]
    for path, data in posts:
        answer = anonymous.post(path, data={**data, "csrf": token}, follow_redirects=False)
        # No session: nothing is done, and the sign-in page keeps what was typed (401).
        assert answer.status_code == 401 and 'action="/admin/login"' in answer.text, path
        forged = client.post(path, data={**data, "csrf": "forged" * 8}, follow_redirects=False)
        assert forged.status_code == 403, path
        assert client.post(path, data=data, follow_redirects=False).status_code == 403, path
    assert anonymous.get("/admin/articles", follow_redirects=False).status_code == 303
    assert _view(engine, "kept-story") == view
    with store.reading(engine) as db:
        assert store.article_count(db) == 1
        assert store.report_by_id(db, report_id).status == "open"
        assert [e.action for e in store.audit_entries(db, kind="article")] == ["article.create"]
        assert store.audit_entries(db, kind="report") == []


@pytest.mark.slow  # the CLI as processes
def test_the_cli_and_the_api_are_in_the_trail(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    story = tmp_path / "story.md"
    story.write_text("---\ntitle: Port strike\n---\nShips wait.\n")
    assert cli(tmp_path, database_url, "articles", "add", str(story)).returncode == 0
    story.write_text("---\ntitle: Port strike\nauthor: Mei\n---\nShips wait.\n")
    assert cli(tmp_path, database_url, "articles", "add", str(story)).returncode == 0
    fixed = cli(tmp_path, database_url, "articles", "correct", "port-strike", "--note", "Fixed.")
    assert fixed.returncode == 0, fixed.stderr
    withdrew = cli(
        tmp_path, database_url, "articles", "withdraw", "port-strike", "--reason", "Wrong port."
    )
    assert withdrew.returncode == 0, withdrew.stderr
    assert cli(tmp_path, database_url, "articles", "publish", "port-strike").returncode == 0
    report_id = subscriptions.report_error(engine, "port-strike", "Wrong port.", "", now=NOW)
    resolved = cli(
        tmp_path, database_url, "reports", "resolve", str(report_id), "--correction", "Penang."
    )
    assert resolved.returncode == 0, resolved.stderr
    article_id = _view(engine, "port-strike").article.id or 0
    entries = _trail(engine, "article", article_id)
    me = f"cli:{getpass.getuser()}"
    assert [(e.actor, e.action) for e in entries] == [
        (me, "article.correct"), (me, "article.publish"), (me, "article.withdraw"),
        (me, "article.correct"), (me, "article.edit"), (me, "article.create"),
    ]  # fmt: skip
    assert (json.loads(entries[4].before), json.loads(entries[4].after)) == (
        {"author": ""},
        {"author": "Mei"},
    )
    [report_entry] = _trail(engine, "report", report_id)
    assert report_entry.actor == me and "correction_id" in json.loads(report_entry.after)

    token = "editor-token-0123456789"
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_API_TOKEN=token
    )
    api = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    auth = {"Authorization": f"Bearer {token}"}
    assert (
        api.put(
            "/api/articles/port-strike", json={"title": "Port strike ends"}, headers=auth
        ).status_code
        == 200
    )
    assert (
        api.post(
            "/api/articles/port-strike/corrections", json={"note": "Ends."}, headers=auth
        ).status_code
        == 200
    )
    # At the API's clock (NOW, before the CLI put it out) nobody has seen it yet.
    assert api.post("/api/articles/port-strike/unpublish", headers=auth).status_code == 200
    second = subscriptions.report_error(engine, "port-strike", "Again.", "", now=NOW)
    answer = api.post(f"/api/reports/{second}/resolve", json={"correction": "Noted."}, headers=auth)
    assert answer.json() == {"changed": True}
    third = subscriptions.report_error(engine, "port-strike", "Third.", "", now=NOW)
    assert api.post(f"/api/reports/{third}/resolve", headers=auth).json() == {"changed": True}
    newest = _trail(engine, "article", article_id)[:4]
    assert [(e.actor, e.action) for e in newest] == [
        ("api-token", "article.correct"), ("api-token", "article.unpublish"),
        ("api-token", "article.correct"), ("api-token", "article.edit"),
    ]  # fmt: skip
    assert json.loads(newest[3].after)["title"] == "Port strike ends"
    listed = {
        r["id"]: r for r in api.get("/api/reports?include_resolved=true", headers=auth).json()
    }
    assert listed[second]["correction_id"] is not None and listed[third]["correction_id"] is None


def test_an_http_image_in_the_body_is_refused_and_an_http_picture_is_kept_as_ours(
    engine: Engine, settings: Settings
) -> None:
    # Issue 25: the site's policy shows images over https only; an http:// one vanished.
    # Issue 26: the story's picture is fetched by the site and served from /media/, so an
    # http:// address is fine there; an image in the body still is not.
    client, token = _editor(engine, settings)
    with FeedServer() as server:
        address = server.serve("/harbour.jpg", picture(), content_type="image/jpeg")
        assert address.startswith("http://")
        typed = {"title": "Harbour lights", "image": address, "picture_alt": "Lights"}
        body = "Before.\n\n![Lights](http://images.example.org/b.jpg)"
        in_body = client.post("/admin/articles/new", data=_form(token, **typed, body=body))
        assert in_body.status_code == 400
        assert "http://images.example.org/b.jpg" in _errors(in_body.text)["body"]
        assert "![Lights](http://images.example.org/b.jpg)</textarea>" in in_body.text
        with pytest.raises(NotFoundError):  # nothing was saved
            _view(engine, "harbour-lights")
        saved = client.post("/admin/articles/new", data=_form(token, **typed),
                            follow_redirects=False)  # fmt: skip
        assert saved.status_code == 303
    view = _view(engine, "harbour-lights")
    assert view.article.image == address
    assert view.picture is not None and view.picture.source_url == address


def test_the_article_page_shows_times_in_the_sites_zone_and_the_feed_id_under_details(
    tmp_path: Path,
) -> None:
    # Issue 25: the history showed raw ISO times, and the page led with the internal tag: id.
    from lxml import html

    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/z.db",
        PUBLISHER_TIMEZONE="Asia/Singapore",
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    _add(engine, settings, {"title": "Ferry", "published_at": "2026-11-30T09:00:00+00:00"})
    article_id = _view(engine, "ferry").article.id
    client, token = _editor(engine, settings)
    fields = {"title": "Ferry", "slug": "ferry", "published_at": "2026-11-30T18:30:00"}
    client.post(f"/admin/articles/{article_id}", data=_form(token, **fields))
    tree = html.fromstring(client.get(f"/admin/articles/{article_id}").text)
    [details] = tree.cssselect("details#article-details")
    uid = _view(engine, "ferry").article.uid
    assert uid.startswith("tag:") and uid in details.text_content()
    outside = "".join(t for e in tree.cssselect("main > p") for t in e.itertext())
    assert uid not in outside
    edit, create = tree.cssselect("details.changes")  # newest first
    shown = " ".join(edit.text_content().split())
    assert "30 Nov 2026, 17:00:00 +08 → 30 Nov 2026, 18:30:00 +08" in shown, shown
    assert "T09:00" not in create.text_content() and "+00:00" not in create.text_content()
    engine.dispose()


def test_unpublish_asks_first_and_says_where_the_story_leaves(
    engine: Engine, settings: Settings
) -> None:
    # Issue 25: one click unpublished at once. The page now links to a question; only its
    # answer (the same POST the form always sent) unpublishes. Issue 26: a story readers
    # saw is withdrawn instead; unpublishing is for one nobody saw (here, scheduled).
    later = (NOW + timedelta(days=1)).isoformat()
    _add(engine, settings, {"title": "Port strike", "published_at": later})
    article_id = _view(engine, "port-strike").article.id
    client, token = _editor(engine, settings)
    page = client.get(f"/admin/articles/{article_id}").text
    assert 'name="status" value="unpublished"' not in page  # no one-click unpublish
    assert f'href="/admin/articles/{article_id}/unpublish"' in page
    question = client.get(f"/admin/articles/{article_id}/unpublish")
    assert question.status_code == 200
    said = " ".join(question.text.split())
    for place in ("the site", "the feeds", "the archive"):
        assert f"<strong>{place}</strong>" in said, place
    assert f'action="/admin/articles/{article_id}/status"' in said
    assert 'name="status" value="unpublished"' in said
    assert _view(engine, "port-strike").article.status == "published"  # asking changed nothing
    client.post(
        f"/admin/articles/{article_id}/status", data={"csrf": token, "status": "unpublished"}
    )
    assert _view(engine, "port-strike").article.status == "unpublished"
    again = client.get(f"/admin/articles/{article_id}/unpublish", follow_redirects=False)
    assert again.status_code == 303  # nothing to ask any more
