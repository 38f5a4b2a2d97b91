"""Real pages in a real browser: the app served by uvicorn on loopback, read by Debian's
Chromium through Playwright. Screenshots go to test-artifacts/ for people to look at."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

__all__ = [
    "ARTIFACTS",
    "CHROMIUM_ARGS",
    "DESKTOP",
    "PHONE",
    "SCREENSHOTS",
    "LiveServer",
    "chromium_or_skip",
    "free_port",
    "keep",
    "screenshot",
    "watched",
    "widest",
]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"  # the README's
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``app`` served by a real uvicorn in a thread, until ``stop()``."""

    def __init__(self, app: FastAPI, port: int | None = None) -> None:
        self.port = port or free_port()  # given: the app's site URL names it (the newsroom)
        self.url = f"http://127.0.0.1:{self.port}"
        # Idle keep-alive connections stay open for the test's length: closed after uvicorn's
        # default 5 s, a busy client can send on one just as it closes (httpx.ReadError).
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_keep_alive=120
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def chromium_or_skip() -> str:
    """Debian's Chromium; a skip without it (a failure under CI=true)."""
    if shutil.which(CHROMIUM) is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def screenshot(page: object, name: str) -> Path:
    """The whole page as ``test-artifacts/NAME.png``; its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def widest(page: Any) -> int:
    """How wide the page's content is, in CSS pixels (wider than the viewport: it scrolls)."""
    return int(page.evaluate("document.documentElement.scrollWidth"))


def watched(browser: Any, viewport: dict[str, int]) -> tuple[Any, list[str]]:
    """A page, and every console message and page error it has."""
    page = browser.new_page(viewport=viewport)
    said: list[str] = []
    page.on("console", lambda message: said.append(f"console {message.type}: {message.text}"))
    page.on("pageerror", lambda error: said.append(f"pageerror: {error}"))
    return page, said


def keep(page: Any, name: str) -> None:
    """A newsroom page's screenshot, in test-artifacts/admin/ and in docs/screenshots/."""
    (ARTIFACTS / "admin").mkdir(parents=True, exist_ok=True)
    shot = screenshot(page, f"admin/{name}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOTS / f"admin-{shot.name}")  # the README shows these
