"""Compose one digest edition: render the HTML and text parts once, inline the CSS once
(premailer, the only user of it), and leave space-free placeholders where each recipient's
greeting and links go, to be filled with a byte substitution at send time (docs/architecture.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from jinja2 import Environment
from markupsafe import Markup

from publisher.content import one_line
from publisher.languages import N_, gettext
from publisher.look.values import DEFAULT_ACCENT, Logo, Sponsor
from publisher.schedules import BrandStudio
from publisher.templating import RenderSlots

__all__ = [
    "INLINER",
    "MAX_HTML_BYTES",
    "SUMMARY_CHARS",
    "EditionContext",
    "RenderedEdition",
    "Story",
    "archive_values",
    "greeting",
    "render_edition",
]

MAX_HTML_BYTES = 100_000  # Gmail clips messages past about 102 KB of HTML
SUMMARY_CHARS = 600


@dataclass(frozen=True)
class Story:
    title: str
    url: str
    summary: str
    image: str
    categories: tuple[str, ...]
    editor: str
    report_url: str
    sponsored: bool = False
    ai_assisted: bool = False
    source_name: str = ""  # where the story came from (press material, another site)
    source_url: str = ""
    language: str = ""  # BCP 47; the story's words are marked with it
    image_2x: str = ""  # the 1200 px rendition, for screens of twice the density
    image_alt: str = ""
    image_height: int = 0  # at the column's 544 px


@dataclass(frozen=True)
class EditionContext:
    """Everything an edition shows besides its stories."""

    site_title: str
    site_url: str
    tagline: str
    language: str
    postal_address: str
    digest_title: str
    subject: str
    preheader: str
    intro: str
    archive_url: str
    studio: BrandStudio | None  # None: the Brand Studio block is not shown
    # The look an admin chose in the newsroom (publisher.look); left out, today's defaults.
    accent: str = DEFAULT_ACCENT
    logo: Logo | None = None
    sponsor: Sponsor | None = None
    reason: str = ""  # why the reader gets it; "" for the usual sentence
    # A plain message's body (issue 27): sanitised HTML from its Markdown, and its text.
    body_html: str = ""
    body_text: str = ""


@dataclass(frozen=True)
class RenderedEdition:
    subject: str
    html: str
    text: str
    stories: int  # how many of the offered stories fit under the size limit


class _InlineCounter:
    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def inline(self, document: str) -> str:
        # Imported on the first edition, not at start: premailer, cssutils and lxml cost a
        # sending process (which never renders a whole edition) about 0.3 s of CPU (issue 15).
        import cssutils
        from premailer import Premailer

        # cssutils logs about 45 lines per premailer call at its default level
        # (docs/architecture.md).
        cssutils.log.setLevel(logging.CRITICAL)
        with self._lock:
            self.calls += 1
        inliner = Premailer(
            document,
            strip_important=False,  # the default strips !important from kept media queries
            allow_network=False,
            keep_style_tags=False,
            disable_validation=True,
            # Keep the templates' width="544" on images: premailer would turn CSS widths
            # into width="100%" and height="auto" (not valid HTML attributes).
            disable_basic_attributes=["width", "height"],
            cssutils_logging_level=logging.CRITICAL,
        )
        out: str = inliner.transform()
        return out


INLINER = _InlineCounter()


def render_edition(
    env: Environment, context: EditionContext, stories: Sequence[Story]
) -> RenderedEdition:
    """The edition's subject, inlined HTML and text, with recipient placeholders.

    Over MAX_HTML_BYTES, stories are dropped from the end and a "more on the site" link
    takes their place; premailer runs once unless that happens.
    """
    shown = [_trimmed(story) for story in stories]
    slots = RenderSlots()  # this rendering's own placeholders: no content can name them
    while True:
        values = _values(context, shown, slots, more=len(shown) < len(stories))
        inlined = INLINER.inline(env.get_template("email/digest.html").render(**values))
        size = len(inlined.encode("utf-8"))
        if size <= MAX_HTML_BYTES or len(shown) <= 1:
            break
        keep = max(1, min(len(shown) - 1, int(len(shown) * MAX_HTML_BYTES / size * 0.95)))
        shown = shown[:keep]
    text = env.get_template("email/digest.txt").render(**values)
    return RenderedEdition(
        one_line(context.subject), slots.settle(inlined), slots.settle(text), len(shown)
    )


def _trimmed(story: Story) -> Story:
    if len(story.summary) <= SUMMARY_CHARS:
        return story
    cut = story.summary[:SUMMARY_CHARS].rsplit(" ", 1)[0]
    return Story(**{**story.__dict__, "summary": cut + " …"})


def _values(
    context: EditionContext, stories: Sequence[Story], slots: RenderSlots, *, more: bool
) -> dict[str, object]:
    return {
        **context.__dict__,
        "locale": context.language,
        "body_html": Markup(context.body_html),  # sanitised by content.markdown_html
        "subject": one_line(context.subject),
        "stories": stories,
        "more_url": context.site_url + "/" if more else "",
        "greeting_placeholder": slots.tokens["greeting"],
        "unsubscribe_placeholder": slots.tokens["unsubscribe"],
        "preferences_placeholder": slots.tokens["preferences"],
    }


def greeting(name: str, language: str = "en") -> str:
    """The plain-text greeting for a recipient in ``language`` (escape it for HTML)."""
    name = one_line(name)
    if name:
        return gettext(language, N_("Hi %(name)s,"), name=name)
    return gettext(language, N_("Hello,"))


def archive_values(site_url: str, language: str = "en") -> dict[str, str]:
    """What the web archive shows instead of anyone's personal links."""
    return {
        "greeting": greeting("", language),
        "unsubscribe": f"{site_url}/",
        "preferences": f"{site_url}/",
    }
