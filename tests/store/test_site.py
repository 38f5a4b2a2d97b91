"""The reader's site's queries (issue 30): both plans of a section page give the same page,
in a stable order, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.settings import Settings
from tests.support import NOW


def test_a_section_page_is_the_same_by_either_plan(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    rows = [
        {"title": f"Story {n}", "slug": f"story-{n}",
         "categories": ["Harbour"] if n % 3 else ["Other"],
         "published_at": (NOW - timedelta(minutes=n // 4)).isoformat()}
        for n in range(60)
    ] + [{"title": "Later", "slug": "later", "categories": ["Harbour"],
          "published_at": (NOW + timedelta(days=1)).isoformat()}]  # fmt: skip
    (tmp_path / "s.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
    publish.import_articles(engine, settings, [tmp_path / "s.jsonl"], now=NOW, actor="test")
    with store.reading(engine) as session:
        harbour = store.category_by_slug(session, "harbour").id or 0
        sizes = store.category_counts(session, now=NOW)
        assert sizes[harbour] == 40  # the scheduled story is not counted
        pages = {}
        for size in (sizes[harbour], store.FEW + 1):  # listed from links; by the index
            pages[size] = [
                [v.article.slug for v in store.story_page(
                    session, now=NOW, offset=offset, limit=15, category_id=harbour,
                    category_size=size)]
                for offset in (0, 15, 30)
            ]  # fmt: skip
    small, large = pages.values()
    assert small == large
    listed = [slug for page in small for slug in page]
    assert len(listed) == 40 == len(set(listed)) and "later" not in listed
