"""The site's pictures on the reader's side (publisher/web/media.py and the pages, feeds and
cards that show them), on SQLite and PostgreSQL: /media/ answers with immutable caching, an
ETag, 304 and HEAD; story pages use srcset and sizes with width and height, and the caption
and credit; og:image is our 1200 px rendition with its size; the feeds name our copy with
its type and length; the digest takes the 600 px rendition (1200 px for 2x)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from lxml import etree
from sqlalchemy import Engine

from publisher import media, store
from publisher.articles import publish
from publisher.editions import making
from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.media import IMMUTABLE
from tests.pictures import picture
from tests.support import NOW, make_settings


@pytest.fixture
def story(engine: Engine, settings: Settings) -> store.PictureView:
    """A published story showing a 1600 x 1000 picture with a caption and credit."""
    publish.import_objects(engine, settings, [{"title": "Amphawa boats", "slug": "amphawa"}],
                           source="test", now=NOW, actor="test")  # fmt: skip
    kept = media.keep(engine, settings, picture(1600, 1000), alt="Long-tail boats at the pier",
                      caption="Boats wait <at> dawn.", credit="Photo: Mei Lin", actor="ed@x",
                      now=NOW)  # fmt: skip
    with store.writing(engine) as session:
        article_id = publish.article_any(engine, "amphawa").article.id or 0
        store.attach_picture(session, article_id, kept.id, now=NOW, actor="ed@x")
    return kept


def _client(engine: Engine, settings: Settings) -> TestClient:
    return TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))


def test_media_are_served_immutable_with_etag_304_and_head(
    engine: Engine, settings: Settings, story: store.PictureView
) -> None:
    client = _client(engine, settings)
    name = story.pick(960, "image/webp").name
    got = client.get(f"/media/{name}")
    assert got.status_code == 200 and got.headers["content-type"] == "image/webp"
    assert got.headers["cache-control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    assert got.headers["etag"] == f'"{name}"' and got.content[:4] == b"RIFF"
    assert int(got.headers["content-length"]) == story.pick(960, "image/webp").length
    again = client.get(f"/media/{name}", headers={"if-none-match": f'"x", W/"{name}"'})
    assert again.status_code == 304 and not again.content
    head = client.head(f"/media/{name}")
    assert head.status_code == 200 and not head.content
    assert head.headers["content-length"] == got.headers["content-length"]
    for wrong in ("nothing.jpg", f"{name[:-4]}gif", "../../etc/passwd", f"{'0' * 32}-480.jpg"):
        assert client.get(f"/media/{wrong}").status_code == 404, wrong


def test_the_story_page_shows_our_renditions_with_srcset_caption_and_card(
    engine: Engine, settings: Settings, story: store.PictureView
) -> None:
    page = _client(engine, settings).get("/articles/amphawa").text
    base = "https://news.example.com/media"
    webp = ", ".join(f"{base}/{f.name} {f.width}w" for f in story.of_type("image/webp"))
    assert f'<source type="image/webp" srcset="{webp}" sizes="' in page
    jpeg = story.pick(960)
    assert f'<img src="{base}/{jpeg.name}" srcset="{base}/' in page
    assert 'alt="Long-tail boats at the pier" width="960" height="600"' in page
    assert '<figcaption><span class="caption">Boats wait &lt;at&gt; dawn.</span>' in page
    assert '<span class="credit">Photo: Mei Lin</span>' in page
    card = story.pick(1200)
    assert f'<meta property="og:image" content="{base}/{card.name}">' in page
    assert '<meta property="og:image:width" content="1200">' in page
    assert '<meta property="og:image:height" content="750">' in page
    assert '<meta property="og:image:alt" content="Long-tail boats at the pier">' in page
    front = _client(engine, settings).get("/").text
    assert f'src="{base}/{jpeg.name}"' in front  # the lead story


def test_an_address_not_kept_yet_shows_no_picture_at_all(
    engine: Engine, settings: Settings
) -> None:
    publish.import_objects(engine, settings, [{"title": "Elsewhere", "slug": "elsewhere",
                           "image": "https://images.example.org/x.jpg"}], source="test",
                           now=NOW, actor="test")  # fmt: skip
    client = _client(engine, settings)
    page = client.get("/articles/elsewhere").text
    assert "images.example.org" not in page and "<figure" not in page
    assert "images.example.org" not in client.get("/feed.xml").text


def test_feeds_name_our_copy_with_its_type_and_length(
    engine: Engine, settings: Settings, story: store.PictureView
) -> None:
    client = _client(engine, settings)
    shown = story.pick(1200)
    url = f"https://news.example.com/media/{shown.name}"
    rss = etree.fromstring(client.get("/feed.xml").content)
    content = rss.find("channel/item/{http://search.yahoo.com/mrss/}content")
    assert content is not None and content.get("url") == url
    assert (content.get("type"), content.get("fileSize")) == ("image/jpeg", str(shown.length))
    assert (content.get("width"), content.get("height")) == ("1200", "750")
    atom = etree.fromstring(client.get("/atom.xml").content)
    ns = "{http://www.w3.org/2005/Atom}"
    enclosure = atom.find(f"{ns}entry/{ns}link[@rel='enclosure']")
    assert enclosure is not None and enclosure.get("href") == url
    assert (enclosure.get("type"), enclosure.get("length")) == ("image/jpeg", str(shown.length))
    item = json.loads(client.get("/feed.json").content)["items"][0]
    assert item["image"] == url
    assert item["attachments"] == [
        {"url": url, "mime_type": "image/jpeg", "size_in_bytes": shown.length}
    ]
    html = item["content_html"]
    assert 'alt="Long-tail boats at the pier"' in html and "Photo: Mei Lin" in html
    assert "Boats wait &lt;at&gt; dawn." in html


def test_the_digest_takes_the_600_px_rendition_and_1200_for_2x(
    engine: Engine, settings: Settings, story: store.PictureView
) -> None:
    view = publish.article_any(engine, "amphawa")
    told = making.story(view, settings.site_url, settings.media_base)
    assert told.image.endswith(story.pick(600).name) and told.image.endswith("-600.jpg")
    assert told.image_2x.endswith("-1200.jpg") and told.image_alt == story.alt
    assert told.image_height == 340  # 600 x 375 shown 544 wide


def test_a_media_base_url_points_pages_and_feeds_at_a_cdn(
    engine: Engine, settings: Settings, story: store.PictureView, tmp_path: Path
) -> None:
    cdn = make_settings(tmp_path, PUBLISHER_DATABASE_URL=settings.database_url,
                        PUBLISHER_MEDIA_URL="https://cdn.example.net/media/")  # fmt: skip
    client = _client(engine, cdn)
    page = client.get("/articles/amphawa").text
    assert re.search(r'<img src="https://cdn\.example\.net/media/[0-9a-f]{32}-960\.jpg"', page)
    assert "https://news.example.com/media" not in page
    assert "https://cdn.example.net/media/" in client.get("/feed.xml").text
