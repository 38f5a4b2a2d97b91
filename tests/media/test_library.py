"""The media library and the daemon's picture keeper (publisher/media/), on SQLite and
PostgreSQL: a picture kept once, its words, where it is used, deletion refused while used;
an imported story's image address fetched once (not at import), under the fetch rules, and
shown as our copy; failures tried again later, a few times."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from publisher import media, store
from publisher.articles import publish
from publisher.errors import InputError
from publisher.media import examples, keeper, library
from publisher.settings import Settings
from tests.feedserver import FeedServer
from tests.pictures import picture
from tests.support import NOW, make_settings


def _import(engine: Engine, settings: Settings, *items: dict[str, object]) -> None:
    publish.import_objects(engine, settings, list(items), source="test", now=NOW, actor="test")


def _view(engine: Engine, slug: str) -> store.ArticleView:
    return publish.article_any(engine, slug)


def test_a_picture_is_kept_once_with_its_words_and_renditions(
    engine: Engine, settings: Settings
) -> None:
    data = picture(1300, 866)
    kept = media.keep(engine, settings, data, alt=" Boats  at dawn ", actor="ed@x", now=NOW,
                      caption="The Amphawa market opens.", credit="Photo: Mei Lin")  # fmt: skip
    assert (kept.alt, kept.caption, kept.credit) == (
        "Boats at dawn", "The Amphawa market opens.", "Photo: Mei Lin",
    )  # fmt: skip
    assert {(f.width, f.content_type) for f in kept.files} == {
        (w, t) for w in (480, 600, 960, 1200) for t in ("image/webp", "image/jpeg")
    }
    again = media.keep(engine, settings, data, alt="Boats", actor="other@x", now=NOW)
    assert again.id == kept.id and again.alt == "Boats"  # the same file: the same picture
    url = media.url(settings, kept, 600)
    assert url.startswith("https://news.example.com/media/") and url.endswith("-600.jpg")
    assert media.url(settings, kept, 5000, "image/webp").endswith("-1200.webp")
    with store.reading(engine) as session:
        content_type, body = store.picture_file(session, url.rsplit("/", 1)[1]) or ("", b"")
    assert content_type == "image/jpeg" and body[:3] == b"\xff\xd8\xff"


def test_no_alt_text_or_a_bad_file_keeps_nothing(engine: Engine, settings: Settings) -> None:
    with pytest.raises(InputError, match="alt text is required"):
        media.keep(engine, settings, picture(), alt="  ", actor="ed@x", now=NOW)
    with pytest.raises(InputError, match="not a JPEG, PNG, WebP or GIF"):
        media.keep(engine, settings, b"GIF89a? no", alt="A cat", actor="ed@x", now=NOW)
    assert library.find(engine, "", offset=0, limit=10) == ([], 0)


def test_search_uses_and_deletion_refused_while_used(engine: Engine, settings: Settings) -> None:
    boats = media.keep(engine, settings, picture(colour=(1, 2, 3)), alt="Boats on the canal",
                       actor="ed@x", now=NOW, credit="Photo: 100% Mei")  # fmt: skip
    media.keep(engine, settings, picture(colour=(4, 5, 6)), alt="A rail yard", actor="ed@x",
               now=NOW + timedelta(minutes=1))  # fmt: skip
    assert [p.alt for p in library.find(engine, "", offset=0, limit=10)[0]] == [
        "A rail yard", "Boats on the canal",
    ]  # fmt: skip
    assert [p.id for p in library.find(engine, "CANAL", offset=0, limit=10)[0]] == [boats.id]
    assert [p.id for p in library.find(engine, "100%", offset=0, limit=10)[0]] == [boats.id]
    assert library.find(engine, "_", offset=0, limit=10)[1] == 0  # a character, not a wildcard
    _import(engine, settings, {"title": "Amphawa", "slug": "amphawa"})
    article_id = _view(engine, "amphawa").article.id or 0
    with store.writing(engine) as session:
        assert store.attach_picture(session, article_id, boats.id, now=NOW, actor="ed@x")
    assert library.uses(engine, boats.id) == [(article_id, "amphawa", "Amphawa")]
    with pytest.raises(InputError, match="used by 1 story"):
        library.delete(engine, boats.id, actor="ed@x", now=NOW)
    assert _view(engine, "amphawa").picture == library.picture(engine, boats.id)
    with store.writing(engine) as session:
        store.attach_picture(session, article_id, None, now=NOW, actor="ed@x")
    library.delete(engine, boats.id, actor="ed@x", now=NOW)
    assert [p.alt for p in library.find(engine, "", offset=0, limit=10)[0]] == ["A rail yard"]


def test_changing_words_moves_the_stories_that_show_the_picture(
    engine: Engine, settings: Settings
) -> None:
    kept = media.keep(engine, settings, picture(), alt="Boats", actor="ed@x", now=NOW)
    _import(engine, settings, {"title": "Amphawa", "slug": "amphawa"})
    with store.writing(engine) as session:
        store.attach_picture(session, _view(engine, "amphawa").article.id or 0, kept.id,
                             now=NOW, actor="ed@x")  # fmt: skip
        before = store.stamp(session, "articles")
    later = NOW + timedelta(hours=1)
    changed = library.set_words(engine, kept.id, library.Words("Boats", "New caption"),
                                actor="ed@x", now=later)  # fmt: skip
    assert changed
    view = _view(engine, "amphawa")
    assert view.picture is not None and view.picture.caption == "New caption"
    assert view.article.updated_at == later  # feeds rebuild its item with the caption
    with store.reading(engine) as session:
        assert store.stamp(session, "articles") > before


def test_an_imported_image_address_is_fetched_later_once_and_shown_as_ours(
    engine: Engine, settings: Settings
) -> None:
    with FeedServer() as server:
        address = server.serve("/photo.jpg", picture(1000, 700), content_type="image/jpeg")
        bad = server.serve("/notes.jpg", b"not a picture at all", content_type="image/jpeg")
        _import(engine, settings, *(
            dict[str, object](title=f"Story {n}", slug=f"story-{n}", image=address)
            for n in range(3)
        ), {"title": "Bad", "slug": "bad", "image": bad})  # fmt: skip
        assert server.hits["/photo.jpg"] == 0  # the import fetched nothing
        assert _view(engine, "story-0").picture is None  # and shows nothing meanwhile
        assert keeper.keep_pending(engine, settings, now=NOW) == 1
        assert server.hits["/photo.jpg"] == 1 and server.hits["/notes.jpg"] == 1
        pictures = {_view(engine, f"story-{n}").picture for n in range(3)}
        assert len(pictures) == 1 and None not in pictures
        kept = pictures.pop()
        assert kept is not None and kept.source_url == address and kept.alt == ""
        # Nothing more to do until the failed address is due again (1 h, then 4 h, ...).
        assert keeper.keep_pending(engine, settings, now=NOW + timedelta(minutes=59)) == 0
        assert server.hits["/notes.jpg"] == 1
        keeper.keep_pending(engine, settings, now=NOW + timedelta(hours=1, seconds=1))
        assert server.hits["/notes.jpg"] == 2
        # Another story naming the same address later gets the same picture without a fetch.
        _import(engine, settings, {"title": "Later", "slug": "later", "image": address})
        assert keeper.keep_pending(engine, settings, now=NOW + timedelta(hours=2)) == 1
        assert server.hits["/photo.jpg"] == 1
        assert _view(engine, "later").picture == kept
        # An import naming a new address lets the old picture go, and the new one is fetched.
        other = server.serve("/other.png", picture(700, 700, "PNG"), content_type="image/png")
        _import(engine, settings, {"title": "Later", "slug": "later", "image": other})
        assert _view(engine, "later").picture is None
        keeper.keep_pending(engine, settings, now=NOW + timedelta(hours=2))
        later = _view(engine, "later").picture
        assert later is not None and later.source_url == other


def test_a_private_address_is_not_fetched_unless_allowed(engine: Engine, tmp_path: Path) -> None:
    strict = make_settings(tmp_path, PUBLISHER_FETCH_ALLOW_HOSTS="")
    with FeedServer() as server:
        address = server.serve("/photo.jpg", picture(), content_type="image/jpeg")
        with pytest.raises(InputError, match="loopback address"):
            library.fetched(engine, strict, address, library.Words("A"), actor="e", now=NOW)
        assert server.connections == 0


def test_the_demo_shows_pictures_of_its_own(engine: Engine, settings: Settings) -> None:
    publish.load_samples(engine, settings, now=NOW, actor="demo")
    assert examples.keep_examples(engine, settings, now=NOW, actor="demo") == 4
    view = _view(engine, "penang-culture-forum")
    assert view.picture is not None and view.picture.credit == "Illustration: Newsflash"
    assert view.article.image == ""  # nothing to fetch from anywhere
    assert examples.keep_examples(engine, settings, now=NOW, actor="demo") == 0
    with store.reading(engine) as session:
        assert store.unfetched_images(session, now=NOW, limit=10) == []
