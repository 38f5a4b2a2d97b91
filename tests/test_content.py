from __future__ import annotations

from publisher.content import (
    markdown_html,
    one_line,
    plain_text,
    printable,
    sanitise_html,
    slugify,
    xml_text,
)


def test_xml_text_drops_controls_and_lone_surrogates() -> None:
    assert xml_text("a\x00b\x08c\x1fd\ud800e\ufffff\tg\n") == "abcdef\tg\n"


def test_one_line_folds_newlines() -> None:
    assert one_line("  Breaking:\nsecond\r\nline\x0b ") == "Breaking: second line"


def test_sanitise_removes_scripts_handlers_and_javascript_urls() -> None:
    html = sanitise_html(
        '<p onclick="x()">Hi<script>alert(1)</script></p>'
        '<img src="https://img.example/a.jpg" onerror="steal()" alt="A">'
        '<a href="javascript:alert(1)">bad</a><a href="https://ok.example/">good</a>'
        '<iframe src="https://evil.example"></iframe><style>p{}</style>'
    )
    for banned in ("script", "onclick", "onerror", "javascript:", "iframe", "<style"):
        assert banned not in html
    assert '<img src="https://img.example/a.jpg" alt="A">' in html
    assert 'href="https://ok.example/"' in html


def test_markdown_renders_and_is_sanitised() -> None:
    html = markdown_html(
        "# T\n\n**bold** [x](javascript:alert(1)) <script>x</script>\n\n| a |\n|---|\n| b |"
    )
    assert "<strong>bold</strong>" in html
    assert "<table>" in html
    assert 'href="javascript' not in html and "<script" not in html


def test_text_in_any_script_survives() -> None:
    text = "부산 국제 영화제 · ตลาดน้ำอัมพวา 🚤 · 東京"
    assert xml_text(text) == text
    assert text in markdown_html(text)


def test_slugify_keeps_letters_of_any_script() -> None:
    assert slugify("Durian exports: rail, not road!") == "durian-exports-rail-not-road"
    assert slugify("부산 국제 영화제") == "부산-국제-영화제"
    assert slugify("ตลาดน้ำ อัมพวา") == "ตลาดน้ำ-อัมพวา"
    assert slugify("Brand Studio") == "brand-studio"
    assert slugify("🚤!!") == ""


def test_text_fields_lose_what_could_rewrite_a_line_or_reorder_it() -> None:
    # CR, C1 controls (U+0085, U+009B: CSI in some terminals) and bidirectional overrides
    # and isolates survived before (issue 16); marks that mixed-script text needs stay.
    hostile = "Aisyah\r#2 fake\x85\x9b2J \u202egnp.exe\u2066x\u2069 \u200fשלום\u200e"
    assert one_line(hostile) == "Aisyah #2 fake2J gnp.exex \u200fשלום\u200e"
    assert plain_text("line one\r\nline two\rline three\u2028four\u202a") == (
        "line one\nline two\nline three\nfour"
    )
    assert printable("ok\x1b[2J\r\u202e\n\tשלום 👩\u200d💻") == (
        "ok\\x1b[2J\\r\\u202e\n\tשלום 👩\u200d💻"
    )


def test_sizes_read_as_people_say_them() -> None:
    """Issue 25: "(at most 67,108,864 bytes)" for 64 MB."""
    from publisher.templating import size_text

    assert size_text(64 * 1024 * 1024) == "64 MB"
    assert size_text(2 * 1024 * 1024) == "2 MB"
    assert size_text(1536) == "1.5 kB"
    assert size_text(2048) == "2 kB"
    assert size_text(900) == "900 bytes" and size_text(1) == "1 byte"
    assert size_text(3 * 1024**3) == "3 GB"
