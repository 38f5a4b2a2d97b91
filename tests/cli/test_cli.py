"""The command line as users run it: a real process, real exit codes, real stderr."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.processes import cli
from tests.smtp import SmtpServer
from tests.support import EXAMPLES, NOW, make_settings

# Every test runs `publisher` as a process, a second or two each.
pytestmark = pytest.mark.slow


def test_add_list_correct_unpublish(tmp_path: Path, database_url: str) -> None:
    added = cli(tmp_path, database_url, "articles", "add", str(EXAMPLES))
    assert added.returncode == 0, added.stderr
    assert "created penang-culture-forum" in added.stdout
    assert added.stdout.strip().endswith("6 created, 0 updated, 0 unchanged")

    corrected = cli(
        tmp_path,
        database_url,
        "articles",
        "correct",
        "durian-exports-rail",
        "--note",
        "The train carried 42 containers, not 24.",
    )
    assert corrected.returncode == 0, corrected.stderr
    # Readers saw it: unpublishing (no page left) is refused, naming the withdraw command.
    refused = cli(tmp_path, database_url, "articles", "unpublish", "penang-culture-forum")
    assert refused.returncode == 2, refused.stderr
    assert "readers have seen 'penang-culture-forum'" in refused.stderr
    assert "publisher articles withdraw penang-culture-forum --reason TEXT" in refused.stderr
    assert "Traceback" not in refused.stderr
    withdrawn = cli(
        tmp_path,
        database_url,
        "articles",
        "withdraw",
        "penang-culture-forum",
        "--reason",
        "the forum was called off",
    )
    assert withdrawn.returncode == 0, withdrawn.stderr
    assert "withdrew penang-culture-forum (it went out in 0 edition(s))" in withdrawn.stdout
    assert "its page stays at /articles/penang-culture-forum" in withdrawn.stdout
    again = cli(tmp_path, database_url, "articles", "unpublish", "penang-culture-forum")
    assert again.returncode == 2 and "is withdrawn" in again.stderr
    # A draft nobody saw is unpublished, once.
    (tmp_path / "spiked.md").write_text("---\ntitle: Spiked\n---\nNever out.\n")
    assert cli(tmp_path, database_url, "articles", "add", "--draft", "spiked.md").returncode == 0
    gone = cli(tmp_path, database_url, "articles", "unpublish", "spiked")
    assert gone.returncode == 0 and "unpublished spiked" in gone.stdout, gone.stderr
    twice = cli(tmp_path, database_url, "articles", "unpublish", "spiked")
    assert twice.returncode == 0 and "spiked was already unpublished" in twice.stdout

    listed = cli(tmp_path, database_url, "articles", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["slug"]: row for row in json.loads(listed.stdout)}
    assert len(rows) == 7
    for row in rows.values():
        assert row["id"].startswith("tag:")
        assert {"title", "status", "categories", "published_at", "updated_at"} <= set(row)
        assert row["published_at"].endswith("+00:00")
    assert rows["penang-culture-forum"]["status"] == "withdrawn"
    assert rows["penang-culture-forum"]["withdrawn_reason"] == "the forum was called off"
    assert rows["spiked"]["status"] == "unpublished"
    assert rows["durian-exports-rail"]["corrections"][0]["note"].startswith("The train")
    assert (
        rows["busan-independent-film-section"]["title"]
        == "부산 국제 영화제, 아시아 독립영화 부문 신설"
    )

    text = cli(tmp_path, database_url, "articles", "list")
    assert "withdrawn    penang-culture-forum" in text.stdout
    assert "unpublished  spiked" in text.stdout
    # Times in the site's zone, saying so (issue 25: UTC without a word).
    assert text.stdout.rstrip().endswith("times in Asia/Singapore (PUBLISHER_TIMEZONE)")
    assert all(" +08  " in line for line in text.stdout.splitlines()[:-1])


def test_bad_file_exits_2_with_file_and_line(tmp_path: Path, database_url: str) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("---\ntitle: Fine\nwhen: tomorrow\n---\nbody\n")
    result = cli(tmp_path, database_url, "articles", "add", str(bad))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Error: nothing imported: 1 problem(s)",
        f"{bad}:3: when: unknown key (allowed: title, slug, summary, body, body_html, "
        "published_at, author, editor, categories, image, source, ai_assisted, sponsored, "
        "corrections, language, translation_of)",
    ]
    assert "Traceback" not in result.stderr


def test_missing_things_are_clean_errors(tmp_path: Path, database_url: str) -> None:
    missing = cli(tmp_path, database_url, "articles", "add", "nowhere.md")
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        "Error: nowhere.md: no such file or folder",
    )
    unknown = cli(tmp_path, database_url, "articles", "correct", "nope", "--note", "x")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "Error: no article with slug 'nope'"
    usage = cli(tmp_path, database_url, "articles", "correct", "nope")
    assert usage.returncode == 2 and "--note" in usage.stderr
    # A delivery machine without the timetable stops before sending anything.
    workers = cli(tmp_path, database_url, "deliver", "--once")
    assert (workers.returncode, workers.stderr.strip()) == (
        2,
        "Error: schedules.yaml: no such file (run `publisher init` to create one)",
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_settings_and_unreachable_database(tmp_path: Path, database_url: str) -> None:
    bad = cli(tmp_path, database_url, "articles", "list", PUBLISHER_SITE_URL="nope")
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0] == "Error: invalid settings"
    assert "PUBLISHER_SITE_URL" in bad.stderr and "Traceback" not in bad.stderr
    down = cli(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none", "articles", "list")
    assert down.returncode == 1
    assert down.stderr.startswith("Error: cannot reach the database at postgresql+psycopg://")
    assert len(down.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_init_creates_key_and_timetable(tmp_path: Path, database_url: str) -> None:
    result = cli(tmp_path, database_url, "init", PUBLISHER_SECRET_KEY="")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "secret.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "schedules.yaml").exists()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_reports_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    from publisher import store
    from publisher.articles import publish
    from publisher.community import subscriptions

    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    engine = store.make_engine(database_url)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    subscriptions.report_error(engine, "penang-culture-forum", "The date is wrong.", "", now=NOW)
    engine.dispose()
    listed = cli(tmp_path, database_url, "reports", "list")
    assert listed.returncode == 0, listed.stderr
    assert "#1 " in listed.stdout and "penang-culture-forum" in listed.stdout
    assert "The date is wrong." in listed.stdout
    assert cli(tmp_path, database_url, "reports", "resolve", "1").stdout.strip() == "resolved #1"
    missing = cli(tmp_path, database_url, "reports", "resolve", "99")
    assert (missing.returncode, missing.stderr.strip()) == (1, "Error: no report 99")
    assert cli(tmp_path, database_url, "reports", "list").stdout.strip() == "0 report(s)"


def test_subscribers_from_the_command_line(tmp_path: Path, database_url: str) -> None:
    assert cli(tmp_path, database_url, "init").returncode == 0
    assert cli(tmp_path, database_url, "articles", "add", str(EXAMPLES)).returncode == 0
    added = cli(
        tmp_path,
        database_url,
        *("subscribers", "add", "Wei@Example.com", "--confirmed"),
        *("--category", "Transport", "--category", "malaysia"),
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == (
        "added wei@example.com (confirmed; digests: daily; categories: malaysia transport)"
    )
    unknown = cli(
        tmp_path, database_url, "subscribers", "add", "new@example.com", "--category", "sport"
    )
    assert unknown.returncode != 0 and "unknown category 'sport' (known: brand-studio" in (
        unknown.stderr
    )
    listing = tmp_path / "in.csv"
    listing.write_text("email,categories\npriya@example.com,culture\nbad,\n")
    refused = cli(tmp_path, database_url, "subscribers", "import", str(listing))
    assert refused.returncode != 0 and f"{listing}:3: " in refused.stderr
    listing.write_text("email,categories\npriya@example.com,culture\n")
    imported = cli(tmp_path, database_url, "subscribers", "import", str(listing))
    assert imported.stdout.strip() == (
        f"{listing}: 1 added, 0 updated, 0 duplicate row(s) merged"
    ), imported.stderr
    listed = cli(tmp_path, database_url, "subscribers", "list").stdout.splitlines()
    assert "new@example.com" not in "\n".join(listed)
    assert listed[0].split() == ["wei@example.com", "confirmed", "daily", "[malaysia", "transport]"]
    assert listed[1].split() == ["priya@example.com", "confirmed", "daily", "[culture]"]
    exported = cli(tmp_path, database_url, "subscribers", "export").stdout
    assert exported.splitlines()[0].endswith(",categories,language,story_languages,breaking")
    assert ",malaysia transport,,," in exported.splitlines()[1]
    both = cli(
        tmp_path,
        database_url,
        *("subscribers", "add", "wei@example.com", "--category", "trade", "--every-category"),
    )
    assert both.returncode == 2 and "do not go together" in both.stderr
    everything = cli(
        tmp_path, database_url, "subscribers", "add", "wei@example.com", "--every-category"
    )
    assert everything.stdout.strip().endswith("categories: all)"), everything.stderr
    removed = cli(tmp_path, database_url, "subscribers", "remove", "WEI@example.com")
    assert removed.stdout.strip() == "removed wei@example.com"
    assert cli(tmp_path, database_url, "subscribers", "list").stdout.splitlines()[-1] == (
        "1 subscriber(s)"
    )


def test_deliver_once_says_when_the_mail_server_is_down(tmp_path: Path, database_url: str) -> None:
    from publisher import store
    from publisher.articles import publish
    from publisher.community import subscriptions
    from publisher.delivery import sending
    from publisher.schedules import load_timetable
    from publisher.templating import make_environment

    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    engine = store.make_engine(database_url)
    # The edition is made at the suite's fixed time (the examples' dates stay in its window
    # whatever the calendar says); the worker below then sends it on the real clock.
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    timetable = load_timetable(settings.schedules)
    name = next(iter(timetable.digests))
    subscriptions.add_subscriber(
        engine,
        "reader@example.com",
        confirmed=True,
        digests=[name],
        known_digests=[name],
        now=NOW,
    )
    plan = sending.prepare_send(
        engine,
        settings,
        timetable,
        make_environment(),
        timetable.digest(name),
        now=NOW,
    )
    engine.dispose()
    assert plan.new_deliveries == 1
    down = cli(tmp_path, database_url, "deliver", "--once", PUBLISHER_SMTP_URL="smtp://127.0.0.1:9")
    assert down.returncode == 1, down.stderr
    assert "Error: the SMTP server was unavailable" in down.stderr
    assert "cannot connect to 127.0.0.1:9" in down.stderr  # the log line says why
    assert down.stdout.strip().endswith("deferred 1")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_out_of_range_dates_and_unsafe_report_text(tmp_path: Path, database_url: str) -> None:
    far = tmp_path / "far.json"
    far.write_text('{"title": "Far", "published_at": "9999-12-31T23:59:59-23:59"}')
    added = cli(tmp_path, database_url, "articles", "add", str(far))
    assert added.returncode == 2, added.stderr  # bad input, not an operational failure
    assert "out of range" in added.stderr and "Traceback" not in added.stderr

    from publisher import store
    from publisher.articles import publish
    from publisher.models import Report

    settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    engine = store.make_engine(database_url)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    # A row stored before text was cleaned (or written by anything else): the listing must
    # not let its CR, escape sequence or right-to-left override act on the terminal.
    with store.writing(engine) as session:
        session.add(
            Report(
                slug="penang-culture-forum",
                message="Typo\r#2 2026-11-30 resolved fake\x1b[2J\u202eevil",
                email="",
                status="open",
                created_at=NOW,
            )
        )
    engine.dispose()
    listed = cli(tmp_path, database_url, "reports", "list")
    assert listed.returncode == 0, listed.stderr
    assert "\r" not in listed.stdout and "\x1b" not in listed.stdout
    assert "\u202e" not in listed.stdout
    assert "Typo\\r#2 2026-11-30 resolved fake\\x1b[2J\\u202eevil" in listed.stdout


def test_import_merges_one_address_written_twice_and_says_how_many(
    tmp_path: Path, database_url: str
) -> None:
    assert cli(tmp_path, database_url, "init").returncode == 0
    listing = tmp_path / "dupes.csv"
    listing.write_text(
        "email,name\nAisyah@Example.com,Aisyah\nwei@example.com,Wei\n"
        "aisyah@example.COM,Aisyah Binti\nWEI@example.com,\n"
    )
    imported = cli(tmp_path, database_url, "subscribers", "import", str(listing))
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == f"{listing}: 2 added, 0 updated, 2 duplicate row(s) merged"
    listed = cli(tmp_path, database_url, "subscribers", "list").stdout
    assert listed.count("aisyah@example.com") == 1 and listed.count("wei@example.com") == 1
    exported = cli(tmp_path, database_url, "subscribers", "export").stdout
    assert "aisyah@example.com,Aisyah Binti," in exported and "wei@example.com,Wei," in exported


@pytest.mark.slow
def test_check_lists_the_digests_and_the_sources(tmp_path: Path, database_url: str) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "timezone: Asia/Singapore\n"
        'digests:\n  daily:\n    cron: "0 7 * * *"\n'
        "sources:\n  kofice-press:\n    url: https://press.example.org/releases.rss\n"
        "    every: 30m\n    mode: publish\n"
    )
    checked = cli(
        tmp_path, database_url, "check", PUBLISHER_SCHEDULES=str(tmp_path / "schedules.yaml")
    )
    assert checked.returncode == 0, checked.stderr
    assert (
        "1 digest(s)" in checked.stdout and "daily: 0 7 * * * in Asia/Singapore" in checked.stdout
    )
    assert "1 source(s)" in checked.stdout
    assert "kofice-press: https://press.example.org/releases.rss every 30m, to the publish" in (
        checked.stdout
    )


def test_help_reads_as_written_never_broken_where_the_source_broke(tmp_path: Path) -> None:
    """Issue 25: help wrapped mid-sentence ("three send times and⏎ each source"), where the
    docstring's lines broke. On a wide terminal (400 columns) each command's line is one line."""
    from typer.testing import CliRunner

    from publisher.cli import app

    runner = CliRunner()
    groups = ["", "articles", "digest", "subscribers", "users", "sources", "inbox", "reports"]
    for group in groups:
        shown = runner.invoke(app, [*group.split(), "--help"], env={"COLUMNS": "400"})
        assert shown.exit_code == 0, shown.output
        box = shown.output[shown.output.index("Commands") :]
        continued = [line for line in box.splitlines() if re.match(r"^│\s{6,}\S", line)]
        assert continued == [], (group, continued)
    check = runner.invoke(app, ["check", "--help"], env={"COLUMNS": "400"}).output
    assert "print each digest's next three send times and each source to pull from" in check


def test_subscribers_add_sends_the_confirmation_and_confirm_again_resends_it(
    tmp_path: Path, database_url: str, smtp: SmtpServer
) -> None:
    """Issue 25: `subscribers add EMAIL` left the person pending with no mail and no way to
    send one. The link points where `publisher run` last listened (no PUBLISHER_SITE_URL)."""
    assert cli(tmp_path, database_url, "init").returncode == 0
    (tmp_path / "var").mkdir(exist_ok=True)
    (tmp_path / "var" / "site-url").write_text("http://127.0.0.1:18765\n")
    env = {"PUBLISHER_SMTP_URL": smtp.url}
    added = cli(tmp_path, database_url, "subscribers", "add", "mei@example.com", **env)
    assert added.returncode == 0, added.stderr
    assert "confirmation mail sent to mei@example.com" in added.stdout
    [mail] = smtp.recorder.wait_for(1)
    assert mail.recipient == "mei@example.com"
    assert b"http://127.0.0.1:18765/confirm/" in mail.data
    again = cli(tmp_path, database_url, "subscribers", "confirm-again", "mei@example.com", **env)
    assert again.returncode == 0 and "confirmation mail sent" in again.stdout, again.stderr
    assert len(smtp.recorder.wait_for(2)) == 2
    third = cli(tmp_path, database_url, "subscribers", "confirm-again", "mei@example.com", **env)
    assert third.returncode == 0, third.stderr
    limited = cli(tmp_path, database_url, "subscribers", "confirm-again", "mei@example.com", **env)
    assert limited.returncode == 2 and "3 confirmation mails in the last 24 hours" in limited.stderr
    assert len(smtp.recorder.received) == 3
    cli(tmp_path, database_url, "subscribers", "add", "kim@example.com", "--confirmed", **env)
    confirmed = cli(tmp_path, database_url, "subscribers", "confirm-again", "kim@example.com")
    assert confirmed.returncode == 2 and "is confirmed already" in confirmed.stderr
    unknown = cli(tmp_path, database_url, "subscribers", "confirm-again", "nobody@example.com")
    assert unknown.returncode == 1 and "no subscriber nobody@example.com" in unknown.stderr
    assert len(smtp.recorder.received) == 3
