"""What the daemon fetches (issue 24): a source, each redirect hop and each WebSub hub only
at a public address unless PUBLISHER_FETCH_ALLOW_HOSTS lets it in, checked on the address
connected to; and a body's one content coding undone under the 5 MB cap as it arrives. Every
server here is real and on loopback, which is what the default setting refuses."""

from __future__ import annotations

import gzip
import ipaddress
import socket
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from publisher import store
from publisher.errors import OperationalError
from publisher.schedules import parse_timetable
from publisher.settings import Settings
from publisher.sources import egress, fetch, inbox, polling
from publisher.web.app import create_app
from tests.feedserver import FEEDS, Answer, FeedServer, zeros_gzip
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.processes import cli
from tests.support import LOOPBACK, NOW, make_settings, wait_for

ALLOW_LOOPBACK = (Settings.allow_rule(LOOPBACK),)
HINT = "(PUBLISHER_FETCH_ALLOW_HOSTS can allow it)"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        yield running


@pytest.fixture
def internal() -> Iterator[FeedServer]:
    """The "internal service" of the attack: what must never be reached."""
    with FeedServer() as running:
        running.serve_file("/private/doc.rss", "rss2.xml")
        yield running


def settings_for(tmp_path: Path, database_url: str, allow: str, url: str) -> Settings:
    """A site whose one source, ``internal``, is ``url``; ``allow`` ("" for the default)."""
    (tmp_path / "schedules.yaml").write_text(
        f"sources:\n  internal:\n    url: {url}\n    every: 15m\n"
    )
    return make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_FETCH_ALLOW_HOSTS=allow
    )


# ---------------------------------------------------------------- addresses


def test_at_the_default_setting_a_loopback_source_is_refused_and_said_so(
    engine: Engine, database_url: str, tmp_path: Path, internal: FeedServer
) -> None:
    url = internal.url + "/private/doc.rss"
    settings = settings_for(tmp_path, database_url, "", url)
    assert settings.fetch_allowed == ()
    refused = f"{url} refused: 127.0.0.1 is a loopback address {HINT}"

    env = {"PUBLISHER_SCHEDULES": str(settings.schedules), "PUBLISHER_FETCH_ALLOW_HOSTS": ""}
    polled = cli(tmp_path, database_url, "sources", "poll", "internal", **env)
    output = polled.stdout + polled.stderr
    assert polled.returncode == 1 and f"internal: failed: {refused}" in output, output
    listed = cli(tmp_path, database_url, "sources", "list", **env)
    assert f"last error (1 in a row): {refused}" in listed.stdout, listed.stdout

    timetable = parse_timetable(settings.schedules.read_text())
    add_person(engine, settings, "desk@example.com")
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None,
                     timetable=timetable)  # fmt: skip
    client = newsroom_client(app, settings)
    sign_in(client, "desk@example.com")
    page = client.get("/admin/sources").text
    assert f'<dd class="last-error">{refused}</dd>' in page
    assert internal.connections == 0 and inbox.list_items(engine).total == 0


def test_a_redirect_to_an_internal_address_is_refused_however_it_is_written(
    engine: Engine, settings: Settings, server: FeedServer, internal: FeedServer
) -> None:
    allow = (Settings.allow_rule(f"127.0.0.1:{server.port}"),)  # the source's server only
    port = internal.port
    targets = {
        f"http://127.0.0.1:{port}/private/doc.rss": "127.0.0.1 is a loopback address",
        f"http://localhost:{port}/private/doc.rss": "a loopback address",
        f"http://0.0.0.0:{port}/private/doc.rss": "0.0.0.0 is an unspecified address",
        f"http://[::ffff:127.0.0.1]:{port}/private/doc.rss": "a loopback address inside an IPv6",
        f"http://2130706433:{port}/private/doc.rss": "(127.0.0.1) is a loopback address",
        f"http://127.1:{port}/private/doc.rss": "(127.0.0.1) is a loopback address",
    }
    for target, why in targets.items():
        server.routes["/moved"] = Answer(status=302, headers={"location": target})
        with pytest.raises(OperationalError) as caught:
            fetch.get(server.url + "/moved", allow=allow)
        message = caught.value.message
        assert message.startswith(f"{server.url}/moved (redirected to "), message
        assert why in message and message.endswith(HINT), message
    assert internal.connections == 0

    # Through a poll, the replay: nothing lands in the inbox, the reason is shown.
    server.routes["/moved"] = Answer(
        status=301, headers={"location": f"http://127.0.0.1:{port}/private/doc.rss"}
    )
    spec = parse_timetable(f"sources:\n  press:\n    url: {server.url}/moved\n").source("press")
    only_source = make_settings(
        settings.schedules.parent, PUBLISHER_DATABASE_URL=settings.database_url,
        PUBLISHER_FETCH_ALLOW_HOSTS=f"127.0.0.1:{server.port}",
    )  # fmt: skip
    result = polling.poll_source(engine, only_source, spec, now=NOW)
    assert result.error == (
        f"{server.url}/moved (redirected to 127.0.0.1:{port}) refused: 127.0.0.1 is a "
        f"loopback address {HINT}"
    )
    assert inbox.list_items(engine).total == 0 and internal.connections == 0
    # With the internal server's port allowed too, the same redirect is followed.
    both = (*allow, Settings.allow_rule(f"127.0.0.1:{port}"))
    assert fetch.get(server.url + "/moved", allow=both).status == 200
    assert internal.hits["/private/doc.rss"] == 1


