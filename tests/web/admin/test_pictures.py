"""Pictures in the newsroom (web/admin/picture_form.py, media_library.py), on SQLite and
PostgreSQL: the article form takes an upload, an address or a library picture with its
words; each bad picture is a message beside its field and nothing is kept; alt text is
required; the library searches, shows where a picture is used, refuses to delete one in use;
signed-out and cross-site posts are refused; a picture may be bigger than other forms."""

from __future__ import annotations

import io
import os
import re
from typing import Any

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine

from publisher import media, store
from publisher.articles import publish
from publisher.media import library
from publisher.settings import Settings
from publisher.web import create_app
from tests.feedserver import FeedServer
from tests.newsroom import add_person, newsroom_client, sign_in
from tests.pictures import huge_png, picture
from tests.support import NOW

EDITOR = "ed@example.com"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _editor(engine: Engine, settings: Settings) -> tuple[TestClient, str]:
    add_person(engine, settings, EDITOR)
    app = create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None)
    client = newsroom_client(app, settings)
    return client, sign_in(client, EDITOR)


def _post(client: TestClient, path: str, token: str, data: bytes | None = None,
          name: str = "photo.jpg", **values: str) -> Any:  # fmt: skip
    files = {"picture_file": (name, data or b"", "image/jpeg")}
    form = {"csrf": token, "action": "save", **values}
    return client.post(path, data=form, files=files, follow_redirects=False)


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="field-error" id="f-([\w]+)-error">([^<]*)</p>', html))


def _count(engine: Engine) -> int:
    return library.find(engine, "", offset=0, limit=1)[1]


def test_an_upload_with_alt_text_and_caption_is_shown_with_the_story(
    engine: Engine, settings: Settings
) -> None:
    client, token = _editor(engine, settings)
    saved = _post(client, "/admin/articles/new", token, picture(1400, 1000, gps=True),
                  title="Amphawa boats", picture_alt="Long-tail boats at the pier",
                  picture_caption="Boats at dawn.", picture_credit="Photo: Mei Lin",
                  action="publish", editor="Ed Lim")  # published: a draft has no page  # fmt: skip
    assert saved.status_code == 303, saved.text
    view = publish.article_any(engine, "amphawa-boats")
    assert view.picture is not None
    assert (view.picture.alt, view.picture.caption, view.picture.credit) == (
        "Long-tail boats at the pier", "Boats at dawn.", "Photo: Mei Lin",
    )  # fmt: skip
    form = client.get(saved.headers["location"]).text
    assert 'id="picture-now"' in form and 'value="Boats at dawn."' in form
    page = client.get("/articles/amphawa-boats").text
    assert "srcset=" in page and "Boats at dawn." in page
    # Saving again with nothing new keeps the picture; new words change it; removing it
    # takes it off the story and leaves it in the library.
    path = saved.headers["location"].split("?")[0]
    base = re.search(r'name="base" value="([^"]*)"', form)
    keep: dict[str, str] = {
        "title": "Amphawa boats",
        "picture": str(view.picture.id),
        "base": base[1] if base else "",
        "picture_alt": "Long-tail boats at the pier",
        "picture_credit": "Photo: Mei Lin",
    }
    again = _post(client, path, token, None, **keep, picture_caption="Boats at dawn, Amphawa.")
    assert again.status_code == 303 and again.headers["location"].endswith("done=saved")
    changed = publish.article_any(engine, "amphawa-boats").picture
    assert changed is not None and changed.caption == "Boats at dawn, Amphawa."
    # The next save starts from the story as it is now (an older base is a stale form: 409).
    now_form = client.get(path).text
    fresh = re.search(r'name="base" value="([^"]*)"', now_form)
    keep["base"] = fresh[1] if fresh else ""
    removed = _post(client, path, token, None, **keep, picture_remove="on")
    assert removed.status_code == 303
    assert publish.article_any(engine, "amphawa-boats").picture is None
    assert _count(engine) == 1


