"""A sample edition for the tests: its context (site, digest, Brand Studio) and its stories."""

from __future__ import annotations

from dataclasses import replace

from publisher.editions.compose import EditionContext, Story
from publisher.look.values import Logo, Sponsor
from publisher.schedules import BrandStudio

__all__ = ["ACCENT", "LOGO", "SITE", "STUDIO", "branded", "context", "stories"]

SITE = "https://news.example.com"
STUDIO = BrandStudio(
    "From our Brand Studio",
    "Tell your story",
    "Our studio makes things.",
    "https://studio.example.com/",
)


def context(subject: str = "Join The Community: Today's Briefing · 30 Nov 2026") -> EditionContext:
    """The sample digest's context, under ``subject``."""
    return EditionContext(
        site_title="Newsflash Asia",
        site_url=SITE,
        tagline="Breaking Stories, Smarter and Faster",
        language="en",
        postal_address="1 Harbour Road, Singapore 000001",
        digest_title="Join The Community: Today's Briefing",
        subject=subject,
        preheader="Rail freight and a culture forum",
        intro="Here are the stories.",
        archive_url=f"{SITE}/digests/7",
        studio=STUDIO,
    )


ACCENT = "#0b5fff"
LOGO = Logo(f"{SITE}/look/logo/{'ab' * 32}.png", 240, 60)


def branded(subject: str = "Join The Community: Today's Briefing · 30 Nov 2026") -> EditionContext:
    """The sample digest with a look an admin chose: a logo, a blue accent, a sponsor, a
    footer of their own and no tagline."""
    return replace(
        context(subject),
        tagline="",
        accent=ACCENT,
        logo=LOGO,
        sponsor=Sponsor("Supported by", "Harbour Bank", "Banking for the region.", SITE + "/bank"),
        reason="You get this because you asked for the Newsflash briefing.",
    )


def stories(count: int = 12, summary: str = "A short summary of the story.") -> list[Story]:
    """``count`` stories, every other one with an image, the fourth sponsored, the fifth AI."""
    return [
        Story(
            title=f"Story {n} <b>&</b>",
            url=f"{SITE}/articles/story-{n}",
            summary=summary,
            image=f"{SITE}/media/{'a' * 32}-600.jpg" if n % 2 else "",
            image_alt=f"Picture {n}" if n % 2 else "",
            image_height=306 if n % 2 else 0,
            categories=("Trade", "Malaysia"),
            editor="Daniel Tan",
            report_url=f"{SITE}/report?article=story-{n}",
            sponsored=n == 3,
            ai_assisted=n == 4,
        )
        for n in range(count)
    ]
