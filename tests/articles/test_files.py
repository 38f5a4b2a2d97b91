from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.articles import files
from publisher.articles.cleaning import ArticleInput, Problem
from publisher.articles.files import expand, read_file
from publisher.errors import InputError

ZONE = ZoneInfo("Asia/Singapore")


def parse(path: Path) -> list[ArticleInput | Problem]:
    return [item for _, item in read_file(path, ZONE)]


def only_problem(path: Path) -> str:
    results = parse(path)
    problems = [str(r) for r in results if isinstance(r, Problem)]
    assert len(problems) == 1, results
    return problems[0]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.md",
        "---\ntitle: Rail freight opens\npublished_at: 2026-11-26 14:05\n"
        "categories: [Trade, Malaysia]\nsource: {name: Authority, url: 'https://a.example/x'}\n"
        "sponsored: true\n---\nBody with **bold**.\n",
    )
    [item] = parse(path)
    assert isinstance(item, ArticleInput)
    assert item.slug == "rail-freight-opens"
    assert item.body_html == "<p>Body with <strong>bold</strong>.</p>"
    assert item.published_at == datetime(2026, 11, 26, 14, 5, tzinfo=ZONE)
    assert item.categories == ("Trade", "Malaysia")
    assert (item.source_name, item.source_url) == ("Authority", "https://a.example/x")
    assert item.sponsored and not item.ai_assisted


def test_json_list_and_jsonl(tmp_path: Path) -> None:
    records = [{"title": "One", "body_html": "<p>1</p>"}, {"title": "Two", "slug": "second"}]
    listed = write(tmp_path, "a.json", json.dumps(records, indent=2))
    lines = write(tmp_path, "b.jsonl", "\n".join(json.dumps(r) for r in records) + "\n\n")
    for path in (listed, lines):
        slugs = [item.slug for item in parse(path) if isinstance(item, ArticleInput)]
        assert slugs == ["one", "second"]


def test_offset_is_kept_and_naive_means_site_zone(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "t.jsonl",
        '{"title": "A", "published_at": "2026-11-29T11:00:00+09:00"}\n'
        '{"title": "B", "published_at": "2026-11-29T11:00:00"}\n',
    )
    a, b = parse(path)
    assert isinstance(a, ArticleInput) and isinstance(b, ArticleInput)
    assert a.published_at is not None and a.published_at.utcoffset() == timedelta(hours=9)
    assert b.published_at == datetime(2026, 11, 29, 11, tzinfo=ZONE)


def test_scripts_round_trip(tmp_path: Path) -> None:
    title = "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่ 🚤 부산"
    [item] = parse(write(tmp_path, "x.json", json.dumps({"title": title, "body": title})))
    assert isinstance(item, ArticleInput)
    assert item.title == title and title in item.body_html
    assert item.slug == "ตลาดน้ำอัมพวาเปิดเส้นทางเรือใหม่-부산"


def test_control_characters_and_html_attacks_are_removed(tmp_path: Path) -> None:
    record = {
        "title": "Bad\x00 title\nwith newline\x1b",
        "summary": "sum\x07mary",
        "body_html": '<p onmouseover="x()">t</p><script>alert(1)</script>'
        '<a href="javascript:alert(1)">j</a><img src="https://i.example/a.png" onerror="y()">',
    }
    [item] = parse(write(tmp_path, "x.json", json.dumps(record)))
    assert isinstance(item, ArticleInput)
    assert item.title == "Bad title with newline"
    assert item.summary == "summary"
    for banned in ("onmouseover", "<script", "javascript:", "onerror"):
        assert banned not in item.body_html
    assert 'src="https://i.example/a.png"' in item.body_html


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("---\nslug: x\nsummary: s\n---\nbody", 1, "title: is required"),
        ("---\ntitle: T\npublished_at: 2026-02-30\n---\n", 3, "2026-02-30"),
        ("---\ntitle: T\npublished_at: next tuesday\n---\n", 3, "ISO 8601"),
        ("---\ntitle: T\n\nsponsored: 'yes please'\n---\n", 4, "sponsored: wrong type"),
        ("---\ntitle: T\nheadline: H\n---\n", 3, "headline: unknown key"),
        ("---\ntitle: T\ncategories: Trade\n---\n", 3, "categories: wrong type"),
        ("---\ntitle: T\nimage: /relative.jpg\n---\n", 3, "not an absolute http(s) URL"),
        ("---\ntitle: T\nslug: Not A Slug\n---\n", 3, "not a URL slug"),
        ("---\ntitle: 42\n---\n", 2, "title: wrong type"),
    ],
)
def test_markdown_problems_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = write(tmp_path, "bad.md", text)
    problem = only_problem(path)
    assert problem.startswith(f"{path}:{line}: "), problem
    assert words in problem


