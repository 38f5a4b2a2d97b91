"""Feed use cases: build every feed from the store, keep them cached until something changes,
export them as static files, and tell a WebSub hub when a feed's bytes change."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import feeds, store, websub
from publisher.content import slugify
from publisher.errors import OperationalError
from publisher.feeds import FeedDocument, FeedInfo, FeedItem
from publisher.settings import Settings
from publisher.templating import TEMPLATES, make_environment

log = logging.getLogger(__name__)

STYLESHEET = "/feed.xsl"
STYLESHEET_FILE = TEMPLATES / "static" / "feed.xsl"
PING_BACKOFF = timedelta(seconds=30)
PING_BACKOFF_MAX = timedelta(hours=1)


@dataclass(frozen=True)
class FeedSet:
    """Every feed of the site by URL path (no leading slash), and how long it stays true."""

    documents: dict[str, FeedDocument]
    stamp: int
    valid_until: datetime | None  # when a scheduled article appears; None: until a change


class FeedBuilder:
    """Builds feed sets. Keeps each article's rendered item, and each feed's document, until
    what went into it changes: after one article changes, only the feeds that carry it are
    rendered again."""

    def __init__(self, settings: Settings, env: Environment | None = None) -> None:
        self.settings = settings
        self.env = env or make_environment()
        self._items: OrderedDict[store.ArticleKey, FeedItem] = OrderedDict()
        self._documents: dict[str, tuple[tuple[object, ...], FeedDocument]] = {}
        self._lock = threading.Lock()

    def _render_item(self, view: store.ArticleView) -> FeedItem:
        a = view.article
        site = self.settings.site_url
        html = self.env.get_template("feeds/item.html").render(
            article=a,
            corrections=view.corrections,
            report_url=f"{site}/report?article={_quote(a.slug)}",
        )
        return FeedItem(
            uid=a.uid,
            url=f"{site}/articles/{_quote(a.slug)}",
            title=a.title,
            summary=a.summary,
            content_html=html.strip(),
            author=a.author,
            categories=tuple((slugify(name), name) for name in view.categories),
            image=a.image,
            published=a.published_at,
            updated=a.updated_at,
            sponsored=a.sponsored,
            ai_assisted=a.ai_assisted,
            corrections=tuple((c.created_at, c.note) for c in view.corrections),
        )

    def info(self, prefix: str, title: str) -> FeedInfo:
        site = self.settings.site_url
        base = f"{site}/{prefix}" if prefix else site
        return FeedInfo(
            title=title,
            subtitle=self.settings.site_tagline,
            home_url=site,
            urls={kind: f"{base}/{name}" for kind, (name, _) in feeds.FORMATS.items()},
            language=self.settings.site_language,
            category_scheme=f"{site}/categories/",
            hub=self.settings.websub_hub,
            stylesheet=STYLESHEET,
        )

    def build(self, session: Session, *, now: datetime) -> FeedSet:
        """Every feed: the site's and one per category, each in the three formats."""
        limit = self.settings.feed_items
        version = store.stamp(session, "articles")
        groups: list[tuple[str, str, list[store.ArticleKey]]] = [
            ("", self.settings.site_title, store.latest_keys(session, now=now, limit=limit))
        ]
        for category in store.categories_with_articles(session):
            keys = store.latest_keys(session, now=now, limit=limit, category_id=category.id)
            title = f"{self.settings.site_title}: {category.name}"
            groups.append((f"categories/{category.slug}", title, keys))
        with self._lock:
            items = self._items_for({key for _, _, keys in groups for key in keys}, session)
            documents = {}
            for prefix, title, keys in groups:
                documents.update(self._documents_for(prefix, title, keys, items))
            self._documents = {path: self._documents[path] for path in documents}
        return FeedSet(
            {path: doc for path, doc in documents.items()},
            version,
            store.next_scheduled(session, now=now),
        )

    def _items_for(
        self, keys: set[store.ArticleKey], session: Session
    ) -> dict[store.ArticleKey, FeedItem]:
        missing = [key for key in keys if key not in self._items]
        views = store.views_by_id(session, (key.id for key in missing))
        for key in missing:
            view = views.get(key.id)
            if view is not None:  # changed again since the key query: next build has it
                self._items[key] = self._render_item(view)
        for key in keys:
            if key in self._items:
                self._items.move_to_end(key)
        while len(self._items) > max(4 * len(keys), 1000):
            self._items.popitem(last=False)
        return {key: self._items[key] for key in keys if key in self._items}

    def _documents_for(
        self,
        prefix: str,
        title: str,
        keys: list[store.ArticleKey],
        items: dict[store.ArticleKey, FeedItem],
    ) -> dict[str, FeedDocument]:
        recipe = (title, *keys)
        out = {}
        info: FeedInfo | None = None
        for kind, (name, _) in feeds.FORMATS.items():
            path = f"{prefix}/{name}" if prefix else name
            known = self._documents.get(path)
            if known is not None and known[0] == recipe:
                out[path] = known[1]
                continue
            info = info or self.info(prefix, title)
            document = feeds.render(kind, info, [items[k] for k in keys if k in items])
            self._documents[path] = (recipe, document)
            out[path] = document
        return out


