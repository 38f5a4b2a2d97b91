"""Editions on SQLite and PostgreSQL: once per period, never a story twice, never empty."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.editions import making
from publisher.editions.compose import INLINER
from publisher.errors import NotFoundError
from publisher.look import changes
from publisher.models import Edition
from publisher.schedules import Timetable, parse_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.web import create_app
from tests.pictures import keep_addresses

SGT = ZoneInfo("Asia/Singapore")
TIMETABLE = """\
timezone: Asia/Singapore
digests:
  daily:
    cron: "0 7 * * *"
    max_articles: 3
  culture:
    cron: "0 9 * * mon"
    categories: [Culture]
"""
DAY1 = datetime(2026, 11, 30, 7, 0, tzinfo=SGT)
IMAGE = "https://images.example.com/withdrawn.jpg"


@pytest.fixture
def timetable() -> Timetable:
    return parse_timetable(TIMETABLE)


def add(engine: Engine, settings: Settings, tmp_path: Path, *records: dict[str, object]) -> None:
    path = tmp_path / f"batch-{len(list(tmp_path.glob('batch-*')))}.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    publish.import_articles(engine, settings, [path], now=DAY1, actor="test")


def story(n: int, hours_before: float, *categories: str) -> dict[str, object]:
    when = DAY1 - timedelta(hours=hours_before)
    return {"title": f"Story {n}", "published_at": when.isoformat(), "categories": list(categories)}


def make(
    engine: Engine, settings: Settings, timetable: Timetable, name: str, nominal: datetime
) -> tuple[Edition, bool]:
    return making.ensure_edition(
        engine,
        settings,
        timetable,
        make_environment(),
        timetable.digest(name),
        nominal=nominal,
        now=nominal + timedelta(seconds=5),
    )


def test_same_period_twice_is_one_edition(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, story(1, 2), story(2, 3))
    calls = INLINER.calls
    first, created = make(engine, settings, timetable, "daily", DAY1)
    again, created_again = make(engine, settings, timetable, "daily", DAY1)
    assert created and not created_again
    assert first.id == again.id and again.status == "ready" and again.article_count == 2
    assert INLINER.calls - calls == 1  # rendered and inlined once, not per call
    assert "Story 1" in again.html and "Story 2" in again.text
    assert [e.id for e in making.list_editions(engine)] == [first.id]


def test_two_threads_at_once_make_one_edition(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, story(1, 2))
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            edition, created = make(engine, settings, timetable, "daily", DAY1)
            results.append((edition.id or 0, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({edition_id for edition_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


def test_nothing_new_is_a_skipped_edition(
    engine: Engine, settings: Settings, timetable: Timetable
) -> None:
    edition, created = make(engine, settings, timetable, "daily", DAY1)
    assert created and edition.status == "skipped" and edition.article_count == 0
    assert edition.html == ""
    with pytest.raises(NotFoundError):
        making.archived(
            engine,
            settings,
            edition.id or 0,
            timetable=timetable,
            env=make_environment(),
            now=DAY1,
        )


def test_no_story_twice_and_newest_first_up_to_the_limit(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, *(story(n, n) for n in range(1, 6)))
    first, _ = make(engine, settings, timetable, "daily", DAY1)
    assert first.article_count == 3
    assert first.html.index("Story 1") < first.html.index("Story 2") < first.html.index("Story 3")
    second, _ = make(engine, settings, timetable, "daily", DAY1 + timedelta(days=1))
    assert second.status == "skipped"  # stories 4 and 5 are older than the last edition
    add(engine, settings, tmp_path, story(6, -10))  # published after day 1's edition
    third, _ = make(engine, settings, timetable, "daily", DAY1 + timedelta(days=2))
    assert third.article_count == 1 and "Story 6" in third.html
    for n in (1, 2, 3):
        assert f"Story {n}<" not in third.html


def test_categories_filter_and_digests_are_independent(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, story(1, 2, "Culture"), story(2, 3, "Trade"))
    monday = datetime(2026, 11, 30, 9, 0, tzinfo=SGT)
    culture, _ = make(engine, settings, timetable, "culture", monday)
    assert (
        culture.article_count == 1 and "Story 1" in culture.html and "Story 2" not in culture.html
    )
    daily, _ = make(engine, settings, timetable, "daily", DAY1)
    assert daily.article_count == 2  # the culture digest carrying story 1 does not hide it here


def test_scheduled_and_unpublished_stories_wait(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, story(1, -3), story(2, 1), story(3, 2))
    publish.set_article_status(engine, "story-3", "unpublished", now=DAY1, actor="test")
    edition, _ = make(engine, settings, timetable, "daily", DAY1)
    assert edition.article_count == 1 and "Story 2" in edition.html


def test_a_story_taken_down_leaves_the_digest_archive(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    """Issue 24, 10: unpublished after its edition went out, a story's headline, summary and
    image leave /digests/N as they leave the site and the feeds; back when published again."""
    gone = {**story(1, 2), "summary": "Summary of the withdrawn one.", "image": IMAGE}
    add(engine, settings, tmp_path, gone, story(2, 3))
    keep_addresses(engine, settings, alt="Withdrawn")  # the daemon's part (issue 26)
    ours = publish.article_any(engine, "story-1").picture
    assert ours is not None
    shown = ours.pick(600).name  # the digest's rendition of the picture
    edition, _ = make(engine, settings, timetable, "daily", DAY1)
    settings.schedules.write_text(TIMETABLE)  # the app's timetable: the edition's digest
    client = TestClient(create_app(settings, engine, clock=lambda: DAY1, feed_upkeep_every=None))
    page = f"/digests/{edition.id}"
    before = client.get(page).text
    assert "Story 1" in before and "Summary of the withdrawn" in before and shown in before
    publish.set_article_status(engine, "story-1", "unpublished", now=DAY1, actor="test")
    for path in (page, "/", "/feed.json", "/feed.xml", "/atom.xml", "/digests/"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        for trace in ("Story 1", "Summary of the withdrawn", shown, ours.pick(1200).name):
            assert trace not in answer.text, (path, trace)
    assert client.get("/articles/story-1").status_code == 404
    after = client.get(page).text
    assert "Story 2" in after and "/unsubscribe/" not in after and "NFPH" not in after
    publish.set_article_status(engine, "story-1", "published", now=DAY1, actor="test")
    assert "Story 1" in client.get(page).text  # back with the story
    for slug in ("story-1", "story-2"):
        publish.set_article_status(engine, slug, "unpublished", now=DAY1, actor="test")
    assert client.get(page).status_code == 404  # nothing of it is left to show


def test_preview_is_not_recorded_and_archive_has_no_personal_links(
    engine: Engine, settings: Settings, timetable: Timetable, tmp_path: Path
) -> None:
    add(engine, settings, tmp_path, story(1, 2))
    preview = making.preview(
        engine, settings, timetable, make_environment(), timetable.digest("daily"), now=DAY1
    )
    assert preview.stories == 1 and "NFPH_" not in preview.html and "Hello," in preview.text
    assert making.list_editions(engine) == []
    edition, _ = make(engine, settings, timetable, "daily", DAY1)
    client = TestClient(create_app(settings, engine, feed_upkeep_every=None))
    listing = client.get("/digests/")
    assert listing.status_code == 200 and f'href="/digests/{edition.id}"' in listing.text
    page = client.get(f"/digests/{edition.id}")
    assert page.status_code == 200
    assert "NFPH_" not in page.text and "/unsubscribe/" not in page.text
    assert "Story 1" in page.text and "Hello," in page.text
    assert client.get("/digests/999999").status_code == 404


def test_an_edition_keeps_the_look_it_was_made_with(
    engine: Engine, settings: Settings, tmp_path: Path, timetable: Timetable
) -> None:
    def accent(colour: str) -> None:
        studio = timetable.brand_studio
        changes.change(engine, settings, studio, {"accent": colour}, actor="chief", now=DAY1)

    accent("#1a7f37")
    add(engine, settings, tmp_path, story(1, 2, "Trade"), story(2, 3, "Culture"))
    add(engine, settings, tmp_path, story(3, -2, "Trade"))  # for the next day's edition
    edition, _ = make(engine, settings, timetable, "daily", DAY1)
    assert "#1a7f37" in edition.html
    accent("#6f42c1")  # changed while the edition goes out
    first = [v.article.id or 0 for v in making.edition_stories(engine, edition.id or 0)][:1]
    variant = making.render_variant(engine, settings, timetable, make_environment(), edition, first)
    assert "#1a7f37" in variant.html and "#6f42c1" not in variant.html
    following, _ = make(engine, settings, timetable, "daily", DAY1 + timedelta(days=1))
    assert "#6f42c1" in following.html and "#1a7f37" not in following.html