def test_json_problem_names_the_line_of_the_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.json",
        '[\n  {"title": "fine"},\n  {\n    "title": "T",\n    "sponsored": "no"\n  }\n]\n',
    )
    assert only_problem(path).startswith(f"{path}:5: sponsored: wrong type")


def test_jsonl_problem_names_the_record_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.jsonl", '{"title": "a"}\n\n{"summary": "no title"}\n')
    assert only_problem(path) == f"{path}:3: title: is required"


@pytest.mark.parametrize(
    ("name", "payload", "words"),
    [
        ("broken.json", b'[{"title": "a"},\n {"title": }]', ":2: not valid JSON"),
        ("broken.jsonl", b'{"title": "a"}\n{"title": "b"\n', ":2: not valid JSON"),
        ("latin1.md", b"---\ntitle: Caf\xe9\n---\n", ":2: not UTF-8"),
        ("latin1.jsonl", b'{"title": "a"}\n{"title": "Caf\xe9"}\n', ":2: not UTF-8"),
        ("nofront.md", b"# Just markdown\n", ":1: no YAML front matter"),
        ("badyaml.md", b"---\ntitle: [unclosed\n---\n", "front matter is not valid YAML"),
        ("list.json", b"[1, 2]", "expected an object"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, payload: bytes, words: str) -> None:
    path = tmp_path / name
    path.write_bytes(payload)
    with pytest.raises(InputError) as caught:
        results = parse(path)
        raise InputError("; ".join(str(r) for r in results if isinstance(r, Problem)))
    assert str(caught.value).startswith(str(path))
    assert words in str(caught.value)


def test_file_over_the_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 100)
    path = write(tmp_path, "big.md", "---\ntitle: T\n---\n" + "x" * 200)
    with pytest.raises(InputError, match=r"big\.md:1: file is 2\d\d bytes; the limit is 100 bytes"):
        parse(path)


def test_body_twice_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "twice.md", "---\ntitle: T\nbody: one\n---\ntwo\n")
    with pytest.raises(InputError, match="body given in front matter and below it"):
        parse(path)


def test_expand_walks_folders_and_refuses_unknown_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/b.md", "---\ntitle: B\n---\n")
    write(tmp_path, "a.json", "{}")
    write(tmp_path, "notes.txt", "ignored inside a folder")
    assert [p.name for p in expand([tmp_path])] == ["a.json", "b.md"]
    with pytest.raises(InputError, match="not an article file"):
        expand([tmp_path / "notes.txt"])
    with pytest.raises(InputError, match="no such file or folder"):
        expand([tmp_path / "missing.md"])


def test_content_hash_changes_with_content() -> None:
    a = ArticleInput(slug="s", title="T")
    assert a.content_hash == ArticleInput(slug="s", title="T").content_hash
    assert a.content_hash != ArticleInput(slug="s", title="T", summary="x").content_hash


def test_reading_in_worker_processes_gives_the_same_records() -> None:
    from publisher.articles.files import read_files

    files = expand([Path(__file__).resolve().parents[2] / "examples" / "articles"])
    zone = ZoneInfo("Asia/Singapore")
    alone = list(read_files(files, zone, workers=1))
    shared = list(read_files(files, zone, workers=2))
    assert len(alone) == 6 and [r for _, r in alone] == [r for _, r in shared]
