"""The inbox use cases (the newsroom's inbox pages and `publisher inbox` call them) and the
`sources` and `inbox` commands as users run them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.errors import InputError, NotFoundError
from publisher.schedules import parse_timetable
from publisher.settings import Settings
from publisher.sources import inbox, polling
from tests.feedserver import FeedServer
from tests.processes import cli
from tests.support import NOW


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def json_feed(*titles: str) -> str:
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Press wire",
        "items": [
            {"id": f"i{n}", "title": t, "url": f"https://wire.example/{n}",
             "summary": f"About {t.lower()}.", "content_html": f"<p>{t} in full.</p>",
             "image": f"https://wire.example/{n}.jpg", "authors": [{"name": "Wire desk"}],
             "date_published": "2026-11-30T08:00:00+00:00"}
            for n, t in enumerate(titles)
        ],
    })  # fmt: skip


def fill(engine: Engine, settings: Settings, server: FeedServer, **sources_: list[str]) -> None:
    """Each keyword a source (inbox mode, category Culture) serving items with these titles."""
    text = "sources:\n"
    for key, titles in sources_.items():
        url = server.serve(f"/{key}", json_feed(*titles), content_type="application/feed+json")
        text += f"  {key}:\n    url: {url}\n    categories: [Culture]\n"
    for spec in parse_timetable(text).sources.values():
        polling.poll_source(engine, settings, spec, now=NOW, force=True)


def test_list_items_filters_by_source_status_and_text_and_pages(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    fill(engine, settings, server, wire=["Rail link opens", "Port expands"], arts=["Gallery week"])
    every = inbox.list_items(engine)
    assert every.total == 3 and every.pages == 1 and not every.has_next
    assert every.counts == {"wire": 2, "arts": 1}
    assert every.labels == {"arts": "Press wire", "wire": "Press wire"}
    assert {v.item.title for v in inbox.list_items(engine, source="wire").items} == {
        "Rail link opens", "Port expands"
    }  # fmt: skip
    assert [v.item.title for v in inbox.list_items(engine, query="RAIL").items] == [
        "Rail link opens"
    ]
    assert inbox.list_items(engine, query="100%_").total == 0  # LIKE's wildcards are text
    assert inbox.list_items(engine, status="published").total == 0
    assert inbox.list_items(engine, page=2).items == []
    with pytest.raises(InputError, match="status: 'old' is not one of"):
        inbox.list_items(engine, status="old")
    with pytest.raises(NotFoundError):
        inbox.get_item(engine, 999)


def test_draft_prefills_the_article_form(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    fill(engine, settings, server, wire=["Rail link opens"])
    [view] = inbox.list_items(engine).items
    fields = inbox.draft(engine, view.item.id or 0)
    assert fields == {
        "item_id": view.item.id,
        "title": "Rail link opens",
        "summary": "About rail link opens.",
        "body": "<p>Rail link opens in full.</p>",
        "body_format": "html",
        "author": "Wire desk",
        "image": "https://wire.example/0.jpg",
        "categories": ["Culture"],
        "source_name": "Press wire",
        "source_url": "https://wire.example/0",
    }


def test_an_editor_publishes_an_item_and_the_article_keeps_its_origin(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    fill(engine, settings, server, wire=["Rail link opens", "Port expands"])
    rail = next(v.item for v in inbox.list_items(engine).items if v.item.title.startswith("Rail"))
    later = NOW + timedelta(hours=1)
    article_id = inbox.publish_item(
        engine, settings, rail.id or 0, editor="Kim Min-ji", ai_assisted=True,
        actor="kim@example.com", now=later,
    )  # fmt: skip
    a = publish.article_by_id(engine, article_id).article
    assert (a.title, a.editor, a.ai_assisted, a.published_at) == (
        "Rail link opens", "Kim Min-ji", True, later
    )  # fmt: skip
    assert (a.source_name, a.source_url) == ("Press wire", "https://wire.example/0")
    origin = inbox.article_origin(engine, article_id)
    assert origin is not None and origin.item.id == rail.id
    assert inbox.get_item(engine, rail.id or 0).item.status == "published"
    assert [v.item.title for v in inbox.list_items(engine).items] == ["Port expands"]
    with pytest.raises(InputError, match="already article"):
        inbox.publish_item(engine, settings, rail.id or 0, editor="x", ai_assisted=False,
                           actor="x", now=later)  # fmt: skip
    with pytest.raises(InputError, match="already article"):
        inbox.discard(engine, rail.id or 0, actor="x", now=later)
    with store.reading(engine) as session:
        [entry] = store.audit_entries(session, kind="inbox_item")
    assert (entry.actor, entry.action, entry.subject_id) == (
        "kim@example.com", "inbox.publish", rail.id
    )  # fmt: skip
    assert inbox.article_origin(engine, 12345) is None


def test_an_item_published_by_an_editor_is_marked_updated_not_overwritten(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    fill(engine, settings, server, wire=["Rail link opens"])
    [view] = inbox.list_items(engine).items
    article_id = inbox.publish_item(engine, settings, view.item.id or 0, editor="Kim",
                                    ai_assisted=False, actor="kim", now=NOW)  # fmt: skip
    server.serve("/wire", json_feed("Rail link opens early"), content_type="application/feed+json")
    spec = parse_timetable(f"sources:\n  wire:\n    url: {server.url}/wire\n").source("wire")
    polling.poll_source(engine, settings, spec, now=NOW + timedelta(hours=1), force=True)
    assert publish.article_by_id(engine, article_id).article.title == "Rail link opens"
    [changed] = inbox.list_items(engine, status="updated").items
    assert (changed.item.title, changed.item.article_id) == ("Rail link opens early", article_id)


def test_published_links_an_item_inside_the_articles_transaction(
    engine: Engine, settings: Settings, server: FeedServer
) -> None:
    fill(engine, settings, server, wire=["Rail link opens"])
    [view] = inbox.list_items(engine).items
    fields = inbox.draft(engine, view.item.id or 0)
    article_id, _ = publish.save_article(
        engine, settings,
        {"title": "Rail link opens, adapted", "body_html": fields["body"],
         "source": {"name": fields["source_name"], "url": fields["source_url"]}},
        article_id=None, now=NOW, actor="kim@example.com",
    )  # fmt: skip
    with pytest.raises(RuntimeError), store.writing(engine) as session:
        inbox.published(session, view.item.id or 0, article_id, actor="kim", now=NOW)
        raise RuntimeError("the article's transaction fails")
    assert inbox.get_item(engine, view.item.id or 0).item.status == "new"  # rolled back too
    with store.writing(engine) as session:
        inbox.published(session, view.item.id or 0, article_id, actor="kim", now=NOW)
    origin = inbox.article_origin(engine, article_id)
    assert origin is not None and origin.item.id == view.item.id


@pytest.mark.slow
def test_the_sources_and_inbox_commands(
    tmp_path: Path, database_url: str, server: FeedServer
) -> None:
    url = server.serve("/wire", json_feed("Rail link opens", "Port expands"),
                       content_type="application/feed+json")  # fmt: skip
    bad = server.serve("/bad", "nope", status=500)
    (tmp_path / "schedules.yaml").write_text(
        f"sources:\n  wire:\n    url: {url}\n    name: Wire\n  broken:\n    url: {bad}\n"
    )
    env = {"PUBLISHER_SCHEDULES": str(tmp_path / "schedules.yaml"),
           "PUBLISHER_SITE_URL": "https://news.example.com"}  # fmt: skip
    polled = cli(tmp_path, database_url, "sources", "poll", "wire", **env)
    assert polled.returncode == 0, polled.stderr
    assert polled.stdout.strip() == "wire: 2 new, 0 updated, 0 skipped"
    every = cli(tmp_path, database_url, "sources", "poll", **env)
    assert every.returncode == 1
    assert "broken: failed: " in every.stdout and "wire: not modified" in every.stdout
    errors = [line for line in every.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: 1 of 2 source(s) not polled"]
    unknown = cli(tmp_path, database_url, "sources", "poll", "nope", **env)
    assert (unknown.returncode, unknown.stderr.strip()) == (
        2, "Error: no source 'nope' in the timetable (known: wire, broken)"
    )  # fmt: skip
    listed = cli(tmp_path, database_url, "sources", "list", **env)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].startswith("broken") and "failing" in lines[0]
    assert lines[1].strip().startswith(f"last error (1 in a row): {bad} answered HTTP 500")
    assert lines[2].startswith("wire") and "2 seen, 2 new" in lines[2] and lines[2].endswith("Wire")

    shown = cli(tmp_path, database_url, "inbox", "list", **env)
    assert shown.returncode == 0 and shown.stdout.strip().endswith("2 item(s)")
    ids = {line.split(": ", 1)[1]: line.split()[0][1:] for line in shown.stdout.splitlines()[:2]}
    one = cli(tmp_path, database_url, "inbox", "show", ids["Rail link opens"], **env)
    assert "link: https://wire.example/0" in one.stdout and "source: Wire (wire)" in one.stdout
    published = cli(tmp_path, database_url, "inbox", "publish", ids["Rail link opens"],
                    "--editor", "Kim Min-ji", "--ai-assisted", **env)  # fmt: skip
    assert published.returncode == 0, published.stderr
    assert published.stdout.strip().endswith("https://news.example.com/articles/rail-link-opens")
    again = cli(tmp_path, database_url, "inbox", "publish", ids["Rail link opens"], **env)
    assert again.returncode == 2 and again.stderr.startswith("Error: inbox item")
    dropped = cli(tmp_path, database_url, "inbox", "discard", ids["Port expands"], **env)
    assert dropped.stdout.strip() == f"#{ids['Port expands']}: discarded"
    assert cli(tmp_path, database_url, "inbox", "list", **env).stdout.strip() == "0 item(s)"
    missing = cli(tmp_path, database_url, "inbox", "show", "999", **env)
    assert (missing.returncode, missing.stderr.strip()) == (1, "Error: no inbox item 999")
    articles = json.loads(cli(tmp_path, database_url, "articles", "list", "--json", **env).stdout)
    assert [(a["slug"], a["editor"], a["ai_assisted"]) for a in articles] == [
        ("rail-link-opens", "Kim Min-ji", True)
    ]
    resumed = cli(tmp_path, database_url, "sources", "resume", "broken", **env)
    assert resumed.stdout.strip() == "broken: was not paused"
