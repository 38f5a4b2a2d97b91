"""Digest use cases: make this period's edition once, preview the next one, list and show
past editions. The edition table, not the scheduler, says what exists."""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session

from publisher import store
from publisher.content import markdown_html, one_line, plain_text
from publisher.editions.compose import (
    EditionContext,
    RenderedEdition,
    Story,
    archive_values,
    render_edition,
)
from publisher.errors import ConfigError, InputError, NotFoundError
from publisher.languages import N_, format_date, gettext, translations
from publisher.look.values import DEFAULT_REASON, Look, look_of, read_look
from publisher.models import Edition
from publisher.schedules import Digest, Timetable
from publisher.settings import Settings
from publisher.templating import Personaliser

__all__ = [
    "ONE_OFF_TITLES",
    "PUBLIC_STATUSES",
    "archived",
    "current_look",
    "current_nominal",
    "default_subject",
    "describe_send",
    "edition_stories",
    "ensure_edition",
    "limit_to_audience",
    "list_editions",
    "one_off_context",
    "preview",
    "render_as",
    "render_pending",
    "render_variant",
    "sample",
    "story",
]

PUBLIC_STATUSES = ("ready", "sending", "sent", "paused")
# What a one-off edition's footer says the reader is receiving.
ONE_OFF_TITLES = {"story": N_("Breaking news"), "message": N_("Announcements")}
SAMPLE_STORIES = 3  # in the look's preview


def story(view: store.ArticleView, site_url: str, media_base: str = "") -> Story:
    """A story as the digest shows it; its picture our 600 px rendition (1200 px for 2x
    screens), under ``media_base`` (the site's /media by default)."""
    a = view.article
    slug = quote(a.slug, safe="")
    base = media_base or f"{site_url}/media"
    picture = view.picture
    one, two = (picture.pick(600), picture.pick(1200)) if picture else (None, None)
    return Story(
        title=a.title,
        url=f"{site_url}/articles/{slug}",
        summary=a.summary,
        image=f"{base}/{one.name}" if one else "",
        image_2x=f"{base}/{two.name}" if two and one and two.width > one.width else "",
        image_alt=picture.alt if picture else "",
        image_height=round(one.height * 544 / one.width) if one else 0,
        categories=view.categories,
        editor=a.editor,
        report_url=f"{site_url}/report?article={slug}",
        sponsored=a.sponsored,
        ai_assisted=a.ai_assisted,
        source_name=a.source_name,
        source_url=a.source_url,
        language=a.language,
    )


def _look(session: Session, settings: Settings, timetable: Timetable) -> Look:
    """The look in force (an admin's, over the settings and schedules.yaml)."""
    return read_look(session, settings, timetable.brand_studio)[0]


def current_look(engine: Engine, settings: Settings, timetable: Timetable) -> Look:
    """The look in force now."""
    with store.reading(engine) as session:
        return _look(session, settings, timetable)


def _edition_look(
    engine: Engine, settings: Settings, timetable: Timetable, edition: Edition
) -> Look:
    """The look ``edition`` was first rendered with, so that its variants and renderings
    again look the same; the look in force for one rendered before looks were kept."""
    with store.reading(engine) as session:
        if not edition.look:
            return _look(session, settings, timetable)
        values = json.loads(edition.look)
        key = values.get("logo")
        logo = store.look_logo(session, str(key), with_data=False) if key else None
    return look_of(settings, timetable.brand_studio, values, logo)


def _framed(
    look: Look, settings: Settings, digest_title: str, language: str = ""
) -> dict[str, object]:
    """What every edition's frame takes from the look, in ``language`` (empty: the site's):
    the footer's reason is said in it unless an admin wrote their own."""
    language = language or settings.site_language
    reason = look.reason_for(digest_title)
    if look.reason == DEFAULT_REASON:
        reason = gettext(
            language,
            'You are receiving "%(digest)s" because you joined the %(site)s community.',
            digest=digest_title,
            site=look.title,
        )
    return {
        "site_title": look.title,
        "site_url": settings.site_url,
        "tagline": look.tagline,
        "language": language,
        "postal_address": look.postal_address,
        "studio": look.studio,
        "accent": look.accent,
        "logo": look.logo,
        "sponsor": look.sponsor,
        "reason": reason,
    }


