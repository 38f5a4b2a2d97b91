"""compose.py: one edition rendered and inlined once, personalised per recipient cheaply."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from publisher.editions import compose
from publisher.editions.compose import (
    INLINER,
    EditionContext,
    Story,
    greeting,
    render_edition,
)
from publisher.templating import PLACEHOLDERS, Personaliser, make_environment
from tests.stories import ACCENT, LOGO, SITE, branded, context, stories

# The email checks every digest passes, with the look as set up and with an admin's own.
LOOKS = pytest.mark.parametrize("ctx", [context(), branded()], ids=["as-set-up", "branded"])


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[dict[str, str | None]] = []
        self.styled = 0
        self.tags = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags += 1
        self.styled += "style" in values
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "img":
            self.images.append(values)


@LOOKS
def test_one_render_one_premailer_call_and_styles_are_inline(ctx: EditionContext) -> None:
    before = INLINER.calls
    rendered = render_edition(make_environment(), ctx, stories())
    assert INLINER.calls - before == 1
    assert rendered.stories == 12
    parsed = Links()
    parsed.feed(rendered.html)
    parsed.close()
    assert parsed.styled > 50
    assert 'class="story-title"' in rendered.html and "style=" in rendered.html
    assert "@media (prefers-color-scheme: dark)" in rendered.html
    assert "!important" in rendered.html  # strip_important=False keeps the client rules


@LOOKS
def test_every_link_is_absolute_and_images_have_alt_and_width(ctx: EditionContext) -> None:
    rendered = render_edition(make_environment(), ctx, stories())
    parsed = Links()
    parsed.feed(rendered.html)
    for href in parsed.hrefs:
        if href in (PLACEHOLDERS["unsubscribe"], PLACEHOLDERS["preferences"]):
            continue
        parts = urlsplit(href)
        assert parts.scheme == "https" and parts.netloc, href
    assert parsed.images and all(img.get("alt") and img.get("width") for img in parsed.images)
    assert f"{SITE}/report?article=story-0" in parsed.hrefs
    assert "https://studio.example.com/" in parsed.hrefs
    assert f"{SITE}/digests/7" in parsed.hrefs


@LOOKS
def test_editorial_labels_and_the_footer(ctx: EditionContext) -> None:
    rendered = render_edition(make_environment(), ctx, stories())
    assert "Sponsored" in rendered.html and "[SPONSORED] Story 3" in rendered.text
    assert "adapted from source material with the help of AI tools" in " ".join(
        rendered.text.split()
    )
    assert "Story 1 &lt;b&gt;&amp;&lt;/b&gt;" in rendered.html  # autoescaped
    assert "1 Harbour Road, Singapore 000001" in rendered.html
    assert "From our Brand Studio" in rendered.html
    for token in PLACEHOLDERS.values():
        assert token in rendered.html and token in rendered.text


def test_text_part_reads_on_its_own() -> None:
    text = render_edition(make_environment(), context(), stories(2)).text
    assert "Read the story: https://news.example.com/articles/story-0" in text
    assert "Spot an error? Report it here: https://news.example.com/report?article=story-0" in text
    assert f"Unsubscribe: {PLACEHOLDERS['unsubscribe']}" in text
    assert "click here" not in text.lower()


def test_the_size_guard_drops_stories_and_links_to_the_site() -> None:
    long = " ".join(["word"] * 2000)
    huge = [Story(**{**s.__dict__, "title": s.title + " " + "x" * 480}) for s in stories(50, long)]
    rendered = render_edition(make_environment(), context(), huge)
    assert len(rendered.html.encode()) <= compose.MAX_HTML_BYTES
    assert 1 <= rendered.stories < 50
    assert f'href="{SITE}/"' in rendered.html and "More stories on Newsflash Asia" in rendered.html
    assert "…" in rendered.html  # long summaries are cut at a word


def test_a_subject_with_a_newline_cannot_inject_a_header() -> None:
    rendered = render_edition(make_environment(), context("Hi\r\nBcc: victim@example.com"), [])
    assert rendered.subject == "Hi Bcc: victim@example.com"


def test_personaliser_fills_every_placeholder_and_escapes_html() -> None:
    rendered = render_edition(make_environment(), context(), stories(3))
    values = {
        "greeting": greeting("Aisyah <script>"),
        "unsubscribe": f"{SITE}/unsubscribe/TOKEN123",
        "preferences": f"{SITE}/preferences/TOKEN456",
    }
    html = Personaliser(rendered.html, escape_html=True).fill(values).decode()
    text = Personaliser(rendered.text, escape_html=False).fill(values).decode()
    assert "NFPH_" not in html and "NFPH_" not in text
    assert "Hi Aisyah &lt;script&gt;," in html and "Hi Aisyah <script>," in text
    assert f'href="{SITE}/unsubscribe/TOKEN123"' in html
    assert f"Choose your newsletters: {SITE}/preferences/TOKEN456" in text
    assert greeting("") == "Hello," and greeting("  Daniel\nTan ") == "Hi Daniel Tan,"


def test_the_looks_logo_and_colour_are_inlined() -> None:
    plain = render_edition(make_environment(), context(), stories(2))
    rendered = render_edition(make_environment(), branded(), stories(2))
    parsed = Links()
    parsed.feed(rendered.html)
    [logo] = [img for img in parsed.images if img.get("class") == "logo"]
    assert logo["src"] == LOGO.url  # our own address: mail programs fetch it from us
    assert (logo["width"], logo["height"], logo["alt"]) == ("240", "60", "Newsflash Asia")
    # The accent is in the elements' own style attributes (premailer), not only in a <style>.
    assert f"color:{ACCENT}" in rendered.html.replace(" ", "")
    assert f"border-bottom:4px solid {ACCENT}" in rendered.html
    assert "#c8102e" not in rendered.html and "#c8102e" in plain.html
    assert 'class="brand"' not in rendered.html and 'class="tagline"' not in rendered.html
    assert "Harbour Bank" in rendered.html and "SUPPORTED BY: Harbour Bank" in rendered.text
    assert "You get this because you asked for the Newsflash briefing." in rendered.text
    assert "You are receiving" not in rendered.html


@pytest.mark.parametrize("count", [0, 1])
def test_tiny_editions_render(count: int) -> None:
    rendered = render_edition(make_environment(), context(), stories(count))
    assert rendered.stories == count
