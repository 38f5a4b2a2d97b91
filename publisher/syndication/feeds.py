"""Feed use cases: build every feed from the store, keep them cached until something changes,
export them as static files, and tell a WebSub hub when a feed's bytes change."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.content import slugify, xml_text
from publisher.errors import OperationalError
from publisher.languages import gettext, language_name
from publisher.settings import Settings
from publisher.syndication import formats, hub
from publisher.syndication.formats import FeedDocument, FeedInfo, FeedItem
from publisher.templating import TEMPLATES, make_environment

__all__ = [
    "CHANGED_SHOWN",
    "FEED_NAMES",
    "PING_BACKOFF",
    "PING_BACKOFF_MAX",
    "STYLESHEET",
    "STYLESHEET_FILE",
    "FeedBuilder",
    "FeedCache",
    "FeedSet",
    "changed_line",
    "export",
    "refresh",
    "send_pings",
    "write_feeds",
]

log = logging.getLogger(__name__)

STYLESHEET = "/feed.xsl"
STYLESHEET_FILE = TEMPLATES / "static" / "feed.xsl"
CHANGED_SHOWN = 5  # feeds named in the "feeds changed" line; the rest at DEBUG
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
        language = a.language or self.settings.site_language
        picture = view.picture
        # A 1200 px JPEG: what every reader app and social card takes (issue 26).
        shown = picture.pick(1200) if picture is not None else None
        html = self.env.get_template("feeds/item.html").render(
            locale=language,
            article=a,
            picture=picture,
            media_base=self.settings.media_base,
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
            image=f"{self.settings.media_base}/{shown.name}" if shown else "",
            image_type=shown.content_type if shown else "",
            image_length=shown.length if shown else 0,
            image_width=shown.width if shown else 0,
            image_height=shown.height if shown else 0,
            published=a.published_at,
            updated=a.updated_at,
            sponsored=a.sponsored,
            ai_assisted=a.ai_assisted,
            corrections=tuple((c.created_at, c.note) for c in view.corrections),
            language=language,
            sponsored_label=gettext(language, "Sponsored"),
        )

    def info(
        self,
        prefix: str,
        title: str,
        deleted: tuple[formats.Tombstone, ...] = (),
        language: str = "",
    ) -> FeedInfo:
        site = self.settings.site_url
        base = f"{site}/{prefix}" if prefix else site
        return FeedInfo(
            deleted=deleted,
            title=title,
            subtitle=self.settings.site_tagline,
            home_url=site,
            urls={kind: f"{base}/{name}" for kind, (name, _) in formats.FORMATS.items()},
            language=language or self.settings.site_language,
            hub=self.settings.websub_hub,
            stylesheet=STYLESHEET,
        )

    def build(self, session: Session, *, now: datetime) -> FeedSet:
        """Every feed: the site's, one per category and one per author, each in the three
        formats."""
        version = store.stamp(session, "articles")
        groups = self._groups(session, now=now)
        deleted = self._tombstones(session)
        with self._lock:
            items = self._items_for({key for _, _, keys, _ in groups for key in keys}, session)
            documents = {}
            for prefix, title, keys, language in groups:
                gone = tuple(tombstone for tombstone, feeds in deleted if prefix in feeds)
                documents.update(self._documents_for(prefix, title, keys, items, gone, language))
            self._documents = {path: self._documents[path] for path in documents}
        return FeedSet(
            {path: doc for path, doc in documents.items()},
            version,
            store.next_scheduled(session, now=now),
        )

    def _tombstones(self, session: Session) -> list[tuple[formats.Tombstone, frozenset[str]]]:
        """The withdrawn stories, as Atom says them (RFC 6721), each with the path prefixes
        of the feeds it was in: the site's (""), its sections', its author's, its
        language's."""
        site = self.settings.site_url
        rows = store.withdrawn_stories(session, limit=self.settings.feed_items)
        views = store.views_by_id(session, (row.id for row in rows))
        found = []
        for row in rows:
            view = views[row.id]
            feeds = {
                "",
                f"authors/{slugify(view.article.author)}",
                f"languages/{view.article.language or self.settings.site_language}",
                *(f"categories/{slugify(name)}" for name in view.categories),
            }
            tombstone = formats.Tombstone(
                row.uid,
                f"{site}/articles/{_quote(row.slug)}",
                row.withdrawn_at,
                xml_text(row.withdrawn_reason),
            )
            found.append((tombstone, frozenset(feeds)))
        return found

    def _groups(
        self, session: Session, *, now: datetime
    ) -> list[tuple[str, str, list[store.ArticleKey], str]]:
        """Each feed's path prefix, title, stories' keys and language (empty: the site's)."""
        limit = self.settings.feed_items
        site = self.settings.site_title
        groups = [("", site, store.latest_keys(session, now=now, limit=limit), "")]
        for category in store.public_categories(session, now=now):
            keys = store.latest_keys(session, now=now, limit=limit, category_id=category.id)
            groups.append((f"categories/{category.slug}", f"{site}: {category.name}", keys, ""))
        home = self.settings.site_language
        for tag in store.story_languages(session, now=now, site_language=home):
            keys = store.latest_keys(session, now=now, limit=limit, language=(tag, home))
            title = f"{site}: {language_name(tag)}"
            groups.append((f"languages/{tag}", title, keys, tag))
        bylines: dict[str, list[str]] = {}
        for name in store.public_authors(session, now=now):
            bylines.setdefault(slugify(name), []).append(name)
        for slug, names in bylines.items():
            if slug:
                keys = store.latest_keys(session, now=now, limit=limit, authors=names)
                groups.append((f"authors/{slug}", f"{site}: {names[0]}", keys, ""))
        return groups

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
        deleted: tuple[formats.Tombstone, ...] = (),
        language: str = "",
    ) -> dict[str, FeedDocument]:
        recipe = (title, deleted, language, *keys)
        out = {}
        info: FeedInfo | None = None
        for kind, (name, _) in formats.FORMATS.items():
            path = f"{prefix}/{name}" if prefix else name
            known = self._documents.get(path)
            if known is not None and known[0] == recipe:
                out[path] = known[1]
                continue
            info = info or self.info(prefix, title, deleted, language)
            document = formats.render(kind, info, [items[k] for k in keys if k in items])
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
        log.info("%s", changed_line(changed))
        log.debug("feeds changed, all of them: %s", ", ".join(changed))
    return feed_set


