"""The server's own limits (issue 16, item 13): slow and greedy sockets are dropped, at the
default settings, by a real `publisher run`; and the connection limit, in a real uvicorn."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from publisher.settings import Settings
from publisher.web import create_app
from publisher.web.server import server_config
from tests.browser import free_port
from tests.support import NOW, SECRET, make_settings


def wait_for_http(url: str, proc: subprocess.Popen[str] | None = None) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline or (proc is not None and proc.poll() is not None):
                raise
            time.sleep(0.2)


def opened(port: int, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    if first:
        sock.sendall(first)
    return sock


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_slow_sockets_are_dropped_at_the_default_settings(
    tmp_path: Path, database_url: str
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--no-scheduler", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", proc)
        # The attack: sockets that connect and send nothing, that send a head a byte at a
        # time, or that stop in the middle of a body, were kept open for ever.
        sockets = {
            "silent": opened(port),
            "trickle": opened(port, b"GET / HTTP/1.1\r\nHost: x\r\n"),
            "stalled body": opened(
                port,
                b"POST /report HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\n\r\nmessage=the+da",
            ),
            "huge head": opened(
                port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 20_000 + b"\r\n"
            ),
        }
        answers = {name: b"" for name in sockets}
        open_ = dict(sockets)
        deadline = time.monotonic() + 90  # the defaults are 10 s (head) and 15 s (body)
        while open_ and time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # one more header byte from the trickler
                sockets["trickle"].send(b"X")
            readable, _, _ = select.select(list(open_.values()), [], [], 1.0)
            for sock in readable:
                name = next(n for n, s in open_.items() if s is sock)
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    data = b""
                answers[name] += data
                if not data:
                    del open_[name]
            # Meanwhile the server answers everyone else.
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
        assert open_ == {}, f"still open: {list(open_)}"
        assert answers["silent"] == b""
        assert answers["trickle"].startswith(b"HTTP/1.1 408 ")
        assert answers["stalled body"].startswith(b"HTTP/1.1 408 ")
        assert answers["huge head"].startswith(b"HTTP/1.1 431 ")
        for sock in sockets.values():
            sock.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0, output


class Served:
    """``app`` in a real uvicorn configured as ``publisher run`` does, in a thread."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = server_config(app, settings, host="127.0.0.1", port=self.port)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_http(f"{self.url}/healthz")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_believes_no_x_forwarded_for_by_default(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    # uvicorn itself believes X-Forwarded-For from 127.0.0.1 unless told otherwise: a fresh
    # header on each post made each one a fresh client for the sign-up limit.
    settings: Settings = make_settings(tmp_path, PUBLISHER_DATABASE_URL=database_url)
    served = Served(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    try:
        with httpx.Client(base_url=served.url) as client:
            answers = [
                client.post(
                    "/subscribe",
                    data={"email": "x@example.com", "website": "bot"},  # the honeypot
                    headers={"X-Forwarded-For": f"198.51.100.{n}"},
                ).status_code
                for n in range(11)
            ]
    finally:
        served.stop()
    assert answers == [200] * 10 + [429]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_past_the_connection_limit_a_client_gets_503(
    engine: Engine, tmp_path: Path, database_url: str
) -> None:
    # The limit is lowered from its default (500) to 3 so that two idle sockets reach it.
    settings: Settings = make_settings(
        tmp_path, PUBLISHER_DATABASE_URL=database_url, PUBLISHER_HTTP_MAX_CONNECTIONS="3"
    )
    served = Served(
        create_app(settings, engine, clock=lambda: NOW, feed_upkeep_every=None), settings
    )
    port = served.port
    try:
        idle = [opened(port), opened(port)]
        busy = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"})
        assert busy.status_code == 503
        for sock in idle:
            sock.close()
        deadline = time.monotonic() + 30
        while True:  # the server notices the closed sockets
            again = httpx.get(f"http://127.0.0.1:{port}/healthz", headers={"Connection": "close"})
            if again.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert again.status_code == 200
    finally:
        served.stop()