def _context(
    look: Look,
    settings: Settings,
    digest: Digest,
    *,
    nominal: datetime,
    stories: list[Story],
    archive_url: str,
    subject: str = "",
    intro: str = "",
    language: str = "",
) -> EditionContext:
    """The edition's frame in ``language`` (empty: the site's); ``subject`` and ``intro``,
    when given, are an editor's (a subject that is the site's own default is said again in
    ``language``)."""
    count = len(stories)
    home = settings.site_language
    language = language or home
    intro = intro or translations(language).ngettext(
        "Here is the story our editors picked for you since the last edition.",
        "Here are the %(count)s stories our editors picked for you since the last edition.",
        count,
    ) % {"count": count}
    if not subject or (language != home and subject == default_subject(digest, nominal, home)):
        subject = default_subject(digest, nominal, language)
    return EditionContext(
        **_framed(look, settings, digest.title, language),  # type: ignore[arg-type]
        digest_title=digest.title,
        subject=subject,
        preheader=digest.preheader or " · ".join(s.title for s in stories[:2]),
        intro=intro,
        archive_url=archive_url,
    )


def default_subject(digest: Digest, nominal: datetime, language: str) -> str:
    """An edition's subject when no editor wrote one: the digest's title and the day, written
    as ``language``'s readers write a date."""
    return f"{digest.title} · {format_date(nominal, language, digest.zone)}"


def ensure_edition(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    digest: Digest,
    *,
    nominal: datetime,
    now: datetime,
) -> tuple[Edition, bool]:
    """The edition of ``digest`` for the period of ``nominal``, created and rendered once;
    and whether this call created it. An edition with no new stories is recorded as skipped."""
    key = digest.period_key(nominal)
    for attempt in range(3):
        try:
            with store.writing(engine) as session:
                edition, created = store.create_edition(
                    session, digest.name, key, nominal_at=nominal, now=now
                )
                if created:
                    limit_to_audience(session, edition, digest)
                    views = store.candidate_articles(
                        session,
                        digest.name,
                        categories=digest.categories,
                        limit=digest.max_articles,
                        until=nominal,
                        made_at=now,
                        before_id=edition.id,
                    )
                    store.carry_articles(session, edition, [v.article.id or 0 for v in views])
            break
        except sa_exc.IntegrityError:
            # Another process carried one of these stories in another edition at the same
            # moment; this transaction was rolled back whole, so try again.
            if attempt == 2:
                raise
    review_by = nominal + digest.review_deadline if digest.review else None
    return render_pending(engine, settings, timetable, env, edition.id or 0, review_by), created


def limit_to_audience(session: Session, edition: Edition, digest: Digest) -> None:
    """A new edition of a digest limited to an audience (``audience:`` in schedules.yaml)
    keeps the audience's filter, applied whenever its deliveries start. ConfigError (and
    nothing made) when the audience does not exist."""
    if not digest.audience:
        return
    try:
        found = store.audience_by_name(session, digest.audience)
    except NotFoundError:
        raise ConfigError(
            f"digest {digest.name!r} is limited to the audience {digest.audience!r}, which "
            "does not exist: save it in the newsroom or with `publisher audiences add`"
        ) from None
    store.update_edition(
        session, edition.id or 0, audience=found.name, audience_filter=found.filter
    )
    edition.audience, edition.audience_filter = found.name, found.filter


def render_pending(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition_id: int,
    review_by: datetime | None,
) -> Edition:
    """A pending edition rendered with the stories it carries and made ready, or held for an
    editor until ``review_by`` when given; any other edition as it is."""
    with store.reading(engine) as session:
        edition = store.edition_by_id(session, edition_id)
        views = store.edition_articles(session, edition_id)
        look = _look(session, settings, timetable)
    if edition.status != "pending":
        return edition
    digest = _digest_of(timetable, edition)
    rendered = _render(look, settings, env, digest, edition, views)
    with store.writing(engine) as session:
        saved = store.save_rendering(
            session,
            edition_id,
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            count=rendered.stories,
            look=json.dumps(dict(look.values), ensure_ascii=False, sort_keys=True),
        )
        if saved and review_by is not None:
            # Held for an editor (issue 13): nothing is sent until approved, and past the
            # deadline ``unreviewed`` decides (sends.expire_reviews).
            store.hold_for_review(session, edition_id, deadline=review_by)
    with store.reading(engine) as session:
        return store.edition_by_id(session, edition_id)


