from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from publisher import publish
from publisher.settings import Settings
from publisher.web import create_app
from tests.conftest import NOW, SECRET

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "articles"


@pytest.fixture
def client(engine: Engine, settings: Settings) -> TestClient:
    publish.import_articles(engine, settings, [EXAMPLES], now=NOW)
    return TestClient(create_app(settings, engine, clock=lambda: NOW))


def test_index_lists_the_visible_articles(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Durian exporters switch to rail" in page.text
    assert "부산 국제 영화제" in page.text
    assert 'href="/articles/durian-exports-rail"' in page.text
    assert "Sponsored" in page.text


def test_article_page_shows_provenance_and_corrections(client: TestClient) -> None:
    page = client.get("/articles/second-link-lane-closures")
    assert page.status_code == 200
    assert "Corrections" in page.text and "They start at" in page.text
    assert "Spot an error? Report it here" in page.text
    ai = client.get("/articles/durian-exports-rail").text
    assert "adapted from source material with the help of AI tools" in ai
    assert "Selected and edited by Daniel Tan" in ai


def test_unknown_article_is_a_404_page(client: TestClient) -> None:
    page = client.get("/articles/no-such-story")
    assert page.status_code == 404
    assert "no article with slug" in page.text


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_publisher_run_demo_serves_the_samples(tmp_path: Path, database_url: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--demo", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.2)
        assert page.status_code == 200
        assert "Penang culture forum" in page.text
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json()["database"] == "ok"
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output
    assert "loaded 6 sample articles" in output
