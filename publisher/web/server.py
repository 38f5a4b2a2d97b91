"""Serving the app with uvicorn, stopping cleanly on the signal the daemon handles."""

from __future__ import annotations

from typing import Any

import uvicorn
from fastapi import FastAPI


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM after a graceful stop, so the process would die of the
    signal; ops (and systemd) expect a clean exit 0 after a clean shutdown."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._captured_signals.clear()


def serve(app: FastAPI, *, host: str, port: int, access_log: bool = False) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then return normally."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        access_log=access_log,
        proxy_headers=True,
        log_config=None,  # log through the process's handlers (text or JSON, see cli)
    )
    _Server(config).run()