def changed_line(changed: Sequence[str], shown: int = CHANGED_SHOWN) -> str:
    """One log line for the feeds that changed: a count and the first few (issue 25: every
    change listed 35 file names); the full list is logged at DEBUG."""
    names = ", ".join(changed[:shown])
    more = f" and {len(changed) - shown} more" if len(changed) > shown else ""
    return f"feeds changed: {len(changed)} ({names}{more})"


def send_pings(
    engine: Engine,
    settings: Settings,
    *,
    now: datetime,
    notify: Callable[[str, str], None] = hub.notify_hub,
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
    once per ``check_every`` seconds) or a scheduled article's time has come. With
    ``export_dir``, every rebuild whose bytes differ from what was last written there is
    written there too (as ``export`` does)."""

    def __init__(
        self,
        engine: Engine,
        builder: FeedBuilder,
        clock: Callable[[], datetime],
        *,
        check_every: float = 1.0,
        export_dir: Path | None = None,
    ) -> None:
        self.engine = engine
        self.builder = builder
        self.clock = clock
        self.check_every = check_every
        self.export_dir = export_dir
        self._current: FeedSet | None = None
        self._checked = 0.0
        self._exported: dict[str, str] = {}  # path: ETag written to export_dir
        self.builds = 0
        self._lock = threading.Lock()

    def current(self) -> FeedSet:
        current = self._current
        if current is not None and not self._due(current):
            return current
        with self._lock:
            # Decide under the lock, and move the stamp only once the database has answered:
            # a check that moved it first made the locked re-check say "fresh" (issue 11).
            current = self._current
            if current is not None and not self._due(current):
                return current  # another thread checked while this one waited
            if current is None or self._changed(current):
                current = refresh(self.engine, self.builder, now=self.clock())
                self._current = current
                self.builds += 1
            self._checked = time.monotonic()
            self._export(current)
            return current

    def peek(self) -> FeedSet | None:
        """The current set when no staleness check is due yet (no I/O); else None."""
        current = self._current
        if current is None or self._due(current):
            return None
        return current

    def _due(self, current: FeedSet) -> bool:
        """Whether the set must be checked now (no I/O, changes nothing)."""
        if current.valid_until is not None and self.clock() >= current.valid_until:
            return True
        return time.monotonic() - self._checked >= self.check_every

    def _changed(self, current: FeedSet) -> bool:
        if current.valid_until is not None and self.clock() >= current.valid_until:
            return True
        with store.reading(self.engine) as session:
            version = store.stamp(session, "articles")
        return version != current.stamp

    def _export(self, current: FeedSet) -> None:
        """Write the feeds whose bytes changed since the last write (none: nothing to do).
        A failure is logged and tried again at the next check; serving goes on."""
        if self.export_dir is None:
            return
        etags = {path: doc.etag for path, doc in current.documents.items()}
        if etags == self._exported:
            return
        try:
            write_feeds(self.export_dir, current, unchanged=self._exported)
        except OSError as exc:
            self._exported = {}
            log.error("feeds not written to %s (tried again shortly): %s", self.export_dir, exc)
        except OperationalError as exc:
            self._exported = {}
            log.error("feeds not written to %s: %s", self.export_dir, exc.message)
        else:
            self._exported = etags

    def document(self, path: str) -> FeedDocument | None:
        return self.current().documents.get(path)


def export(engine: Engine, builder: FeedBuilder, out: Path, *, now: datetime) -> list[Path]:
    """Write every feed under ``out`` as the URL paths say, each with a ``.gz`` sibling and the
    feed's time as its mtime, plus the XSLT stylesheet. Each file is replaced atomically."""
    return write_feeds(out, refresh(engine, builder, now=now))


