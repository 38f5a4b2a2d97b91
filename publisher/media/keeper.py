"""The daemon's side of pictures: imported stories (files, the API, sources) name their image
by address; each address is fetched once, in the background, under the sources' fetch rules,
and kept, and every story naming it then shows our copy. Until then a story shows no picture
(readers' browsers never fetch one from a third party). A failed address is tried again
later, a few times (``store.FETCH_ATTEMPTS``)."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Engine

from publisher import store
from publisher.errors import InputError
from publisher.media import library
from publisher.settings import Settings

__all__ = ["BATCH", "keep_pending"]

BATCH = 20  # addresses per round: an import of 100,000 stories is fetched a little at a time

log = logging.getLogger(__name__)


def keep_pending(engine: Engine, settings: Settings, *, now: datetime, limit: int = BATCH) -> int:
    """Fetch and keep up to ``limit`` addresses that stories wait for; how many were kept."""
    with store.reading(engine) as session:
        addresses = store.unfetched_images(session, now=now, limit=limit)
    kept = 0
    for address in addresses:
        try:
            # No alt text is known for an imported picture: the page shows it with an empty
            # alt (the headline beside it says what the story is) until an editor writes one.
            found = library.fetched(
                engine, settings, address, library.Words(""), actor="daemon", now=now
            )
        except InputError as exc:
            log.warning("picture %s not kept: %s", address, exc.message)
            with store.writing(engine) as session:
                store.fetch_failed(session, address, exc.message, now=now)
            continue
        with store.writing(engine) as session:
            store.attach_by_url(session, address, found.id, now=now)
        kept += 1
    return kept
