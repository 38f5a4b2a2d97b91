"""The newsroom's subscribers (#12): search and filters, a person's page with their history
and trail, changes, removal, CSV import and export, bulk actions, and who may do any of it;
with the audit entries every change leaves, from the admin, the CLI's use cases and readers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.community import subscribers, subscriptions
from publisher.delivery import bounces
from publisher.delivery.bounces import Target
from publisher.mail.bounces import Finding
from publisher.models import AuditEntry, Delivery
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app
from tests.newsroom import add_person, form_token, newsroom_client, sign_in
from tests.support import NOW, make_settings

ADMIN = "chief@example.com"


def _client(engine: Engine, settings: Settings) -> TestClient:
    return newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )


def _admin(engine: Engine, settings: Settings) -> tuple[TestClient, str]:
    add_person(engine, settings, ADMIN, "admin")
    client = _client(engine, settings)
    return client, sign_in(client, ADMIN)


def _add(engine: Engine, email: str, *, name: str = "", confirmed: bool = True) -> int:
    view, _ = subscriptions.add_subscriber(
        engine, email, name=name, confirmed=confirmed, digests=[], known_digests=["daily"],
        now=NOW, actor="test",
    )  # fmt: skip
    return view.subscriber.id or 0


def _culture(engine: Engine, settings: Settings) -> None:
    """A published story in Culture, so that the category exists."""
    story = {"title": "A festival", "categories": ["Culture"], "published_at": "2026-01-01"}
    publish.import_objects(engine, settings, [story], source="test", actor="test", now=NOW)


def _trail(engine: Engine, subscriber_id: int) -> list[AuditEntry]:
    return subscribers.trail_of(engine, subscriber_id)


def test_search_filters_pages_and_counts(engine: Engine, settings: Settings) -> None:
    _culture(engine, settings)
    for n in range(55):
        _add(engine, f"reader{n:02d}@example.com")
    wei = _add(engine, "wei@example.org", name="Tan Wei Ling")
    _add(engine, "pending@example.org", confirmed=False)
    subscribers.change(
        engine, wei, subscribers.Change(categories=["culture"]), actor="test", now=NOW
    )  # fmt: skip
    client, _ = _admin(engine, settings)

    everyone = client.get("/admin/subscribers")
    assert everyone.status_code == 200
    assert "57</strong> subscribers match" in everyone.text and "page 1 of 2" in everyone.text
    assert ">56</span> confirmed" in everyone.text and ">1</span> pending" in everyone.text
    assert "pending@example.org" in everyone.text  # newest first
    older = client.get("/admin/subscribers?page=2")
    assert "reader00@example.com" in older.text and "pending@example.org" not in older.text

    by_name = client.get("/admin/subscribers", params={"q": "wei ling"})
    assert "1</strong> subscriber matches" in by_name.text and "wei@example.org" in by_name.text
    assert "1</strong> subscriber matches" in client.get("/admin/subscribers?q=PENDING@").text
    # LIKE's wildcards are searched for as themselves
    assert "0</strong> subscribers match" in client.get("/admin/subscribers?q=%25").text
    pending = client.get("/admin/subscribers?status=pending")
    assert "pending@example.org" in pending.text and "reader01@" not in pending.text
    chose = client.get("/admin/subscribers?category=culture")
    assert "1</strong> subscriber matches" in chose.text and "wei@example.org" in chose.text
    every = client.get("/admin/subscribers?category=*&digest=daily")
    assert "56</strong> subscribers match" in every.text
    wrong = client.get("/admin/subscribers?status=nobody")
    assert wrong.status_code == 400 and "unknown status" in wrong.text


def test_a_persons_page_shows_their_history_and_trail(engine: Engine, settings: Settings) -> None:
    signer = Signer.of(settings.secret_key)
    env = make_environment(zone=settings.zone)
    assert subscriptions.signup(
        engine, settings, signer, env, "Aisyah@Example.com", name="Aisyah", digests=["daily"],
        known_digests=["daily"], now=NOW,
    )  # fmt: skip
    with store.writing(engine) as session:
        person = store.subscriber_by_email(session, "aisyah@example.com")
        assert person is not None and person.id is not None
        store.set_subscriber_status(session, person.id, "confirmed", now=NOW)
        edition, _ = store.create_edition(
            session, "daily", "2026-01-01", nominal_at=NOW - timedelta(days=1), now=NOW
        )
        session.add(
            Delivery(
                edition_id=edition.id or 0, subscriber_id=person.id, email=person.email,
                status="failed", attempts=1, next_attempt_at=NOW,
                last_error="550 5.1.1 <aisyah@example.com>: no such user",
            )
        )  # fmt: skip
    client, _ = _admin(engine, settings)
    page = client.get(f"/admin/subscribers/{person.id}")
    assert page.status_code == 200
    assert "Asked for a sign-up (confirmation link)" in page.text
    assert "One-off mail" in page.text  # the confirmation mail, queued
    assert f"Edition #{edition.id} (daily)" in page.text
    assert "the server said: 550 5.1.1 &lt;aisyah@example.com&gt;: no such user" in page.text
    assert "subscriber.signup" in page.text and "reader" in page.text  # the trail
    assert client.get("/admin/subscribers/999999").status_code == 404
    assert client.get("/admin/subscribers/0").status_code == 404


def test_changing_a_subscriber_is_checked_and_recorded(engine: Engine, settings: Settings) -> None:
    _culture(engine, settings)
    wei = _add(engine, "wei@example.org")
    client, csrf = _admin(engine, settings)
    form = {"csrf": csrf, "name": "Wei <b>L</b>", "status": "unsubscribed", "category": "culture"}
    saved = client.post(f"/admin/subscribers/{wei}", data=form, follow_redirects=False)
    assert saved.status_code == 303
    page = client.get(saved.headers["location"])
    assert "Saved." in page.text and "Wei &lt;b&gt;L&lt;/b&gt;" in page.text
    [entry, _added] = _trail(engine, wei)
    assert (entry.actor, entry.action) == (ADMIN, "subscriber.change")
    assert json.loads(entry.before) == {
        "name": "", "status": "confirmed", "digests": "daily", "categories": "all",
    }  # fmt: skip
    assert json.loads(entry.after) == {
        "name": "Wei <b>L</b>", "status": "unsubscribed", "digests": "none",
        "categories": "culture",
    }  # fmt: skip

    # Consent: an editor cannot bring an unsubscribed address back; nothing typed is lost.
    back = {"csrf": csrf, "name": "Someone else", "status": "confirmed", "digest": "daily"}
    refused = client.post(f"/admin/subscribers/{wei}", data=back)
    assert refused.status_code == 400
    assert "only when the person signs up and confirms again" in refused.text
    assert 'aria-describedby="status-error"' in refused.text
    assert 'value="Someone else"' in refused.text
    unknown = {"csrf": csrf, "status": "unsubscribed", "category": "sport", "digest": "weekly"}
    refused = client.post(f"/admin/subscribers/{wei}", data=unknown)
    assert refused.status_code == 400 and "unknown category" in refused.text
    assert "unknown digest(s) weekly" in refused.text
    view = subscribers.person(engine, wei).member
    assert (view.subscriber.name, view.subscriber.status) == ("Wei <b>L</b>", "unsubscribed")
    assert len(_trail(engine, wei)) == 2


def test_removing_asks_first_and_the_trail_stays(engine: Engine, settings: Settings) -> None:
    wei = _add(engine, "wei@example.org")
    client, csrf = _admin(engine, settings)
    ask = client.get(f"/admin/subscribers/{wei}/remove")
    assert ask.status_code == 200 and "Remove wei@example.org?" in ask.text
    assert subscribers.person(engine, wei)  # asking changed nothing
    done = client.post(f"/admin/subscribers/{wei}/remove", data={"csrf": form_token(ask.text)})
    assert done.status_code == 200 and "Removed wei@example.org" in done.text
    assert "subscriber.remove" in done.text
    assert client.get(f"/admin/subscribers/{wei}").status_code == 404
    assert client.post(f"/admin/subscribers/{wei}/remove", data={"csrf": csrf}).status_code == 404
    [removed, _added] = _trail(engine, wei)
    assert removed.action == "subscriber.remove" and removed.after == ""
    assert json.loads(removed.before)["status"] == "confirmed"


def test_an_import_with_a_bad_row_imports_nothing(engine: Engine, settings: Settings) -> None:
    client, csrf = _admin(engine, settings)
    bad = "email,name,status\nann@example.com,Ann,confirmed\nnot-an-address,Bob,confirmed\n"
    answer = client.post(
        "/admin/subscribers/import",
        data={"csrf": csrf},
        files={"file": ("../../etc/subscribers.csv", bad.encode(), "text/csv")},
    )
    assert answer.status_code == 400
    assert "subscribers.csv: nothing imported: 1 problem(s)" in answer.text
    assert "subscribers.csv:3: " in answer.text and "/tmp" not in answer.text
    assert subscribers.find(engine, store.SubscriberFilter()).total == 0

    good = (
        "email,name,status\nann@example.com,Ann,confirmed\n"
        "ANN@example.com,,\nbo@example.com,Bo,pending\n"
    )
    answer = client.post(
        "/admin/subscribers/import",
        data={"csrf": csrf},
        files={"file": ("subscribers.csv", good.encode(), "text/csv")},
    )
    assert answer.status_code == 200, answer.text
    assert "2 added, 0 updated, 1 duplicate row(s) merged" in answer.text
    found = subscribers.find(engine, store.SubscriberFilter(text="ann@"))
    [entry] = _trail(engine, found.members[0].subscriber.id or 0)
    assert (entry.actor, entry.action) == (ADMIN, "subscriber.import")
    with store.reading(engine) as session:
        [summary] = store.audit_entries(session, kind="import")
    assert summary.subject_label == "upload subscribers.csv"
    assert json.loads(summary.after) == {"created": 2, "updated": 0, "merged": 1, "changed": 2}
    empty = client.post("/admin/subscribers/import", data={"csrf": csrf})
    assert empty.status_code == 400 and "Please choose a CSV file." in empty.text


def test_the_export_neutralises_formula_cells(engine: Engine, settings: Settings) -> None:
    _add(engine, "=cmd@example.com", name='=HYPERLINK("http://evil")')
    _add(engine, "plain@example.com", name="@SUM(A1)")
    client, _ = _admin(engine, settings)
    answer = client.get("/admin/subscribers/export.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.headers["content-disposition"].startswith("attachment; filename=")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert {r["email"]: r["name"] for r in rows} == {
        "'=cmd@example.com": '\'=HYPERLINK("http://evil")',
        "plain@example.com": "'@SUM(A1)",
    }
    some = client.get("/admin/subscribers/export.csv?q=plain")
    assert [r["email"] for r in csv.DictReader(io.StringIO(some.text))] == ["plain@example.com"]


def test_bulk_actions_say_how_many_and_act_on_that_set(engine: Engine, settings: Settings) -> None:
    for n in range(3):
        _add(engine, f"team{n}@example.com")
    _add(engine, "other@example.org")
    client, csrf = _admin(engine, settings)
    ask = client.get("/admin/subscribers/bulk?q=team&action=unsubscribe")
    assert ask.status_code == 200 and "Unsubscribe 3 subscribers?" in ask.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', ask.text))
    # One more joins the set between counting and confirming: nothing is done.
    _add(engine, "team3@example.com")
    changed = client.post("/admin/subscribers/bulk", data=fields)
    assert changed.status_code == 409 and "the set changed since it was counted" in changed.text
    assert "Unsubscribe 4 subscribers?" in changed.text
    assert subscribers.find(engine, store.SubscriberFilter(status="unsubscribed")).total == 0
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', changed.text))
    done = client.post("/admin/subscribers/bulk", data=fields)
    assert done.status_code == 200 and "Unsubscribed 4 subscribers." in done.text
    assert subscribers.find(engine, store.SubscriberFilter(status="unsubscribed")).total == 4
    with store.reading(engine) as session:
        entries = store.audit_entries(session, actor=ADMIN)
    assert sorted(e.action for e in entries if e.action.startswith("subscriber")) == [
        *["subscriber.bulk-unsubscribe"] * 4, "subscribers.bulk-unsubscribe",
    ]  # fmt: skip
    removal = client.get("/admin/subscribers/bulk?status=unsubscribed&action=remove")
    assert "Remove 4 subscribers?" in removal.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', removal.text))
    assert "Removed 4 subscribers." in client.post("/admin/subscribers/bulk", data=fields).text
    assert subscribers.find(engine, store.SubscriberFilter()).total == 1
    assert client.get("/admin/subscribers/bulk?action=explode").status_code == 400
    assert csrf


def test_only_admins_with_a_real_form_token_change_anything(
    engine: Engine, settings: Settings
) -> None:
    wei = _add(engine, "wei@example.org")
    stranger = _client(engine, settings)
    away = stranger.get("/admin/subscribers", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"].startswith("/admin/login")
    add_person(engine, settings, "editor@example.com", "editor")
    editor = _client(engine, settings)
    token = sign_in(editor, "editor@example.com")
    for path in ("/admin/subscribers", f"/admin/subscribers/{wei}", "/admin/subscribers/import",
                 "/admin/subscribers/export.csv"):  # fmt: skip
        assert editor.get(path).status_code == 403, path
    refused = editor.post(f"/admin/subscribers/{wei}/remove", data={"csrf": token})
    assert refused.status_code == 403
    upload = editor.post(
        "/admin/subscribers/import",
        data={"csrf": token},
        files={"file": ("people.csv", b"email\nnew@example.org\n", "text/csv")},
    )
    assert upload.status_code == 403
    client, _ = _admin(engine, settings)
    forged = client.post(f"/admin/subscribers/{wei}/remove", data={"csrf": "x" * 43})
    assert forged.status_code == 403 and "expired" in forged.text
    forged = client.post(
        f"/admin/subscribers/{wei}", data={"status": "unsubscribed", "name": "Forged"}
    )
    assert forged.status_code == 403
    view = subscribers.person(engine, wei).member
    assert (view.subscriber.status, view.subscriber.name) == ("confirmed", "")
    assert len(_trail(engine, wei)) == 1  # only the adding


def test_a_huge_upload_is_refused_with_a_page(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    small = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_MAX_IMPORT_BYTES="2048"
    )
    add_person(engine, small, ADMIN, "admin")
    client = newsroom_client(
        create_app(small, engine, clock=lambda: NOW, feed_upkeep_every=None), small
    )
    csrf = sign_in(client, ADMIN)
    assert "(at most 2 kB)" in client.get("/admin/subscribers/import").text
    big = "email\n" + "".join(f"r{n}@example.com\n" for n in range(200))
    answer = client.post(
        "/admin/subscribers/import",
        data={"csrf": csrf},
        files={"file": ("big.csv", big.encode(), "text/csv")},
    )
    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "Nothing was changed: the request body is larger than 2 kB" in answer.text
    assert subscribers.find(engine, store.SubscriberFilter()).total == 0
    # Up to the limit it is taken (the import limit, not the 2 MiB of every other form).
    fits = "email\n" + "".join(f"r{n}@example.com\n" for n in range(20))
    answer = client.post(
        "/admin/subscribers/import",
        data={"csrf": csrf},
        files={"file": ("fits.csv", fits.encode(), "text/csv")},
    )
    assert answer.status_code == 200 and "20 added" in answer.text


def test_readers_and_the_command_line_are_in_the_trail(engine: Engine, settings: Settings) -> None:
    signer = Signer.of(settings.secret_key)
    env = make_environment(zone=settings.zone)
    subscriptions.signup(
        engine, settings, signer, env, "ann@example.com", name="Ann", digests=["daily"],
        known_digests=["daily"], now=NOW,
    )  # fmt: skip
    with store.reading(engine) as session:
        [request] = store.audit_entries(session)
        ann = request.subject_id or 0
        confirm_id = store.requests_of(session, ann)[0].id or 0
    row = subscribers.person(engine, ann).member.subscriber
    link = signer.make("confirm", confirm_id, row.link_key, expires=NOW + timedelta(days=1))
    subscriptions.confirm(engine, signer, link, now=NOW)
    view = subscriptions.member(engine, signer, "confirm", link, now=NOW)
    preferences = subscriptions.preferences_token(signer, view, now=NOW)
    subscriptions.set_preferences(
        engine, signer, preferences, [], known_digests=["daily"], now=NOW
    )  # fmt: skip
    subscribers.rotate_links(engine, "ann@example.com", actor="cli:editor", now=NOW)
    with store.writing(engine) as session:
        store.set_subscriber_status(session, ann, "bounced", now=NOW)
    subscribers.clear_bounce(engine, "ANN@example.com", actor="cli:editor", now=NOW)
    subscribers.remove_subscriber(engine, "ann@example.com", actor="cli:editor", now=NOW)
    trail = [(e.actor, e.action) for e in reversed(_trail(engine, ann))]
    assert trail == [
        ("reader", "subscriber.signup"),
        ("reader", "subscriber.confirm"),
        ("reader", "subscriber.preferences"),
        ("cli:editor", "subscriber.rotate-links"),
        ("cli:editor", "subscriber.clear-bounce"),
        ("cli:editor", "subscriber.remove"),
    ]
    confirmed = _trail(engine, ann)[-2]
    assert json.loads(confirmed.after) == {"status": "confirmed"}


def test_a_pending_persons_confirmation_is_sent_again_from_their_page(
    engine: Engine, settings: Settings
) -> None:
    """Issue 25: nothing in the newsroom sent a pending person's confirmation mail again."""
    client, csrf = _admin(engine, settings)
    pending = _add(engine, "mei@example.com", confirmed=False)
    member = _add(engine, "kim@example.com")
    page = client.get(f"/admin/subscribers/{pending}").text
    assert f'action="/admin/subscribers/{pending}/confirm-again"' in page
    assert "/confirm-again" not in client.get(f"/admin/subscribers/{member}").text
    sent = client.post(
        f"/admin/subscribers/{pending}/confirm-again", data={"csrf": csrf}, follow_redirects=False
    )
    assert sent.status_code == 303
    assert "The confirmation mail is on its way" in client.get(sent.headers["location"]).text
    with store.reading(engine) as session:
        [queued] = [m for m in store.claim_outbox(session, now=NOW, lease_until=NOW, limit=9)]
    assert queued.recipient == "mei@example.com" and b"/confirm/" in queued.message
    assert "subscriber.confirmation-sent" in [e.action for e in _trail(engine, pending)]
    for _ in range(2):  # three a day, then a clear refusal
        client.post(f"/admin/subscribers/{pending}/confirm-again", data={"csrf": csrf})
    refused = client.post(f"/admin/subscribers/{pending}/confirm-again", data={"csrf": csrf})
    assert refused.status_code == 409
    assert "Nothing was sent: mei@example.com was sent 3 confirmation mails" in refused.text
    confirmed = client.post(f"/admin/subscribers/{member}/confirm-again", data={"csrf": csrf})
    assert confirmed.status_code == 409 and "is confirmed already" in confirmed.text


