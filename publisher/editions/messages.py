"""The message each reader gets: an edition's MIME template built once, and for readers who
chose categories or languages a variant with only their stories in their language, rendered
once per edition, set of stories and language (premailer again, once). What of an edition a
reader gets is decided by :func:`cut` and rendered by :func:`render_cut`, for the sending
processes and for the newsroom's preview and test sends alike. Nothing here sends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.editions import clicks, making
from publisher.editions.compose import RenderedEdition
from publisher.errors import ConfigError
from publisher.languages import catalog_for
from publisher.mail.mime import DkimSigner, MessageTemplate, envelope_sender
from publisher.models import Edition
from publisher.schedules import Timetable, load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment

__all__ = [
    "MAX_VARIANTS",
    "NO_VALUES",
    "Cut",
    "MessageBook",
    "StoryFacts",
    "cut",
    "render_cut",
    "story_facts",
]

log = logging.getLogger(__name__)

MAX_VARIANTS = 256  # renderings per reader's categories kept in memory
NO_VALUES: Mapping[str, str] = {}
# Each story of an edition, in its order: its id, its category ids and its language's tag.
StoryFacts = list[tuple[int, frozenset[int], str]]


@dataclass(frozen=True)
class Cut:
    """What of an edition one reader gets: the stories ``kept`` (in the edition's order) in
    ``language`` (a catalog's tag); ``whole``: the edition itself, as it was rendered."""

    kept: tuple[int, ...]
    language: str
    whole: bool = False


def cut(
    stories: StoryFacts,
    *,
    one_off: bool,
    home: str,
    topics: frozenset[int] = frozenset(),
    language: str = "",
    languages: frozenset[str] = frozenset(),
) -> Cut | None:
    """What a reader who chose ``topics`` (category ids) and stories in ``languages`` and
    reads ``language`` (empty: ``home``, the site's catalog) gets of an edition: the whole
    edition when every story is theirs and they read the site's language; None when no story
    is theirs. A one-off edition goes whole to its audience (they chose it), in their
    language."""
    language = catalog_for(language) if language else home
    if one_off:
        topics, languages = frozenset(), frozenset()
    kept = tuple(
        article_id
        for article_id, ids, tag in stories
        if (not topics or ids & topics) and (not languages or _reads(languages, tag))
    )
    if len(kept) == len(stories) and language == home:
        return Cut(kept, language, whole=True)
    if not kept and not one_off:
        return None
    return Cut(kept, language)


def story_facts(session: Session, edition_id: int, home: str) -> tuple[StoryFacts, bool]:
    """Each story of the edition with its category ids and language (``home`` for a story
    given none), and whether it is a one-off edition (issue 27)."""
    one_off = store.edition_by_id(session, edition_id).kind != "digest"
    topics = store.edition_topics(session, edition_id)
    tags = store.edition_languages(session, edition_id)
    return [(i, ids, tags.get(i) or home) for i, ids in topics], one_off


def render_cut(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition: Edition,
    found: Cut,
) -> RenderedEdition:
    """The edition as ``found`` says, with its recipient placeholders: the edition's own
    subject in the site's language even if the digest's title changed since, and in another
    language the same with its date written in that language's way. ConfigError when its
    digest left the timetable (it cannot be rendered again)."""
    if found.whole:
        return RenderedEdition(edition.subject, edition.html, edition.text, edition.article_count)
    rendered = making.render_variant(
        engine, settings, timetable, env, edition, found.kept, found.language
    )
    home = catalog_for(settings.site_language)
    subject = edition.subject if found.language == home else rendered.subject
    return RenderedEdition(subject, rendered.html, rendered.text, rendered.stories)


class MessageBook:
    """Message templates by edition and by the stories a reader gets; thread-safe."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        timetable: Callable[[], Timetable] | None = None,
        env: Environment | None = None,
    ) -> None:
        """``timetable`` gives the digests' titles for the variants (read from
        ``settings.schedules`` when first needed if not given)."""
        self.engine = engine
        self.settings = settings
        self.dkim = _dkim(settings, envelope_sender(settings.mail_from))
        self._timetable = timetable or _loader(settings)
        self._env = env or make_environment(zone=settings.zone)
        self.tracker = clicks.Tracker(settings)
        self._templates: dict[int, MessageTemplate] = {}
        self._topics: dict[int, tuple[list[tuple[int, frozenset[int], str]], bool]] = {}
        self._variants: dict[tuple[int, tuple[int, ...], str], MessageTemplate] = {}
        self._home = catalog_for(settings.site_language)
        self._lock = threading.Lock()
        self._render_lock = threading.Lock()

    def whole(self, edition_id: int) -> MessageTemplate:
        """The edition as rendered, for readers who chose no categories."""
        with self._lock:
            found = self._templates.get(edition_id)
        if found is not None:
            return found
        with store.reading(self.engine) as session:
            edition = store.edition_by_id(session, edition_id)
        made = self._made(edition, edition.subject, edition.html, edition.text)
        with self._lock:
            self._templates[edition_id] = made
        return made

    def for_reader(
        self,
        edition_id: int,
        topics: frozenset[int],
        language: str = "",
        languages: frozenset[str] = frozenset(),
    ) -> MessageTemplate | None:
        """The edition as this reader gets it: whole when they chose no categories and no
        languages (or every story is in theirs) and read the site's language, else only the
        stories in their categories and languages, in their language (``language``), rendered
        once per edition, set of stories and language, never per reader; None when no story
        is in their categories and languages."""
        if not topics and not languages and (not language or catalog_for(language) == self._home):
            return self.whole(edition_id)
        stories, one_off = self._stories_of(edition_id)
        found = cut(
            stories,
            one_off=one_off,
            home=self._home,
            topics=topics,
            language=language,
            languages=languages,
        )
        if found is None:
            return None
        if found.whole:
            return self.whole(edition_id)
        key = (edition_id, found.kept, found.language)
        with self._render_lock:  # each variant rendered once per process
            with self._lock:
                made = self._variants.get(key)
            if made is not None:
                return made
            with store.reading(self.engine) as session:
                edition = store.edition_by_id(session, edition_id)
            try:
                rendered = render_cut(
                    self.engine, self.settings, self._timetable(), self._env, edition, found
                )
                made = self._made(edition, rendered.subject, rendered.html, rendered.text)
            except ConfigError as exc:  # the digest left the timetable since: send it whole
                log.warning("edition %s goes whole to readers with categories: %s", edition_id, exc)
                made = self.whole(edition_id)
            with self._lock:
                if len(self._variants) >= MAX_VARIANTS:
                    self._variants.pop(next(iter(self._variants)))
                self._variants[key] = made
            return made

    def _stories_of(self, edition_id: int) -> tuple[StoryFacts, bool]:
        """Each story of the edition, in its order, with its category ids and language; and
        whether it is a one-off edition (issue 27)."""
        with self._lock:
            found = self._topics.get(edition_id)
        if found is None:
            with store.reading(self.engine) as session:
                found = story_facts(session, edition_id, self.settings.site_language)
            with self._lock:
                self._topics[edition_id] = found
        return found

    def personal(self, subscriber_id: int, now: datetime) -> Mapping[str, str]:
        """The values a reader's copy needs beyond their links and greeting: the reader tag
        of the tracked links when click tracking is on (a few µs), else none."""
        if not self.tracker.on:
            return NO_VALUES
        return {"reader": self.tracker.reader_tag(subscriber_id, now)}

    def _made(self, edition: Edition, subject: str, html: str, text: str) -> MessageTemplate:
        # Click tracking rewrites the links here, once per template, never per message.
        html, text = self.tracker.rewrite(edition.id or 0, html, text)
        return self.template(edition.digest, subject=subject, html=html, text=text)

    def template(self, digest: str, *, subject: str, html: str, text: str) -> MessageTemplate:
        """A message of ``digest`` (signed like every other), not kept: a test send's."""
        return MessageTemplate(
            sender=self.settings.mail_from,
            subject=subject,
            html=html,
            text=text,
            list_id=f"{digest.lstrip('@')}.{self.settings.site_host}",
            dkim_signer=self.dkim,
        )


def _reads(languages: frozenset[str], tag: str) -> bool:
    """Whether a reader of ``languages`` reads a story in ``tag`` (``en`` reads ``en-GB``)."""
    return tag in languages or tag.split("-", 1)[0] in languages


def _loader(settings: Settings) -> Callable[[], Timetable]:
    loaded: list[Timetable] = []

    def timetable() -> Timetable:
        if not loaded:
            loaded.append(load_timetable(settings.schedules))
        return loaded[0]

    return timetable


def _dkim(settings: Settings, sender: str) -> DkimSigner | None:
    if not settings.dkim_selector and not settings.dkim_key_file:
        return None
    if not (settings.dkim_selector and settings.dkim_key_file):
        raise ConfigError("DKIM needs both PUBLISHER_DKIM_SELECTOR and PUBLISHER_DKIM_KEY_FILE")
    return DkimSigner.from_file(
        settings.dkim_selector, sender.rsplit("@", 1)[1], settings.dkim_key_file
    )
