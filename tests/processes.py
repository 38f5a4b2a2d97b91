"""The publisher as the tests run it in a process of its own: its environment, one command run
to the end, `publisher deliver` in the background, `publisher run` started and stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from publisher.settings import Settings
from tests.smtp import SmtpServer
from tests.support import LOOPBACK, SECRET

__all__ = [
    "cli",
    "cli_env",
    "daemon_env",
    "deliver_process",
    "start_daemon",
    "stop_daemons",
]


def cli(
    tmp_path: Path, database_url: str, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """``publisher ARGS`` run to the end in ``tmp_path`` on ``database_url``, ``env`` added."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        # Feed servers in tests are on loopback, refused by default (see tests/support.py).
        "PUBLISHER_FETCH_ALLOW_HOSTS": LOOPBACK,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "publisher", *args],
        cwd=tmp_path,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def cli_env(
    settings: Settings, database_url: str, smtp: SmtpServer, tmp_path: Path
) -> dict[str, str]:
    """The environment of a delivery process sending to ``smtp`` (short leases and retries)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update(
        PUBLISHER_DATABASE_URL=database_url,
        PUBLISHER_SECRET_KEY=SECRET,
        PUBLISHER_VAR_DIR=str(tmp_path / "var"),
        PUBLISHER_SMTP_URL=smtp.url,
        PUBLISHER_SCHEDULES=str(settings.schedules),
        # Short, so that a killed worker's deliveries come back within a test (the lease's
        # default is tested in tests/delivery/test_heartbeat.py).
        PUBLISHER_SEND_LEASE="2",
        PUBLISHER_SEND_RETRY_BASE="0.2",
        PUBLISHER_SITE_URL="https://news.example.com",
        PUBLISHER_MAIL_FROM="Newsflash Asia <newsletter@news.example.com>",
    )
    return env


def deliver_process(env: dict[str, str], cwd: Path, *args: str) -> subprocess.Popen[str]:
    """``publisher deliver ARGS`` in the background, its output captured as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "publisher", "deliver", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def daemon_env(
    tmp_path: Path, database_url: str, smtp: SmtpServer, schedules: Path, port: int
) -> dict[str, str]:
    """The environment of a `publisher run` on ``port``, sending to ``smtp``."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")} | {
        "PUBLISHER_DATABASE_URL": database_url,
        "PUBLISHER_SECRET_KEY": SECRET,
        "PUBLISHER_VAR_DIR": str(tmp_path / "var"),
        "PUBLISHER_SCHEDULES": str(schedules),
        "PUBLISHER_SMTP_URL": smtp.url,
        "PUBLISHER_SITE_URL": f"http://127.0.0.1:{port}",
        "PUBLISHER_MAIL_FROM": "Newsflash Asia <newsletter@news.example.com>",
        "PUBLISHER_SEND_LEASE": "2",
        "PUBLISHER_SEND_RETRY_BASE": "0.2",
        "PUBLISHER_FETCH_ALLOW_HOSTS": LOOPBACK,  # the tests' feed servers (tests/support.py)
    }


def start_daemon(env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen[str]:
    """`publisher run --port PORT`, once its /healthz answers 200 (within 30 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "publisher", "run", "--port", str(port)],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0]
        time.sleep(0.2)


def stop_daemons(*procs: subprocess.Popen[str]) -> list[str]:
    """SIGTERM to each still running; their outputs, once each has exited with 0."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    outputs = [proc.communicate(timeout=30)[0] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * len(procs), outputs
    return outputs
