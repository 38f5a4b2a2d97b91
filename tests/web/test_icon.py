"""The site's icon (web/icon.py): made from the site's title, at /favicon.ico and
/favicon.svg, and linked from every page (issue 25: every page logged a 404 for it)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from lxml import etree, html

from publisher import store
from publisher.web import create_app
from publisher.web.icon import icon_svg
from tests.support import NOW, make_settings


def test_the_icon_is_the_sites_initial_where_browsers_look_for_it(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/i.db",
        PUBLISHER_SITE_TITLE="«Harbour» & Hills",
    )
    engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    client = TestClient(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    for path in ("/favicon.ico", "/favicon.svg"):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"] == "image/svg+xml"
        assert "max-age" in answer.headers["cache-control"]
        svg = etree.fromstring(answer.content)  # well-formed, whatever the title
        assert "".join(svg.itertext()) == "H"
    for page in ("/", "/subscribe", "/no-such-page", "/admin/login"):
        tree = html.fromstring(client.get(page).text)
        assert tree.xpath("//link[@rel='icon']/@href") == ["/favicon.svg"], page
    engine.dispose()


def test_the_initial_is_a_letter_or_digit_of_any_script() -> None:
    assert b">\xeb\xb6\x80<" in icon_svg("부산 News")  # 부
    assert b">N<" in icon_svg("<>&")  # no letter at all: N, and the markup stays markup
    assert b">7<" in icon_svg("7 Days")
