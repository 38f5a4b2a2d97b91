"""A digest in each member's language (issue 29), through a real SMTP server, on SQLite and
PostgreSQL: a member who reads Korean gets the chrome in Korean and, when they asked for it,
only the Korean stories; each language and story set is rendered once, never per reader;
what of an edition each reader gets (``messages.cut``)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import Engine

from publisher.articles import publish
from publisher.community import subscriptions
from publisher.delivery import sending
from publisher.delivery.sending import Sender
from publisher.editions.compose import INLINER
from publisher.editions.messages import Cut, cut
from publisher.schedules import load_timetable
from publisher.settings import Settings
from publisher.templating import make_environment
from tests.smtp import SmtpServer
from tests.support import make_settings

STORIES = {
    "en": "Durian exporters switch to rail",
    "ko": "부산 국제 영화제, 아시아 독립영화 부문 신설",
    "th": "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่",
}


def now() -> datetime:
    return datetime.now(UTC)


def setup(tmp_path: Path, database_url: str, smtp: SmtpServer) -> Settings:
    (tmp_path / "schedules.yaml").write_text(
        'timezone: Asia/Singapore\ndigests:\n  daily:\n    cron: "0 7 * * *"\n'
    )
    return make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SMTP_URL=smtp.url,
        PUBLISHER_MAIL_FROM="Newsflash Asia <newsletter@news.example.com>",
    )


def bodies(smtp: SmtpServer) -> dict[str, tuple[str, str]]:
    """Each recipient's subject and text part."""
    found = {}
    for received in smtp.recorder.received:
        message: EmailMessage = received.parsed()
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found[str(message["To"])] = (str(message["Subject"]), text)
    return found


def test_each_member_gets_the_digest_in_their_language_rendered_once_per_variant(
    engine: Engine, database_url: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = setup(tmp_path, database_url, smtp)
    timetable = load_timetable(settings.schedules)
    nominal = timetable.digest("daily").last_time(now())
    assert nominal is not None
    path = tmp_path / "stories.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "title": title,
                    "language": tag,
                    "published_at": (nominal - timedelta(hours=n + 1)).isoformat(),
                },
                ensure_ascii=False,
            )
            for n, (tag, title) in enumerate(STORIES.items())
        ),
        encoding="utf-8",
    )
    publish.import_articles(engine, settings, [path], now=now(), actor="test")
    members = {
        "ada@example.com": ("", None),  # the site's language, every story
        "minji@example.com": ("ko", ["ko"]),
        "jisoo@example.com": ("ko", ["ko"]),
        "somchai@example.com": ("th", []),  # Thai words, stories in every language
    }
    for email, (language, tags) in members.items():
        subscriptions.add_subscriber(
            engine,
            email,
            confirmed=True,
            digests=["daily"],
            known_digests=["daily"],
            language=language or None,
            languages=tags,
            now=now(),
        )
    plan = sending.prepare_send(
        engine, settings, timetable, make_environment(), timetable.digest("daily"), now=now()
    )
    edition_id = plan.edition.id or 0
    before = INLINER.calls
    Sender(engine, settings, clock=now).run(threading.Event(), once=True)
    assert sending.counts(engine, [edition_id])[edition_id].get("sent") == 4
    # Korean chrome with only the Korean story, and Thai chrome with every story: two
    # renderings for four readers (the whole edition was rendered when it was made).
    assert INLINER.calls - before == 2
    got = bodies(smtp)
    subject, korean = got["minji@example.com"]
    # The same rendering, but for each reader's own links.
    assert got["jisoo@example.com"][1].split("구독 해지")[0] == korean.split("구독 해지")[0]
    assert STORIES["ko"] in korean and STORIES["en"] not in korean and STORIES["th"] not in korean
    assert "기사 읽기" in korean and "구독 해지" in korean and "안녕하세요." in korean
    assert "Read the story" not in korean
    assert "지난 호 이후 편집진이 고른 기사 1건입니다." in korean
    assert "년" in subject and "월" in subject  # the date as Korean readers write it
    _, thai = got["somchai@example.com"]
    assert all(title in thai for title in STORIES.values())
    assert "อ่านข่าว" in thai and "ข่าว 3 เรื่อง" in thai
    english_subject, english = got["ada@example.com"]
    assert all(title in english for title in STORIES.values())
    assert "Read the story" in english and "Here are the 3 stories" in english
    assert english_subject.endswith(
        nominal.astimezone(timetable.digest("daily").zone).strftime("%b %Y")
    )


def test_what_of_an_edition_each_reader_gets() -> None:
    """``messages.cut``, the one decision the sending processes and the newsroom's preview
    and test sends share: whole, a variant in a language, or nothing."""
    stories = [(1, frozenset({10}), "en"), (2, frozenset({20}), "th"), (3, frozenset(), "en-GB")]
    whole = cut(stories, one_off=False, home="en")
    assert whole == Cut((1, 2, 3), "en", whole=True)
    assert cut(stories, one_off=False, home="en", language="th-TH") == Cut((1, 2, 3), "th")
    thai = cut(stories, one_off=False, home="en", language="th", languages=frozenset({"th"}))
    assert thai == Cut((2,), "th")
    # "en" reads en-GB; a category keeps only its stories; a one-off goes whole.
    english = cut(stories, one_off=False, home="en", languages=frozenset({"en"}))
    assert english == Cut((1, 3), "en")
    assert cut(stories, one_off=False, home="en", topics=frozenset({20})) == Cut((2,), "en")
    nothing = cut(
        stories, one_off=False, home="en", topics=frozenset({10}), languages=frozenset({"th"})
    )
    assert nothing is None
    breaking = cut(stories[:1], one_off=True, home="en", language="ko", languages=frozenset({"th"}))
    assert breaking == Cut((1,), "ko")