def test_a_feeds_hub_at_an_internal_address_is_never_contacted(
    engine: Engine, settings: Settings, server: FeedServer, internal: FeedServer
) -> None:
    only_source = make_settings(
        settings.schedules.parent, PUBLISHER_DATABASE_URL=settings.database_url,
        PUBLISHER_FETCH_ALLOW_HOSTS=f"127.0.0.1:{server.port}",
    )  # fmt: skip
    atom = (FEEDS / "atom.xml").read_text()
    hubs = {
        f"http://127.0.0.1:{internal.port}/hub": "is not https: not asked",
        f"https://127.0.0.1:{internal.port}/hub": "refused: 127.0.0.1 is a loopback address",
        f"https://localhost:{internal.port}/hub": "is a loopback address",
        f"https://[::ffff:7f00:1]:{internal.port}/hub": "a loopback address inside an IPv6",
    }
    for n, (hub, why) in enumerate(hubs.items()):
        feed = atom.replace('<link rel="self"', f'<link rel="hub" href="{hub}"/><link rel="self"')
        url = server.serve(f"/atom{n}.xml", feed, content_type="application/atom+xml")
        spec = parse_timetable(f"sources:\n  s{n}:\n    url: {url}\n").source(f"s{n}")
        result = polling.poll_source(engine, only_source, spec, now=NOW)
        assert result.outcome == "fetched"  # the feed itself comes in; polling goes on
        with store.reading(engine) as session:
            row = store.source_row(session, f"s{n}")
        assert row.websub_state == "failed" and row.hub == hub
        assert row.last_error.startswith(f"WebSub hub {hub} ") and why in row.last_error
    assert internal.connections == 0 and internal.posts == []
    # An http hub named on the allow-list is asked (the secret goes in clear: its choice).
    with pytest.raises(OperationalError, match="not https"):
        fetch.subscribe(f"http://127.0.0.1:{internal.port}/hub", topic="t", callback="c",
                        secret="s", lease_seconds=60, allow=())  # fmt: skip
    fetch.subscribe(
        f"http://127.0.0.1:{internal.port}/hub", topic="t", callback="c", secret="s",
        lease_seconds=60, allow=(Settings.allow_rule(f"127.0.0.1:{internal.port}"),),
    )  # fmt: skip
    assert [form["hub.topic"] for _path, form in internal.posts] == ["t"]


