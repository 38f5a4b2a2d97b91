"""What every command shares: the root Typer app, the clock, settings and a migrated
engine, logging, and stopping cleanly on SIGTERM and Ctrl-C."""

from __future__ import annotations

import getpass
import logging
import os
import sys
from datetime import datetime

import typer
from pythonjsonlogger.json import JsonFormatter

from publisher.delivery import worker
from publisher.settings import Settings

__all__ = [
    "CHATTY_LOGGERS",
    "actor",
    "app",
    "configure_logging",
    "context",
    "err",
    "restore_signals",
    "stop_on_signals",
    "utc_now",
    "when",
    "zone_note",
]

# Shared with the light entry point of the sending processes.
utc_now = worker.utc_now
context = worker.opened  # settings, and an engine on a database brought up to date
stop_on_signals = worker.stop_on_signals
restore_signals = worker.restore_signals

app = typer.Typer(
    help="Newsflash Publisher: feeds and the Join The Community digest.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Help texts read as written (issue 25): a docstring's lines are joined into paragraphs
    # and wrapped to the terminal, never broken where the source broke them.
    rich_markup_mode="markdown",
)


def actor() -> str:
    """Who a change made from this command line is recorded as in the audit trail."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (a bare container)
        return f"cli:uid {os.getuid()}"


def err(line: str) -> None:
    print(line, file=sys.stderr)


CHATTY_LOGGERS = ("apscheduler", "alembic", "uvicorn.error")


def configure_logging(settings: Settings) -> None:
    """Log lines on stderr: readable text, or one JSON object a line for log collectors."""
    handler = logging.StreamHandler()
    fields = "%(asctime)s %(levelname)s %(name)s %(message)s"
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter(fields, rename_fields={"asctime": "time"}))
    else:
        handler.setFormatter(logging.Formatter(fields.replace(" %(name)s", " [%(name)s]")))
    logging.basicConfig(level=settings.log_level, handlers=[handler], force=True)
    # One line per thing an operator cares about (issue 17): APScheduler's "Running job"
    # every 10 s, Alembic's context lines and uvicorn's start-up chatter only at DEBUG.
    chatty = logging.getLevelNamesMapping()[settings.log_level] > logging.DEBUG
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if chatty else logging.NOTSET)


def when(value: datetime | None, settings: Settings, *, none: str = "never") -> str:
    """A time as the command line shows it: in the site's time zone, saying which (issue 25:
    UTC without saying so)."""
    if value is None:
        return none
    local = value.astimezone(settings.zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def zone_note(settings: Settings) -> str:
    """The line under a listing that says which time zone its times are in."""
    return f"times in {settings.timezone} (PUBLISHER_TIMEZONE)"
