"""Feeds at scale.

1. With 1,000,000 articles in the database (SQLite, and PostgreSQL when it answers): the time to
   rebuild every feed of the site (3 formats x (site + 10 categories)) after one article
   changes, as a running daemon does it (its rendered items are cached) and from cold.
   Target: under 250 ms.
2. /feed.xml served by `publisher run` against the same bytes served by nginx (Debian's
   nginx-light), both measured with wrk (Debian's wrk) on loopback: full 200 responses, and 304s
   for a client sending If-None-Match. Prints requests per second and the ratio to nginx.

    .venv/bin/python bench/feeds.py [--articles 1000000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine, insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import CATEGORIES, postgres_database, publisher_env
from publisher import store
from publisher.articles import publish
from publisher.models import Article, ArticleCategory
from publisher.settings import Settings, load_settings
from publisher.syndication import feeds

BODY = "<p>" + "Exporters say the new corridor shortens the journey by two days. " * 30 + "</p>"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def populate(engine: Engine, count: int) -> None:
    """``count`` articles, two categories each, written straight through the tables."""
    articles = Article.__table__  # type: ignore[attr-defined]
    links = ArticleCategory.__table__  # type: ignore[attr-defined]
    with store.writing(engine) as session:
        ids = store.ensure_categories(session, CATEGORIES)
    slugs = list(ids)
    start = NOW - timedelta(minutes=count)
    batch = 20_000
    for first in range(0, count, batch):
        rows, link_rows = [], []
        for n in range(first, min(first + batch, count)):
            when = start + timedelta(minutes=n)
            rows.append(
                {
                    "id": n + 1,
                    "uid": f"tag:bench.example,2026-11-30:article/{uuid.uuid4().hex}",
                    "slug": f"story-{n}",
                    "title": f"Story {n}: regional trade update",
                    "summary": "Growers say rail halves spoilage.",
                    "body_html": BODY,
                    "author": "Newsflash Desk",
                    "editor": "Daniel Tan",
                    "source_name": "",
                    "source_url": "",
                    "image": "",
                    "ai_assisted": n % 3 == 0,
                    "sponsored": n % 50 == 0,
                    "status": "published",
                    "content_hash": f"{n:064x}",
                    "published_at": when,
                    "created_at": when,
                    "updated_at": when,
                }
            )
            first_category = ids[slugs[n % 10]]
            link_rows.append({"article_id": n + 1, "category_id": first_category, "position": 0})
            link_rows.append(
                {"article_id": n + 1, "category_id": ids[slugs[(n * 7 + 3) % 10]], "position": 1}
            )
        with store.writing(engine) as session:
            session.execute(insert(articles), rows)
            session.execute(insert(links), _unique(link_rows))
    with store.writing(engine) as session:
        store.bump(session, "articles")
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT setval('articles_id_seq', (SELECT max(id) FROM articles))")
        conn.exec_driver_sql("ANALYZE")


def _unique(rows: list[dict[str, int]]) -> list[dict[str, int]]:
    seen, out = set(), []
    for row in rows:
        key = (row["article_id"], row["category_id"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def rebuild_times(engine: Engine, settings: Settings, rounds: int = 5) -> tuple[float, float]:
    """(warm, cold) milliseconds to rebuild every feed after one article changed."""
    builder = feeds.FeedBuilder(settings)
    with store.reading(engine) as session:
        builder.build(session, now=NOW)  # a running daemon has built its feeds before
    warm = []
    for n in range(rounds):
        publish.correct_article(
            engine,
            f"story-{999 - n}" if n else "story-0",
            f"Fix {n}.",
            now=NOW + timedelta(seconds=n + 1),
            actor="test",
        )
        started = time.perf_counter()
        with store.reading(engine) as session:
            feed_set = builder.build(session, now=NOW + timedelta(seconds=n + 1))
        warm.append((time.perf_counter() - started) * 1000)
    assert len(feed_set.documents) == 33, sorted(feed_set.documents)
    cold = []
    for _ in range(3):
        started = time.perf_counter()
        with store.reading(engine) as session:
            feeds.FeedBuilder(settings).build(session, now=NOW + timedelta(minutes=1))
        cold.append((time.perf_counter() - started) * 1000)
    return sorted(warm)[len(warm) // 2], sorted(cold)[1]


def part_one(count: int, work: Path) -> None:
    print(f"1. rebuild every feed (33 documents) after one change, {count:,} articles")
    targets = [("SQLite", f"sqlite:///{work / 'feeds.db'}")]
    with postgres_database() as pg_url:
        if pg_url:
            targets.append(("PostgreSQL", pg_url))
        for label, url in targets:
            settings = load_settings(
                publisher_env(url, work / "var")
                | {"PUBLISHER_SITE_URL": "https://news.example.com"},
                env_file=None,
            )
            engine = store.make_engine(url)
            store.migrate(engine)
            started = time.perf_counter()
            populate(engine, count)
            loaded = time.perf_counter() - started
            warm, cold = rebuild_times(engine, settings)
            print(
                f"   {label:<10} loaded in {loaded:5.0f} s; rebuild: {warm:6.1f} ms "
                f"(daemon, items cached)  {cold:6.1f} ms (cold process)"
            )
            engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk(url: str, seconds: int, headers: list[str]) -> float:
    args = ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency"]
    for header in headers:
        args += ["-H", header]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"wrk saw {non2xx.group(1)} error responses from {url}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def part_two(seconds: int, work: Path) -> None:
    if not shutil.which("wrk") or not shutil.which("nginx"):
        print("2. skipped: install Debian's wrk and nginx-light")
        return
    url = f"sqlite:///{work / 'serve.db'}"
    env = publisher_env(url, work / "var")
    port, nginx_port = free_port(), free_port()
    env["PUBLISHER_SITE_URL"] = f"http://127.0.0.1:{port}"
    subprocess.run(
        [sys.executable, "-m", "publisher", "init"],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    examples = Path(__file__).resolve().parent.parent / "examples" / "articles"
    subprocess.run(
        [sys.executable, "-m", "publisher", "articles", "add", str(examples)],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    public = work / "public"
    subprocess.run(
        [sys.executable, "-m", "publisher", "feeds", "build", "--out", str(public)],
        env=env,
        cwd=work,
        check=True,
        capture_output=True,
    )
    conf = work / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
user root;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  types {{ application/rss+xml xml; }}
  server {{
    listen 127.0.0.1:{nginx_port};
    root {public};
    etag on;
    add_header Cache-Control "public, max-age=300";
  }}
}}
""")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--port", str(port)],
        env=env,
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    nginx = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(work)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ours_url, nginx_url = (
            f"http://127.0.0.1:{port}/feed.xml",
            f"http://127.0.0.1:{nginx_port}/feed.xml",
        )
        for target in (ours_url, nginx_url):
            for _ in range(100):
                try:
                    httpx.get(target, timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        ours, theirs = httpx.get(ours_url), httpx.get(nginx_url)
        if ours.content != theirs.content:
            (work / "ours.xml").write_bytes(ours.content)
            (work / "theirs.xml").write_bytes(theirs.content)
            diff = subprocess.run(
                ["diff", str(work / "ours.xml"), str(work / "theirs.xml")],
                capture_output=True,
                text=True,
            ).stdout
            sys.exit(f"nginx must serve the same bytes as publisher:\n{diff[:2000]}")
        size = len(ours.content)
        print(f"2. GET /feed.xml ({size:,} bytes), wrk -t2 -c32 -d{seconds}s, 2 cores shared")
        targets = (("publisher", ours_url), ("nginx", nginx_url))
        full = {name: wrk(u, seconds, []) for name, u in targets}
        cond = {
            "publisher": wrk(ours_url, seconds, [f"If-None-Match: {ours.headers['etag']}"]),
            "nginx": wrk(nginx_url, seconds, [f"If-None-Match: {theirs.headers['etag']}"]),
        }
        for label, figures in (("200 (full body)", full), ("304 (If-None-Match)", cond)):
            ratio = figures["publisher"] / figures["nginx"]
            print(
                f"   {label:<20} publisher {figures['publisher']:9,.0f} req/s   "
                f"nginx {figures['nginx']:9,.0f} req/s   ratio {ratio:4.2f}"
            )
    finally:
        for proc in (daemon, nginx):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--skip-rebuild", action="store_true")
    args = parser.parse_args()
    os.environ.pop("PUBLISHER_DATABASE_URL", None)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_rebuild:
            part_one(args.articles, Path(tmp))
        part_two(args.seconds, Path(tmp))


if __name__ == "__main__":
    main()
