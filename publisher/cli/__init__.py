"""The ``publisher`` command (Typer), one module per group of sub-commands.

Exit codes (CONTRACT.md): 0 success, 1 operational failure, 2 bad input or usage.
"""

from __future__ import annotations

import sys

from sqlalchemy import exc as sa_exc

from publisher.cli import articles, daemon, digests, members, sources, staff
from publisher.cli.common import app, err
from publisher.errors import PublisherError

app.add_typer(articles.articles_app, name="articles")
app.add_typer(articles.feeds_app, name="feeds")
app.add_typer(digests.digest_app, name="digest")
app.add_typer(members.subscribers_app, name="subscribers")
app.add_typer(members.bounces_app, name="bounces")
app.add_typer(members.reports_app, name="reports")
app.add_typer(staff.users_app, name="users")
app.add_typer(sources.sources_app, name="sources")
app.add_typer(sources.inbox_app, name="inbox")
__all__ = ["app", "daemon", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: run the app, turning every failure into one clean line."""
    try:
        app(args=argv, standalone_mode=True)
    except PublisherError as exc:
        for line in exc.lines():
            err(f"Error: {line}" if line == exc.message else line)
        sys.exit(exc.exit_code)
    except sa_exc.SQLAlchemyError as exc:
        reason = str(exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc).splitlines()[0]
        err(f"Error: database: {reason}")
        sys.exit(1)
    except OSError as exc:
        err(f"Error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