def _render(
    look: Look,
    settings: Settings,
    env: Environment,
    digest: Digest | None,
    edition: Edition,
    views: list[store.ArticleView],
    language: str = "",
) -> RenderedEdition:
    stories = [story(view, settings.site_url, settings.media_base) for view in views]
    if digest is None:
        context = one_off_context(look, settings, edition, stories, language)
        return render_edition(env, context, stories)
    context = _context(
        look,
        settings,
        digest,
        nominal=edition.nominal_at,
        stories=stories,
        archive_url=f"{settings.site_url}/digests/{edition.id}",
        subject=edition.subject,
        intro=edition.intro,
        language=language,
    )
    return render_edition(env, context, stories)


def render_variant(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition: Edition,
    article_ids: Sequence[int],
    language: str = "",
) -> RenderedEdition:
    """The edition with only these of its stories (for readers who chose categories or
    languages), in ``language`` (empty: the site's), with the same recipient placeholders as
    the edition itself and an intro counting what is in."""
    wanted = set(article_ids)
    views = [v for v in _stories(engine, edition).values() if v.article.id in wanted]
    look = _edition_look(engine, settings, timetable, edition)
    digest = _digest_of(timetable, edition)
    return _render(look, settings, env, digest, edition, views, language)


def _digest_of(timetable: Timetable, edition: Edition) -> Digest | None:
    """The edition's digest in the timetable (ConfigError if it left it); None for a
    one-off edition."""
    return None if edition.kind != "digest" else timetable.digest(edition.digest)


def one_off_context(
    look: Look, settings: Settings, edition: Edition, stories: list[Story], language: str = ""
) -> EditionContext:
    """The frame of a one-off edition (issue 27): the digest's layout, with the story alone
    (breaking news) or the message's Markdown body; its own words in ``language`` (empty:
    the site's), what an editor wrote as written."""
    words = translations(language or settings.site_language)
    body_html = markdown_html(edition.body) if edition.kind == "message" else ""
    lead = stories[0].summary if stories else plain_text(body_html)
    known = ONE_OFF_TITLES.get(edition.kind)
    title = words.gettext(known) if known else edition.kind
    breaking = words.gettext("Breaking: %(title)s") % {"title": stories[0].title} if stories else ""
    return EditionContext(
        **_framed(look, settings, title, language),  # type: ignore[arg-type]
        digest_title=title,
        subject=edition.subject or breaking,
        preheader=one_line(lead)[:150],
        intro=edition.intro
        or (words.gettext("Breaking news from our newsroom.") if stories else ""),
        archive_url=f"{settings.site_url}/digests/{edition.id or ''}",
        body_html=body_html,
        body_text=edition.body,
    )


def render_as(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition: Edition,
    article_ids: Sequence[int],
) -> RenderedEdition:
    """The edition with these of its stories in this order, and its ``subject`` and
    ``intro`` as set on ``edition`` (an editor's review, before it is saved)."""
    views = _stories(engine, edition)
    kept = [views[i] for i in article_ids if i in views]
    look = _edition_look(engine, settings, timetable, edition)
    return _render(look, settings, env, _digest_of(timetable, edition), edition, kept)


def _stories(engine: Engine, edition: Edition) -> dict[int | None, store.ArticleView]:
    """The edition's stories by article id, in the edition's order."""
    with store.reading(engine) as session:
        return {v.article.id: v for v in store.edition_articles(session, edition.id or 0)}


def current_nominal(digest: Digest, now: datetime) -> datetime:
    """The period containing ``now``: its latest nominal send time at or before now."""
    nominal = digest.last_time(now)
    if nominal is None:
        raise InputError(f"digest {digest.name!r} has no send time before now ({digest.cron})")
    return nominal


