"""The Look page (/admin/look) on SQLite and PostgreSQL: admins only, with the form token;
bad input (a colour that is not one, an accent too light for links, a logo that is not a
picture) saves nothing and says why beside its field; a change is saved, in the audit trail
with what changed, previewed, and reaches the confirmation mail; the logo is served from our
own address."""

from __future__ import annotations

import email
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from publisher import store
from publisher.articles import publish
from publisher.community import subscriptions
from publisher.settings import Settings
from publisher.templating import make_environment
from publisher.tokens import Signer
from publisher.web import create_app
from tests.newsroom import add_person, form_token, newsroom_client, sign_in
from tests.pictures import png
from tests.support import EXAMPLES, NOW, make_settings


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    add_person(engine, settings, "chief@example.com", "admin")
    add_person(engine, settings, "ed@example.com", "editor")
    return newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )


def _form(page: str, **over: str) -> dict[str, str]:
    """The page's form as a browser sends it (ticked boxes "on"), with ``over``."""
    fields = dict(
        re.findall(r'<input id="f-([a-z_]+)" name="\1" type="text" value="([^"]*)"', page)
    )
    fields.update(re.findall(r'<textarea id="f-([a-z_]+)" name="\1"[^>]*>([^<]*)</textarea>', page))
    for name in re.findall(r'<input id="f-([a-z_]+)" name="\1" type="checkbox" checked>', page):
        fields[name] = "on"
    fields["csrf"] = form_token(page)
    fields["version"] = re.search(r'name="version" value="(\d+)"', page)[1]  # type: ignore[index]
    fields["logo"] = re.search(r'name="logo" value="([^"]*)"', page)[1]  # type: ignore[index]
    return {
        k: v.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
        for k, v in {**fields, **over}.items()
    }


def _unchanged(engine: Engine) -> None:
    with store.reading(engine) as session:
        assert store.look_chosen(session) == ({}, 0)
        assert store.audit_entries(session, kind="look") == []
        assert session.scalar(select(func.count()).select_from(store.look_logos_t)) == 0


def test_only_admins_change_the_look_and_only_with_the_form_token(
    client: TestClient, engine: Engine
) -> None:
    sign_in(client, "ed@example.com")
    assert "/admin/look" not in client.get("/admin/").text
    assert client.get("/admin/look").status_code == 403
    assert client.post("/admin/look", data={"accent": "#000000"}).status_code == 403
    client.post("/admin/logout", data={"csrf": form_token(client.get("/admin/").text)})
    sign_in(client, "chief@example.com")
    page = client.get("/admin/look")
    assert page.status_code == 200 and 'href="/admin/look" aria-current="page"' in page.text
    forged = {k: v for k, v in _form(page.text, accent="#000000").items() if k != "csrf"}
    assert client.post("/admin/look", data=forged).status_code == 403
    assert client.post("/admin/look/reset", data={}).status_code == 403
    _unchanged(engine)


@pytest.mark.parametrize(
    ("over", "files", "said"),
    [
        ({"accent": "teal"}, None, "&#39;teal&#39; is not a colour"),
        ({"accent": "#ffcc00"}, None, "a contrast of 1.5:1; readers need at least 4.5:1"),
        (
            {},
            {"logo_file": ("logo.png", b"%PDF-1.7 not a picture", "image/png")},
            "The logo is not a picture: upload a PNG, JPEG or GIF file",
        ),
        (
            {"accent": "#ffcc00"},
            {"logo_file": ("logo.png", png(480, 120), "image/png")},
            "a contrast of 1.5:1",
        ),
    ],
    ids=["not-a-colour", "too-light", "not-a-picture", "good-logo-bad-colour"],
)
def test_bad_input_saves_nothing_and_says_why(
    client: TestClient, engine: Engine, over: dict[str, str], files: Any, said: str
) -> None:
    sign_in(client, "chief@example.com")
    page = client.get("/admin/look").text
    answer = client.post("/admin/look", data=_form(page, do="save", **over), files=files)
    assert answer.status_code == 400
    assert said in answer.text and 'aria-invalid="true"' in answer.text
    assert "Not saved: 1 problem" in answer.text
    for value in over.values():
        assert f'value="{value}"' in answer.text  # nothing typed is lost
    _unchanged(engine)