def test_a_bounce_shows_on_their_page_and_an_admin_clears_it(
    engine: Engine, settings: Settings
) -> None:
    """Issue 28: each report and what it did is on the subscriber's page; clearing a
    suppressed member is an audited change, and their soft bounces so far count no more."""
    lin = _add(engine, "lin@example.org")
    target = Target("lin@example.org", lin, 999, 1)  # an edition since deleted
    for n, kind in enumerate(("soft", "hard")):
        finding = Finding(kind, "lin@example.org", f"{5 - n}.1.1 mailbox unavailable")
        bounces.apply_finding(
            engine, settings, target, finding, key=f"k{n}", source="mailbox", now=NOW
        )
    client, csrf = _admin(engine, settings)
    page = client.get(f"/admin/subscribers/{lin}").text
    assert "Hard bounce reported" in page and "suppressed: no more mail" in page
    assert "Soft bounce reported" in page and "counted (below the soft bounce limit)" in page
    assert (_trail(engine, lin)[0].actor, _trail(engine, lin)[0].action) == (
        "mailbox report",
        "subscriber.bounce",
    )
    form = {"csrf": csrf, "name": "", "status": "unsubscribed"}
    saved = client.post(f"/admin/subscribers/{lin}", data=form, follow_redirects=False)
    assert saved.status_code == 303
    assert "cleared by an admin since" in client.get(f"/admin/subscribers/{lin}").text
    entry = _trail(engine, lin)[0]
    assert (entry.actor, json.loads(entry.after)["status"]) == (ADMIN, "unsubscribed")
    with store.reading(engine) as session:
        assert store.soft_bounces_since(session, lin, NOW - timedelta(days=1)) == 0
