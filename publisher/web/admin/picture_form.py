"""The article form's picture (issue 26): an upload, an address to fetch once, or a picture
from the media library, with its alt text (required), caption and credit. Read from the form
before the article is saved, so that a bad picture is a message beside its field and the
story is not saved; a good one is kept at once (carried in the form if anything else was
wrong, so it is not sent twice) and shown with the story in the save's own transaction."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from publisher import store
from publisher.errors import InputError, NotFoundError
from publisher.media import library
from publisher.newsroom.staff import Staff
from publisher.web.admin.article_draft import Draft
from publisher.web.application import Application

__all__ = ["PictureChoice", "from_library", "take"]

Then = Callable[[Session, int], None]


@dataclass
class PictureChoice:
    """What the form asks for: ``picture`` (None: no picture) with ``words``; what was wrong,
    by form field."""

    picture: store.PictureView | None
    words: library.Words
    problems: dict[str, str] = field(default_factory=dict)
    actor: str = ""
    changed: bool = False  # set once saved: the picture or its words changed

    def then(self, app: Application, before: Then | None) -> Then:
        """``before`` (if any), then this picture shown with the article, its words set."""
        picture, words, actor, now = self.picture, self.words, self.actor, app.clock()

        def attach(session: Session, article_id: int) -> None:
            if before is not None:
                before(session, article_id)
            if picture is not None:
                self.changed |= store.set_picture_words(
                    session, picture.id, alt=words.alt, caption=words.caption,
                    credit=words.credit, now=now, actor=actor,
                )  # fmt: skip
            self.changed |= store.attach_picture(
                session, article_id, picture.id if picture else None, now=now, actor=actor
            )

        return attach


def from_library(app: Application, picture_id: str) -> PictureChoice | None:
    """A new story's form with the library picture ``picture_id`` (None: no such picture)."""
    found = _picture(app, picture_id)
    if found is None:
        return None
    return PictureChoice(found, library.Words(found.alt, found.caption, found.credit))


def _chosen(app: Application, form: FormData) -> store.PictureView | None:
    """The library picture the form names (``picture``: its id), if any."""
    return _picture(app, str(form.get("picture", "")))


def _picture(app: Application, text: str) -> store.PictureView | None:
    text = text.strip()
    if not text.isdigit() or not 0 < int(text) < 2**31:
        return None
    try:
        return library.picture(app.engine, int(text))
    except NotFoundError:
        return None


async def take(
    app: Application, who: Staff, form: FormData, draft: Draft, view: store.ArticleView | None
) -> PictureChoice:
    """The picture the form asks for, kept if it is new; ``draft``'s ``image`` (the address
    it came from) cleared when it came otherwise."""
    words = library.Words(
        str(form.get("picture_alt", "")),
        str(form.get("picture_caption", "")),
        str(form.get("picture_credit", "")),
    )
    choice = PictureChoice(_chosen(app, form), words, actor=who.email)
    current = view.picture if view is not None else None
    wanted_id = str(form.get("picture", "")).strip()
    if wanted_id and choice.picture is None:
        choice.problems["picture"] = f"There is no picture {wanted_id[:12]} in the library."
        return choice
    if choice.picture is not None and current is not None and choice.picture.id != current.id:
        # Another library picture: its own words, unless the editor changed the ones shown.
        if (words.alt, words.caption, words.credit) == (current.alt, current.caption,
                                                         current.credit):  # fmt: skip
            choice.words = library.Words(choice.picture.alt, choice.picture.caption,
                                         choice.picture.credit)  # fmt: skip
            words = choice.words
        if draft.values["image"].strip() == current.source_url:  # the old one's address
            draft.values["image"] = choice.picture.source_url
    if form.get("picture_remove") == "on":
        draft.values["image"] = ""
        choice.picture = None
        return choice
    upload = form.get("picture_file")
    data = await upload.read() if isinstance(upload, UploadFile) and upload.filename else b""
    address = draft.values["image"].strip()
    if not address.lower().startswith(("http://", "https://")):
        address = ""  # not an address to fetch: the article's validator says what is wrong
    known = {p.source_url for p in (current, choice.picture) if p is not None}
    wanted = bool(data) or bool(address and address not in known)
    if choice.picture is None and not wanted:
        choice.picture = current
    if choice.picture is None and not wanted:
        return choice
    problems = {f"picture_{k}": v for k, v in words.problems().items()}
    if data:
        draft.values["image"] = ""
        choice.picture = _kept(app, who, data, words, problems)
    elif wanted:
        choice.picture = _fetched(app, who, address, words, problems)
    choice.problems = problems
    return choice


def _kept(
    app: Application, who: Staff, data: bytes, words: library.Words, problems: dict[str, str]
) -> store.PictureView | None:
    """An upload checked, and kept when its words are right too."""
    try:
        processed = library.process(app.settings, data)
    except InputError as exc:
        problems["picture_file"] = f"This file was not taken: {exc.message}. Nothing was kept."
        return None
    if problems:
        return None
    return library.keep_processed(app.engine, processed, words, actor=who.email, now=app.clock())


def _fetched(
    app: Application, who: Staff, address: str, words: library.Words, problems: dict[str, str]
) -> store.PictureView | None:
    """The picture at ``address``, fetched and kept when its words are right."""
    if problems:
        return None
    try:
        return library.fetched(
            app.engine, app.settings, address, words, actor=who.email, now=app.clock()
        )
    except InputError as exc:
        problems["image"] = f"{exc.message[:1].upper()}{exc.message[1:]}. Nothing was kept."
        return None
