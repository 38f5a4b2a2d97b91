"""Click tracking after a real send (aiosmtpd), on SQLite and PostgreSQL: each reader counted
once per link, never for HEAD, scanners or a click as the mail arrives; nothing personal
stored under ``aggregate``; a forged or altered token is a 404; a link outlives its records."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, delete, select

from publisher import store
from publisher.editions import clicks, stats
from publisher.models import Edition, LinkReader, Subscriber, TrackedLink
from publisher.settings import Settings
from publisher.web import create_app
from tests.mailing import audience, mail_site, now, run_until_done, start_edition
from tests.smtp import SmtpServer

BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile"
SAFE_LINKS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Microsoft Office/16.0 (Safe Links)"


def tracked_settings(tmp_path: Path, database_url: str, smtp: SmtpServer, mode: str) -> Settings:
    return mail_site(
        tmp_path,
        database_url,
        smtp,
        PUBLISHER_TRACK_CLICKS=mode,
    )


class Clock:
    """The web app's clock: a minute after the send unless a test moves it."""

    def __init__(self) -> None:
        self.at = now() + timedelta(minutes=1)

    def __call__(self) -> datetime:
        return self.at


def send(engine: Engine, settings: Settings, tmp_path: Path, members: int) -> int:
    audience(engine, settings, tmp_path, members)
    edition_id = start_edition(engine, settings)
    run_until_done(engine, settings, edition_id)
    return edition_id


def links_of(smtp: SmtpServer, address: str) -> tuple[list[str], str]:
    """The /r/ links in the HTML part of the mail ``address`` got, and its text part."""
    message = next(r for r in smtp.recorder.received if r.recipient == address).parsed()
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    found = re.findall(r'href="(https://news\.example\.com/r/[^"]+)"', html)
    return list(dict.fromkeys(found)), text


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def readers(engine: Engine) -> dict[str, int]:
    with store.reading(engine) as session:
        return {row.url: row.readers for row in session.scalars(select(TrackedLink))}


@pytest.fixture
def client_for(engine: Engine) -> Callable[[Settings, Clock], TestClient]:
    def make(settings: Settings, clock: Clock) -> TestClient:
        app = create_app(settings, engine, clock=clock, feed_upkeep_every=None)
        return TestClient(app, follow_redirects=False, headers={"User-Agent": BROWSER})

    return make


def test_each_reader_counts_once_per_link_and_nothing_personal_is_stored(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "aggregate")
    edition_id = send(engine, settings, tmp_path, 3)
    clock = Clock()
    client = client_for(settings, clock)
    first, text = links_of(smtp, "member0@example.com")
    second, _ = links_of(smtp, "member1@example.com")
    # Stories are tracked; unsubscribe, preferences and report links are not.
    assert len(first) >= 4 and "/r/" in text
    message = smtp.recorder.received[0].parsed().get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert 'href="https://news.example.com/unsubscribe/' in message
    assert 'href="https://news.example.com/preferences/' in message
    assert "https://news.example.com/report?" in message
    story = first[1]
    target = client.get(path_of(story))
    assert target.status_code == 302
    assert target.headers["location"].startswith("https://news.example.com/articles/")
    assert target.headers["cache-control"] == "no-store"
    # Again, from the same copy of the mail: still one reader. Another reader: two.
    assert client.get(path_of(story)).status_code == 302
    other = next(u for u in second if urlsplit(u).path == urlsplit(story).path)
    assert urlsplit(other).query != urlsplit(story).query  # each copy has its own reader tag
    client.get(path_of(other))
    assert readers(engine) == {target.headers["location"]: 2}
    # The same reader on another link: counted there, under a different stored value.
    client.get(path_of(first[2]))
    with store.reading(engine) as session:
        rows = list(session.scalars(select(LinkReader)))
        people = list(session.scalars(select(Subscriber)))
    assert len(rows) == 3
    assert all(row.subscriber_id is None and row.at is None for row in rows)
    assert len({row.reader for row in rows}) == 3
    tag = parse_qs(urlsplit(story).query)["m"][0]
    identities = {tag, *(p.email for p in people), *(f"s{p.id:x}" for p in people)}
    assert not any(i in row.reader or row.reader in i for row in rows for i in identities)
    figures = stats.figures(engine, settings, edition_id, now=clock())
    counted = {link.url: link.readers for link in figures.links}
    assert counted[target.headers["location"]] == 2 and sum(counted.values()) == 3


def test_head_requests_scanners_and_clicks_as_the_mail_arrives_are_not_readers(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "aggregate")
    send(engine, settings, tmp_path, 1)
    clock = Clock()
    client = client_for(settings, clock)
    story = links_of(smtp, "member0@example.com")[0][1]
    head = client.head(path_of(story))
    assert head.status_code == 302 and head.headers["location"].startswith("https://")
    for agent in (SAFE_LINKS, "Mozilla/5.0 (via ggpht.com GoogleImageProxy)", "", "curl/8.5"):
        assert client.get(path_of(story), headers={"User-Agent": agent}).status_code == 302
    tag = clicks.Tracker(settings).reader(parse_qs(urlsplit(story).query)["m"][0])
    assert tag is not None
    clock.at = tag.made + timedelta(seconds=1)  # a scanner following links as mail arrives
    assert client.get(path_of(story)).status_code == 302
    with store.reading(engine) as session:
        (link,) = session.scalars(select(TrackedLink))
    assert (link.readers, link.ignored) == (0, 6)
    clock.at = tag.made + clicks.SCANNER_WINDOW + timedelta(seconds=1)
    client.get(path_of(story))
    assert list(readers(engine).values()) == [1]


