"""The editorial day in the newsroom, the API and the CLI (web/admin/article_form.py,
article_life.py, article_revisions.py, web/reader.py, web/api.py, cli/articles.py), on both
databases: a contributor's drafts and the review queue, what a contributor is refused (403
everywhere), the page preview, preview links, and a withdrawn story's page."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.processes import cli
from tests.support import NOW

CONTRIBUTOR = "mina@example.com"
EDITOR = "ed@example.com"


def _client(engine: Engine, settings: Settings, email: str, role: str) -> tuple[TestClient, str]:
    add_person(engine, settings, email, role)
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    return client, sign_in(client, email)


def _story(**values: str) -> dict[str, str]:
    return {"title": "Harbour reopens", "body": "The harbour reopens **today**.", **values}


def _id(response: Any) -> int:
    return int(response.headers["location"].split("?")[0].rsplit("/", 1)[1])


def test_a_contributor_drafts_sends_for_review_and_is_refused_the_rest(
    engine: Engine, settings: Settings
) -> None:
    mina, token = _client(engine, settings, CONTRIBUTOR, "contributor")
    assert "Your stories" in mina.get("/admin/").text
    for path in ("/admin/subscribers", "/admin/editions", "/admin/reports", "/admin/people",
                 "/admin/audit", "/admin/articles", "/admin/inbox"):  # fmt: skip
        assert mina.get(path).status_code == 403, path
    assert mina.get("/admin/articles/new?from_item=1").status_code == 403  # the inbox's
    refused = mina.post(
        "/admin/articles/new", data={"csrf": token, "action": "publish", **_story()}
    )
    assert refused.status_code == 403 and publish.list_articles(engine) == []
    saved = mina.post(
        "/admin/articles/new",
        data={"csrf": token, "action": "save", **_story()},
        follow_redirects=False,
    )
    article_id = _id(saved)
    page = mina.get(f"/admin/articles/{article_id}").text
    assert 'id="save"' in page and 'id="publish"' not in page and 'id="send-review"' in page
    slug = publish.article_by_id(engine, article_id).article.slug
    assert mina.get(f"/articles/{slug}").status_code == 404
    mina.post(
        f"/admin/articles/{article_id}",
        data={"csrf": token, "action": "review", **_story()},
    )
    assert publish.article_by_id(engine, article_id).article.status == "in_review"
    # The editor's queue, a note required to send it back, and the writer sees the note.
    ed, ed_token = _client(engine, settings, EDITOR, "editor")
    assert f'href="/admin/articles/{article_id}">Harbour reopens' in ed.get("/admin/").text
    empty = ed.post(f"/admin/articles/{article_id}/send-back", data={"csrf": ed_token, "note": ""})
    assert empty.status_code == 400 and 'id="review-error"' in empty.text
    ed.post(
        f"/admin/articles/{article_id}/send-back",
        data={"csrf": ed_token, "note": "Name the ferry line."},
    )
    assert "Name the ferry line." in mina.get("/admin/").text
    assert "Name the ferry line." in mina.get(f"/admin/articles/{article_id}").text
    # The API and the CLI refuse a contributor's publishing as the form does.
    api = mina.post(
        f"/api/articles/{publish.article_by_id(engine, article_id).article.slug}/publish",
        headers={"X-CSRF-Token": token},
    )
    assert api.status_code == 403
    assert [a["title"] for a in mina.get("/api/articles").json()] == ["Harbour reopens"]
    assert publish.article_by_id(engine, article_id).article.status == "draft"


def test_the_page_preview_and_a_preview_link(engine: Engine, settings: Settings) -> None:
    ed, token = _client(engine, settings, EDITOR, "editor")
    story = _story(editor="Ed Lim", ai_assisted="on", sponsored="on")
    preview = ed.post("/admin/articles/preview-page", data={"csrf": token, **story})
    assert preview.status_code == 200 and publish.list_articles(engine) == []  # nothing saved
    frames = re.findall(r'<iframe id="preview-(phone|desktop)"[^>]* srcdoc="([^"]*)"', preview.text)
    assert [name for name, _ in frames] == ["phone", "desktop"]
    page = html.unescape(frames[0][1])
    for shown in ("<h1>Harbour reopens</h1>", "<strong>today</strong>", "Sponsored",
                  "published by a human editor: Ed Lim", "with the help of AI tools",
                  'content="noindex"'):  # fmt: skip
        assert shown in page, shown
    bad = ed.post("/admin/articles/preview-page", data={"csrf": token, "body": "no title"})
    assert bad.status_code == 400 and 'id="preview-problems"' in bad.text
    saved = ed.post(
        "/admin/articles/new",
        data={"csrf": token, "action": "save", **story},
        follow_redirects=False,
    )
    made = ed.post(f"/admin/articles/{_id(saved)}/preview-link", data={"csrf": token})
    link = re.search(r'value="https?://[^/"]+(/preview/[^"]+)"', made.text)
    assert link is not None
    anonymous = TestClient(ed.app, base_url=settings.site_url)
    shown = anonymous.get(html.unescape(link[1]))
    assert shown.status_code == 200 and "Preview: not published" in shown.text
    assert shown.headers["x-robots-tag"] == "noindex, nofollow"
    assert anonymous.get(html.unescape(link[1])[:-2] + "AA").status_code == 404
    assert anonymous.get("/articles/harbour-reopens").status_code == 404  # still a draft


def test_a_withdrawn_story_keeps_its_page_and_says_why(engine: Engine, settings: Settings) -> None:
    ed, token = _client(engine, settings, EDITOR, "editor")
    saved = ed.post(
        "/admin/articles/new",
        data={"csrf": token, "action": "publish", **_story(editor="Ed Lim")},
        follow_redirects=False,
    )
    article_id = _id(saved)
    story = ed.get("/articles/harbour-reopens").text
    assert "Selected and published by a human editor: Ed Lim." in story
    question = ed.get(f"/admin/articles/{article_id}/withdraw")
    assert 'id="withdraw-editions">0 editions' in question.text
    no_reason = ed.post(f"/admin/articles/{article_id}/withdraw", data={"csrf": token})
    assert no_reason.status_code == 400 and 'id="reason-error"' in no_reason.text
    ed.post(
        f"/admin/articles/{article_id}/withdraw",
        data={"csrf": token, "reason": "its main claim could not be verified."},
    )
    page = ed.get("/articles/harbour-reopens")
    assert page.status_code == 200
    said = " ".join(page.text.split())
    assert "This story was withdrawn on" in said and "its main claim could not be verified." in said
    assert "reopens <strong>today</strong>" not in page.text and 'content="noindex"' in page.text
    for path in ("/", "/feed.xml", "/atom.xml", "/feed.json", "/sitemap.xml", "/search?q=harbour"):
        assert "Harbour reopens" not in ed.get(path).text, path


@pytest.mark.slow  # the CLI as processes
def test_the_cli_keeps_drafts_and_refuses_a_contributor(
    engine: Engine, settings: Settings, tmp_path: Path, database_url: str
) -> None:
    add_person(engine, settings, CONTRIBUTOR, "contributor")
    story = tmp_path / "story.md"
    story.write_text("---\ntitle: Harbour reopens\n---\nToday.\n")
    refused = cli(tmp_path, database_url, "articles", "add", str(story), "--as", CONTRIBUTOR)
    assert refused.returncode == 2 and "only an editor" in refused.stderr
    drafted = cli(
        tmp_path, database_url, "articles", "add", str(story), "--draft", "--as", CONTRIBUTOR
    )
    assert drafted.returncode == 0, drafted.stderr
    assert publish.article_any(engine, "harbour-reopens").status(NOW) == "draft"
    publishing = cli(
        tmp_path, database_url, "articles", "publish", "harbour-reopens", "--as", CONTRIBUTOR
    )
    assert publishing.returncode == 2 and "only an editor" in publishing.stderr
    sent = cli(tmp_path, database_url, "articles", "review", "harbour-reopens", "--as", CONTRIBUTOR)
    assert sent.returncode == 0, sent.stderr
    assert cli(tmp_path, database_url, "articles", "publish", "harbour-reopens").returncode == 0
    no_reason = cli(
        tmp_path, database_url, "articles", "withdraw", "harbour-reopens", "--reason", ""
    )
    assert no_reason.returncode == 2 and "reason" in no_reason.stderr
    withdrawn = cli(
        tmp_path, database_url, "articles", "withdraw", "harbour-reopens", "--reason", "wrong."
    )
    assert withdrawn.returncode == 0 and "0 edition(s)" in withdrawn.stdout
    listed = cli(tmp_path, database_url, "articles", "list", "--json")
    assert '"status": "withdrawn"' in listed.stdout
