"""Render one edition of 12 stories, then personalise it for 100,000 recipients; once with
every reader in one language, once with the readers spread over the eight languages of the
catalogs (issue 29: one rendering per language, never per reader).

Per recipient: two signed tokens (unsubscribe, preferences), the greeting in their language,
and the byte substitution of the placeholders in both the HTML and the text part. Prints the
one-off render time per edition, the time per recipient and how many times premailer ran.
Target: under 50 microseconds per recipient after the one-off renders, with eight languages
as with one.

    .venv/bin/python bench/digest_render.py [--recipients 100000]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dataclasses import replace

from publisher.editions.compose import INLINER, EditionContext, Story, greeting, render_edition
from publisher.languages import CATALOGS
from publisher.schedules import BrandStudio
from publisher.templating import Personaliser, make_environment
from publisher.tokens import Signer

SITE = "https://news.example.com"
KEY = "k" * 32  # a subscriber's link key
END = datetime(2030, 1, 1, tzinfo=UTC)
SUMMARY = (
    "Growers in Pahang say refrigerated rail cuts the trip to Kunming to under three days and "
    "halves spoilage, but smaller farms worry about minimum volumes and ask for shared slots."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    args = parser.parse_args()
    stories = [
        Story(
            title=f"Story {n}: durian exporters switch to rail",
            url=f"{SITE}/articles/s-{n}",
            summary=SUMMARY,
            image=f"https://images.example.org/{n}.jpg",
            categories=("Trade", "Malaysia"),
            editor="Daniel Tan",
            report_url=f"{SITE}/report?article=s-{n}",
            sponsored=n == 5,
            ai_assisted=n % 2 == 0,
        )
        for n in range(12)
    ]
    context = EditionContext(
        site_title="Newsflash Asia",
        site_url=SITE,
        tagline="Breaking Stories, Smarter and Faster",
        language="en",
        postal_address="1 Harbour Road, Singapore 000001",
        digest_title="Join The Community: Today's Briefing",
        subject="Join The Community: Today's Briefing · 30 Nov 2026",
        preheader="Today's stories",
        intro="Here are the 12 stories our editors picked for you.",
        archive_url=f"{SITE}/digests/1",
        studio=BrandStudio("From our Brand Studio", "Tell your story", "Our studio.", SITE),
    )
    env = make_environment()
    signer = Signer("bench-secret-key-0123456789-abcdefghijkl")
    # Not counted: the first rendering loads premailer, cssutils and lxml, and each catalog
    # is read on its first use (once per process, like a daemon's).
    for tag in CATALOGS:
        render_edition(env, replace(context, language=tag), stories[:1])
    for tags in (["en"], list(CATALOGS)):
        calls = INLINER.calls
        started = time.perf_counter()
        parts = {}
        for tag in tags:  # one rendering (and premailer run) per language
            rendered = render_edition(env, replace(context, language=tag), stories)
            parts[tag] = (
                Personaliser(rendered.html, escape_html=True),
                Personaliser(rendered.text, escape_html=False),
            )
        one_off = time.perf_counter() - started
        names = ["Aisyah", "", "Wei Jie", "Priya", ""]
        total = 0
        started = time.perf_counter()
        for n in range(args.recipients):
            tag = tags[n % len(tags)]
            html_part, text_part = parts[tag]
            values = {
                "greeting": greeting(names[n % 5], tag),
                "unsubscribe": f"{SITE}/unsubscribe/{signer.make('unsubscribe', n, KEY, expires=END)}",  # noqa: E501
                "preferences": f"{SITE}/preferences/{signer.make('preferences', n, KEY, expires=END)}",  # noqa: E501
            }
            total += len(html_part.fill(values)) + len(text_part.fill(values))
        per_recipient = (time.perf_counter() - started) / args.recipients
        print(
            f"{len(tags)} language(s), 12 stories: HTML {len(rendered.html.encode()):,} bytes, "
            f"text {len(rendered.text.encode()):,} bytes (the last language's)"
        )
        print(
            f"  one-off renders and inlines: {one_off * 1000:.0f} ms per edition; "
            f"premailer calls: {INLINER.calls - calls}"
        )
        print(
            f"  personalised for {args.recipients:,} recipients: {per_recipient * 1e6:.1f} µs per "
            f"recipient ({total / 1e9:.2f} GB of parts), target < 50 µs"
        )


if __name__ == "__main__":
    main()