def test_individual_tracking_records_the_subscriber(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "individual")
    send(engine, settings, tmp_path, 2)
    clock = Clock()
    client = client_for(settings, clock)
    client.get(path_of(links_of(smtp, "member1@example.com")[0][1]))
    with store.reading(engine) as session:
        (row,) = session.scalars(select(LinkReader))
        member = store.subscriber_by_email(session, "member1@example.com")
    assert member is not None and row.subscriber_id == member.id and row.at == clock()


def test_a_forged_or_altered_token_is_a_404_never_a_redirect(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "aggregate")
    tracker = clicks.Tracker(settings)
    genuine = urlsplit(tracker.link_url(1, "https://news.example.com/articles/a")).path
    edition, body, signature = genuine.removeprefix("/r/").split(".")
    evil = tracker.link_url(1, "https://evil.example.net/").split("/r/")[1].split(".")[1]
    other_key = settings.model_copy(
        update={"secret_key": SecretStr("another-secret-key-0123456789-abcdefghij")}
    )
    foreign = urlsplit(clicks.Tracker(other_key).link_url(1, "https://evil.example.net/")).path
    client = client_for(settings, Clock())
    for path in (
        f"/r/{edition}.{evil}.{signature}",  # another target under this signature
        f"/r/2.{body}.{signature}",  # another edition
        f"/r/{edition}.{body}.{signature[:-1]}A",
        f"/r/{edition}.{body}",
        foreign,  # signed with another site's key
        "/r/https%3A%2F%2Fevil.example.net",
        "/r/",
    ):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "location" not in answer.headers
    assert client.get(genuine).status_code == 302  # no reader tag: redirected, not counted
    assert readers(engine) == {}


def test_a_link_keeps_working_after_its_records_and_its_edition_are_pruned(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "aggregate")
    edition_id = send(engine, settings, tmp_path, 1)
    clock = Clock()
    client = client_for(settings, clock)
    story = links_of(smtp, "member0@example.com")[0][1]
    where = client.get(path_of(story)).headers["location"]
    assert clicks.prune(engine, before=now() + timedelta(days=1)) == 1
    assert readers(engine) == {where: 1}  # the count stays
    assert client.get(path_of(story)).headers["location"] == where
    with store.writing(engine) as session:
        store.prune_deliveries(session, before=now() + timedelta(days=1))
        session.execute(delete(Edition).where(Edition.id == edition_id))  # type: ignore[arg-type]
    answer = client.get(path_of(story))
    assert answer.status_code == 302 and answer.headers["location"] == where


def test_untracked_mail_has_no_redirects_and_a_test_copy_counts_nowhere(
    engine: Engine,
    tmp_path: Path,
    database_url: str,
    smtp: SmtpServer,
    client_for: Callable[[Settings, Clock], TestClient],
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "off")
    send(engine, settings, tmp_path, 1)
    assert links_of(smtp, "member0@example.com")[0] == []
    on = settings.model_copy(update={"track_clicks": "aggregate"})
    tracker = clicks.Tracker(on)
    url = tracker.link_url(1, "https://news.example.com/articles/story-0")
    # A message filled in without a reader value (a test send) leaves the tag empty.
    client = client_for(on, Clock())
    answer = client.get(path_of(url.replace(clicks.READER_SLOT, "")))
    assert answer.status_code == 302 and readers(engine) == {}


def test_the_rewrite_keeps_each_target_exactly_and_leaves_other_links_alone(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = tracked_settings(tmp_path, database_url, smtp, "aggregate")
    tracker = clicks.Tracker(settings)
    html = (
        '<a href="https://shop.example.org/p?a=1&amp;b=%C3%A9">x</a>'
        '<a href="https://news.example.com/unsubscribe/NFPH_UNSUBSCRIBE_URL_NFPH">u</a>'
        '<a href="https://news.example.com/report?article=a">r</a>'
        '<a href="mailto:desk@example.com">m</a>'
    )
    text = "Read: https://shop.example.org/p?a=1&b=%C3%A9\nArchive: https://news.example.com/digests/3\n"
    rewritten, plain = tracker.rewrite(7, html, text)
    (tracked,) = re.findall(r'href="(https://news\.example\.com/r/[^"]+)"', rewritten)
    assert "/unsubscribe/NFPH_UNSUBSCRIBE_URL_NFPH" in rewritten and "mailto:" in rewritten
    assert 'href="https://news.example.com/report?article=a"' in rewritten
    token = urlsplit(tracked).path.removeprefix("/r/")
    assert tracker.link(token) == clicks.Link(7, "https://shop.example.org/p?a=1&b=%C3%A9")
    assert tracked in plain and "https://news.example.com/digests/3" in plain
    assert tracker.urls(html) == ["https://shop.example.org/p?a=1&b=%C3%A9"]
    # A URL can be chosen so that its token spells "NFPH" (issue 24): its /r/ link would be
    # a place the personaliser fills, so it stays as it is.
    spelled = "https://a.b/4S\u01c0"
    assert "NFPH" in tracker.link_url(7, spelled).split("?")[0]
    kept, kept_text = tracker.rewrite(7, f'<a href="{spelled}">s</a>', f"See {spelled}\n")
    assert kept == f'<a href="{spelled}">s</a>' and kept_text == f"See {spelled}\n"
