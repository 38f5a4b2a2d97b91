"""The media library's use cases: a picture kept from uploaded bytes or fetched once from an
address (under the sources' fetch rules), its words, where it is used, its deletion, and the
addresses of its renditions. Every problem with a picture is an InputError saying what, and
then nothing is stored."""

from __future__ import annotations

import logging
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Engine

from publisher import store
from publisher.errors import InputError, NotFoundError, OperationalError
from publisher.media import images
from publisher.settings import Settings
from publisher.sources import fetch

__all__ = [
    "MAX_ALT",
    "MAX_CAPTION",
    "Words",
    "delete",
    "fetched",
    "find",
    "keep",
    "keep_processed",
    "limits",
    "picture",
    "process",
    "set_words",
    "url",
    "uses",
]

log = logging.getLogger(__name__)

MAX_ALT = 1000
MAX_CAPTION = 2000


class Words:
    """A picture's alt text (required), caption and credit, cleaned to one line each."""

    def __init__(self, alt: str, caption: str = "", credit: str = "") -> None:
        self.alt = " ".join(alt.split())
        self.caption = " ".join(caption.split())
        self.credit = " ".join(credit.split())

    def problems(self) -> dict[str, str]:
        """What is wrong, by word (``alt``, ``caption``, ``credit``); empty when nothing."""
        found = {}
        if not self.alt:
            found["alt"] = (
                "Describe the picture for readers who cannot see it (alt text is required)."
            )
        elif len(self.alt) > MAX_ALT:
            found["alt"] = f"Alt text is at most {MAX_ALT} characters."
        if len(self.caption) > MAX_CAPTION:
            found["caption"] = f"A caption is at most {MAX_CAPTION} characters."
        if len(self.credit) > 300:
            found["credit"] = "A credit is at most 300 characters."
        return found

    def check(self) -> None:
        for problem in self.problems().values():
            raise InputError(problem)


def limits(settings: Settings) -> images.Limits:
    return images.Limits(settings.picture_max_bytes, settings.picture_max_pixels)


def process(settings: Settings, data: bytes) -> images.Processed:
    """``data`` checked and remade (InputError saying what is wrong with it)."""
    return images.process(data, limits(settings))


def _files(processed: images.Processed) -> list[tuple[str, int, int, str, bytes]]:
    # Content-addressed: the digest of what was sent and the rendition; never changes.
    return [
        (f"{processed.digest[:32]}-{r.width}.{r.extension}", r.width, r.height,
         r.content_type, r.data)
        for r in processed.renditions
    ]  # fmt: skip


def keep_processed(
    engine: Engine,
    processed: images.Processed,
    words: Words,
    *,
    actor: str,
    now: datetime,
    source_url: str = "",
) -> store.PictureView:
    """A processed picture kept (the one already kept when the same file came before: it
    takes these words, unless they are empty)."""
    values = {
        "alt": words.alt, "caption": words.caption, "credit": words.credit,
        "width": processed.width, "height": processed.height, "kind": processed.kind,
        "size": processed.size, "source_url": source_url, "created_by": actor,
    }  # fmt: skip
    with store.writing(engine) as session:
        picture_id, new = store.add_picture(
            session, digest=processed.digest, values=values, files=_files(processed), now=now
        )
        if new:
            store.record(session, actor=actor, action="picture.add", kind="picture",
                         subject_id=picture_id, label=processed.digest[:12],
                         after={"alt": words.alt, "source": source_url}, now=now)  # fmt: skip
        elif words.alt:
            store.set_picture_words(session, picture_id, alt=words.alt, caption=words.caption,
                                    credit=words.credit, now=now, actor=actor)  # fmt: skip
        return store.picture_views(session, [picture_id])[picture_id]


def keep(
    engine: Engine,
    settings: Settings,
    data: bytes,
    *,
    alt: str,
    actor: str,
    now: datetime,
    caption: str = "",
    credit: str = "",
) -> store.PictureView:
    """Uploaded bytes kept as a picture with its words; InputError (nothing stored) when the
    file is no picture we take or the alt text is missing."""
    words = Words(alt, caption, credit)
    words.check()
    return keep_processed(engine, process(settings, data), words, actor=actor, now=now)


def fetched(
    engine: Engine,
    settings: Settings,
    address: str,
    words: Words,
    *,
    actor: str,
    now: datetime,
) -> store.PictureView:
    """The picture at ``address``, fetched once under the sources' rules (public addresses
    only unless allowed, the picture size limit, the fetch deadline) and kept; the one
    already fetched from there when there is one. InputError saying what went wrong."""
    address = address.strip()
    if urlsplit(address).scheme not in ("http", "https"):
        raise InputError(f"{address!r} is not an http(s) address")
    with store.reading(engine) as session:
        known = store.picture_by_url(session, address)
    if known is not None:
        with store.writing(engine) as session:
            if words.alt:
                store.set_picture_words(session, known, alt=words.alt, caption=words.caption,
                                        credit=words.credit, now=now, actor=actor)  # fmt: skip
            return store.picture_views(session, [known])[known]
    try:
        # http:// is taken too: the bytes are remade here and served from the site itself.
        got = fetch.get(address, allow=settings.fetch_allowed, max_bytes=settings.picture_max_bytes)
    except OperationalError as exc:
        raise InputError(f"the picture could not be fetched: {exc.message}") from None
    processed = process(settings, got.body)
    return keep_processed(engine, processed, words, actor=actor, now=now, source_url=address)


def url(
    settings: Settings, picture: store.PictureView, width: int = 1600, kind: str = "image/jpeg"
) -> str:
    """The address of ``picture``'s rendition at least ``width`` wide (the widest there is
    otherwise) in ``kind`` (image/jpeg or image/webp)."""
    return f"{settings.media_base}/{picture.pick(width, kind).name}"


def picture(engine: Engine, picture_id: int) -> store.PictureView:
    with store.reading(engine) as session:
        found = store.picture_views(session, [picture_id])
    if picture_id not in found:
        raise NotFoundError(f"no picture {picture_id}")
    return found[picture_id]


def set_words(engine: Engine, picture_id: int, words: Words, *, actor: str, now: datetime) -> bool:
    words.check()
    with store.writing(engine) as session:
        return store.set_picture_words(session, picture_id, alt=words.alt, caption=words.caption,
                                       credit=words.credit, now=now, actor=actor)  # fmt: skip


def find(
    engine: Engine, text: str, *, offset: int, limit: int
) -> tuple[list[store.PictureView], int]:
    with store.reading(engine) as session:
        return store.find_pictures(session, text[:200], offset=offset, limit=limit)


def uses(engine: Engine, picture_id: int) -> list[tuple[int, str, str]]:
    with store.reading(engine) as session:
        return store.picture_uses(session, picture_id)


def delete(engine: Engine, picture_id: int, *, actor: str, now: datetime) -> None:
    """Delete a picture no story uses (InputError naming a story that does)."""
    with store.writing(engine) as session:
        store.delete_picture(session, picture_id, now=now, actor=actor)
