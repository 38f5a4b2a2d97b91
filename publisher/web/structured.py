"""What machines read on the reader's pages: the canonical address, the meta description,
OpenGraph and Twitter card tags, and schema.org JSON-LD (``NewsArticle`` per story,
``CollectionPage`` with an ``ItemList`` for lists, ``WebSite`` with a ``SearchAction``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from publisher.content import slugify
from publisher.schedules import BrandStudio
from publisher.settings import Settings
from publisher.store import ArticleView

__all__ = [
    "AI_WORDS",
    "LOGO",
    "PageMeta",
    "article_meta",
    "author_url",
    "collection",
    "list_meta",
    "news_article",
    "publisher_org",
    "script",
    "section_url",
    "story_url",
    "website",
]

LOGO = "/static/logo.png"
LOGO_SIZE = 512
DESCRIPTION_MAX = 300
AI_WORDS = (
    "This story was selected and published by a human editor and adapted from source "
    "material with the help of AI tools."
)


@dataclass(frozen=True)
class PageMeta:
    """The head of one page: canonical address, description, tags and links (prev/next)."""

    canonical: str
    description: str
    og: list[tuple[str, str]] = field(default_factory=list)
    twitter: list[tuple[str, str]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def story_url(settings: Settings, slug: str) -> str:
    return f"{settings.site_url}/articles/{quote(slug, safe='')}"


def section_url(settings: Settings, name: str) -> str:
    return f"{settings.site_url}/categories/{quote(slugify(name), safe='')}/"


def author_url(settings: Settings, name: str) -> str:
    return f"{settings.site_url}/authors/{quote(slugify(name), safe='')}/"


def script(data: dict[str, Any]) -> Markup:
    """``data`` as the body of a ``<script type="application/ld+json">``: nothing in it can
    close the element or open a comment (``<``, ``>`` and ``&`` escaped as JSON allows)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # escaped above: safe inside a script element


def publisher_org(settings: Settings) -> dict[str, Any]:
    site = settings.site_url
    return {
        "@type": "NewsMediaOrganization",
        "name": settings.site_title,
        "url": f"{site}/",
        "logo": {
            "@type": "ImageObject",
            "url": f"{site}{LOGO}",
            "width": LOGO_SIZE,
            "height": LOGO_SIZE,
        },
    }


def website(settings: Settings) -> dict[str, Any]:
    """The site, with its search (``/search?q=``) for search engines' sitelinks box."""
    site = settings.site_url
    return {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "name": settings.site_title,
        "url": f"{site}/",
        "inLanguage": settings.site_language,
        "publisher": publisher_org(settings),
        "potentialAction": {
            "@type": "SearchAction",
            "target": {
                "@type": "EntryPoint",
                "urlTemplate": f"{site}/search?q={{search_term_string}}",
            },
            "query-input": "required name=search_term_string",
        },
    }


def _description(view: ArticleView) -> str:
    text = view.article.summary or view.article.title
    text = " ".join(text.split())
    return text if len(text) <= DESCRIPTION_MAX else text[: DESCRIPTION_MAX - 1] + "…"


def news_article(settings: Settings, view: ArticleView, studio: BrandStudio) -> dict[str, Any]:
    """A story as ``NewsArticle``, saying what its page says: corrections, sponsorship, the
    editor and AI assistance (in ``backstory``, in words)."""
    a = view.article
    url = story_url(settings, a.slug)
    org = publisher_org(settings)
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "@id": url,
        "url": url,
        "mainEntityOfPage": {"@type": "WebPage", "@id": url},
        "headline": a.title if len(a.title) <= 110 else a.title[:109] + "…",
        "description": _description(view),
        "datePublished": a.published_at.isoformat(),
        "dateModified": max(a.updated_at, a.published_at).isoformat(),
        "inLanguage": a.language or settings.site_language,
        "author": (
            [{"@type": "Person", "name": a.author, "url": author_url(settings, a.author)}]
            if a.author
            else [{"@type": "Organization", "name": settings.site_title, "url": org["url"]}]
        ),
        "publisher": org,
        "isAccessibleForFree": True,
        "image": [_picture(settings, view)[0]] if view.picture else [org["logo"]["url"]],
    }
    if view.categories:
        data["articleSection"] = list(view.categories)
        data["keywords"] = list(view.categories)
    if a.editor:
        data["editor"] = {"@type": "Person", "name": a.editor}
    backstory = []
    if a.editor:
        backstory.append(f"Selected and edited by {a.editor}.")
    if a.ai_assisted:
        backstory.append(AI_WORDS)
    if a.sponsored:
        backstory.append(f"Sponsored content, made by {studio.label}; not written by our newsroom.")
        data["additionalType"] = "https://schema.org/AdvertiserContentArticle"
        data["sponsor"] = {"@type": "Organization", "name": a.author or studio.label}
    if backstory:
        data["backstory"] = " ".join(backstory)
    if view.corrections:
        data["correction"] = [
            {
                "@type": "CorrectionComment",
                "text": c.note,
                "datePublished": c.created_at.isoformat(),
            }
            for c in view.corrections
        ]
    return data


