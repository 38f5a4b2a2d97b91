"""The look in force: the defaults (the settings and schedules.yaml), with what an admin chose
over them; and the values the mail templates show."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from publisher import store
from publisher.look.logo import EXTENSIONS
from publisher.schedules import BrandStudio
from publisher.settings import Settings

__all__ = [
    "DEFAULT_ACCENT",
    "DEFAULT_REASON",
    "FIELDS",
    "LOGO_BOX",
    "NO_STUDIO",
    "Logo",
    "Look",
    "Sponsor",
    "current",
    "defaults",
    "logo_url",
    "look_of",
    "read_look",
]

DEFAULT_ACCENT = "#c8102e"
DEFAULT_REASON = 'You are receiving "{digest}" because you joined the {site} community.'
# The fields of the look, in the form's order; ``logo`` is a kept logo's key ("" for none).
FIELDS = (
    "accent",
    "logo",
    "title",
    "tagline",
    "postal_address",
    "reason",
    "studio_shown",
    "studio_label",
    "studio_heading",
    "studio_text",
    "studio_url",
    "sponsor_shown",
    "sponsor_label",
    "sponsor_name",
    "sponsor_text",
    "sponsor_url",
)
# The Brand Studio's defaults where no mail shows it (the community's one-off mails).
NO_STUDIO = BrandStudio("", "", "", "")
# The box a logo is shown in at the top of a mail, in CSS pixels (a larger one is scaled
# down, keeping its shape: sharp on screens with two or three pixels to a CSS pixel).
LOGO_BOX = (240, 64)


@dataclass(frozen=True)
class Logo:
    """A kept logo as a mail shows it: at our own address, and its size in the mail."""

    url: str
    width: int
    height: int


@dataclass(frozen=True)
class Sponsor:
    """The sponsor block: who supports the digest, in their words, and their link."""

    label: str
    name: str
    text: str
    url: str


@dataclass(frozen=True)
class Look:
    """What the digest and the community's mails look like."""

    accent: str
    logo: Logo | None
    title: str  # the words at the top (the logo's alt text when there is a logo)
    tagline: str
    postal_address: str
    reason: str  # why the reader gets the mail; {digest} and {site} are filled in
    studio: BrandStudio | None  # None: not shown
    sponsor: Sponsor | None  # None: not shown
    values: Mapping[str, Any]  # every field by name, as the form shows it

    @property
    def studio_words(self) -> BrandStudio:
        """The Brand Studio's words as chosen, shown or not (a sponsored story names it)."""
        words = (self.values[f"studio_{part}"] for part in ("label", "heading", "text", "url"))
        return BrandStudio(*words)

    def reason_for(self, digest_title: str) -> str:
        """The footer's reason for readers of ``digest_title``."""
        return self.reason.replace("{digest}", digest_title).replace("{site}", self.title)


def defaults(settings: Settings, studio: BrandStudio) -> dict[str, Any]:
    """Each field's value when no admin chose one: the settings' and schedules.yaml's."""
    return {
        "accent": DEFAULT_ACCENT,
        "logo": "",
        "title": settings.site_title,
        "tagline": settings.site_tagline,
        "postal_address": settings.postal_address,
        "reason": DEFAULT_REASON,
        "studio_shown": True,
        "studio_label": studio.label,
        "studio_heading": studio.heading,
        "studio_text": studio.text,
        "studio_url": studio.url,
        "sponsor_shown": False,
        "sponsor_label": "Supported by",
        "sponsor_name": "",
        "sponsor_text": "",
        "sponsor_url": "",
    }


def _fitted(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, LOGO_BOX[0] / width, LOGO_BOX[1] / height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def logo_url(site_url: str, logo: store.LogoFile) -> str:
    """Where readers' mail programs fetch ``logo``: our own address, never a third party's."""
    return f"{site_url}/look/logo/{logo.key}.{EXTENSIONS[logo.content_type]}"


def look_of(
    settings: Settings,
    studio: BrandStudio,
    chosen: Mapping[str, Any],
    logo: store.LogoFile | None,
) -> Look:
    """The look with ``chosen`` over the defaults, showing ``logo`` (chosen's, read already)."""
    base = defaults(settings, studio)
    values = {**base, **{k: v for k, v in chosen.items() if k in base}}
    shown = None
    if logo is not None and values["logo"] == logo.key:
        width, height = _fitted(logo.width, logo.height)
        shown = Logo(logo_url(settings.site_url, logo), width, height)
    else:
        values["logo"] = ""
    return Look(
        accent=values["accent"],
        logo=shown,
        title=values["title"],
        tagline=values["tagline"],
        postal_address=values["postal_address"],
        reason=values["reason"],
        studio=(
            BrandStudio(
                values["studio_label"],
                values["studio_heading"],
                values["studio_text"],
                values["studio_url"],
            )
            if values["studio_shown"]
            else None
        ),
        sponsor=(
            Sponsor(
                values["sponsor_label"],
                values["sponsor_name"],
                values["sponsor_text"],
                values["sponsor_url"],
            )
            if values["sponsor_shown"]
            else None
        ),
        values=values,
    )


def read_look(
    session: Session, settings: Settings, studio: BrandStudio = NO_STUDIO
) -> tuple[Look, int]:
    """The look in force, in a session already open, and its version."""
    chosen, version = store.look_chosen(session)
    key = chosen.get("logo")
    logo = store.look_logo(session, key, with_data=False) if isinstance(key, str) and key else None
    return look_of(settings, studio, chosen, logo), version


def current(engine: Engine, settings: Settings, studio: BrandStudio) -> Look:
    """The look in force now."""
    with store.reading(engine) as session:
        return read_look(session, settings, studio)[0]
