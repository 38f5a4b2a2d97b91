"""Prometheus metrics, read from the database at scrape time (so every daemon reports the same
queue) plus this process's own counters. The only prometheus-client user."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from publisher import store
from publisher.editions import stats

__all__ = ["CONTENT_TYPE", "RECENT_EDITIONS", "registry", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
RECENT_EDITIONS = 5  # editions with figures of their own: label cardinality stays bounded


class _Collector(Collector):
    def __init__(
        self,
        engine: Engine,
        counters: Callable[[], dict[str, int]],
        clock: Callable[[], datetime],
    ) -> None:
        self.engine = engine
        self.counters = counters
        self.clock = clock

    def collect(self) -> Iterator[Any]:
        yield from self._editions()
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

    def _editions(self) -> Iterator[Any]:
        """The RECENT_EDITIONS newest editions' figures, labelled by edition and digest."""
        recent = stats.recent(self.engine, count=RECENT_EDITIONS, now=datetime.now(UTC))
        labels = ["edition", "digest"]
        messages = GaugeMetricFamily(
            "newsflash_edition_messages",
            "Messages of each recent edition by outcome",
            labels=[*labels, "outcome"],
        )
        left = GaugeMetricFamily(
            "newsflash_edition_unsubscribed",
            "Readers who left through each recent edition's links (7 days)",
            labels=labels,
        )
        clicked = GaugeMetricFamily(
            "newsflash_edition_clicks",
            "Readers who followed each recent edition's links (each once per link)",
            labels=labels,
        )
        rate = GaugeMetricFamily(
            "newsflash_edition_send_rate",
            "Messages a second over the last minute, for each recent edition still sending",
            labels=labels,
        )
        for item in recent:
            state = item.state
            names = [str(state.edition_id), state.digest]
            outcomes = {
                "recipients": state.total,
                "sent": state.sent,
                "failed": state.failed,
                "bounced": item.bounced,
                "cancelled": state.cancelled,
                "retrying": state.retrying,
                "owed": state.owed,
            }
            for outcome, value in outcomes.items():
                messages.add_metric([*names, outcome], value)
            left.add_metric(names, item.unsubscribed)
            clicked.add_metric(names, item.clicks)
            rate.add_metric(names, item.rate)
        yield from (messages, left, clicked, rate)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def registry(
    engine: Engine,
    counters: Callable[[], dict[str, int]],
    clock: Callable[[], datetime] = _utcnow,
) -> CollectorRegistry:
    """A registry whose scrape reads the database and ``counters()`` (event -> count)."""
    made = CollectorRegistry()
    made.register(_Collector(engine, counters, clock))
    return made


def render(made: CollectorRegistry) -> bytes:
    data: bytes = generate_latest(made)
    return data
