"""Settings: read once from the environment (and ``.env``) into a frozen value."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from publisher.errors import ConfigError

__all__ = [
    "DEFAULT_SITE_URL",
    "ENV_PREFIX",
    "SITE_URL_FILE",
    "AllowRule",
    "Settings",
    "SiteUrl",
    "load_settings",
    "record_served_url",
    "served_url",
    "site_url_of",
    "with_secret_key",
    "with_site_url",
]

ENV_PREFIX = "PUBLISHER_"
DEFAULT_SITE_URL = "http://127.0.0.1:8000"
# Where `publisher run` writes the URL it serves when PUBLISHER_SITE_URL is not set, so that
# the commands run beside it (users add, subscribers add, digest send) make the same links.
SITE_URL_FILE = "site-url"
# A PUBLISHER_FETCH_ALLOW_HOSTS rule: a host name or an IP network, and a port (None: any).
AllowRule = tuple[str | ipaddress.IPv4Network | ipaddress.IPv6Network, int | None]


class Settings(BaseSettings):
    """Every knob of the publisher. Field ``x`` is the variable ``PUBLISHER_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", env_file_encoding="utf-8"
    )

    database_url: str = "sqlite:///var/publisher.db"
    site_url: str = DEFAULT_SITE_URL
    site_title: str = "Newsflash Asia"
    site_tagline: str = "Breaking Stories, Smarter and Faster"
    site_language: str = "en"
    timezone: str = "Asia/Singapore"
    secret_key: SecretStr | None = None
    smtp_url: SecretStr | None = None
    mail_from: str = "Newsflash Asia <newsletter@localhost>"
    api_token: SecretStr | None = None
    schedules: Path = Path("schedules.yaml")
    postal_address: str = ""
    websub_hub: str | None = None
    send_concurrency: int = Field(default=4, ge=1, le=64)
    send_rate: float = Field(default=0, ge=0)
    send_max_attempts: int = Field(default=8, ge=1, le=50)
    send_retry_base: float = Field(default=60, gt=0)
    send_lease: float = Field(default=300, ge=1)
    send_heartbeat: float = Field(default=5, gt=0)
    send_processes: int = Field(default=1, ge=1, le=64)
    dkim_selector: str | None = None
    dkim_key_file: Path | None = None
    delivery_retention_days: int = Field(default=90, ge=1)
    log_level: str = "INFO"
    log_format: str = Field(default="text", pattern="^(text|json)$")
    var_dir: Path = Path("var")
    feed_items: int = Field(default=50, ge=1, le=1000)
    # Issue 24: what the daemon fetches (sources, their redirects, WebSub hubs) never reaches a
    # private, loopback, link-local, multicast or reserved address, except on these hosts:
    # comma-separated host, host:port or CIDR (docs/security.md, "What the daemon fetches").
    fetch_allow_hosts: str = ""

    @field_validator("fetch_allow_hosts")
    @classmethod
    def _fetch_allow_hosts(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            cls.allow_rule(item)
        return value

    @property
    def fetch_allowed(self) -> tuple[AllowRule, ...]:
        """``PUBLISHER_FETCH_ALLOW_HOSTS`` read: one (host name or network, port) a rule."""
        return tuple(map(self.allow_rule, self.fetch_allow_hosts.replace(",", " ").split()))

    @staticmethod
    def allow_rule(item: str) -> AllowRule:
        """``feeds.lan``, ``feeds.lan:8080``, ``127.0.0.1``, ``[::1]:8080`` or ``10.0.0.0/8``
        as (a lower-case host name or an IP network, the port or None); ValueError else."""
        host, port = item.strip().lower(), ""
        if host.startswith("["):
            host, _, port = host[1:].partition("]")
            if port and not port.startswith(":"):
                host = ""
            port = port[1:]
        elif host.count(":") == 1:
            host, _, port = host.partition(":")
        try:
            target: str | ipaddress.IPv4Network | ipaddress.IPv6Network = ipaddress.ip_network(
                host, strict=False
            )
        except ValueError:
            target = host.rstrip(".")
            if "/" in host or not re.fullmatch(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?", target):
                target = ""
        number = int(port) if port.isdigit() and 0 < int(port) < 65536 else None
        if (
            not target
            or item.endswith(":")
            or (port and number is None)
            or (number and "/" in host)
        ):
            raise ValueError(
                f"{item!r} is not a host, host:port or network (such as feeds.lan, "
                "127.0.0.1:8080 or 10.0.0.0/8)"
            )
        return target, number

    # HTTP limits (issue 16): bodies, proxies, and what uvicorn allows a slow or greedy client.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    trusted_proxies: str = ""
    http_header_timeout: float = Field(default=10, gt=0)
    http_body_timeout: float = Field(default=15, gt=0)
    http_keep_alive: int = Field(default=5, ge=1)
    http_max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    http_max_connections: int = Field(default=500, ge=1)
    http_backlog: int = Field(default=2048, ge=1)
    feeds_export_dir: Path | None = None
    # Issue 26: pictures the newsroom uploads or fetches. A file over this many bytes, or a
    # picture of more pixels than this (checked before it is decoded: a small file can
    # unpack to gigabytes), is refused. Media are served from the site's /media/ unless
    # PUBLISHER_MEDIA_URL names where a CDN or nginx serves them (docs/media.md).
    picture_max_bytes: int = Field(default=15 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024)
    picture_max_pixels: int = Field(default=50_000_000, ge=10_000, le=500_000_000)
    media_url: str = ""
    # The newsroom (issue 12): a session ends after this long without a request, and at the
    # latest this many hours after sign-in.
    admin_idle_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    admin_session_hours: int = Field(default=12, ge=1, le=30 * 24)
    # Issue 13: story links in digests go through /r/TOKEN and are counted (README, The digest).
    track_clicks: str = Field(default="off", pattern="^(off|aggregate|individual)$")
    # Issue 24: /metrics shows per-edition recipient counts; with a token set, it needs
    # "Authorization: Bearer <token>" (empty: open to whoever reaches it, as before).
    metrics_token: SecretStr = SecretStr("")
    # Issue 28: what mail systems report back. Soft bounces suppress a member after this many
    # within this many days (a hard bounce at once; a complaint unsubscribes at once).
    bounce_soft_limit: int = Field(default=2, ge=1, le=100)
    # Issue 27: a one-off send (breaking news, a message) to more members than this waits for
    # an editor's approval; a send whose audience's count moved by more than this share since
    # it was confirmed asks again.
    review_audience_over: int = Field(default=5000, ge=0)
    audience_drift: float = Field(default=0.1, ge=0, le=1)
    bounce_soft_days: int = Field(default=30, ge=1, le=365)
    # The bounce mailbox the daemon polls (imaps://user:pass@host/INBOX, pop3s://..., or
    # imap/pop3 with ?starttls=true); the password may come in its own variable.
    bounce_mailbox_url: SecretStr | None = None
    bounce_mailbox_password: SecretStr | None = None
    bounce_mailbox_every: float = Field(default=60, ge=1, le=86400)
    # Where mail to that mailbox is addressed (the digest's List-Unsubscribe mailto); empty:
    # the mailbox's user name when it is an address.
    bounce_address: str = ""
    # Sending services' webhooks at /webhooks/bounces/{provider}, each off until set: SES's
    # SNS topic ARNs, Postmark's basic-auth "user:password", SendGrid's verification key
    # (base64), Mailgun's webhook signing key. SNS signing certificates come from SNS hosts
    # only; tests name their own host here (production leaves it empty).
    webhook_ses_topics: str = ""
    webhook_sns_cert_hosts: str = ""
    webhook_postmark_auth: SecretStr | None = None
    webhook_sendgrid_key: str = ""
    webhook_mailgun_key: SecretStr | None = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment arrives as init kwargs from load_settings(), so tests pass a dict
        # and nothing here reads os.environ behind the caller's back.
        return (init_settings, dotenv_settings)

    @field_validator("site_url")
    @classmethod
    def _absolute_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://news.example.com")
        return value.rstrip("/")

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            raise ValueError("must be an absolute http(s) URL such as https://media.example.com")
        return value.rstrip("/")

    @property
    def media_base(self) -> str:
        """Where the pictures' renditions are served: ``PUBLISHER_MEDIA_URL``, or ``/media``
        of the site."""
        return self.media_url or f"{self.site_url}/media"

    @field_validator("feeds_export_dir", mode="before")
    @classmethod
    def _no_export_when_empty(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            message = f"unknown time zone {value!r} (use an IANA name such as Asia/Singapore)"
            raise ValueError(message) from None
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        for item in value.replace(",", " ").split():
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (such as 127.0.0.1 or 10.0.0.0/8)"
                ) from None
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """The proxies whose X-Forwarded-For is believed (none unless configured)."""
        items = self.trusted_proxies.replace(",", " ").split()
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)

    @property
    def site_host(self) -> str:
        return urlsplit(self.site_url).hostname or "localhost"


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | str | None = ".env"
) -> Settings:
    """Settings from ``environ`` (default: the process environment) over ``env_file``."""
    source = os.environ if environ is None else environ
    values: dict[str, Any] = {
        key[len(ENV_PREFIX) :].lower(): value
        for key, value in source.items()
        if key.startswith(ENV_PREFIX) and value != ""
    }
    known = set(Settings.model_fields)
    try:
        return Settings(_env_file=env_file, **{k: v for k, v in values.items() if k in known})
    except ValidationError as exc:
        problems = [
            f"{ENV_PREFIX}{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}"
            for err in exc.errors()
        ]
        raise ConfigError("invalid settings", details=problems) from None


