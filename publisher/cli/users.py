"""`publisher users ...`: the people who sign in to the newsroom (/admin/)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from publisher.cli.common import actor, context, utc_now, when, zone_note
from publisher.content import normalise_email
from publisher.errors import InputError
from publisher.newsroom import passwords
from publisher.newsroom import staff as people
from publisher.settings import site_url_of
from publisher.tokens import Signer

__all__ = [
    "ROLE_HELP",
    "users_add",
    "users_app",
    "users_list",
    "users_remove",
    "users_reset_password",
]

users_app = typer.Typer(help="People who sign in to the newsroom (/admin/).", no_args_is_help=True)
ROLE_HELP = (
    "contributor (own drafts, sent for review), editor (articles, reports, inbox; editions:"
    " approve, cancel, send) or admin (also people and subscribers)."
)


def _new_password(email: str, from_stdin: bool) -> str | None:
    """The password to set: one line of stdin, or typed twice at a terminal; None where
    there is no terminal (a one-time link is printed instead). Never an argument: it
    would be in the shell's history and in every process listing."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = typer.prompt(f"Password for {email}", hide_input=True, confirmation_prompt=True)
    else:
        return None
    passwords.check_new(password, email=email)
    return password


@users_app.command("add")
def users_add(
    email: str,
    role: Annotated[str, typer.Option(help=ROLE_HELP)] = "editor",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from one line of stdin.")
    ] = False,
) -> None:
    """Add a person: with a password (typed twice, or --password-stdin), or else print
    their one-time set-password link (valid an hour, used once)."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if role not in ("contributor", "editor", "admin"):
        raise InputError(f"--role must be contributor, editor or admin, not {role!r}")
    password = _new_password(address, password_stdin)  # before anything is changed
    with context() as (settings, engine):
        signer = Signer.of(settings.secret_key)
        link = people.add_user(
            engine, settings.site_url, signer, address, role, actor=actor(), now=utc_now()
        )
        if password is not None:
            token = link.rsplit("/", 1)[1]
            people.set_password(engine, signer, token, password, now=utc_now())
    if password is None:
        print(f"added {address} ({role}); their one-time link to set a password (1 hour):")
        print(f"  {link}")
        print(site_url_of(settings).line())
    else:
        print(f"added {address} ({role}); they can sign in at {settings.site_url}/admin/login")


@users_app.command("list")
def users_list() -> None:
    """Everyone who signs in: address, role, password set, two-step sign-in, last sign-in."""
    with context() as (settings, engine):
        everyone = people.people(engine)
    for row in everyone:
        email = row.email or "(first admin, not set up yet)"
        state = "password" if row.password_hash else "no password yet"
        totp = "two-step on" if row.totp_secret else "two-step off"
        last = when(row.signed_in_at, settings)
        print(f"{email:<40} {row.role:<7} {state:<16} {totp:<13} signed in: {last}")
    print(f"{len(everyone)} person(s); {zone_note(settings)}")


@users_app.command("remove")
def users_remove(email: str) -> None:
    """Remove a person (never the only admin)."""
    with context() as (_settings, engine):
        people.remove_user(engine, email, actor=actor(), now=utc_now())
    print(f"removed {email.strip().lower()}")


@users_app.command("reset-password")
def users_reset_password(email: str) -> None:
    """End a person's password, sessions and two-step sign-in; print their new one-time
    link to set a password."""
    with context() as (settings, engine):
        link = people.reset_link(
            engine,
            settings.site_url,
            Signer.of(settings.secret_key),
            email,
            actor=actor(),
            now=utc_now(),
        )
    print(f"{email.strip().lower()}: their old password no longer works; their one-time link:")
    print(f"  {link}")
    print(site_url_of(settings).line())
