"""WebSub for sources: a feed that advertises a hub gets a subscription (a recording hub on
loopback), the hub's intent check is answered only for the pending topic, pushes are taken
only with the right X-Hub-Signature, and renewals and silent hubs are handled."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.models import Source
from publisher.schedules import Timetable, parse_timetable
from publisher.settings import Settings
from publisher.sources import fetch, inbox, polling
from publisher.web.app import create_app
from tests.feedserver import FEEDS, FeedServer
from tests.support import NOW, make_settings

TOPIC = "https://cms.example.org/atom.xml"  # the feed's rel="self"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


def feed_with_hub(server: FeedServer, title: str = "Night market") -> bytes:
    atom = (FEEDS / "atom.xml").read_text().replace("Night market", title)
    hub = f'<link rel="hub" href="{server.url}/hub"/>'
    return atom.replace('<link rel="self"', hub + '\n  <link rel="self"', 1).encode()


def setup(server: FeedServer, tmp_path: Path) -> Timetable:
    url = server.serve("/atom.xml", feed_with_hub(server), content_type="application/atom+xml")
    text = f"sources:\n  cms:\n    url: {url}\n    every: 15m\n"
    (tmp_path / "schedules.yaml").write_text(text)
    return parse_timetable(text)


def signed(secret: str, body: bytes, method: str = "sha256") -> str:
    return f"{method}=" + hmac.new(secret.encode(), body, getattr(hashlib, method)).hexdigest()


def state(engine: Engine) -> Source:
    with store.reading(engine) as session:
        return store.source_row(session, "cms")


def verify(
    client: TestClient,
    settings: Settings,
    topic: str = TOPIC,
    challenge: str = "c-123",
    **more: str,
) -> tuple[int, str]:
    """The hub's intent check, at the callback URL we gave it (its token included)."""
    params = {
        "token": polling.callback_token(settings, "cms"),
        "hub.mode": "subscribe",
        "hub.topic": topic,
        "hub.challenge": challenge,
        "hub.lease_seconds": "86400",
    }
    answer = client.get("/websub/cms", params={**params, **more})  # fmt: skip
    return answer.status_code, answer.text


def test_a_hub_is_subscribed_verified_and_its_signed_pushes_come_in(
    engine: Engine, settings: Settings, server: FeedServer, tmp_path: Path
) -> None:
    timetable = setup(server, tmp_path)
    spec = timetable.source("cms")
    polling.poll_source(engine, settings, spec, now=NOW)
    [(path, form)] = server.posts
    assert path == "/hub"
    assert form["hub.mode"] == "subscribe" and form["hub.topic"] == TOPIC
    token = polling.callback_token(settings, "cms")
    assert form["hub.callback"] == f"https://news.example.com/websub/cms?token={token}"
    assert int(form["hub.lease_seconds"]) == int(polling.WEBSUB_LEASE.total_seconds())
    secret = form["hub.secret"]
    assert len(secret) == 32 and state(engine).websub_state == "pending"
    stored = state(engine).secret  # sealed: the database alone does not give it away
    assert stored.startswith("v1.") and secret not in stored and len(stored) <= 100

    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None,
                                   timetable=timetable))  # fmt: skip
    assert verify(client, settings, topic="https://elsewhere.example/feed")[0] == 404
    assert verify(client, settings) == (200, "c-123")
    row = state(engine)
    assert (row.websub_state, row.lease_until) == ("active", NOW + timedelta(days=1))
    assert verify(client, settings, challenge="again")[0] == 404  # nothing pending any more

    body = feed_with_hub(server, title="Pushed market")
    # A hub is not a browser; even with a foreign Origin the cross-site guard lets it in.
    headers = {"content-type": "application/atom+xml", "origin": "https://hub.example.net",
               "sec-fetch-site": "cross-site"}  # fmt: skip
    wrong = client.post("/websub/cms", content=body,
                        headers={**headers, "x-hub-signature": signed("not-it", body)})  # fmt: skip
    assert wrong.status_code == 202  # acknowledged (WebSub 8) but ignored
    assert inbox.list_items(engine).total == 1  # the poll's item only
    assert "wrong signature" in state(engine).last_error
    unsigned = client.post("/websub/cms", content=body, headers=headers)
    assert unsigned.status_code == 202 and inbox.list_items(engine).total == 1

    sha1 = {**headers, "x-hub-signature": signed(secret, body, "sha1")}
    good = client.post("/websub/cms", content=body, headers=sha1)
    assert good.status_code == 202, good.text
    [item] = [v.item for v in inbox.list_items(engine).items]
    assert item.title == "Pushed market returns"  # the same entry, updated by the push
    # Under another PUBLISHER_SECRET_KEY the sealed secret does not open: pushes are ignored.
    another = "another-secret-key-0123456789-abcdefghij"
    other = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=settings.database_url, PUBLISHER_SECRET_KEY=another
    )
    ignored = polling.push(
        engine, other, timetable, "cms", body, now=NOW, signature=signed(secret, body),
        content_type="application/atom+xml",
    )  # fmt: skip
    assert ignored.outcome == "failed" and "signature" in ignored.error
    polling.poll_source(engine, other, spec, now=NOW + timedelta(minutes=1), force=True)
    assert len(server.posts) == 2  # subscribed again, with a secret sealed under the new key
    assert polling.push(
        engine, other, timetable, "cms", body, now=NOW, content_type="application/atom+xml",
        signature=signed(server.posts[1][1]["hub.secret"], body),
    ).outcome == "fetched"  # fmt: skip
    assert client.post("/websub/nope", content=body).status_code == 404
    assert client.get("/websub/nope", params={"hub.challenge": "x"}).status_code == 404