def test_each_bad_picture_is_a_message_beside_its_field_and_nothing_is_kept(
    engine: Engine, settings: Settings
) -> None:
    client, token = _editor(engine, settings)
    whole = picture(900, 600)
    bad = {
        "text.jpg": (b"Just some text pretending.", "not a JPEG, PNG, WebP or GIF picture"),
        "huge.png": (huge_png(), "more pixels than the 50,000,000"),
        "cut.jpg": (whole[: len(whole) // 2], "cut short or damaged"),
        "drawing.svg": (SVG, "SVG drawing is not taken"),
    }
    for name, (data, message) in bad.items():
        answer = _post(client, "/admin/articles/new", token, data, name=name,
                       title="A story", picture_alt="Something")  # fmt: skip
        assert answer.status_code == 400, name
        errors = _errors(answer.text)
        assert message in errors["picture_file"], (name, errors)
        assert "Nothing was kept" in errors["picture_file"]
        assert 'value="A story"' in answer.text  # nothing typed is lost
    assert _count(engine) == 0
    with store.reading(engine) as session:
        assert store.article_count(session) == 0
    missing = _post(client, "/admin/articles/new", token, whole, title="A story")
    assert missing.status_code == 400
    assert "alt text is required" in _errors(missing.text)["picture_alt"]
    assert _count(engine) == 0


def test_a_pasted_address_is_fetched_once_and_kept(engine: Engine, settings: Settings) -> None:
    client, token = _editor(engine, settings)
    with FeedServer() as server:
        address = server.serve("/p.jpg", picture(), content_type="image/jpeg")
        missing = server.serve("/gone.jpg", b"", status=404)
        saved = _post(client, "/admin/articles/new", token, title="Fetched", image=address,
                      picture_alt="A red and blue flag")  # fmt: skip
        assert saved.status_code == 303, saved.text
        again = _post(client, "/admin/articles/new", token, title="Fetched again",
                      image=address, picture_alt="A red and blue flag")  # fmt: skip
        assert again.status_code == 303 and server.hits["/p.jpg"] == 1
        gone = _post(client, "/admin/articles/new", token, title="Gone", image=missing,
                     picture_alt="Nothing")  # fmt: skip
        assert gone.status_code == 400
        assert "answered HTTP 404" in _errors(gone.text)["image"]
    first = publish.article_any(engine, "fetched").picture
    assert first is not None and first == publish.article_any(engine, "fetched-again").picture


def test_the_library_searches_shows_uses_and_refuses_to_delete_a_used_picture(
    engine: Engine, settings: Settings
) -> None:
    client, token = _editor(engine, settings)
    added = _post(client, "/admin/media", token, picture(800, 600), picture_alt="Rail yard",
                  picture_credit="Photo: Kim")  # fmt: skip
    assert added.status_code == 303, added.text
    one = added.headers["location"].split("?")[0]
    other = media.keep(engine, settings, picture(colour=(9, 9, 9)), alt="Harbour",
                       actor="x", now=NOW)  # fmt: skip
    listing = client.get("/admin/media?q=rail").text
    assert "Rail yard" in listing and "Harbour" not in listing and "1 picture " in listing
    picture_id = one.rsplit("/", 1)[1]
    story = client.get(f"/admin/articles/new?picture={picture_id}").text
    assert re.search(f'name="picture" [^>]*value="{picture_id}"', story)
    assert 'value="Rail yard"' in story
    saved = _post(client, "/admin/articles/new", token, title="Rail story",
                  picture=picture_id, picture_alt="Rail yard")  # fmt: skip
    assert saved.status_code == 303
    page = client.get(one).text
    assert "Rail story" in page
    refused = client.post(f"{one}/delete", data={"csrf": token})
    assert (
        refused.status_code == 200
        and "Not deleted: this picture is used by 1 story" in refused.text
    )
    assert _count(engine) == 2
    deleted = client.post(f"/admin/media/{other.id}/delete", data={"csrf": token},
                          follow_redirects=False)  # fmt: skip
    assert deleted.status_code == 303 and _count(engine) == 1
    bad = _post(client, "/admin/media", token, SVG, picture_alt="x")
    assert bad.status_code == 400 and "SVG drawing is not taken" in bad.text


def test_signed_out_and_cross_site_posts_are_refused(engine: Engine, settings: Settings) -> None:
    client, token = _editor(engine, settings)
    forged = _post(client, "/admin/media", "not-the-token", picture(), picture_alt="x")
    assert forged.status_code in (400, 403)
    stranger = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    assert stranger.get("/admin/media", follow_redirects=False).status_code in (302, 303, 401)
    big = picture(3000, 3000)  # a few hundred KB: over a signed-out post's 64 KiB
    answer = _post(stranger, "/admin/media", token, big, picture_alt="x")
    assert answer.status_code in (401, 403, 413)
    assert _count(engine) == 0
    # Signed in, a picture may be larger than the 2 MB other forms take.
    noise = Image.frombytes("RGB", (1100, 1000), os.urandom(1100 * 1000 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert out.tell() > settings.max_body_bytes
    taken = _post(client, "/admin/media", token, out.getvalue(), picture_alt="Static")
    assert taken.status_code == 303, taken.text


def test_another_library_picture_takes_its_own_words_and_a_wrong_number_is_said(
    engine: Engine, settings: Settings
) -> None:
    client, token = _editor(engine, settings)
    first = media.keep(engine, settings, picture(colour=(1, 1, 1)), alt="Ferry", actor="x",
                       now=NOW, caption="The old ferry.")  # fmt: skip
    second = media.keep(engine, settings, picture(colour=(2, 2, 2)), alt="Bridge", actor="x",
                        now=NOW, credit="Photo: Ana")  # fmt: skip
    saved = _post(client, "/admin/articles/new", token, title="Crossing",
                  picture=str(first.id), picture_alt="Ferry",
                  picture_caption="The old ferry.")  # fmt: skip
    assert saved.status_code == 303
    path = saved.headers["location"].split("?")[0]
    form = client.get(path).text
    base = re.search(r'name="base" value="([^"]*)"', form)
    shown = {"title": "Crossing", "base": base[1] if base else "", "picture_alt": "Ferry",
             "picture_caption": "The old ferry."}  # fmt: skip
    wrong = _post(client, path, token, None, **shown, picture="99999")
    assert wrong.status_code == 400
    assert _errors(wrong.text)["picture"] == "There is no picture 99999 in the library."
    swapped = _post(client, path, token, None, **shown, picture=str(second.id))
    assert swapped.status_code == 303
    now = publish.article_any(engine, "crossing").picture
    assert now is not None and now.id == second.id
    assert (now.alt, now.caption, now.credit) == ("Bridge", "", "Photo: Ana")
    assert library.picture(engine, first.id).alt == "Ferry"  # untouched
