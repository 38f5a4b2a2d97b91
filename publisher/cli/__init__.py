"""The ``publisher`` command (Typer), one module per group of sub-commands.

Exit codes (docs/reference/cli.md): 0 success, 1 operational failure, 2 bad input or usage.
"""

from __future__ import annotations

import sys

from publisher.cli import (
    articles,
    daemon,
    digests,
    look,
    media,
    one_off,
    sources,
    subscribers,
    users,
)
from publisher.cli.common import app, err
from publisher.delivery.worker import failure_lines

app.add_typer(articles.articles_app, name="articles")
app.add_typer(articles.feeds_app, name="feeds")
app.add_typer(digests.digest_app, name="digest")
app.add_typer(subscribers.subscribers_app, name="subscribers")
app.add_typer(subscribers.bounces_app, name="bounces")
app.add_typer(subscribers.reports_app, name="reports")
app.add_typer(users.users_app, name="users")
app.add_typer(sources.sources_app, name="sources")
app.add_typer(sources.inbox_app, name="inbox")
app.add_typer(look.look_app, name="look")
app.add_typer(media.media_app, name="media")
app.add_typer(one_off.send_app, name="send")
app.add_typer(one_off.audiences_app, name="audiences")
__all__ = ["app", "daemon", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every failure into one clean line."""
    try:
        app(args=argv, standalone_mode=True)
    except BaseException as exc:
        said = failure_lines(exc)
        if said is None:
            raise
        for line in said[0]:
            err(line)
        sys.exit(said[1])