def test_no_subscription_when_the_site_is_not_public(
    engine: Engine, server: FeedServer, tmp_path: Path
) -> None:
    local = make_settings(tmp_path, PUBLISHER_DATABASE_URL=str(engine.url.render_as_string(
        hide_password=False)), PUBLISHER_SITE_URL="http://127.0.0.1:8000")  # fmt: skip
    timetable = setup(server, tmp_path)
    result = polling.poll_source(engine, local, timetable.source("cms"), now=NOW)
    assert result.new == 1 and server.posts == []
    for url, public in {
        "https://news.example.com": True, "http://localhost:8000": False,
        "http://10.1.2.3": False, "http://[::1]:8000": False, "http://intranet": False,
        "https://news.internal": False, "https://8.8.8.8": True,
    }.items():  # fmt: skip
        assert fetch.is_public(url) is public, url


def test_a_hub_that_never_verifies_is_asked_again_later_and_a_lease_is_renewed(
    engine: Engine, settings: Settings, server: FeedServer, tmp_path: Path
) -> None:
    spec = setup(server, tmp_path).source("cms")
    polling.poll_source(engine, settings, spec, now=NOW)
    assert len(server.posts) == 1
    # Within the hour the hub has to verify, polls ask nothing more of it.
    polling.poll_source(engine, settings, spec, now=NOW + timedelta(minutes=30), force=True)
    assert len(server.posts) == 1 and state(engine).websub_state == "pending"
    later = NOW + polling.WEBSUB_VERIFY_WAIT + timedelta(minutes=1)
    polling.poll_source(engine, settings, spec, now=later, force=True)
    assert len(server.posts) == 2
    assert server.posts[0][1]["hub.secret"] != server.posts[1][1]["hub.secret"]
    # Verified with a two-day lease: renewed once less than a day is left.
    challenge = polling.verify_intent(
        engine, settings, "cms", token=polling.callback_token(settings, "cms"),
        mode="subscribe", topic=TOPIC, challenge="x", lease_seconds="172800", now=later,
    )  # fmt: skip
    assert challenge == "x"
    polling.poll_source(engine, settings, spec, now=later + timedelta(hours=12), force=True)
    assert len(server.posts) == 2
    polling.poll_source(engine, settings, spec, now=later + timedelta(hours=25), force=True)
    assert len(server.posts) == 3 and state(engine).websub_state == "pending"