def test_a_name_is_resolved_once_and_the_address_checked_is_the_one_connected_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name that answers an allowed address to the check and 127.0.0.1 to a
    second look-up. The look-ups are the system resolver's answers, replaced for this one
    name (this machine has no DNS server of its own to play the attacker)."""
    with FeedServer() as private, FeedServer(host="127.0.0.2", port=private.port) as allowed:
        allowed.serve_file("/feed.rss", "rss2.xml")
        private.serve_file("/feed.rss", "rss2.xml")
        answers = iter(["127.0.0.2", "127.0.0.1", "127.0.0.1"])
        lookups: list[str] = []
        resolve = socket.getaddrinfo

        def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if host == "feeds.rebind.example":
                host = next(answers)
                lookups.append(host)
            return resolve(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", rebinding)
        url = f"http://feeds.rebind.example:{private.port}/feed.rss"
        rules = (Settings.allow_rule("127.0.0.2"),)
        assert fetch.get(url, allow=rules).status == 200
        assert lookups == ["127.0.0.2"] and allowed.hits["/feed.rss"] == 1
        with pytest.raises(OperationalError, match=r"\(127\.0\.0\.1\) is a loopback address"):
            fetch.get(url, allow=rules)
        assert private.connections == 0


def test_addresses_and_allow_rules() -> None:
    refused = {
        "127.0.0.1": "a loopback", "10.1.2.3": "a private", "192.168.1.1": "a private",
        "169.254.169.254": "a link-local", "224.0.0.1": "a multicast",
        "0.0.0.0": "an unspecified", "100.64.0.1": "a non-public", "240.0.0.1": "a ",
        "::1": "a loopback", "::": "an unspecified", "fe80::1": "a link-local",
        "fc00::1": "a private", "ff0e::1": "a multicast",
        "::ffff:10.0.0.1": "a private address inside",
        "2002:7f00:1::": "a loopback address inside", "64:ff9b::a00:1": "a private address inside",
    }  # fmt: skip
    for text, why in refused.items():
        found = egress.refusal(ipaddress.ip_address(text))
        assert found and found.startswith(why), (text, found)
    for text in ("93.184.215.14", "2606:2800:21f:cb07::1", "::ffff:93.184.215.14"):
        assert egress.refusal(ipaddress.ip_address(text)) == "", text
    rules = tuple(map(Settings.allow_rule, ["feeds.lan", "cms.lan:8080", "10.0.0.0/8", "[::1]"]))
    loop, ten = ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("10.9.9.9")
    assert egress.permitted(rules, "Feeds.LAN.", 443, loop)  # by name, any port
    assert egress.permitted(rules, "cms.lan", 8080, loop)
    assert not egress.permitted(rules, "cms.lan", 80, loop)  # another port
    assert egress.permitted(rules, "x.example", 80, ten)  # by network
    assert not egress.permitted(rules, "x.example", 80, loop)
    assert egress.permitted(rules, "x.example", 80, ipaddress.ip_address("::1"))
    assert egress.named(rules, "http://cms.lan:8080/hub") and egress.named(
        rules, "http://10.1.1.1/"
    )
    assert not egress.named(rules, "http://cms.lan/hub")  # port 80
    assert not egress.named(rules, "http://x.example/")  # a name is not looked up for this


# ---------------------------------------------------------------- content codings


def test_a_gzip_bomb_is_cut_off_as_it_is_undone_and_two_codings_are_refused(
    server: FeedServer,
) -> None:
    # 4 GiB of zeros once undone, about 4 MB on the wire: the read stops after 5 MB undone.
    server.routes["/bomb"] = Answer(bomb=4096)
    with pytest.raises(OperationalError) as caught:
        fetch.get(server.url + "/bomb", allow=ALLOW_LOOPBACK)
    assert caught.value.message == f"{server.url}/bomb sent more than 5 MB: refused"
    sent, total = wait_for(lambda: server.streamed.get("/bomb"), "the bomb's sending to stop")
    assert sent < total

    # The replay: a few hundred bytes, gzip twice, 64 MiB undone; refused unread.
    first, block = zeros_gzip()
    double = gzip.compress(first + block * 63)
    assert len(double) < 1000
    for coding in ("gzip, gzip", "gzip,x-gzip", "identity, gzip, deflate"):
        server.routes["/double"] = Answer(body=double, headers={"content-encoding": coding})
        with pytest.raises(OperationalError, match="content codings") as caught:
            fetch.get(server.url + "/double", allow=ALLOW_LOOPBACK)
        assert caught.value.message.endswith(": refused, as only one is undone")
    server.routes["/br"] = Answer(body=b"x", headers={"content-encoding": "br"})
    with pytest.raises(OperationalError, match="sent content coding 'br', which was not asked"):
        fetch.get(server.url + "/br", allow=ALLOW_LOOPBACK)


def test_one_gzip_or_deflate_layer_is_undone(server: FeedServer) -> None:
    feed = (FEEDS / "rss2.xml").read_bytes()
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    bodies = {
        "gzip": gzip.compress(feed),
        "deflate": zlib.compress(feed),
        "deflate, identity": raw.compress(feed) + raw.flush(),  # raw deflate, as some send it
    }
    for n, (coding, body) in enumerate(bodies.items()):
        server.routes[f"/{n}"] = Answer(body=body, headers={"content-encoding": coding})
        assert fetch.get(f"{server.url}/{n}", allow=ALLOW_LOOPBACK).body == feed, coding
    server.routes["/broken"] = Answer(body=b"not gzip", headers={"content-encoding": "gzip"})
    with pytest.raises(OperationalError, match="could not be decoded"):
        fetch.get(server.url + "/broken", allow=ALLOW_LOOPBACK)
