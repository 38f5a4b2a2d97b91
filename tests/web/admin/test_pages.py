"""What every newsroom page shares (web/admin/pages.py), here the sign-in page of a site
nobody can sign in to yet."""

from __future__ import annotations

from sqlalchemy import Engine

from publisher.settings import Settings
from publisher.web import create_app
from tests.newsroom import add_person, newsroom_client
from tests.support import NOW


def test_the_sign_in_page_of_a_fresh_site_says_where_the_first_admin_link_is(
    engine: Engine, settings: Settings
) -> None:
    """Issue 25: /admin/ before any admin existed was a bare sign-in form."""
    client = newsroom_client(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    page = client.get("/admin/")
    assert page.status_code == 200 and 'id="first-admin-note"' in page.text
    assert "Nobody can sign in yet." in page.text
    assert "in the output of <code>publisher run</code>" in page.text
    assert "<code>publisher users add you@example.com --role admin</code>" in page.text
    add_person(engine, settings, "chief@example.com", "admin")  # with a password
    assert 'id="first-admin-note"' not in client.get("/admin/").text
