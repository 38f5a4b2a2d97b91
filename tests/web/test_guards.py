"""The guards on every request (issue 16): the cross-site guard, the Host header, trusted
proxies and the per-client limit, error pages without internals and with the security
headers, on both databases where one is involved."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from publisher import store
from publisher.articles import publish
from publisher.errors import ConfigError
from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.guards import ClientLimit, client_key
from tests.support import EXAMPLES, NOW, make_settings

REPORT = {"article": "durian-exports-rail", "message": "The date is wrong."}


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def test_origin_null_is_refused(client: TestClient) -> None:
    # The attack: a sandboxed frame or a data: URL posts with "Origin: null" and, in a browser
    # without Sec-Fetch-Site, got through.
    for path, form in (("/report", REPORT), ("/subscribe", {"email": "x@example.com"})):
        refused = client.post(path, data=form, headers={"Origin": "null"})
        assert refused.status_code == 403, path
        also = client.post(path, data=form, headers={"Origin": "null", "Sec-Fetch-Site": "none"})
        assert also.status_code == 403, path
    own = client.post("/report", data=REPORT, headers={"Origin": "https://news.example.com"})
    assert own.status_code == 200


def test_the_host_header_is_not_the_site(client: TestClient) -> None:
    # The attack: an Origin of the attacker's site passed when the Host header named it too.
    forged = {"Origin": "https://evil.example", "Host": "evil.example"}
    assert client.post("/report", data=REPORT, headers=forged).status_code == 403
    # And redirects the app makes name PUBLISHER_SITE_URL, not the Host a client sent.
    moved = client.get("/digests", headers={"Host": "evil.example"}, follow_redirects=False)
    assert moved.status_code in (301, 307, 308)
    assert moved.headers["location"] == "https://news.example.com/digests/"


def signups(client: TestClient, forwarded: list[str]) -> list[int]:
    # The honeypot field: the limit is counted first, and nothing else is done.
    return [
        client.post(
            "/subscribe",
            data={"email": "x@example.com", "website": "bot"},
            headers={"X-Forwarded-For": value},
        ).status_code
        for value in forwarded
    ]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_x_forwarded_for_is_believed_only_from_trusted_proxies(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    def app_client(**values: str) -> TestClient:
        settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url, **values)
        app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
        return TestClient(app, client=("127.0.0.1", 40000))

    # The attack: a fresh X-Forwarded-For on each post, from 127.0.0.1, was a fresh client.
    spoofed = [f"198.51.100.{n}" for n in range(11)]
    assert signups(app_client(), spoofed)[-1] == 429  # by default nobody is believed
    behind = app_client(PUBLISHER_TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/8")
    # Behind the proxy: the right-most hop that is not a trusted proxy is the client, so what
    # the client wrote to the left of it changes nothing.
    hops = [f"{address}, 203.0.113.7, 10.1.2.3" for address in spoofed]
    assert signups(behind, hops)[-1] == 429
    assert signups(behind, ["203.0.113.8"]) == [200]  # another client has its own count
    # IPv6: one /64 is one client.
    same_net = [f"2001:db8:1:2::{n:x}" for n in range(1, 12)]
    assert signups(behind, same_net)[-1] == 429
    assert signups(behind, ["2001:db8:1:3::1"]) == [200]


def test_the_limiter_forgets_the_oldest_client_not_everyone() -> None:
    limit = ClientLimit(per_window=2, window=600.0, keys=3)
    for client in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        assert limit.allow(client, 0.0) and limit.allow(client, 1.0)
    assert not limit.allow("192.0.2.2", 2.0)
    # A flood of new addresses used to clear every bucket at the key limit.
    assert limit.allow("192.0.2.4", 3.0)
    assert not limit.allow("192.0.2.2", 4.0) and not limit.allow("192.0.2.3", 4.0)
    assert limit.allow("192.0.2.1", 5.0)  # the least recently seen was forgotten
    assert client_key("2001:db8::1") == client_key("2001:db8::ffff:1") == "2001:db8::/64"
    assert client_key("::ffff:192.0.2.1") == "192.0.2.1"


def test_trusted_proxies_must_be_addresses(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        make_settings(tmp_path, PUBLISHER_TRUSTED_PROXIES="127.0.0.1 proxy.example")
    assert "'proxy.example' is not an IP address or network" in raised.value.details[0]


def test_a_database_that_is_down_is_not_described_to_visitors(tmp_path: Path) -> None:
    # The attack: /healthz and error pages showed the database's URL (user, host, database).
    url = "postgresql+psycopg://newsdesk:pw@127.0.0.1:9/newsroom_prod"
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=url)
    engine = store.make_engine(url)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    health = client.get("/healthz")
    assert health.status_code == 503 and health.json()["database"] == "unavailable"
    page = client.get("/")
    assert page.status_code == 503 and "try again in a few minutes" in page.text
    for answer in (health, page):
        assert "newsroom_prod" not in answer.text and "newsdesk" not in answer.text
        assert "127.0.0.1" not in answer.text
    engine.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_server_error_carries_the_security_headers(
    engine: Engine, settings: Settings, database_url: str
) -> None:
    # An error nothing expected (here a table gone from under the app; SQLite only, as the
    # PostgreSQL database is shared by the session) is a plain 500 page, with the headers.
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE corrections"))
        conn.execute(text("DROP TABLE article_categories"))
        conn.execute(text("DROP TABLE edition_articles"))
        conn.execute(text("DROP TABLE articles"))
    failed = TestClient(app, raise_server_exceptions=False).get("/")
    assert failed.status_code == 500
    assert "default-src 'self'" in failed.headers["content-security-policy"]
    assert failed.headers["x-frame-options"] == "DENY"
    assert "Something went wrong" in failed.text and "articles" not in failed.text


def test_docs_are_served_from_here_with_a_policy(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_API_TOKEN="t" * 20
    )
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "script-src 'self'" in docs.headers["content-security-policy"]
    assert "//" not in docs.text.replace("<!doctype", "")  # nothing from another site
    assert client.get("/static/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert "/api/articles" in client.get("/openapi.json").json()["paths"]


def test_a_report_keeps_its_lines_but_nothing_that_rewrites_them(
    client: TestClient, engine: Engine
) -> None:
    from publisher.community import subscriptions

    message = "Line one\r\nLine two\r#2 fake line \u202eevil\u2066 \x9b31m"
    assert client.post("/report", data={**REPORT, "message": message}).status_code == 200
    [report] = subscriptions.list_reports(engine)
    assert report.message == "Line one\nLine two\n#2 fake line evil 31m"


def test_error_reports_are_limited_per_client(client: TestClient) -> None:
    # Reports are stored for the editors: a client cannot fill the table (as sign-ups cannot).
    answers = [client.post("/report", data=REPORT).status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_mail_server_that_is_down_is_not_named_to_visitors(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL="smtp://127.0.0.1:9"
    )
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    # The mail is queued (issue 16, item 3): a down server changes nothing a visitor sees.
    down = client.post("/subscribe", data={"email": "later@example.com"})
    assert down.status_code == 200 and "later@example.com" in down.text
    assert "127.0.0.1" not in down.text and "refused" not in down.text.lower()
