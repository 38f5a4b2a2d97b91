"""`publisher send story|message` (one-off editions: breaking news and announcements, to an
audience, now) and `publisher audiences list|add|show|remove` (issue 27)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from publisher import store
from publisher.cli.common import actor, context, utc_now
from publisher.cli.digests import deliver_with_progress
from publisher.community import audiences
from publisher.editions import one_off
from publisher.errors import InputError
from publisher.schedules import load_timetable
from publisher.settings import Settings, site_url_of
from publisher.templating import make_environment

__all__ = [
    "audiences_add",
    "audiences_app",
    "audiences_list",
    "audiences_remove",
    "audiences_show",
    "send_app",
    "send_message",
    "send_story",
]

send_app = typer.Typer(help="Send breaking news or a message now, to an audience.")
audiences_app = typer.Typer(help="Audiences: saved filters over members.")

Audience = Annotated[str, typer.Option("--audience", help="The audience's name.")]
Yes = Annotated[bool, typer.Option("--yes", help="Send without asking to confirm the count.")]
Test = Annotated[
    list[str] | None,
    typer.Option("--test", help="Only send a [Test] copy to this address (repeat)."),
]
NoArchive = Annotated[bool, typer.Option("--no-archive", help="Keep it out of the public archive.")]
NoWait = Annotated[
    bool,
    typer.Option("--no-wait", help="Leave the sending to the daemon; no progress bar."),
]


def _confirm(count: int, audience: str, yes: bool) -> None:
    print(f"audience {audience!r}: {count} member(s) would get it")
    if yes:
        return
    if not sys.stdin.isatty():
        raise InputError("confirm the count: run it in a terminal, or add --yes")
    if not typer.confirm(f"Send to {count} member(s) now?"):
        raise typer.Exit(1)


def _send(
    kind: str,
    *,
    audience: str,
    yes: bool,
    test: list[str] | None,
    no_archive: bool,
    no_wait: bool,
    slug: str = "",
    subject: str = "",
    body: str = "",
) -> None:
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        env = make_environment(zone=settings.zone)
        values = {"slug": slug, "subject": subject, "body": body}
        if test:
            n = one_off.test(
                engine,
                settings,
                timetable,
                env,
                kind,
                test,
                actor=actor(),
                now=utc_now(),
                slug=slug,
                subject=subject,
                body=body,
            )
            print(f"a [Test] copy went to {n} address(es); nothing else was sent")
            return
        count = one_off.audience_count(engine, audience, kind)
        _confirm(count, audience, yes)
        sent = one_off.send(
            engine,
            settings,
            timetable,
            env,
            kind,
            audience=audience,
            actor=actor(),
            now=utc_now(),
            expected=count,
            in_archive=not no_archive,
            **values,
        )
        _said(sent, settings)
        if sent.edition.status == "sending" and not no_wait:
            deliver_with_progress(engine, settings, sent.edition.id or 0, timetable, env)


def _said(sent: one_off.Sent, settings: Settings) -> None:
    edition = sent.edition
    if not sent.created:
        print(f"already sent: edition {edition.id} ({edition.status.replace('_', ' ')})")
    elif edition.status == "awaiting_review":
        print(
            f"edition {edition.id} waits for review (more than "
            f"{settings.review_audience_over} members): `publisher digest approve {edition.id}`"
        )
    else:
        print(f"edition {edition.id}: sending to {sent.started} member(s)")
        print(site_url_of(settings).line())


@send_app.command("story")
def send_story(
    slug: str,
    audience: Audience,
    subject: Annotated[str, typer.Option("--subject", help="Instead of 'Breaking: TITLE'.")] = "",
    yes: Yes = False,
    test: Test = None,
    no_archive: NoArchive = False,
    no_wait: NoWait = False,
) -> None:
    """Send the published story SLUG now as breaking news to the audience's members who want
    breaking news (once: a story goes out as breaking news one time)."""
    _send(
        "story",
        audience=audience,
        yes=yes,
        test=test,
        no_archive=no_archive,
        no_wait=no_wait,
        slug=slug,
        subject=subject,
    )


@send_app.command("message")
def send_message(
    file: Path,
    audience: Audience,
    subject: Annotated[str, typer.Option("--subject", help="The message's subject.")],
    yes: Yes = False,
    test: Test = None,
    no_archive: NoArchive = False,
    no_wait: NoWait = False,
) -> None:
    """Send the Markdown in FILE now, in the digest's layout, to the audience's confirmed
    members (an announcement)."""
    try:
        body = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: cannot read it ({exc})") from None
    _send(
        "message",
        audience=audience,
        yes=yes,
        test=test,
        no_archive=no_archive,
        no_wait=no_wait,
        subject=subject,
        body=body,
    )


def _line(counted: audiences.Counted) -> str:
    built_in = "  (built in)" if counted.built_in else ""
    return (
        f"{counted.audience.name}  {counted.members} member(s)  {counted.audience.filter}{built_in}"
    )


@audiences_app.command("list")
def audiences_list() -> None:
    """Every audience with how many confirmed members it holds now, and its filter."""
    with context() as (_settings, engine):
        for counted in audiences.listing(engine):
            print(_line(counted))


@audiences_app.command("show")
def audiences_show(name: str) -> None:
    """One audience, counted now."""
    with context() as (_settings, engine):
        print(_line(audiences.find(engine, name)))


@audiences_app.command("add")
def audiences_add(
    name: str,
    digest: Annotated[str, typer.Option("--digest", help="Receives this digest.")] = "",
    category: Annotated[str, typer.Option("--category", help="Chose this category (slug).")] = "",
    status: Annotated[str, typer.Option("--status", help="Has this status.")] = "",
    joined_from: Annotated[
        str, typer.Option("--joined-from", help="Signed up on or after (YYYY-MM-DD).")
    ] = "",
    joined_to: Annotated[
        str, typer.Option("--joined-to", help="Signed up on or before (YYYY-MM-DD).")
    ] = "",
    clicked_in: Annotated[
        int, typer.Option("--clicked-in", help="Followed a link in the last N editions.")
    ] = 0,
    search: Annotated[str, typer.Option("--search", help="In the address or name.")] = "",
    replace: Annotated[bool, typer.Option("--replace", help="Change it if it exists.")] = False,
) -> None:
    """Save a filter over members as the audience NAME."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        with store.reading(engine) as session:
            categories = [c.slug for c in store.category_list(session)]
        chosen = audiences.parse_filter(
            {
                "q": search,
                "digest": digest,
                "category": category,
                "status": status,
                "joined_from": joined_from,
                "joined_to": joined_to,
                "clicked_in": str(clicked_in) if clicked_in else "",
            },
            digests=list(timetable.digests),
            categories=categories,
            zone=settings.zone,
        )
        saved = audiences.save(
            engine, name, chosen, actor=actor(), now=utc_now(), replace_it=replace
        )
        print(_line(saved))


@audiences_app.command("remove")
def audiences_remove(name: str) -> None:
    """Remove the audience NAME (editions sent to it keep its name and filter)."""
    with context() as (_settings, engine):
        audiences.remove(engine, name, actor=actor(), now=utc_now())
        print(f"removed the audience {name!r}")
