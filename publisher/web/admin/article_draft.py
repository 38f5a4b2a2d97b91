"""The article form's contents (``Draft``): exactly what was typed, the article file keys it
stands for, the preview of its body, and the validator's problems by the field showing each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html.parser import HTMLParser

from starlette.datastructures import FormData

from publisher import store
from publisher.articles.cleaning import ArticleProblems
from publisher.content import markdown_html, sanitise_html
from publisher.errors import InputError

__all__ = ["FIELDS", "FLAGS", "Draft", "problems_of"]

FIELDS = (
    "title", "slug", "summary", "body", "published_at", "author", "editor", "categories",
    "image", "source_name", "source_url", "language", "translation_of",
)  # fmt: skip
FLAGS = ("ai_assisted", "sponsored")
# The validator's keys (the article file keys) and the form field each problem is shown by.
FIELD_OF = {"body_html": "body", "source": "source_url", "": "title"}
LOCAL = "%Y-%m-%dT%H:%M:%S"  # what <input type="datetime-local" step="1"> sends and shows


@dataclass
class Draft:
    """What the form holds: exactly what was typed, so nothing is lost on a problem."""

    values: dict[str, str]
    flags: dict[str, bool]
    body_format: str = "markdown"  # or "html", for articles that came as body_html
    base: str = ""  # the content hash the editor started from

    @classmethod
    def empty(cls) -> Draft:
        """A new article's empty form."""
        return cls({name: "" for name in FIELDS}, {name: False for name in FLAGS})

    @classmethod
    def of(cls, view: store.ArticleView, zone: tzinfo, *, now: datetime | None = None) -> Draft:
        """The form filled with a saved article, its time in ``zone`` (the site's). A story
        not yet published shows a time only if it is ahead of ``now`` (a planned one): its
        stored time means nothing to readers until it goes out."""
        a = view.article
        html = bool(a.body_html and not a.body_markdown)
        unplanned = a.status in ("draft", "in_review") and now is not None and a.published_at <= now
        values = {
            "title": a.title,
            "slug": a.slug,
            "summary": a.summary,
            "body": a.body_html if html else a.body_markdown,
            "published_at": "" if unplanned else a.published_at.astimezone(zone).strftime(LOCAL),
            "author": a.author,
            "editor": a.editor,
            "categories": ", ".join(view.categories),
            "image": a.image,
            "source_name": a.source_name,
            "source_url": a.source_url,
            "language": a.language,
            "translation_of": "",  # linking is one way: a saved link is not undone here
        }
        flags = {"ai_assisted": a.ai_assisted, "sponsored": a.sponsored}
        return cls(values, flags, "html" if html else "markdown", a.content_hash)

    @classmethod
    def prefilled(cls, fields: Mapping[str, object]) -> Draft:
        """A new article's form filled with ``fields`` (``inbox.draft``: the form's names)."""
        draft = cls.empty()
        for name in FIELDS:
            value = fields.get(name)
            if isinstance(value, list | tuple):
                value = ", ".join(str(v) for v in value)
            if value is not None:
                draft.values[name] = str(value)
        draft.body_format = "html" if fields.get("body_format") == "html" else "markdown"
        return draft

    @classmethod
    def posted(cls, form: FormData) -> Draft:
        """The form as it was sent."""
        values = {name: str(form.get(name, "")) for name in FIELDS}
        flags = {name: form.get(name) == "on" for name in FLAGS}
        body_format = "html" if form.get("body_format") == "html" else "markdown"
        return cls(values, flags, body_format, str(form.get("base", "")))

    def article_fields(self) -> dict[str, object]:
        """The article file keys (docs/reference/article-files.md) this draft stands for."""
        v = self.values
        fields: dict[str, object] = {
            "title": v["title"],
            "summary": v["summary"],
            "author": v["author"],
            "editor": v["editor"],
            "image": v["image"],
            "categories": [c.strip() for c in v["categories"].split(",") if c.strip()],
            "ai_assisted": self.flags["ai_assisted"],
            "sponsored": self.flags["sponsored"],
            ("body_html" if self.body_format == "html" else "body"): v["body"],
        }
        if v["slug"].strip():
            fields["slug"] = v["slug"]
        if v["language"].strip():
            fields["language"] = v["language"]
        if v["translation_of"].strip():
            fields["translation_of"] = v["translation_of"]
        if v["published_at"].strip():
            fields["published_at"] = v["published_at"]
        if v["source_name"].strip() or v["source_url"].strip():
            fields["source"] = {"name": v["source_name"], "url": v["source_url"]}
        return fields

    def insecure_images(self) -> dict[str, str]:
        """Images in the body that readers' browsers would not show: the site's pages allow
        images over https only (their Content-Security-Policy), so an ``http://`` one would
        be dropped without a word. (The story's picture is fetched and kept by the site.)"""
        found: dict[str, str] = {}
        plain = [src for src in _image_sources(self.preview()) if src.lower().startswith("http://")]
        if plain:
            found["body"] = (
                f"Readers' browsers will not show the image {plain[0]} (the site shows images "
                "over https only): use its https:// address, or take the image out."
            )
        return found

    def preview(self) -> str:
        """The body as readers will see it (sanitised HTML, safe to show as is)."""
        body = self.values["body"]
        return sanitise_html(body) if self.body_format == "html" else markdown_html(body)


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.extend(value.strip() for name, value in attrs if name == "src" and value)


def _image_sources(html: str) -> list[str]:
    """The ``src`` of every image in ``html``."""
    parser = _Images()
    parser.feed(html)
    parser.close()
    return parser.sources


def problems_of(exc: InputError) -> dict[str, str]:
    """What was wrong, by the form field that shows it (the key "" for the whole form)."""
    if isinstance(exc, ArticleProblems):
        found: dict[str, str] = {}
        for key, message in exc.fields.items():
            found.setdefault(FIELD_OF.get(key, key), message)
        return found
    if exc.message.startswith("slug: "):
        return {"slug": exc.message.removeprefix("slug: ")}
    return {"": exc.message}
