"""Settings: read once from the environment (and ``.env``) into a frozen value."""

from __future__ import annotations

import ipaddress
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from publisher.errors import ConfigError

__all__ = ["ENV_PREFIX", "Settings", "load_settings", "with_secret_key"]

ENV_PREFIX = "PUBLISHER_"


class Settings(BaseSettings):
    """Every knob of the publisher. Field ``x`` is the variable ``PUBLISHER_X``."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="ignore", env_file_encoding="utf-8"
    )

    database_url: str = "sqlite:///var/publisher.db"
    site_url: str = "http://127.0.0.1:8000"
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
    # The newsroom (issue 12): a session ends after this long without a request, and at the
    # latest this many hours after sign-in.
    admin_idle_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    admin_session_hours: int = Field(default=12, ge=1, le=30 * 24)
    # Issue 13: story links in digests go through /r/TOKEN and are counted (README, The digest).
    track_clicks: str = Field(default="off", pattern="^(off|aggregate|individual)$")
    # Issue 28: what mail systems report back. Soft bounces suppress a member after this many
    # within this many days (a hard bounce at once; a complaint unsubscribes at once).
    bounce_soft_limit: int = Field(default=2, ge=1, le=100)
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
