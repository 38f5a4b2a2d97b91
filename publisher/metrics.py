"""Prometheus metrics, read from the database at scrape time (so every daemon reports the same
queue) plus this process's own counters. The only prometheus-client user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from publisher import store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Collector(Collector):
    def __init__(self, engine: Engine, counters: Callable[[], dict[str, int]]) -> None:
        self.engine = engine
        self.counters = counters

    def collect(self) -> Iterator[Any]:
        with store.reading(self.engine) as session:
            deliveries, editions = store.status_counts(session)
            last = store.last_sends(session)
        queue = GaugeMetricFamily(
            "newsflash_deliveries", "Delivery rows by status", labels=["status"]
        )
        for status in ("pending", "sending", "retry", "sent", "failed", "cancelled"):
            queue.add_metric([status], deliveries.get(status, 0))
        yield queue
        owed = sum(deliveries.get(s, 0) for s in ("pending", "sending", "retry"))
        yield GaugeMetricFamily("newsflash_queue_depth", "Messages still owed", value=owed)
        made = GaugeMetricFamily("newsflash_editions", "Editions by status", labels=["status"])
        for status in ("pending", "ready", "sending", "sent", "skipped", "missed"):
            made.add_metric([status], editions.get(status, 0))
        yield made
        sends = GaugeMetricFamily(
            "newsflash_last_send_timestamp_seconds",
            "When each digest last had a message accepted",
            labels=["digest"],
        )
        for digest, when in sorted(last.items()):
            sends.add_metric([digest], when.timestamp())
        yield sends
        mine = CounterMetricFamily(
            "newsflash_process_events", "What this process did since it started", labels=["event"]
        )
        for event, count in sorted(self.counters().items()):
            mine.add_metric([event], count)
        yield mine


def registry(engine: Engine, counters: Callable[[], dict[str, int]]) -> CollectorRegistry:
    """A registry whose scrape reads the database and ``counters()`` (event -> count)."""
    made = CollectorRegistry()
    made.register(_Collector(engine, counters))
    return made


def render(made: CollectorRegistry) -> bytes:
    data: bytes = generate_latest(made)
    return data
