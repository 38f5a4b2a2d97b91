"""Text that is safe everywhere: XML 1.0 characters only, Markdown rendered, HTML sanitised.

The only user of markdown-it-py and nh3.
"""

from __future__ import annotations

import functools
import html as _html
import re
import unicodedata

import nh3
from email_validator import EmailNotValidError, validate_email
from markdown_it import MarkdownIt

__all__ = [
    "UNSPACED",
    "html_text",
    "markdown_html",
    "normalise_email",
    "one_line",
    "plain_text",
    "printable",
    "sanitise_html",
    "searchable_text",
    "slugify",
    "unspaced_runs",
    "xml_text",
]

# XML 1.0 Char production: tab, LF, CR, U+0020-U+D7FF, U+E000-U+FFFD, U+10000-U+10FFFF.
# Anything else (C0 controls, lone surrogates, U+FFFE/U+FFFF) makes feedgen raise at
# rss_str() time, so it never gets past this module.
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SPACES = re.compile(r"\s+")
# In text a stranger writes (a name, an error report) and a terminal or a page shows: C1
# controls (U+0080-U+009F: some terminals act on them), and the bidirectional embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069) that reorder what follows them
# ("Trojan Source", CVE-2021-42574). Left-to-right and right-to-left marks (U+200E, U+200F,
# U+061C) stay: they only nudge neutral characters and mixed-script text needs them.
_UNSAFE_TEXT = re.compile("[\u0080-\u009f\u202a-\u202e\u2066-\u2069]")
_LINE_BREAKS = re.compile("\r\n?|[\u2028\u2029]")
_TAG = re.compile(r"<[^>]*>")
# Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, kana, CJK.
UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+"
)

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "dd", "del", "dl", "dt",
    "em", "figcaption", "figure", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
    "li", "mark", "ol", "p", "pre", "q", "s", "small", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title", "hreflang"},
    "img": {"src", "alt", "title", "width", "height"},
    "abbr": {"title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "blockquote": {"cite"},
    "q": {"cite"},
}
_URL_SCHEMES = {"http", "https", "mailto"}

_markdown = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False})
_markdown.enable("table").enable("strikethrough")


def xml_text(value: str) -> str:
    """``value`` with every character outside the XML 1.0 range removed."""
    return _NOT_XML_CHAR.sub("", value)


def one_line(value: str) -> str:
    """XML-safe text on one line, runs of white space folded to one space, without C1
    controls or bidirectional overrides."""
    return _SPACES.sub(" ", plain_text(value)).strip()


def plain_text(value: str) -> str:
    """XML-safe text for a multi-line field: lines end in LF only (a CR could rewrite a
    terminal line), no C1 controls, no bidirectional overrides or isolates."""
    return _UNSAFE_TEXT.sub("", _LINE_BREAKS.sub("\n", xml_text(value)))


def printable(value: str) -> str:
    """``value`` for a terminal: every control, CR and bidirectional override shown as an
    escape (``\\x1b``, ``\\u202e``), newlines and tabs kept; for text stored before it was
    cleaned, or from anywhere else."""
    return "".join(
        char.encode("unicode_escape", "backslashreplace").decode("ascii")
        if char not in "\n\t"
        and (unicodedata.category(char) in _ESCAPED or _UNSAFE_TEXT.match(char))
        else char
        for char in value
    )


_ESCAPED = {"Cc", "Cs", "Zl", "Zp"}  # controls, lone surrogates, line and paragraph separators


def sanitise_html(html: str) -> str:
    """HTML with scripts, event handlers, styles and non-http(s)/mailto URLs removed."""
    cleaned: str = nh3.clean(
        xml_text(html),
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return cleaned.strip()


def markdown_html(text: str) -> str:
    """Markdown (CommonMark plus tables and strikethrough) as sanitised HTML."""
    return sanitise_html(_markdown.render(xml_text(text)))


_ASCII_RUNS = re.compile("[^a-z0-9]+")


@functools.lru_cache(maxsize=4096)
def slugify(value: str) -> str:
    """A URL slug: letters, marks and digits of any script, lower-cased, joined by hyphens."""
    if value.isascii():
        return _ASCII_RUNS.sub("-", value.lower()).strip("-")
    text = unicodedata.normalize("NFC", value).lower()
    out: list[str] = []
    for char in text:
        keep = unicodedata.category(char)[0] in "LNM"
        out.append(char if keep else "-")
    return re.sub("-{2,}", "-", "".join(out)).strip("-")


def normalise_email(address: str) -> str:
    """The address lower-cased and checked (syntax only: no DNS); ValueError saying why not."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise ValueError(f"{address.strip()!r} is not an email address: {exc}") from None
    return str(checked.normalized).lower()


_BLOCK_ENDS = re.compile(r"<(?:br|/p|/div|/li|/h[1-6]|/tr|/td|/blockquote)\b[^>]*>", re.I)


def html_text(html: str) -> str:
    """The text of an HTML fragment (tags, scripts and styles dropped, entities decoded), on
    one line: a feed item's HTML description as a plain summary."""
    spaced = _BLOCK_ENDS.sub(" ", xml_text(html))  # "<p>a</p><p>b</p>" reads "a b"
    text: str = nh3.clean(spaced, tags=set(), attributes={})
    return one_line(_html.unescape(text))


def searchable_text(body_html: str) -> str:
    """A sanitised body's text as the search index holds it: tags dropped, entities decoded,
    white space collapsed (cheap enough to run on every story of an import)."""
    return _SPACES.sub(" ", _html.unescape(_TAG.sub(" ", body_html))).strip()


def unspaced_runs(*texts: str) -> str:
    """The runs of unspaced scripts in ``texts``, one space between runs ("" for English)."""
    return " ".join(run for text in texts for run in UNSPACED.findall(text))