FEED_NAMES = frozenset(name for name, _ in formats.FORMATS.values())


def write_feeds(
    out: Path, feed_set: FeedSet, *, unchanged: dict[str, str] | None = None
) -> list[Path]:
    """``export`` for a set already built. Files of ``unchanged`` (path: ETag) whose ETag is
    the same are not written again; feed files of feeds that no longer exist are removed.
    Nothing is written through a symbolic link inside ``out`` (OperationalError)."""
    unchanged = unchanged or {}
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path, doc in sorted(feed_set.documents.items()):
        written.append(out / path)
        if unchanged.get(path) == doc.etag:
            continue
        stamp = doc.last_modified.timestamp()
        _write_atomically(out, path, doc.body, stamp)
        _write_atomically(out, path + ".gz", doc.gzipped, stamp)
    if not unchanged:
        _write_atomically(out, STYLESHEET.lstrip("/"), STYLESHEET_FILE.read_bytes(), None)
    _remove_gone(out, set(feed_set.documents))
    return written


def _remove_gone(out: Path, current: set[str]) -> None:
    """Remove the category and author feeds' files that the set no longer has (a category
    or byline whose last public article went), without following links."""
    for kind in ("categories", "authors"):
        parent = out / kind
        if not parent.is_dir() or parent.is_symlink():
            continue
        for folder in parent.iterdir():
            if folder.is_symlink() or not folder.is_dir():
                continue
            for file in folder.iterdir():
                name = file.name.removesuffix(".gz")
                if name in FEED_NAMES and f"{kind}/{folder.name}/{name}" not in current:
                    file.unlink(missing_ok=True)


def _write_atomically(out: Path, relative: str, data: bytes, mtime: float | None) -> None:
    """Write ``out/relative`` by renaming a new file into place. Each folder below ``out`` is
    opened without following links (a symlinked folder is refused), and the temporary file
    has a random name and is created exclusively, so a link planted in its place is never
    followed."""
    *folders, name = relative.split("/")
    directory = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for folder in folders:
            with contextlib.suppress(FileExistsError):
                os.mkdir(folder, 0o755, dir_fd=directory)
            try:
                inner = os.open(
                    folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=directory
                )
            except OSError as exc:  # ELOOP: a link; ENOTDIR: a file
                raise OperationalError(
                    f"{out / relative} not written: {folder!r} in its path is not a folder "
                    "(a symbolic link or a file); feeds are only written into real folders"
                ) from exc
            os.close(directory)
            directory = inner
        temporary = f".{name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(
            temporary,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=directory,
        )
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(data)
                file.flush()
                if mtime is not None:
                    os.utime(file.fileno(), (mtime, mtime))
                os.fsync(file.fileno())
            os.replace(temporary, name, src_dir_fd=directory, dst_dir_fd=directory)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=directory)
            raise
    finally:
        os.close(directory)
