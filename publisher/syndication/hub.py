"""WebSub publisher notifications (https://www.w3.org/TR/websub/#publishing). The httpx user."""

from __future__ import annotations

import httpx

from publisher.errors import OperationalError

__all__ = ["TIMEOUT", "notify_hub"]

TIMEOUT = 5.0


def notify_hub(hub: str, topic: str, *, timeout: float = TIMEOUT) -> None:
    """Tell ``hub`` that ``topic`` changed; OperationalError if the hub did not accept it."""
    try:
        response = httpx.post(hub, data={"hub.mode": "publish", "hub.url": topic}, timeout=timeout)
    except httpx.HTTPError as exc:
        raise OperationalError(f"WebSub hub {hub} unreachable: {exc}") from None
    if response.status_code >= 300:
        raise OperationalError(f"WebSub hub {hub} answered {response.status_code}")