def with_secret_key(settings: Settings) -> Settings:
    """Settings whose secret key is set: the given one, or ``var/secret.key`` (made 0600)."""
    if settings.secret_key is not None:
        return settings
    path = settings.var_dir / "secret.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".secret.key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # atomic and never overwrites: two daemons agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if len(key) < 32:
        raise ConfigError(f"{path}: secret key is too short (32 characters at least)")
    return settings.model_copy(update={"secret_key": SecretStr(key)})


@dataclass(frozen=True)
class SiteUrl:
    """The site URL every link is made with, and where it came from, in words."""

    url: str
    source: str

    def line(self) -> str:
        """One line for an operator: the URL, where it came from and how to change it."""
        if self.source == "PUBLISHER_SITE_URL":
            return f"site URL {self.url} (from PUBLISHER_SITE_URL)"
        return (
            f"site URL {self.url} ({self.source}; set PUBLISHER_SITE_URL to the address "
            "readers use, such as https://news.example.com)"
        )


def served_url(host: str, port: int) -> str:
    """The URL of a server listening on ``host``:``port`` (127.0.0.1 for every address)."""
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if ":" in local:  # an IPv6 address
        local = f"[{local}]"
    return f"http://{local}:{port}"


def site_url_of(settings: Settings) -> SiteUrl:
    """The site URL: PUBLISHER_SITE_URL; else where `publisher run` last listened (recorded
    in ``var/site-url``); else the default, where `publisher run` listens without options."""
    if "site_url" in settings.model_fields_set:
        return SiteUrl(settings.site_url, "PUBLISHER_SITE_URL")
    path = settings.var_dir / SITE_URL_FILE
    try:
        recorded = path.read_text(encoding="utf-8").strip()
    except OSError:
        recorded = ""
    parts = urlsplit(recorded)
    if parts.scheme in ("http", "https") and parts.netloc:
        return SiteUrl(recorded.rstrip("/"), f"where `publisher run` last listened, {path}")
    return SiteUrl(settings.site_url, "the default, where `publisher run` listens unless told")


def with_site_url(settings: Settings, site: SiteUrl) -> Settings:
    """``settings`` making every link with ``site``'s URL."""
    if site.url == settings.site_url:
        return settings
    # Constructed, not copied: the URL stays "not from PUBLISHER_SITE_URL" (model_fields_set).
    values = {**settings.model_dump(), "site_url": site.url}
    return Settings.model_construct(_fields_set=set(settings.model_fields_set), **values)


def record_served_url(settings: Settings, url: str) -> None:
    """Remember where `publisher run` listens, for the commands run beside it."""
    path = settings.var_dir / SITE_URL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{SITE_URL_FILE}.{os.getpid()}")
    tmp.write_text(url + "\n", encoding="utf-8")
    tmp.replace(path)
