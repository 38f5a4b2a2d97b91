from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.errors import InputError, NotFoundError
from publisher.settings import Settings
from tests.support import EXAMPLES, NOW


def slugs(engine: Engine) -> list[str]:
    return sorted(v.article.slug for v in publish.list_articles(engine))


def test_import_examples_then_reimport_changes_nothing(engine: Engine, settings: Settings) -> None:
    report = publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    assert report.created == 6 and report.files == 5
    ids = {v.article.slug: v.article.uid for v in publish.list_articles(engine)}
    again = publish.import_articles(
        engine, settings, [EXAMPLES], now=NOW + timedelta(days=1), actor="test"
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert {v.article.slug: v.article.uid for v in publish.list_articles(engine)} == ids
    corrected = store_view(engine, "second-link-lane-closures")
    assert len(corrected.corrections) == 1
    assert corrected.article.updated_at > corrected.article.published_at
    sponsored = store_view(engine, "brand-studio-sabah-coffee")
    assert sponsored.article.sponsored and "Brand Studio" in sponsored.categories


def store_view(engine: Engine, slug: str) -> store.ArticleView:
    with store.reading(engine) as session:
        return store.article_by_slug(session, slug)


def test_one_bad_record_imports_nothing(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    good = tmp_path / "good.md"
    good.write_text("---\ntitle: Good story\n---\nFine.\n")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"title": "ok"}\n{"title": "no", "published_at": "2026-13-01"}\n')
    with pytest.raises(InputError) as caught:
        publish.import_articles(engine, settings, [good, bad], now=NOW, actor="test")
    assert caught.value.message.startswith("nothing imported: 1 problem")
    assert caught.value.details == [
        f"{bad}:2: published_at: '2026-13-01' is not an ISO 8601 date and time such as "
        "2026-11-30T07:00:00+08:00 (month must be in 1..12)"
    ]
    assert slugs(engine) == []


def test_problems_after_a_full_batch_still_roll_back(
    engine: Engine, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish, "BATCH", 3)
    path = tmp_path / "many.jsonl"
    lines = [json.dumps({"title": f"Story {n}"}) for n in range(10)] + ['{"title": 5}']
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match="nothing imported"):
        publish.import_articles(engine, settings, [path], now=NOW, actor="test")
    assert slugs(engine) == []


def test_duplicate_slugs_in_one_call_are_refused(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "dupes.jsonl"
    path.write_text('{"title": "Same"}\n{"title": "same!"}\n')
    with pytest.raises(InputError) as caught:
        publish.import_articles(engine, settings, [path], now=NOW, actor="test")
    assert caught.value.details == [f"{path}:2: slug 'same' also at {path}:1"]


def test_load_samples_only_into_an_empty_database(engine: Engine, settings: Settings) -> None:
    first = publish.load_samples(engine, settings, now=NOW, actor="test")
    assert first is not None and first.created == 6
    assert publish.load_samples(engine, settings, now=NOW, actor="test") is None


def test_initialise_writes_a_starter_timetable(engine: Engine, settings: Settings) -> None:
    settings.schedules.unlink()
    done = publish.initialise(settings, engine)
    assert settings.schedules.read_text().startswith("# The digest timetable")
    assert any("starter" in line for line in done)
    assert not any("starter" in line for line in publish.initialise(settings, engine))


def test_unpublished_and_scheduled_articles_are_not_found(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"title": "Soon", "published_at": "2026-12-01T00:00:00+00:00"}\n{"title": "Now"}\n'
    )
    publish.import_articles(engine, settings, [path], now=NOW, actor="test")
    assert publish.article(engine, "now", now=NOW).article.title == "Now"
    with pytest.raises(NotFoundError):
        publish.article(engine, "soon", now=NOW)
    assert publish.article(engine, "soon", now=NOW + timedelta(days=2)).article.title == "Soon"
    publish.set_article_status(engine, "now", "unpublished", now=NOW, actor="test")
    with pytest.raises(NotFoundError):
        publish.article(engine, "now", now=NOW)