def _in_categories(
    views: list[store.ArticleView], categories: Sequence[str], known: dict[str, str]
) -> list[store.ArticleView]:
    """The stories a reader of ``categories`` (slugs; none: all) gets; an unknown category
    is an InputError."""
    slugs = [unicodedata.normalize("NFC", c.strip().lower()) for c in categories]
    unknown = [slug for slug in slugs if slug not in known]
    if unknown:
        raise InputError(
            f"unknown category {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(sorted(known)) or 'none yet'})"
        )
    if not slugs:
        return views
    names = {known[slug] for slug in slugs}
    return [v for v in views if names.intersection(v.categories)]


def preview(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    digest: Digest,
    *,
    now: datetime,
    categories: Sequence[str] = (),
    fill: bool = True,
    language: str = "",
    languages: Sequence[str] = (),
) -> RenderedEdition:
    """The next edition as it would go out if sent now, not recorded, with the web archive's
    generic links and greeting in place of a recipient's (``fill=False``: with the recipient
    placeholders left in, for a test send); with ``categories`` (slugs), as a reader who
    chose those gets it; in ``language`` with only stories in ``languages`` (tags), as a
    member who reads those gets it. An unknown category is an InputError."""
    with store.reading(engine) as session:
        views = store.candidate_articles(
            session,
            digest.name,
            categories=digest.categories,
            limit=digest.max_articles,
            until=now,
            made_at=now,
        )
        known = {c.slug: c.name for c in store.category_list(session)}
        look = _look(session, settings, timetable)
    views = _in_categories(views, categories, known)
    if languages:
        home = settings.site_language
        views = [v for v in views if (v.article.language or home) in languages]
    stories = [story(view, settings.site_url, settings.media_base) for view in views]
    upcoming = digest.next_times(now, 1)
    nominal = upcoming[0] if upcoming else now
    context = _context(
        look,
        settings,
        digest,
        nominal=nominal,
        stories=stories,
        archive_url=f"{settings.site_url}/digests/",
        language=language,
    )
    rendered = render_edition(env, context, stories)
    if not fill:
        return rendered
    values = archive_values(settings.site_url, context.language)
    html = Personaliser(rendered.html, escape_html=True).fill(values).decode("utf-8")
    text = Personaliser(rendered.text, escape_html=False).fill(values).decode("utf-8")
    return RenderedEdition(rendered.subject, html, text, rendered.stories)


def sample(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    look: Look,
    *,
    now: datetime,
) -> str:
    """A digest under ``look`` (an admin's, maybe not saved) with the newest published
    stories, as a reader sees it (generic links in place of a reader's): the look's preview.
    The first digest of the timetable gives the title; none there, the usual one."""
    with store.reading(engine) as session:
        views = store.latest_articles(session, now=now, limit=SAMPLE_STORIES)
    names = sorted(timetable.digests)
    digest = timetable.digests[names[0]] if names else _SAMPLE_DIGEST
    stories = [story(view, settings.site_url, settings.media_base) for view in views]
    context = _context(
        look,
        settings,
        digest,
        nominal=now,
        stories=stories,
        archive_url=f"{settings.site_url}/digests/",
    )
    rendered = render_edition(env, context, stories)
    values = archive_values(settings.site_url, settings.site_language)
    return Personaliser(rendered.html, escape_html=True).fill(values).decode("utf-8")


_SAMPLE_DIGEST = Digest(
    name="digest",
    title="Join The Community",
    cron="0 7 * * *",
    zone=ZoneInfo("UTC"),
    max_articles=12,
    categories=(),
    catch_up=timedelta(hours=6),
    preheader="",
)


def edition_stories(engine: Engine, edition_id: int) -> list[store.ArticleView]:
    """The stories an edition carries, in its order; NotFoundError if there is no such one."""
    with store.reading(engine) as session:
        store.edition_by_id(session, edition_id)
        return store.edition_articles(session, edition_id)


