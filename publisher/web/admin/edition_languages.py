"""An edition's page, by language: the languages its recipients get it in and the languages
of stories they chose, each with how many of them (one grouped query), and the choice an
address makes of them, checked (issue 29: a digest is rendered per language and set of
stories)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from publisher import store
from publisher.languages import CATALOGS, catalog_for, language_name, parse_tags
from publisher.models import Edition

__all__ = ["LanguageChoice", "ReaderChoice", "Readership", "reader_choice", "readership"]

MAX_STORY_TAGS = 20  # as many as a member may choose


@dataclass(frozen=True)
class LanguageChoice:
    """A language some recipients get the edition in (``tag``: a catalog's, "" for the
    site's), or a set of story languages they chose (``tag``: space-separated tags, "" for
    every language); with how many recipients."""

    tag: str
    name: str
    readers: int


@dataclass(frozen=True)
class Readership:
    """The edition's recipients by the language of their mail and by their stories'."""

    languages: list[LanguageChoice]
    stories: list[LanguageChoice]  # empty when no recipient chose story languages


@dataclass(frozen=True)
class ReaderChoice:
    """The language (a catalog's tag, "" for the site's) and the story languages
    (space-separated tags, "" for all) an address asked to preview; ``note`` says what was
    wrong with it, in which case both are empty (the edition is shown whole)."""

    language: str = ""
    stories: str = ""
    note: str = ""


def _name(tags: str) -> str:
    """Story languages in words: "Thai", "English, Thai"."""
    return ", ".join(language_name(tag, "en") for tag in tags.split())


def readership(session: Session, edition: Edition, *, started: bool, home: str) -> Readership:
    """Who gets ``edition`` by language: those its deliveries are for once ``started``, else
    who would get it now; ``home``: the site's language. The site's language is always
    listed first, then each other one some recipient reads, in the catalogs' order."""
    where = store.delivered_to(edition.id or 0) if started else store.edition_recipients(edition)
    home = catalog_for(home)
    mail: dict[str, int] = {}
    stories: dict[str, int] = {}
    for tag, tags, count in store.recipient_languages(session, where):
        served = catalog_for(tag, default=home) if tag else home
        mail[served] = mail.get(served, 0) + count
        try:
            chosen = " ".join(sorted(parse_tags(tags)))
        except ValueError:  # stored before tags were checked: read as every language
            chosen = ""
        stories[chosen] = stories.get(chosen, 0) + count
    languages = [LanguageChoice("", f"{language_name(home, 'en')} (the site's)", mail.get(home, 0))]
    languages += [
        LanguageChoice(tag, language_name(tag, "en"), mail[tag])
        for tag in CATALOGS
        if tag != home and mail.get(tag)
    ]
    if set(stories) <= {""} or edition.kind != "digest":
        return Readership(languages, [])
    every = LanguageChoice("", "Every language", stories.pop("", 0))
    sets = [LanguageChoice(tags, _name(tags), n) for tags, n in sorted(stories.items())]
    return Readership(languages, [every, *sets])


def reader_choice(language: str, stories: str, *, home: str) -> ReaderChoice:
    """The language and story languages an address asks for, checked: a language the site
    does not speak, or a story language that is not a tag, gives a note instead."""
    language, stories = language.strip()[:35], stories.replace(",", " ").strip()[:400]
    served = catalog_for(language, default="") if language else ""
    if language and not served:
        return ReaderChoice(
            note=f"The site does not speak {language!r} (it speaks {', '.join(CATALOGS)}): "
            "showing the edition whole."
        )
    try:
        tags = parse_tags(stories)
    except ValueError as exc:
        return ReaderChoice(note=f"Story languages: {str(exc)[:160]}; showing the edition whole.")
    if len(tags) > MAX_STORY_TAGS:
        return ReaderChoice(note="Too many story languages: showing the edition whole.")
    return ReaderChoice("" if served == catalog_for(home) else served, " ".join(sorted(tags)))
