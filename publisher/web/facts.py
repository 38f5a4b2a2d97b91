"""What the reader's pages ask on every request and what changes only with the articles: the
public sections, the bylines and the sitemaps' entries. Kept per database and read again only
when the articles' change stamp moved or a scheduled story's time came, so every process
(the web app, the daemon's) is current within a request of any change."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Engine

from publisher import store
from publisher.content import slugify

__all__ = ["Facts", "facts"]


@dataclass
class Facts:
    """One reading of the articles' public side, true while ``stamp`` is the stamp and
    ``valid_until`` (the next scheduled story) has not come."""

    stamp: int
    valid_until: datetime | None
    categories: list[tuple[int, str, str]]  # (id, slug, name), by slug
    sizes: dict[int, int]  # visible stories by category id
    authors: dict[str, list[str]]  # slug: bylines
    languages: list[str]  # of the visible stories ("" for those in the site's)
    rendered: dict[str, bytes] = field(default_factory=dict)  # the sitemaps, by path
    _entries: list[store.SitemapEntry] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def entries(self, engine: Engine, now: datetime) -> list[store.SitemapEntry]:
        """Every visible story for the sitemaps, read once per reading."""
        with self._lock:
            if self._entries is None:
                with store.reading(engine) as session:
                    self._entries = store.sitemap_entries(session, now=now)
            return self._entries


_known: WeakKeyDictionary[Engine, Facts] = WeakKeyDictionary()
_lock = threading.Lock()


def facts(engine: Engine, now: datetime) -> Facts:
    """The current :class:`Facts` of ``engine`` (one cheap stamp query when nothing changed)."""
    with store.reading(engine) as session:
        stamp = store.stamp(session, "articles")
        with _lock:
            known = _known.get(engine)
        if (
            known is not None
            and known.stamp == stamp
            and (known.valid_until is None or now < known.valid_until)
        ):
            return known
        authors: dict[str, list[str]] = {}
        for name in store.public_authors(session, now=now):
            if slugify(name):
                authors.setdefault(slugify(name), []).append(name)
        # One count per category (a grouped join) says which are public, quicker than
        # asking each category for a visible story (public_categories) on PostgreSQL.
        sizes = store.category_counts(session, now=now)
        categories = [(c.id, c.slug, c.name) for c in store.category_list(session) if c.id in sizes]
        known = Facts(
            stamp,
            store.next_scheduled(session, now=now),
            [(category_id or 0, slug, name) for category_id, slug, name in categories],
            sizes,
            authors,
            store.story_languages(session, now=now, site_language=""),
        )
    with _lock:
        _known[engine] = known
    return known
