"""The one Jinja2 environment, shared by pages, feeds' item HTML and email."""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

from publisher import languages

__all__ = [
    "DEFUSED_MARK",
    "LATE_PLACEHOLDERS",
    "OPTIONAL",
    "PLACEHOLDERS",
    "PLACEHOLDER_MARK",
    "TEMPLATES",
    "Personaliser",
    "RenderSlots",
    "make_environment",
    "size_text",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Letters, digits and underscores only: they survive premailer, lxml's URL escaping in href,
# quoted-printable and header folding unchanged.
PLACEHOLDERS = {
    "greeting": "NFPH_GREETING_NFPH",
    "unsubscribe": "NFPH_UNSUBSCRIBE_URL_NFPH",
    "preferences": "NFPH_PREFERENCES_URL_NFPH",
}
# Put in after rendering, by click tracking's rewrite of the links (publisher.clicks): each
# tracked link's reader tag. Filled with nothing for a message given no value for it (a test
# send's links count nowhere).
LATE_PLACEHOLDERS = {"reader": "NFPH_READER_NFPH"}
OPTIONAL = {"reader": b""}
PLACEHOLDER_MARK = "NFPH"  # every placeholder has it; content never keeps it (RenderSlots)
DEFUSED_MARK = "NFPh"  # what content's own "NFPH" becomes


class RenderSlots:
    """One rendering's own placeholders (issue 24): random, so that nothing in the content
    (a story's title, summary, image, links; a source feed's items) can know them. After
    rendering, ``settle`` defuses every "NFPH" the content brought and only then turns this
    rendering's slots into the stored placeholders: in a stored rendering, a placeholder
    stands only where the template put one. Renderings stored before this keep the same
    placeholders, so they send as they did."""

    def __init__(self) -> None:
        marker = secrets.token_hex(12)  # letters and digits: survive like the placeholders
        self.tokens = {name: f"Z{marker}{name.upper()}Z" for name in PLACEHOLDERS}

    def settle(self, rendered: str) -> str:
        """``rendered`` with the content's "NFPH" defused and this rendering's slots made
        placeholders."""
        settled = rendered.replace(PLACEHOLDER_MARK, DEFUSED_MARK)
        for name, token in self.tokens.items():
            settled = settled.replace(token, PLACEHOLDERS[name])
        return settled


def make_environment(templates: Path = TEMPLATES, zone: tzinfo = UTC) -> Environment:
    """Autoescaping environment over ``templates/``; undefined names are errors, not blanks.
    The ``date`` filter shows times in ``zone`` (the site's time zone). Reader-facing words are
    gettext messages (``{% trans %}``, ``_()``) in the language of the render's ``locale``
    value (a BCP 47 tag), which also formats dates and numbers; a render without one (the
    newsroom) is in English with the newsroom's own date format."""

    @pass_context
    def _date(context: Context, value: datetime, fmt: str = "%d %b %Y, %H:%M") -> str:
        locale = context.get("locale")
        if locale:
            return languages.format_datetime(value, locale, zone)
        local = value.astimezone(zone)
        return f"{local.strftime(fmt)} {local.tzname()}"

    @pass_context
    def _day(context: Context, value: datetime) -> str:
        return languages.format_date(value, context.get("locale") or "en", zone)

    @pass_context
    def _number(context: Context, value: float) -> str:
        return languages.format_number(value, context.get("locale") or "en")

    @pass_context
    def _gettext(context: Context, message: str) -> str:
        return languages.translations(context.get("locale") or "en").gettext(message)

    @pass_context
    def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
        found = languages.translations(context.get("locale") or "en")
        return found.ngettext(singular, plural, count)

    env = Environment(
        loader=FileSystemLoader(templates),
        autoescape=select_autoescape(["html", "xml", "xsl"], default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    # New-style gettext: ``{% trans %}`` placeholders are filled by name, and a catalog's
    # string is escaped like any value.
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's message on one line
    env.globals["language_name"] = languages.language_name
    env.globals["direction"] = languages.direction
    env.filters["date"] = _date
    env.filters["day"] = _day
    env.filters["number"] = _number
    env.filters["urlquote"] = lambda value: quote(str(value), safe="")
    env.filters["size"] = size_text
    return env


class Personaliser:
    """Fills the placeholders of one rendered part for many recipients: the part is split
    once, and each recipient costs a join of bytes."""

    def __init__(self, template: str, *, escape_html: bool) -> None:
        self.escape_html = escape_html
        self.pieces: list[bytes] = []
        self.slots: list[str] = []
        by_token = {token: name for name, token in (PLACEHOLDERS | LATE_PLACEHOLDERS).items()}
        rest = template
        while True:
            found = [(rest.find(token), token) for token in by_token if token in rest]
            if not found:
                self.pieces.append(rest.encode("utf-8"))
                break
            index, token = min(found)
            self.pieces.append(rest[:index].encode("utf-8"))
            self.slots.append(by_token[token])
            rest = rest[index + len(token) :]

    def fill(self, values: Mapping[str, str]) -> bytes:
        """The part with each placeholder replaced by ``values[name]`` (escaped for HTML)."""
        return b"".join(self.parts(values))

    def parts(self, values: Mapping[str, str]) -> list[bytes]:
        """``fill`` as the pieces to join (or to send as they are, with no copy)."""
        encoded = {
            name: (html.escape(value, quote=True) if self.escape_html else value).encode("utf-8")
            for name, value in values.items()
        }
        out = [self.pieces[0]]
        for slot, piece in zip(self.slots, self.pieces[1:], strict=True):
            out.append(encoded[slot] if slot in encoded else OPTIONAL[slot])
            out.append(piece)
        return out


def size_text(count: int) -> str:
    """A size as people read it: ``64 MB``, ``1.5 kB``, ``900 bytes`` (binary multiples,
    as the limits are set)."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if count >= scale:
            value = count / scale
            shown = f"{value:.0f}" if value >= 10 or value.is_integer() else f"{value:.1f}"
            return f"{shown} {unit}"
    return f"{count} byte{'' if count == 1 else 's'}"
