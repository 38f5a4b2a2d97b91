from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.errors import ConfigError
from publisher.schedules import load_timetable, parse_duration, parse_timetable

REPO = Path(__file__).resolve().parent.parent
SGT = ZoneInfo("Asia/Singapore")

GOOD = """\
timezone: Asia/Singapore
digests:
  daily:
    title: "Join The Community: Today's Briefing"
    cron: "0 7 * * *"
    max_articles: 12
    categories: []
    catch_up: 6h
  weekly:
    cron: "0 9 * * mon"
    timezone: Asia/Seoul
    categories: [Culture, Brand Studio]
"""


def test_the_contract_example_parses() -> None:
    table = parse_timetable(GOOD)
    daily, weekly = table.digests["daily"], table.digests["weekly"]
    assert daily.title == "Join The Community: Today's Briefing"
    assert daily.zone == SGT and daily.max_articles == 12 and daily.catch_up == timedelta(hours=6)
    assert weekly.zone == ZoneInfo("Asia/Seoul")
    assert weekly.categories == ("culture", "brand-studio")
    assert weekly.catch_up == timedelta(hours=6)


def test_the_repository_timetable_is_valid() -> None:
    assert load_timetable(REPO / "schedules.yaml").digests


def test_next_and_last_send_times_in_the_digest_zone() -> None:
    daily = parse_timetable(GOOD).digests["daily"]
    now = datetime(2026, 11, 30, 8, 0, tzinfo=SGT)
    assert daily.next_times(now) == [
        datetime(2026, 12, 1, 7, 0, tzinfo=SGT),
        datetime(2026, 12, 2, 7, 0, tzinfo=SGT),
        datetime(2026, 12, 3, 7, 0, tzinfo=SGT),
    ]
    assert daily.last_time(now) == datetime(2026, 11, 30, 7, 0, tzinfo=SGT)
    assert daily.last_time(datetime(2026, 11, 30, 7, 0, tzinfo=SGT)) == datetime(
        2026, 11, 30, 7, 0, tzinfo=SGT
    )
    weekly = parse_timetable(GOOD).digests["weekly"]
    last = weekly.last_time(now)
    assert last is not None and last.astimezone(ZoneInfo("Asia/Seoul")).weekday() == 0
    assert now - timedelta(days=7) < last <= now


def test_a_dst_fall_back_double_fire_has_one_period_key() -> None:
    table = parse_timetable(
        'digests:\n  night:\n    cron: "30 1 * * *"\n    timezone: America/New_York\n'
    )
    night = table.digests["night"]
    zone = ZoneInfo("America/New_York")
    first = datetime(2026, 11, 1, 1, 30, tzinfo=zone, fold=0)
    second = datetime(2026, 11, 1, 1, 30, tzinfo=zone, fold=1)
    assert first.astimezone(UTC) != second.astimezone(UTC)
    assert night.period_key(first) == night.period_key(second) == "2026-11-01T01:30"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "digests:\n  daily:\n    cron: '0 25 * * *'\n",
            3,
            "digests.daily.cron: '0 25 * * *' is not a five-field crontab",
        ),
        ("digests:\n  daily:\n    cron: '0 7 * *'\n", 3, "Wrong number of fields"),
        ("timezone: Mars/Base\ndigests: {}\n", 1, "unknown time zone 'Mars/Base'"),
        (
            "digests:\n  d:\n    cron: '0 7 * * *'\n    timezone: Europe/Nowhere\n",
            4,
            "unknown time zone",
        ),
        (
            "digests:\n  d:\n    cron: '0 7 * * *'\n    catch_up: soon\n",
            4,
            "'soon' is not a duration",
        ),
        (
            "digests:\n  d:\n    cron: '0 7 * * *'\n    sendt_at: 7\n",
            4,
            "digests.d.sendt_at: unknown key (allowed: title, cron",
        ),
        ("digests:\n  d:\n    title: x\n", 2, "digests.d.cron: is required"),
        (
            "digests:\n  d:\n    cron: '0 7 * * *'\n    max_articles: 0\n",
            4,
            "greater than or equal to 1",
        ),
        ("digests:\n  Daily News:\n    cron: '0 7 * * *'\n", 2, "use lower-case letters"),
        (
            "timezone: UTC\nextra: 1\n",
            2,
            "extra: unknown key (allowed: timezone, digests, brand_studio, sources)",
        ),
        ("digests: [\n", 2, "not valid YAML"),
    ],
)
def test_bad_timetables_name_the_line(text: str, line: int, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_timetable(text, "conf/schedules.yaml")
    message = "\n".join(caught.value.lines())
    assert caught.value.message.startswith(f"conf/schedules.yaml:{line}: "), message
    assert words in message


def test_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="publisher init"):
        load_timetable(tmp_path / "schedules.yaml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", timedelta(hours=6)),
        ("30m", timedelta(minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("90s", timedelta(seconds=90)),
        ("0", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_unknown_digest_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"no digest 'monthly' in the timetable \(known: daily, weekly\)"
    ):
        parse_timetable(GOOD).digest("monthly")


REVIEWED = """\
timezone: Asia/Singapore
digests:
  daily:
    cron: "0 7 * * *"
    review: true
    review_deadline: {deadline}
    unreviewed: {unreviewed}
"""


def test_review_keys_and_their_defaults() -> None:
    table = parse_timetable(REVIEWED.format(deadline="30m", unreviewed="send"))
    daily = table.digests["daily"]
    assert (daily.review, daily.review_deadline, daily.unreviewed) == (
        True,
        timedelta(minutes=30),
        "send",
    )
    plain = parse_timetable(GOOD).digests["daily"]
    assert (plain.review, plain.review_deadline, plain.unreviewed) == (
        False,
        timedelta(hours=2),
        "skip",
    )


@pytest.mark.parametrize(
    ("deadline", "unreviewed", "line", "words"),
    [
        ("soon", "skip", 6, "review_deadline: 'soon' is not a duration"),
        ("0", "skip", 6, "review_deadline: must be longer than 0"),
        ("2h", "hold", 7, "unreviewed: Input should be 'skip' or 'send'"),
    ],
)
def test_bad_review_keys_name_the_line(
    deadline: str, unreviewed: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_timetable(REVIEWED.format(deadline=deadline, unreviewed=unreviewed), "s.yaml")
    assert caught.value.message.startswith(f"s.yaml:{line}: digests.daily.")
    assert words in caught.value.message


@pytest.mark.parametrize("text", ["30m", "6h", "1d12h", "90s", "0", "2d1h5m3s"])
def test_a_duration_reads_back_in_the_form_it_was_written(text: str) -> None:
    from publisher.schedules import format_duration, parse_duration

    expected = {"90s": "1m30s"}.get(text, text)
    assert format_duration(parse_duration(text)) == expected
