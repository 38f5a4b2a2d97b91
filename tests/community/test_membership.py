"""Issue 16's community items, each an attack reproduced and refused, on both databases: ids
never reused, links bound to a per-subscriber key and expiring, sign-ups that tell nothing and
change nothing until confirmed, caps per mailbox, names without links, and issue 17's
"Your subscription" page (a one-time link by mail)."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from jinja2 import Environment
from sqlalchemy import Engine, select

from publisher import store
from publisher.community import links, subscribers, subscriptions
from publisher.delivery import outbox
from publisher.models import Subscriber
from publisher.settings import Settings
from publisher.tokens import Signer, TokenError
from publisher.web import create_app
from tests.links import token
from tests.processes import cli
from tests.smtp import SmtpServer
from tests.support import SECRET, make_settings

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SIGNER = Signer(SECRET)


def app_at(settings: Settings, engine: Engine, now: datetime = NOW) -> TestClient:
    return TestClient(create_app(settings, engine, clock=lambda: now, feed_upkeep_every=None))


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    return app_at(settings, engine)


def join(engine: Engine, email: str, *, name: str = "", confirmed: bool = True) -> int:
    view, _ = subscriptions.add_subscriber(
        engine, email, name=name, confirmed=confirmed, digests=[], known_digests=["daily"], now=NOW
    )
    return view.subscriber.id or 0


def row(engine: Engine, email: str) -> Subscriber | None:
    with store.reading(engine) as session:
        return store.subscriber_by_email(session, email)


def sent(engine: Engine, settings: Settings, now: datetime = NOW) -> list[bytes]:
    """Send the outbox to the Maildir; every mail sent so far."""
    outbox.send_due(engine, settings, now=now)
    folder = settings.var_dir / "mail" / "new"
    return [p.read_bytes() for p in sorted(folder.iterdir())] if folder.exists() else []


def path_in(message: bytes, route: str) -> str:
    found = re.search(
        rb"https://news\.example\.com(/" + route.encode() + rb"/[A-Za-z0-9._-]+)", message
    )
    assert found, message[:400]
    return found.group(1).decode()


# ------------------------------------------------------------------ 2. reused ids


def test_ids_are_never_reused_and_old_links_die_with_their_member(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    join(engine, "first@example.com")
    newest = join(engine, "newest@example.com")
    old_preferences = f"/preferences/{token(engine, 'preferences', newest)}"
    client.post("/subscribe", data={"email": "newest@example.com"})
    [mail] = sent(engine, settings)
    old_confirm = path_in(mail, "confirm")
    subscribers.remove_subscriber(engine, "newest@example.com", actor="test", now=NOW)
    stranger = join(engine, "stranger@example.com", confirmed=False)
    assert stranger > newest  # SQLite AUTOINCREMENT, PostgreSQL's sequence
    page = client.get(old_preferences)
    assert page.status_code == 400 and "stranger@example.com" not in page.text
    assert "subscription was removed" in page.text
    assert client.post(old_confirm).status_code == 400
    found = row(engine, "stranger@example.com")
    assert found is not None and found.status == "pending"  # not confirmed by someone else


def test_sign_out_of_all_links(client: TestClient, engine: Engine) -> None:
    member = join(engine, "aisyah@example.com")
    preferences = f"/preferences/{token(engine, 'preferences', member)}"
    unsubscribe = f"/unsubscribe/{token(engine, 'unsubscribe', member)}"
    page = client.get(preferences)
    assert "Sign out of all links" in page.text
    done = client.post(f"{preferences}/sign-out")
    assert done.status_code == 200 and "no longer works" in done.text
    for old in (client.get(preferences), client.post(unsubscribe)):
        assert old.status_code == 400 and "signed out of all links" in old.text
    found = row(engine, "aisyah@example.com")
    assert found is not None and found.status == "confirmed"  # still subscribed
    fresh = f"/preferences/{token(engine, 'preferences', member)}"
    assert client.get(fresh).status_code == 200  # the next digest's links work


@pytest.mark.slow
def test_cli_rotate_links_and_clear_bounce(tmp_path: Path, database_url: str) -> None:
    engine = store.make_engine(database_url)
    try:
        member = join(engine, "aisyah@example.com")
        before = token(engine, "preferences", member)
        done = cli(tmp_path, database_url, "subscribers", "rotate-links", "Aisyah@Example.com")
        assert done.returncode == 0, done.stderr
        assert "every earlier link now fails" in done.stdout
        with pytest.raises(TokenError):
            subscriptions.member(engine, SIGNER, "preferences", before, now=NOW)
        missing = cli(tmp_path, database_url, "subscribers", "rotate-links", "no@example.com")
        assert missing.returncode != 0 and "no subscriber" in missing.stderr
        not_bounced = cli(
            tmp_path, database_url, "subscribers", "clear-bounce", "aisyah@example.com"
        )
        assert not_bounced.returncode != 0 and "has not bounced" in not_bounced.stderr
        with store.writing(engine) as session:
            store.set_subscriber_status(session, member, "bounced", now=NOW)
        cleared = cli(tmp_path, database_url, "subscribers", "clear-bounce", "aisyah@example.com")
        assert cleared.returncode == 0, cleared.stderr
        found = row(engine, "aisyah@example.com")
        assert found is not None and found.status == "unsubscribed"
    finally:
        engine.dispose()


def test_the_migration_keys_existing_members_and_keeps_their_rows(tmp_path: Path) -> None:
    """Migration 0008 on SQLite rebuilds the table with AUTOINCREMENT: nothing pointing at a
    subscriber is lost, each member gets a key, and unsubscribe links already in inboxes
    keep working for a while (preferences links do not: they could show someone's page)."""
    import hmac
    from base64 import urlsafe_b64encode

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    engine = store.make_engine(f"sqlite:///{tmp_path}/old.db")
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0007")
        conn.execute(
            text(
                "INSERT INTO subscribers (id, email, name, status, created_at, updated_at) "
                "VALUES (1, 'a@example.com', 'A', 'confirmed', :t, :t), "
                "(2, 'b@example.com', 'B', 'confirmed', :t, :t)"
            ),
            {"t": NOW.replace(tzinfo=None)},
        )
        conn.execute(text("INSERT INTO subscriptions VALUES (1, 'daily'), (2, 'daily')"))
        conn.execute(text("DELETE FROM subscribers WHERE id = 2"))
    store.migrate(engine)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT subscriber_id FROM subscriptions")).all() == [(1,)]
            schema = conn.execute(text("SELECT sql FROM sqlite_master WHERE name='subscribers'"))
            assert "AUTOINCREMENT" in schema.scalar_one()
        found = row(engine, "a@example.com")
        assert found is not None and len(found.link_key) >= 32
        assert found.legacy_links_until is not None and found.legacy_links_until > NOW
        key = hmac.digest(SECRET.encode(), b"newsflash:unsubscribe", "sha256")
        signature = urlsafe_b64encode(hmac.digest(key, b"1", "sha256")[:16]).rstrip(b"=")
        legacy = f"1.{signature.decode()}"  # an unsubscribe link mailed before the upgrade
        assert subscriptions.unsubscribe(engine, SIGNER, legacy, now=NOW).subscriber.id == 1
        with pytest.raises(TokenError):  # only unsubscribe links, and only a while
            subscriptions.member(engine, SIGNER, "preferences", legacy, now=NOW)
        with pytest.raises(TokenError):
            subscriptions.member(
                engine, SIGNER, "unsubscribe", legacy, now=datetime.now(UTC) + timedelta(days=61)
            )
        # An id removed before the upgrade is not known to it; from then on, none is reused.
        subscribers.remove_subscriber(engine, "a@example.com", actor="test", now=NOW)
        assert join(engine, "c@example.com") == 2
    finally:
        engine.dispose()


# -------------------------------------------------- 3. who is a member, told by sign-up


def test_signup_answers_the_same_and_never_shows_the_mail_servers_reply(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    join(engine, "member@corp.example")
    smtp.recorder.plans["x@corp.example"] = ["550 5.1.1 <x@corp.example>: User unknown"]
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL=smtp.url
    )
    client = app_at(settings, engine)
    answers = [
        client.post("/subscribe", data={"email": address})
        for address in ("x@corp.example", "member@corp.example")
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].text.replace("x@", "@") == answers[1].text.replace("member@", "@")
    assert "User unknown" not in answers[0].text and "127.0.0.1" not in answers[0].text
    # The mail goes out apart from the answer; the refusal is logged and kept, not shown.
    assert outbox.send_due(engine, settings, now=NOW) == (1, 1)
    assert [r.recipient for r in smtp.recorder.received] == ["member@corp.example"]
    with store.reading(engine) as session:
        assert store.outbox_counts(session) == {"failed": 1, "sent": 1}


def test_the_daemon_worker_sends_queued_mail_with_back_off(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    smtp.recorder.plans["later@example.com"] = ["451 4.3.0 try again later"]
    settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_SMTP_URL=smtp.url
    )
    env = community_env(settings)
    assert subscriptions.signup(
        engine,
        settings,
        SIGNER,
        env,
        "later@example.com",
        name="",
        digests=[],
        known_digests=["daily"],
        now=NOW,
    )
    assert outbox.send_due(engine, settings, now=NOW) == (0, 1)  # 451: kept for later
    assert outbox.send_due(engine, settings, now=NOW + timedelta(seconds=59)) == (0, 0)
    # The retry comes after PUBLISHER_SEND_RETRY_BASE (60 s by default), from the worker loop
    # the daemon runs (`publisher run` and `publisher deliver`).
    stop = threading.Event()
    worker = threading.Thread(
        target=outbox.work,
        args=(engine, settings, stop),
        kwargs={"clock": lambda: NOW + timedelta(seconds=60)},
    )
    worker.start()
    try:
        [mail] = smtp.recorder.wait_for(1)
    finally:
        stop.set()
        worker.join()
    assert mail.recipient == "later@example.com" and b"/confirm/" in mail.data
    with store.reading(engine) as session:
        assert store.outbox_counts(session) == {"sent": 1}


@pytest.mark.slow
def test_deliver_once_sends_the_outbox(
    engine: Engine, tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    subscriptions.signup(
        engine,
        settings,
        SIGNER,
        community_env(settings),
        "cli@example.com",
        name="",
        digests=[],
        known_digests=["daily"],
        now=datetime.now(UTC),
    )
    done = cli(
        tmp_path,
        database_url,
        "deliver",
        "--once",
        PUBLISHER_SMTP_URL=smtp.url,
        PUBLISHER_SCHEDULES=str(tmp_path / "schedules.yaml"),
    )
    assert done.returncode == 0, done.stderr
    assert "outbox: sent 1, kept 0 for later" in done.stdout
    assert [r.recipient for r in smtp.recorder.received] == ["cli@example.com"]


def community_env(settings: Settings) -> Environment:
    from publisher.templating import make_environment

    return make_environment(zone=settings.zone)


# --------------------------------------------- 8. sign-ups change nothing until confirmed


def test_a_bounced_address_stays_bounced_until_an_editor_clears_it(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    member = join(engine, "gone@example.com")
    client.post("/subscribe", data={"email": "gone@example.com"})
    [before_bounce] = sent(engine, settings)
    with store.writing(engine) as session:
        store.set_subscriber_status(session, member, "bounced", now=NOW)
    again = client.post("/subscribe", data={"email": "gone@example.com"})
    assert again.status_code == 200 and "Check your inbox" in again.text
    assert len(sent(engine, settings)) == 1  # nothing mailed to a bounced address
    refused = client.post(path_in(before_bounce, "confirm"))
    assert refused.status_code == 400 and "bounced" in refused.text
    found = row(engine, "gone@example.com")
    assert found is not None and found.status == "bounced"
    subscribers.clear_bounce(engine, "gone@example.com", actor="test", now=NOW)
    client.post("/subscribe", data={"email": "gone@example.com"})
    fresh = sent(engine, settings)[-1]
    assert client.post(path_in(fresh, "confirm")).status_code == 200
    found = row(engine, "gone@example.com")
    assert found is not None and found.status == "confirmed"


def test_a_signup_changes_nothing_of_an_existing_person_until_they_confirm(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    from publisher.articles import publish

    examples = Path(__file__).resolve().parents[2] / "examples" / "articles"
    publish.import_articles(engine, settings, [examples], now=NOW, actor="test")
    member = join(engine, "left@example.com", name="Aisyah")
    with store.writing(engine) as session:
        store.set_subscriber_status(session, member, "unsubscribed", now=NOW)
    topic = subscriptions.categories(engine, now=NOW)[0][0]
    client.post(
        "/subscribe",
        data={"email": "left@example.com", "name": "Mallory", "category": topic},
    )
    found = row(engine, "left@example.com")
    assert found is not None and (found.name, found.status) == ("Aisyah", "unsubscribed")
    with store.reading(engine) as session:
        assert store.interests_of(session, [member])[member] == []
    [mail] = sent(engine, settings)
    assert client.post(path_in(mail, "confirm")).status_code == 200  # they did ask: applied
    found = row(engine, "left@example.com")
    assert found is not None and (found.name, found.status) == ("Mallory", "confirmed")
    with store.reading(engine) as session:
        assert store.interests_of(session, [member])[member] == [topic]


# ------------------------------------------------ 9. caps per mailbox, names without links


def test_plus_addressing_shares_one_mailboxs_cap(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    for tag in ("", "+a", "+b", "+C", "+d"):
        answer = client.post("/subscribe", data={"email": f"Victim{tag}@example.com"})
        assert answer.status_code == 200
    assert len(sent(engine, settings)) == 3


@pytest.mark.parametrize(
    "name",
    [
        "verify at https://evil.example/login",
        "www.evil.example",
        "Go to evil.example now",
        "mail admin@evil.example",
        "x" * 81,
    ],
)
def test_names_with_links_or_long_text_are_refused(
    client: TestClient, engine: Engine, settings: Settings, name: str
) -> None:
    answer = client.post("/subscribe", data={"email": "victim@example.com", "name": name})
    assert answer.status_code == 400
    assert "no web or email addresses" in answer.text or "under 80 characters" in answer.text
    assert sent(engine, settings) == [] and row(engine, "victim@example.com") is None


def test_the_name_is_never_in_the_subject(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    client.post("/subscribe", data={"email": "wei@example.com", "name": "Wei Jie"})
    [mail] = sent(engine, settings)
    subject = re.search(rb"Subject: (.*)", mail)
    assert subject and b"Wei" not in subject.group(1) and b"Hello Wei Jie" in mail


# --------------------------------------------------------- 7 and 14. tokens and expiry


def test_another_spelling_of_a_token_is_a_400(client: TestClient, engine: Engine) -> None:
    member = join(engine, "aisyah@example.com")
    good = token(engine, "preferences", member)
    assert good[-1] in "AQgw"
    twin = good[:-1] + {"A": "B", "Q": "R", "g": "h", "w": "x"}[good[-1]]
    for spelling in (twin, good + "=="):
        page = client.get(f"/preferences/{spelling}")
        assert page.status_code == 400 and "not valid" in page.text


def test_preferences_and_unsubscribe_links_expire(engine: Engine, settings: Settings) -> None:
    member = join(engine, "aisyah@example.com")
    client = app_at(settings, engine)
    client.post("/subscribe", data={"email": "aisyah@example.com"})
    [mail] = sent(engine, settings)
    # A GET on a confirmed member's confirm link (a scanner, anyone the mail reached) only
    # shows the button; the page after confirming links to preferences, for 90 days.
    assert "/preferences/" not in client.get(path_in(mail, "confirm")).text
    page = client.post(path_in(mail, "confirm"))
    found = re.search(r'href="(/preferences/[^"]+)"', page.text)
    assert found is not None
    assert app_at(settings, engine, NOW + timedelta(days=89)).get(found[1]).status_code == 200
    late = app_at(settings, engine, NOW + timedelta(days=90)).get(found[1])
    assert late.status_code == 400 and "expired" in late.text and "/subscription" in late.text
    with store.reading(engine) as session:
        key = session.scalar(
            select(store.subscribers_t.c.link_key).where(store.subscribers_t.c.id == member)
        )
    digest = links.member_links(SIGNER, "", member, key or "", now=NOW)
    year = app_at(settings, engine, NOW + timedelta(days=364)).get(digest["unsubscribe"])
    assert year.status_code == 200
    after = app_at(settings, engine, NOW + timedelta(days=365)).get(digest["unsubscribe"])
    assert after.status_code == 400 and "expired" in after.text


# ---------------------------------------------------- issue 17: "Your subscription" page


def test_your_subscription_mails_a_one_time_link_to_members_only(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    join(engine, "aisyah@example.com")
    form = client.get("/subscription")
    assert form.status_code == 200 and 'action="/subscription"' in form.text
    member = client.post("/subscription", data={"email": "Aisyah@Example.com"})
    stranger = client.post("/subscription", data={"email": "nobody@example.com"})
    assert member.status_code == stranger.status_code == 200
    assert member.text.replace("Aisyah@Example.com", "@") == stranger.text.replace(
        "nobody@example.com", "@"
    )
    [mail] = sent(engine, settings)
    assert b"To: aisyah@example.com" in mail
    link = path_in(mail, "subscription")
    button = client.get(link)  # a link scanner's GET uses nothing up
    assert button.status_code == 200 and "<button" in button.text
    opened = client.post(link, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"].startswith("/preferences/")
    assert "aisyah@example.com" in client.get(opened.headers["location"]).text
    for again in (client.get(link), client.post(link)):
        assert again.status_code == 400 and "used already" in again.text
    client.post("/subscription", data={"email": "aisyah@example.com"})
    fresh = path_in(sent(engine, settings)[-1], "subscription")
    late = app_at(settings, engine, NOW + timedelta(hours=1)).post(fresh)
    assert late.status_code == 400 and "expired" in late.text


def test_your_subscription_is_capped_and_rate_limited(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    join(engine, "aisyah@example.com")
    for tag in ("", "+a", "+b", "+c"):
        client.post("/subscription", data={"email": f"aisyah{tag}@example.com"})
    assert len(sent(engine, settings)) == 1  # aisyah+a... are not members; the cap counts them
    statuses = [
        client.post("/subscription", data={"email": f"r{n}@example.com"}).status_code
        for n in range(7)
    ]
    assert statuses[-1] == 429 and statuses[:6] == [200] * 6
    bad = client.post("/subscription", data={"email": "not-an-address"})
    assert bad.status_code in (400, 429)
