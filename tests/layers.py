"""The layer table: each package or module of ``publisher`` and its integer layer (a module
imports only from layers below its own; tests/test_layers.py checks it, and the architecture
page shows the same table)."""

from __future__ import annotations

__all__ = ["LAYERS"]

# Keys are packages or modules under ``publisher``; the longest key that names a module wins.
LAYERS = {
    "__init__": 0,
    "errors": 0,
    "languages": 0,  # tags, catalogs, Babel's formats: pure values
    "settings": 1,
    "content": 1,
    "tokens": 1,
    "sealing": 1,
    "templating": 1,
    "schedules": 2,
    "models": 2,
    "articles.cleaning": 2,  # the article value the store takes
    "sources.items": 2,  # the feed item value the store takes
    "store": 3,
    "articles": 4,
    "syndication": 4,
    "mail": 4,
    "look": 4,
    "sources": 5,
    "community": 5,
    "editions": 6,
    "media": 6,  # the site's pictures: fetches as sources do
    "media.images": 2,  # Pillow, pure
    "delivery": 7,
    "newsroom": 8,
    "web": 9,
    "daemon": 10,  # starts the web side
    "cli": 11,
    "__main__": 12,
}
