from __future__ import annotations

import stat
from pathlib import Path

import pytest

from publisher.errors import ConfigError
from publisher.settings import load_settings, with_secret_key


def test_defaults_match_the_contract() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.database_url == "sqlite:///var/publisher.db"
    assert settings.site_url == "http://127.0.0.1:8000"
    assert settings.site_title == "Newsflash Asia"
    assert settings.site_tagline == "Breaking Stories, Smarter and Faster"
    assert settings.mail_from == "Newsflash Asia <newsletter@localhost>"
    assert settings.send_concurrency == 4
    assert settings.send_rate == 0
    assert settings.smtp_url is None and settings.api_token is None
    assert settings.schedules == Path("schedules.yaml")


def test_environment_beats_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("PUBLISHER_SITE_TITLE=From file\nPUBLISHER_SITE_TAGLINE=File tagline\n")
    settings = load_settings({"PUBLISHER_SITE_TITLE": "From env"}, env_file=env_file)
    assert settings.site_title == "From env"
    assert settings.site_tagline == "File tagline"


def test_settings_are_frozen() -> None:
    settings = load_settings({}, env_file=None)
    with pytest.raises(Exception, match="frozen"):
        settings.site_title = "x"  # type: ignore[misc]


def test_bad_values_name_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "PUBLISHER_SITE_URL": "news.example.com",
                "PUBLISHER_SEND_CONCURRENCY": "lots",
                "PUBLISHER_TIMEZONE": "Mars/Olympus",
            },
            env_file=None,
        )
    text = "\n".join(caught.value.lines())
    assert "PUBLISHER_SITE_URL" in text and "absolute" in text
    assert "PUBLISHER_SEND_CONCURRENCY" in text
    assert "PUBLISHER_TIMEZONE" in text and "Mars/Olympus" in text


def test_secrets_never_print() -> None:
    settings = load_settings(
        {"PUBLISHER_API_TOKEN": "tok-very-secret", "PUBLISHER_SMTP_URL": "smtp://u:pw@h"},
        env_file=None,
    )
    assert "tok-very-secret" not in repr(settings)
    assert "pw@h" not in str(settings)
    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-very-secret"


def test_secret_key_is_generated_once_with_mode_0600(tmp_path: Path) -> None:
    settings = load_settings({"PUBLISHER_VAR_DIR": str(tmp_path / "var")}, env_file=None)
    first = with_secret_key(settings)
    second = with_secret_key(settings)
    key_file = tmp_path / "var" / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key is not None and second.secret_key is not None
    assert first.secret_key.get_secret_value() == second.secret_key.get_secret_value()
    assert len(first.secret_key.get_secret_value()) >= 32


def test_given_secret_key_wins(tmp_path: Path) -> None:
    settings = load_settings(
        {"PUBLISHER_VAR_DIR": str(tmp_path), "PUBLISHER_SECRET_KEY": "k" * 40}, env_file=None
    )
    assert with_secret_key(settings).secret_key.get_secret_value() == "k" * 40  # type: ignore[union-attr]
    assert not (tmp_path / "secret.key").exists()


def test_fetch_allow_hosts_are_read_and_a_bad_one_is_named() -> None:
    assert load_settings({}, env_file=None).fetch_allowed == ()  # nothing private by default
    allowed = load_settings(
        {"PUBLISHER_FETCH_ALLOW_HOSTS": "Feeds.LAN, cms.lan:8080,10.0.0.0/8, [::1]:8443"},
        env_file=None,
    ).fetch_allowed
    assert [(str(target), port) for target, port in allowed] == [
        ("feeds.lan", None), ("cms.lan", 8080), ("10.0.0.0/8", None), ("::1/128", 8443),
    ]  # fmt: skip
    for bad in ("http://feeds.lan", "feeds.lan:0", "10.0.0.0/8:80", "feeds.lan:", "a/b"):
        with pytest.raises(ConfigError) as caught:
            load_settings({"PUBLISHER_FETCH_ALLOW_HOSTS": f"ok.lan,{bad}"}, env_file=None)
        text = "\n".join(caught.value.lines())
        assert "PUBLISHER_FETCH_ALLOW_HOSTS" in text and f"{bad!r} is not a host" in text
