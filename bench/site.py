"""The reader's site at scale (issue 30).

With 100,000 stories in the database (SQLite, and PostgreSQL when it answers), the time to
answer a section page (``/categories/{slug}/``: first page, page 50, and a section of only
ten old stories), an author's page, the front page, a story page with its related stories,
and the sitemaps (the first request after a change, then from the cache), through the whole
app in-process. Each figure is the median of several requests. Target: a section page under
50 ms.

    .venv/bin/python bench/site.py [--articles 100000] [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import postgres_database, publisher_env
from bench.feeds import NOW, populate
from publisher import store
from publisher.models import ArticleCategory
from publisher.settings import load_settings
from publisher.web import create_app

PAGES = [
    ("section, page 1", "/categories/travel/"),
    ("section, page 50", "/categories/travel/?page=50"),
    ("rare section (10 old stories)", "/categories/rare/"),
    ("author, page 1", "/authors/newsflash-desk/"),
    ("front page", "/"),
    ("story + related", "/articles/story-99990"),
]


def add_rare(engine: Engine) -> None:
    """A section whose only ten stories are the oldest: the worst case for newest first."""
    links = ArticleCategory.__table__  # type: ignore[attr-defined]
    with store.writing(engine) as session:
        rare = store.ensure_categories(session, ["Rare"])["rare"]
        session.execute(
            insert(links),
            [{"article_id": n, "category_id": rare, "position": 2} for n in range(1, 11)],
        )
        store.bump(session, "articles")


def timed(client: TestClient, path: str, rounds: int) -> float:
    """The median milliseconds of ``rounds`` requests for ``path`` (after one warm-up)."""
    assert client.get(path).status_code == 200, path
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, path
    return statistics.median(times)


def sitemaps(client: TestClient, engine: Engine) -> tuple[float, float]:
    """(after a change, cached) milliseconds for the first stories sitemap."""
    with store.writing(engine) as session:
        store.bump(session, "articles")
    started = time.perf_counter()
    assert client.get("/sitemaps/stories-1.xml").status_code == 200
    fresh = (time.perf_counter() - started) * 1000
    return fresh, timed(client, "/sitemaps/stories-1.xml", 5)


def run(label: str, url: str, count: int, rounds: int, work: Path) -> None:
    settings = load_settings(
        publisher_env(url, work / "var") | {"PUBLISHER_SITE_URL": "https://news.example.com"},
        env_file=None,
    )
    engine = store.make_engine(url)
    store.migrate(engine)
    started = time.perf_counter()
    populate(engine, count)
    add_rare(engine)
    print(f"   {label}: {count:,} stories loaded in {time.perf_counter() - started:.0f} s")
    app = create_app(
        settings, engine, clock=lambda: NOW + timedelta(hours=1), feed_upkeep_every=None
    )
    with TestClient(app) as client:
        for name, path in PAGES:
            print(f"   {label:<10} {name:<32} {timed(client, path, rounds):7.1f} ms")
        fresh, warm = sitemaps(client, engine)
        print(f"   {label:<10} {'sitemap of 50,000 (changed)':<32} {fresh:7.1f} ms")
        print(f"   {label:<10} {'sitemap of 50,000 (cached)':<32} {warm:7.1f} ms")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    print(f"The reader's site over {args.articles:,} stories (median of {args.rounds} requests)")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        run("SQLite", f"sqlite:///{work / 'site.db'}", args.articles, args.rounds, work)
        with postgres_database() as pg_url:
            if pg_url:
                run("PostgreSQL", pg_url, args.articles, args.rounds, work)


if __name__ == "__main__":
    main()
