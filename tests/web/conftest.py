"""Fixtures for the web side's tests: one Chromium for the session, the sample site served;
and every test that opens Chromium marked slow."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import Engine

from publisher import store
from publisher.articles import publish
from publisher.settings import Settings
from publisher.web import create_app
from tests.browser import CHROMIUM_ARGS, LiveServer, chromium_or_skip
from tests.support import EXAMPLES, NOW, make_settings

__all__ = ["browser", "pytest_collection_modifyitems", "site"]

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that opens Chromium: `make check` leaves them to `make test`."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()) and item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.slow)


# One Playwright for the whole session: a second sync_playwright() in the same process fails
# with "Sync API inside the asyncio loop".
@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, driven by Playwright, for the whole session."""
    executable = chromium_or_skip()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    """The sample site on SQLite (the store itself is tested on both databases elsewhere)."""
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=f"sqlite:///{tmp_path}/b.db"
    )
    engine: Engine = store.make_engine(settings.database_url)
    store.migrate(engine)
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW, actor="test")
    server = LiveServer(create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None))
    yield server
    server.stop()
    engine.dispose()
