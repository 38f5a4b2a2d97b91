"""The demo's pictures (``publisher run --demo``): the sample stories' pictures are files in
``examples/pictures/`` (made for the demo), listed with their words in ``pictures.json``, and
kept like uploads, so the demo shows pictures of the site's own from the first page."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from publisher import store
from publisher.errors import NotFoundError
from publisher.media import library
from publisher.settings import Settings

__all__ = ["PICTURES", "keep_examples"]

PICTURES = Path(__file__).resolve().parents[2] / "examples" / "pictures"


def keep_examples(
    engine: Engine, settings: Settings, *, now: datetime, actor: str, folder: Path = PICTURES
) -> int:
    """Each sample story without a picture gets its own; how many did."""
    listed = json.loads((folder / "pictures.json").read_text(encoding="utf-8"))
    done = 0
    for entry in listed:
        with store.reading(engine) as session:
            try:
                view = store.article_by_slug(session, entry["slug"])
            except NotFoundError:
                continue
        if view.picture is not None or view.article.id is None:
            continue
        words = library.Words(entry["alt"], entry.get("caption", ""), entry.get("credit", ""))
        kept = library.keep(engine, settings, (folder / entry["file"]).read_bytes(),
                            alt=words.alt, caption=words.caption, credit=words.credit,
                            actor=actor, now=now)  # fmt: skip
        with store.writing(engine) as session:
            store.attach_picture(session, view.article.id, kept.id, now=now, actor=actor)
        done += 1
    return done
