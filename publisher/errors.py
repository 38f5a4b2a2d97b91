"""The error family every layer raises and every entry point translates once.

PublisherError            anything the user can act on; ``str()`` is the one-line message
├── InputError            bad input: a file, a form, an argument (CLI exit 2, HTTP 400)
│   └── ConfigError       bad settings or schedules (CLI exit 2)
├── NotFoundError         no such article, subscriber, edition (CLI exit 1, HTTP 404)
├── DeniedError           a wrong password or code, or a role that may not do it (HTTP 403)
└── OperationalError      the database, a mail server or the disk failed (CLI exit 1, HTTP 503)
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "ConflictError",
    "DeniedError",
    "InputError",
    "NotFoundError",
    "OperationalError",
    "PublisherError",
]


class PublisherError(Exception):
    """A failure with a message meant for the person who caused or can fix it."""

    exit_code = 1
    http_status = 500

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def lines(self) -> list[str]:
        """The message followed by any per-item details (one line each)."""
        return [self.message, *self.details]


class InputError(PublisherError):
    exit_code = 2
    http_status = 400


class ConfigError(InputError):
    pass


class NotFoundError(PublisherError):
    exit_code = 1
    http_status = 404


class DeniedError(PublisherError):
    exit_code = 2
    http_status = 403


class OperationalError(PublisherError):
    exit_code = 1
    http_status = 503


class ConflictError(InputError):
    """The request does not fit the thing's state now (approving an edition already sending,
    resuming a cancelled one): nothing was changed."""

    http_status = 409
