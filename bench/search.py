"""The reader's search over 100,000 published stories, on SQLite and PostgreSQL (issue 30).

Writes ``--stories`` generated stories (English bodies of about 1 KB from a 400-word
vocabulary, one in ten with a Thai sentence and one in ten with a Korean one) through
``store.upsert_articles`` in batches of 1,000, the import's own path, so the search index is
written as imports write it; then times ``/search`` queries (the database's ranked page of
ten, the stories' rows and the rendered page, through the app) and prints the median and
the slowest of ``--repeat`` runs of each. Target: under 50 ms.

    .venv/bin/python bench/search.py [--stories 100000] [--repeat 20]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import postgres_database
from publisher import store
from publisher.articles.cleaning import ArticleInput
from publisher.settings import load_settings
from publisher.web import create_app

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SYLLABLES = ["ka", "ri", "to", "man", "sel", "por", "vin", "da", "lu", "bre", "nor", "tes"]
THAI = "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ในช่วงเย็น"
KOREAN = "올해 부산 국제 영화제는 아시아 독립영화 부문을 새로 만들었다"
QUERIES = [
    ("a word in 1 story in 1,000", "zebrafish"),
    ("a word in 1 story in 10", "harbour"),
    ("a word in most stories", "the"),
    ("two words", "harbour freight"),
    ("Thai, inside unspaced text", "อัมพวา"),
    ("Korean, two syllables", "부산"),
    ("Korean, three syllables", "영화제"),
    ("a prefix of one letter", "z"),
    ("no match", "qqxxzz"),
]


def vocabulary(rng: random.Random) -> list[str]:
    made = {"".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) for _ in range(600)}
    return [*sorted(made)[:400], "the", "port", "rail", "trade", "city", "market"]


def story(n: int, rng: random.Random, words: list[str]) -> ArticleInput:
    text = " ".join(rng.choices(words, k=160))
    extra = []
    if n % 10 == 0:
        extra.append("harbour freight")
    if n % 10 == 3:
        extra.append(THAI)
    if n % 10 == 7:
        extra.append(KOREAN)
    if n % 1000 == 0:
        extra.append("zebrafish")
    body = f"<p>{text}</p><p>{' '.join(extra)}</p>"
    return ArticleInput(
        slug=f"story-{n}",
        title=f"Story {n}: {' '.join(rng.choices(words, k=6))}",
        summary=" ".join(rng.choices(words, k=20)),
        body_html=body,
        published_at=NOW - timedelta(minutes=n),
    )


def populate(engine: object, count: int) -> float:
    rng = random.Random(30)
    words = vocabulary(rng)
    started = time.perf_counter()
    for first in range(0, count, 1000):
        batch = [story(n, rng, words) for n in range(first, min(first + 1000, count))]
        with store.writing(engine) as session:  # type: ignore[arg-type]
            store.upsert_articles(session, batch, now=NOW, host="bench.example.com")
    return time.perf_counter() - started


def run(label: str, url: str, count: int, repeat: int, work: Path) -> None:
    settings = load_settings(
        {
            "PUBLISHER_DATABASE_URL": url,
            "PUBLISHER_VAR_DIR": str(work / "var"),
            "PUBLISHER_SECRET_KEY": "bench-secret-key-0123456789-abcdefghijkl",
        }
    )
    engine = store.make_engine(url)
    store.migrate(engine)
    seconds = populate(engine, count)
    with engine.begin() as conn:  # as autovacuum would soon after a bulk import
        conn.exec_driver_sql("ANALYZE")
    print(f"{label}: {count:,} stories written with their index in {seconds:.1f} s")
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    for what, query in QUERIES:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            page = client.get("/search", params={"q": query})
            times.append((time.perf_counter() - started) * 1000)
            assert page.status_code == 200, page.text
        found = page.text.count('<li class="story">')
        print(
            f"  {what:<30} {query!r:<16} median {statistics.median(times):6.1f} ms  "
            f"slowest {max(times):6.1f} ms  ({found} on the first page)"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run("SQLite", f"sqlite:///{work}/search.db", args.stories, args.repeat, work)
        with postgres_database() as url:
            if url:
                run("PostgreSQL", url, args.stories, args.repeat, work)


if __name__ == "__main__":
    main()
