"""`publisher sources ...` and `publisher inbox ...`: feeds pulled in, and the material
waiting for an editor."""

from __future__ import annotations

from typing import Annotated

import typer

from publisher.cli.common import actor, context, utc_now
from publisher.content import printable
from publisher.errors import OperationalError
from publisher.schedules import load_timetable
from publisher.sources import inbox, polling

__all__ = [
    "inbox_app",
    "inbox_discard",
    "inbox_list",
    "inbox_publish",
    "inbox_show",
    "sources_app",
    "sources_list",
    "sources_poll",
    "sources_resume",
]

sources_app = typer.Typer(help="Feeds that articles come from.", no_args_is_help=True)
inbox_app = typer.Typer(help="Material from the sources, for editors.", no_args_is_help=True)


@sources_app.command("list")
def sources_list() -> None:
    """Each source: its state, last poll, items seen, new items waiting and last error."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        polling.sync(engine, timetable, now=utc_now())
        states = polling.source_states(engine, timetable)
    for s in states:
        when = (
            f"{s.last_poll_at.astimezone(settings.zone):%Y-%m-%d %H:%M}"
            if s.last_poll_at
            else "never"
        )
        websub = f", WebSub {s.websub}" if s.websub else ""
        print(
            f"{s.name:<20} {s.state:<8} {s.mode:<7} last poll {when}, {s.items_seen} seen, "
            f"{s.new_items} new{websub}  {printable(s.label)}"
        )
        if s.last_error:
            failures = f" ({s.failures} in a row)" if s.failures else ""
            print(f"    last error{failures}: {printable(s.last_error)}")
    print(f"{len(states)} source(s)")


@sources_app.command("poll")
def sources_poll(name: Annotated[str | None, typer.Argument(help="One source.")] = None) -> None:
    """Poll one source or every source now, once (a paused one is not)."""
    with context() as (settings, engine):
        timetable = load_timetable(settings.schedules)
        results = polling.poll_now(engine, settings, timetable, name, now=utc_now())
    for result in results:
        print(printable(str(result)))
    failed = [r for r in results if r.outcome in ("failed", "paused")]
    if failed:
        raise OperationalError(f"{len(failed)} of {len(results)} source(s) not polled")


@sources_app.command("resume")
def sources_resume(name: str) -> None:
    """Resume a source paused after failing ten times in a row (it is polled at once)."""
    with context() as (_settings, engine):
        resumed = polling.resume_source(engine, name, actor=actor(), now=utc_now())
    print(f"{name}: resumed" if resumed else f"{name}: was not paused")


@inbox_app.command("list")
def inbox_list(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    status: Annotated[str, typer.Option(help="new, updated, published, discarded or all.")] = "new",
    query: Annotated[str | None, typer.Option("--query", "-q", help="Text in the title.")] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """Items from the sources, newest first (new ones unless --status says otherwise)."""
    with context() as (settings, engine):
        found = inbox.list_items(engine, source=source, status=status, query=query, page=page)
    for view in found.items:
        row = view.item
        when = row.first_seen.astimezone(settings.zone)
        print(
            f"#{row.id} {when:%Y-%m-%d %H:%M} {row.status:<9} {row.source}: {printable(row.title)}"
        )
    more = f" (page {found.page} of {found.pages})" if found.pages > 1 else ""
    print(f"{found.total} item(s){more}")


@inbox_app.command("show")
def inbox_show(item_id: int) -> None:
    """One item as it came in."""
    with context() as (settings, engine):
        view = inbox.get_item(engine, item_id)
        origin_article = view.item.article_id
    row = view.item
    published = row.published.astimezone(settings.zone).isoformat() if row.published else ""
    for label, value in (
        ("title", row.title),
        ("source", f"{view.source_label} ({row.source})"),
        ("status", row.status + (f", article {origin_article}" if origin_article else "")),
        ("link", row.link),
        ("published", published),
        ("author", row.author),
        ("image", row.image),
        ("summary", row.summary),
    ):
        if value:
            print(f"{label}: {printable(value)}")
    if row.body_html:
        print("body:\n    " + printable(row.body_html).replace("\n", "\n    "))


@inbox_app.command("publish")
def inbox_publish(
    item_id: int,
    editor: Annotated[str, typer.Option(help="The editor's name shown with it.")] = "",
    ai_assisted: Annotated[
        bool, typer.Option("--ai-assisted", help="AI tools helped adapt it.")
    ] = False,
) -> None:
    """Publish an item as an article now, under --editor (default: your user name)."""
    who = actor()
    with context() as (settings, engine):
        article_id = inbox.publish_item(
            engine,
            settings,
            item_id,
            editor=editor or who.removeprefix("cli:"),
            ai_assisted=ai_assisted,
            actor=who,
            now=utc_now(),
        )
        slug = inbox.article_slug(engine, article_id)
    print(f"published #{item_id} as {settings.site_url.rstrip('/')}/articles/{slug}")


@inbox_app.command("discard")
def inbox_discard(item_id: int) -> None:
    """Let an item go: it never comes back, even when its feed shows it again."""
    with context() as (_settings, engine):
        done = inbox.discard(engine, item_id, actor=actor(), now=utc_now())
    print(f"#{item_id}: discarded" if done else f"#{item_id}: was discarded already")
