"""Import 100,000 generated articles from JSON Lines into SQLite and PostgreSQL.

Prints articles per second and the importing process's peak memory, for 10,000 and for
100,000 articles (flat memory means the two peaks are close). Target: 100,000 in under 60 s
on SQLite on a 2-core machine.

    .venv/bin/python bench/import_articles.py [--count 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CATEGORIES, measure, postgres_database, publisher_env

PARAGRAPH = (
    "Exporters say the new corridor shortens the journey by two days and halves spoilage, "
    "while smaller growers worry about minimum volumes and ask for shared container slots. "
)


def generate(path: Path, count: int) -> None:
    rng = random.Random(42)
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            record = {
                "title": f"Story {n}: regional trade update number {n}",
                "slug": f"story-{n}",
                "summary": PARAGRAPH[:140],
                "body": "\n\n".join([PARAGRAPH * 2] * 3) + f"\n\n**Update {n}**.",
                "published_at": (start + timedelta(minutes=n)).isoformat(),
                "author": "Newsflash Desk",
                "editor": "Daniel Tan",
                "categories": rng.sample(CATEGORIES, 2),
                "ai_assisted": n % 3 == 0,
                "sponsored": n % 50 == 0,
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")


def run(label: str, url: str, data: Path, count: int, work: Path) -> None:
    env = publisher_env(url, work / "var")
    result = measure(
        [sys.executable, "-m", "publisher", "articles", "add", str(data)], env=env, cwd=work
    )
    rate = count / result.seconds
    print(
        f"{label:<10} {count:>7,} articles  {result.seconds:6.1f} s  {rate:8,.0f} articles/s  "
        f"peak RSS {result.peak_rss_mb:6.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sizes = sorted({min(10_000, args.count), args.count})
        files = {}
        for size in sizes:
            files[size] = work / f"articles-{size}.jsonl"
            generate(files[size], size)
            print(f"generated {size:,} articles: {files[size].stat().st_size / 1e6:.0f} MB")
        for size in sizes:
            db = work / f"sqlite-{size}.db"
            run("SQLite", f"sqlite:///{db}", files[size], size, work)
        for size in sizes:
            with postgres_database() as url:
                if url:
                    run("PostgreSQL", url, files[size], size, work)


if __name__ == "__main__":
    main()