def test_a_change_is_previewed_saved_audited_and_reaches_the_mails(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    sign_in(client, "chief@example.com")
    page = client.get("/admin/look").text
    logo = png(480, 120)
    typed = _form(
        page,
        accent="#0B5FFF",
        tagline="",
        sponsor_shown="on",
        sponsor_name="Harbour Bank",
        sponsor_url="https://bank.example.com/",
    )
    shown = client.post(
        "/admin/look",
        data={**typed, "do": "preview"},
        files={"logo_file": ("logo.png", logo, "image/png")},
    )
    assert shown.status_code == 200 and "Not saved" not in shown.text
    key = re.search(r'name="logo" value="([0-9a-f]{64})"', shown.text)[1]  # type: ignore[index]
    frame = re.search(r'<iframe src="([^"]+)"', shown.text)[1].replace("&amp;", "&")  # type: ignore[index]
    preview = client.get(frame)
    assert preview.headers["content-security-policy"].startswith("default-src 'none'")
    assert f'src="https://news.example.com/look/logo/{key}.png"' in preview.text
    assert "color:#0b5fff" in preview.text.replace(" ", "") and "Harbour Bank" in preview.text
    with store.reading(engine) as session:
        assert store.look_chosen(session) == ({}, 0)  # a preview saves nothing

    live = client.get("/admin/look/frames", params={**typed, "accent": "#fc0"})
    assert "The preview waits for" in live.text and "contrast of 1.5:1" in live.text
    live = client.get("/admin/look/frames", params=typed)
    assert "contrast 5.1:1" in live.text and "<iframe" in live.text

    saved = client.post(
        "/admin/look", data={**_form(shown.text), "do": "save"}, follow_redirects=False
    )
    assert saved.status_code == 303, saved.text
    after = client.get(saved.headers["location"]).text
    assert "Saved: editions made from now on look like this." in after
    assert 'value="#0b5fff"' in after and "look.change" in after
    trail = client.get("/admin/audit", params={"kind": "look"}).text
    assert "look.change" in trail and "#c8102e" in trail and "#0b5fff" in trail
    assert 'href="/admin/look"' in trail

    # An old form (version 0) after that save is refused, and says why.
    stale = client.post("/admin/look", data={**typed, "accent": "#6f42c1", "do": "save"})
    assert stale.status_code == 409 and "Someone changed the look since" in stale.text

    served = client.get(f"/look/logo/{key}.png")
    assert served.status_code == 200 and served.content == logo
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (
        client.get(
            f"/look/logo/{key}.png", headers={"if-none-match": served.headers["etag"]}
        ).status_code
        == 304
    )
    assert client.get(f"/look/logo/{key}.gif").status_code == 404
    assert client.get(f"/look/logo/{'0' * 64}.png").status_code == 404
    assert client.get("/look/logo/..%2Fsecret.png").status_code == 404

    signer = Signer.of(settings.secret_key)
    assert subscriptions.signup(
        engine,
        settings,
        signer,
        make_environment(),
        "new@example.com",
        name="",
        digests=["daily"],
        known_digests=["daily"],
        now=NOW,
    )
    with store.reading(engine) as session:
        queued = session.scalars(select(store.outbox_t.c.message)).all()
    mail = email.message_from_string(queued[-1])
    html = next(p for p in mail.walk() if p.get_content_type() == "text/html")
    body = html.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert f"https://news.example.com/look/logo/{key}.png" in body and "#0b5fff" in body

    client.post("/admin/look/reset", data={"csrf": form_token(after)})
    assert 'value="#c8102e"' in client.get("/admin/look").text


def test_the_api_reads_and_changes_the_look_as_the_page_does(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    token = "api-" + "t" * 32
    with_token = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=settings.database_url, PUBLISHER_API_TOKEN=token
    )
    api = TestClient(create_app(with_token, engine, clock=lambda: NOW, feed_upkeep_every=None))
    auth = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/look").status_code == 401
    got = api.get("/api/look", headers=auth).json()
    assert got["accent"] == "#c8102e" and got["version"] == 0 and got["logo_url"] == ""

    bad = api.patch("/api/look", headers=auth, json={"accent": "#ffcc00", "title": ""})
    assert bad.status_code == 400
    said = [bad.json()["detail"], *bad.json()["problems"]]
    assert any("contrast of 1.5:1" in line for line in said)
    assert any("the words at the top cannot be empty" in line for line in said)
    assert api.patch("/api/look", headers=auth, json={"colour": "red"}).status_code == 400
    refused = api.put("/api/look/logo", headers=auth, content=b"GIF87" + b"\x00" * 10)
    assert refused.status_code == 400 and "not a picture" in refused.json()["detail"]
    _unchanged(engine)

    done = api.patch("/api/look", headers=auth, json={"accent": "#0b5fff", "sponsor_shown": False})
    assert done.status_code == 200 and done.json()["accent"] == "#0b5fff"
    logo = api.put("/api/look/logo", headers=auth, content=png(64, 64))
    assert logo.status_code == 200
    assert logo.json()["logo_url"].startswith("https://news.example.com/look/logo/")
    with store.reading(engine) as session:
        entries = store.audit_entries(session, kind="look")
    assert [e.actor for e in entries] == ["api-token", "api-token"]


def test_story_pages_show_the_brand_studio_block_as_the_look_sets_it(
    client: TestClient, engine: Engine, settings: Settings
) -> None:
    """The Look page's Brand Studio words reach the story pages as they reach the digest
    (they showed schedules.yaml's), and hiding the block hides it there too; a sponsored
    story's structured data names the studio by the chosen label."""
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    story = "/articles/brand-studio-sabah-coffee"
    assert 'class="brand-studio"' in client.get(story).text
    sign_in(client, "chief@example.com")
    page = client.get("/admin/look").text
    saved = client.post(
        "/admin/look",
        data={
            **_form(page, studio_label="Harbour Studio", studio_heading="Stories for your brand"),
            "do": "save",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    shown = client.get(story).text
    assert "Stories for your brand" in shown and "Harbour Studio" in shown
    assert "made by Harbour Studio" in shown  # the NewsArticle's backstory

    page = client.get("/admin/look").text
    hidden = {k: v for k, v in _form(page).items() if k != "studio_shown"}
    saved = client.post("/admin/look", data={**hidden, "do": "save"}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    shown = client.get(story).text
    assert 'class="brand-studio"' not in shown and "made by Harbour Studio" in shown