def article_meta(settings: Settings, view: ArticleView) -> PageMeta:
    """A story's canonical address, description, OpenGraph and Twitter card tags."""
    a = view.article
    url = story_url(settings, a.slug)
    description = _description(view)
    og = [
        ("og:type", "article"),
        ("og:site_name", settings.site_title),
        ("og:title", a.title),
        ("og:description", description),
        ("og:url", url),
        # OpenGraph writes a locale with an underscore (th_TH); a language alone is accepted.
        ("og:locale", (a.language or settings.site_language).replace("-", "_")),
        ("article:published_time", a.published_at.isoformat()),
        ("article:modified_time", max(a.updated_at, a.published_at).isoformat()),
    ]
    if a.author:
        og.append(("article:author", author_url(settings, a.author)))
    if view.categories:
        og.append(("article:section", view.categories[0]))
    og.extend(("article:tag", name) for name in view.categories)
    image, width, height, alt = _picture(settings, view)
    og.append(("og:image", image))
    if view.picture is not None:
        og.append(("og:image:type", "image/jpeg"))
    og.extend([("og:image:width", str(width)), ("og:image:height", str(height))])
    og.append(("og:image:alt", alt))
    twitter = [
        ("twitter:card", "summary_large_image" if view.picture else "summary"),
        ("twitter:title", a.title),
        ("twitter:description", description),
        ("twitter:image", image),
        ("twitter:image:alt", alt),
    ]
    return PageMeta(url, description, og, twitter)


def _picture(settings: Settings, view: ArticleView) -> tuple[str, int, int, str]:
    """The story's picture for cards: our 1200 px JPEG rendition (the size Facebook and
    others ask for), its size and alt text; the logo when it has none."""
    if view.picture is None:
        return f"{settings.site_url}{LOGO}", LOGO_SIZE, LOGO_SIZE, view.article.title
    shown = view.picture.pick(1200)
    alt = view.picture.alt or view.article.title
    return f"{settings.media_base}/{shown.name}", shown.width, shown.height, alt


def list_meta(
    settings: Settings,
    *,
    path: str,
    page: int,
    more: bool,
    title: str,
    description: str,
) -> PageMeta:
    """A list page's (index, section, author) canonical address, tags and prev/next links."""
    site = settings.site_url
    canonical = f"{site}{path}" if page == 1 else f"{site}{path}?page={page}"
    links = []
    if page > 1:
        links.append(("prev", f"{site}{path}" if page == 2 else f"{site}{path}?page={page - 1}"))
    if more:
        links.append(("next", f"{site}{path}?page={page + 1}"))
    og = [
        ("og:type", "website"),
        ("og:site_name", settings.site_title),
        ("og:title", title),
        ("og:description", description),
        ("og:url", canonical),
        ("og:image", f"{site}{LOGO}"),
        ("og:image:width", str(LOGO_SIZE)),
        ("og:image:height", str(LOGO_SIZE)),
    ]
    twitter = [("twitter:card", "summary"), ("twitter:title", title)]
    twitter.append(("twitter:description", description))
    return PageMeta(canonical, description, og, twitter, links)


def collection(
    settings: Settings, meta: PageMeta, title: str, views: Sequence[ArticleView], *, first: int
) -> dict[str, Any]:
    """A list page as ``CollectionPage`` whose main entity is the ``ItemList`` of its stories
    (positions counted from ``first``, as the page's place in the whole list)."""
    return {
        "@context": "https://schema.org",
        "@type": "CollectionPage",
        "name": title,
        "url": meta.canonical,
        "description": meta.description,
        "isPartOf": {"@type": "WebSite", "url": f"{settings.site_url}/"},
        "mainEntity": {
            "@type": "ItemList",
            "itemListOrder": "https://schema.org/ItemListOrderDescending",
            "numberOfItems": len(views),
            "itemListElement": [
                {
                    "@type": "ListItem",
                    "position": first + n,
                    "url": story_url(settings, view.article.slug),
                    "name": view.article.title,
                }
                for n, view in enumerate(views)
            ],
        },
    }