def list_editions(engine: Engine, *, public_only: bool = False) -> list[Edition]:
    """Editions, newest first; ``public_only``: those the public archive lists (a one-off
    edition marked to stay out of it is not)."""
    with store.reading(engine) as session:
        found = store.edition_list(session, statuses=PUBLIC_STATUSES if public_only else ())
    return [e for e in found if e.in_archive] if public_only else found


def archived(
    engine: Engine,
    settings: Settings,
    edition_id: int,
    *,
    timetable: Timetable,
    env: Environment,
    now: datetime,
) -> tuple[Edition, str]:
    """A past edition and its HTML without anyone's personal links (view in browser). A
    story taken down since (unpublished, or moved back to later) leaves it: the edition is
    shown rendered again without it (issue 24), and is a 404 if no story is left."""
    with store.reading(engine) as session:
        edition = store.edition_by_id(session, edition_id)
        # A cancelled edition's page stays up for the readers who got it before the cancel.
        reached = edition.status == "cancelled" and bool(
            store.delivery_counts(session, [edition_id])[edition_id].get("sent")
        )
        views = store.edition_articles(session, edition_id)
        version = store.stamp(session, "articles")
    if (edition.status not in PUBLIC_STATUSES and not reached) or not edition.in_archive:
        raise NotFoundError(f"no edition {edition_id}")
    kept = [v for v in views if v.status(now) == "published"]
    html = edition.html
    if len(kept) < len(views):
        html = _ARCHIVE.without_taken_down(
            (str(engine.url), edition_id, edition.created_at, version),
            lambda: _rendered_without(engine, settings, timetable, env, edition, kept),
        )
    filled = Personaliser(html, escape_html=True).fill(
        archive_values(settings.site_url, settings.site_language)
    )
    return edition, filled.decode("utf-8")


def _rendered_without(
    engine: Engine,
    settings: Settings,
    timetable: Timetable,
    env: Environment,
    edition: Edition,
    kept: list[store.ArticleView],
) -> str:
    """The edition's HTML with only the stories still public; NotFoundError if none is, or
    if its digest left the timetable (it cannot be rendered again, so it is not shown)."""
    if not kept:
        raise NotFoundError(f"no edition {edition.id}")
    try:
        digest = _digest_of(timetable, edition)
    except ConfigError:
        raise NotFoundError(f"no edition {edition.id}") from None
    look = _edition_look(engine, settings, timetable, edition)
    return _render(look, settings, env, digest, edition, kept).html


class _ArchiveRenders:
    """Editions rendered again without a taken-down story, kept per process: a public page
    must not cost a rendering (premailer) per request. Keyed by the articles' change stamp,
    so any change to a story renders it again; the oldest go first."""

    SIZE = 32

    def __init__(self) -> None:
        self._kept: dict[Hashable, str] = {}
        self._lock = threading.Lock()

    def without_taken_down(self, key: Hashable, render: Callable[[], str]) -> str:
        with self._lock:  # one rendering at a time, each once
            found = self._kept.get(key)
            if found is None:
                found = render()
                if len(self._kept) >= self.SIZE:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[key] = found
            return found


_ARCHIVE = _ArchiveRenders()


def describe_send(engine: Engine, settings: Settings, digest: Digest, *, now: datetime) -> str:
    """What ``digest send`` would do now, in words; changes nothing."""
    nominal = current_nominal(digest, now)
    key = digest.period_key(nominal)
    with store.reading(engine) as session:
        existing = [
            e for e in store.edition_list(session, digest=digest.name) if e.period_key == key
        ]
        audience = store.audience_size(session, digest.name)
        if existing:
            edition = existing[0]
            return (
                f"edition {edition.id} for {key} exists ({edition.status}, "
                f"{edition.article_count} stories); {audience} confirmed subscriber(s) "
                "would get what is still owed"
            )
        views = store.candidate_articles(
            session,
            digest.name,
            categories=digest.categories,
            limit=digest.max_articles,
            until=nominal,
            made_at=now,
        )
    if not views:
        return f"no edition for {key} yet; nothing new, so it would be recorded as skipped"
    return (
        f"no edition for {key} yet; it would carry {len(views)} stories to {audience} "
        "confirmed subscriber(s)"
    )