def test_a_hub_that_denies_the_subscription_is_shown_and_asked_again_later(
    engine: Engine, settings: Settings, server: FeedServer, tmp_path: Path
) -> None:
    spec = setup(server, tmp_path).source("cms")
    polling.poll_source(engine, settings, spec, now=NOW)
    assert polling.verify_intent(
        engine, settings, "cms", token=polling.callback_token(settings, "cms"), mode="denied",
        topic=TOPIC, challenge="", lease_seconds="", now=NOW,
    ) is None  # fmt: skip
    assert state(engine).websub_state == "failed"
    polling.poll_source(engine, settings, spec, now=NOW + timedelta(minutes=30), force=True)
    assert len(server.posts) == 1
    polling.poll_source(engine, settings, spec, now=NOW + timedelta(hours=2), force=True)
    assert len(server.posts) == 2


def test_a_hub_that_refuses_leaves_polling_on(
    engine: Engine, settings: Settings, server: FeedServer, tmp_path: Path
) -> None:
    server.post_status = 500
    spec = setup(server, tmp_path).source("cms")
    result = polling.poll_source(engine, settings, spec, now=NOW)
    assert result.new == 1
    row = state(engine)
    assert (row.websub_state, row.failures) == ("failed", 0)
    [listed] = polling.source_states(engine)
    assert (listed.state, listed.websub) == ("ok", "failed")


def test_signatures() -> None:
    body = b"<feed/>"
    assert fetch.signature_ok("s", body, signed("s", body))
    assert fetch.signature_ok("s", body, signed("s", body, "sha1"))
    assert not fetch.signature_ok("s", body, signed("t", body))
    assert not fetch.signature_ok("s", body, "md5=" + hashlib.md5(body).hexdigest())
    assert not fetch.signature_ok("s", body, "")


def test_only_the_hubs_answer_to_our_own_request_changes_a_subscription(
    engine: Engine, settings: Settings, server: FeedServer, tmp_path: Path
) -> None:
    """Issue 24, item 9: forged intent checks and denials, replayed at the callback."""
    timetable = setup(server, tmp_path)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None,
                                   timetable=timetable))  # fmt: skip
    ten_years = str(10 * 365 * 86400)
    polling.sync(engine, timetable, now=NOW)
    # Nothing asked of any hub yet: a subscribe "verified" by anyone changes nothing.
    assert verify(client, settings, **{"hub.lease_seconds": "86400"})[0] == 404
    assert state(engine).websub_state == ""

    polling.poll_source(engine, settings, timetable.source("cms"), now=NOW)
    assert state(engine).websub_state == "pending"
    forgeries = [
        {"token": ""},  # a third party: the topic is public, the callback's token is not
        {"token": "x" * 22, "hub.lease_seconds": ten_years},
        {"token": "", "hub.mode": "denied"},
        {"hub.mode": "unsubscribe"},  # we never ask for that
        {"hub.topic": "https://elsewhere.example/feed"},
        {"hub.challenge": ""},
    ]
    for forged in forgeries:
        assert verify(client, settings, **forged)[0] == 404, forged
        assert state(engine).websub_state == "pending", forged
    # A lease out of bounds is the hub's mistake: a 400 (never a 500), nothing changed.
    for lease in (ten_years, "9" * 40, "-5", "0", "1e9", "١٢"):
        status, text = verify(client, settings, **{"hub.lease_seconds": lease})
        assert (status, text) == (400, "hub.lease_seconds must be a whole number of seconds "
                                        "from 1 to 31536000"), lease  # fmt: skip
        assert state(engine).websub_state == "pending"

    # The hub's own answer: active, and a lease longer than asked is kept as asked.
    thirty_days = str(30 * 86400)
    assert verify(client, settings, **{"hub.lease_seconds": thirty_days}) == (200, "c-123")
    row = state(engine)
    assert (row.websub_state, row.lease_until) == ("active", NOW + polling.WEBSUB_LEASE)
    # Now active: a forged denial changes nothing; nor does another subscribe, even the hub's.
    assert verify(client, settings, **{"token": "", "hub.mode": "denied"})[0] == 404
    assert verify(client, settings, challenge="again")[0] == 404
    assert state(engine).websub_state == "active"
    # The hub may deny later (WebSub 5.2): through the callback it was given, that counts.
    assert verify(client, settings, **{"hub.mode": "denied"})[0] == 404
    assert state(engine).websub_state == "failed"