def _quote(slug: str) -> str:
    return quote(slug, safe="")


def refresh(engine: Engine, builder: FeedBuilder, *, now: datetime) -> FeedSet:
    """Build every feed; note which changed since any process last looked, and owe the hub
    a notification for each (when a hub is configured)."""
    with store.reading(engine) as session:
        feed_set = builder.build(session, now=now)
    etags = {path: doc.etag for path, doc in feed_set.documents.items()}
    with store.writing(engine) as session:
        changed = store.record_feed_etags(session, etags, now=now)
        if changed and builder.settings.websub_hub:
            site = builder.settings.site_url
            store.queue_pings(session, [f"{site}/{path}" for path in changed], now=now)
    if changed:
        log.info("feeds changed: %s", ", ".join(changed))
    return feed_set


def send_pings(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    notify: Callable[[str, str], None] = websub.notify_hub,
) -> tuple[int, int]:
    """Notify the hub of every feed change still owed; (sent, failed). A hub that is down
    is tried again later, with back-off, and never blocks anything else."""
    hub = settings.websub_hub
    if not hub:
        return 0, 0
    with store.reading(engine) as session:
        due = store.due_pings(session, now=now)
    sent = failed = 0
    for ping in due:
        try:
            notify(hub, ping.feed_url)
        except OperationalError as exc:
            failed += 1
            delay = min(PING_BACKOFF * 2**ping.attempts, PING_BACKOFF_MAX)
            log.warning("WebSub ping for %s failed (retry in %s): %s", ping.feed_url, delay, exc)
            with store.writing(engine) as session:
                store.ping_failed(session, ping.feed_url, exc.message, retry_at=now + delay)
        else:
            sent += 1
            with store.writing(engine) as session:
                store.ping_done(session, ping.feed_url, queued_before=ping.due_at)
    return sent, failed


class FeedCache:
    """The current feed set, rebuilt only when articles changed (a cheap stamp query, at most
    once per ``check_every`` seconds) or a scheduled article's time has come."""

    def __init__(
        self,
        engine: Engine,
        builder: FeedBuilder,
        clock: Callable[[], datetime],
        *,
        check_every: float = 1.0,
    ) -> None:
        self.engine = engine
        self.builder = builder
        self.clock = clock
        self.check_every = check_every
        self._current: FeedSet | None = None
        self._checked = 0.0
        self.builds = 0
        self._lock = threading.Lock()

    def current(self) -> FeedSet:
        current = self._current
        if current is not None and not self._stale(current):
            return current
        with self._lock:
            current = self._current
            if current is None or self._stale(current):
                current = refresh(self.engine, self.builder, now=self.clock())
                self._current = current
                self.builds += 1
                self._checked = time.monotonic()
            return current

    def peek(self) -> FeedSet | None:
        """The current set when no staleness check is due yet (no I/O); else None."""
        current = self._current
        if current is None or time.monotonic() - self._checked >= self.check_every:
            return None
        if current.valid_until is not None and self.clock() >= current.valid_until:
            return None
        return current

    def _stale(self, current: FeedSet) -> bool:
        if current.valid_until is not None and self.clock() >= current.valid_until:
            return True
        if time.monotonic() - self._checked < self.check_every:
            return False
        with store.reading(self.engine) as session:
            version = store.stamp(session, "articles")
        self._checked = time.monotonic()
        return version != current.stamp

    def document(self, path: str) -> FeedDocument | None:
        return self.current().documents.get(path)


def export(engine: Engine, builder: FeedBuilder, out: Path, *, now: datetime) -> list[Path]:
    """Write every feed under ``out`` as the URL paths say, each with a ``.gz`` sibling and the
    feed's time as its mtime, plus the XSLT stylesheet. Each file is replaced atomically."""
    feed_set = refresh(engine, builder, now=now)
    written = []
    for path, doc in sorted(feed_set.documents.items()):
        target = out / path
        stamp = doc.last_modified.timestamp()
        _write_atomically(target, doc.body, stamp)
        _write_atomically(target.with_name(target.name + ".gz"), doc.gzipped, stamp)
        written.append(target)
    _write_atomically(out / STYLESHEET.lstrip("/"), STYLESHEET_FILE.read_bytes(), None)
    return written


def _write_atomically(target: Path, data: bytes, mtime: float | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with temporary.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if mtime is not None:
            os.utime(temporary, (mtime, mtime))
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
