"""The newsroom's charts as geometry: the dashboard's growth (``admin/_growth.html``) and an
edition's send rate (``admin/_rate.html``). The templates write them as inline SVG (no
script, no style attribute: they render under the admin's CSP), with a title, a description
and the same figures in a table for screen readers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from publisher.newsroom.dashboard import Day

__all__ = ["Chart", "Point", "RateChart", "Sample", "Tick", "growth_chart", "rate_chart"]

WIDTH, HEIGHT = 720.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 12.0, 12.0, 28.0  # room for the axes' labels
TICKS = 4  # steps on the y axis
# The time axis's labels at the largest size the page gives them (admin.css: 22 units of the
# 720-unit view box on a phone, where the chart is drawn at half size), a generous average
# character width and the room kept between two labels: none may overlap another.
LABEL_FONT, CHAR_WIDTH, LABEL_GAP = 22.0, 0.62, 12.0


@dataclass(frozen=True)
class Point:
    """One day on the growth chart, where it is drawn."""

    x: float
    y: float
    day: Day


@dataclass(frozen=True)
class Tick:
    """A labelled step on an axis."""

    at: float  # x for the time axis, y for the figures
    label: str


@dataclass(frozen=True)
class Chart:
    """The growth chart as the template draws it, with a summary in words."""

    width: float
    height: float
    points: list[Point]
    line: str  # the polyline's points
    area: str  # the polygon under it
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    baseline: float
    summary: str
    busiest: Day | None


@dataclass(frozen=True)
class Sample:
    """One interval of a send: ``count`` messages sent in the interval starting ``at``."""

    x: float
    y: float
    at: datetime
    count: int


@dataclass(frozen=True)
class RateChart:
    """An edition's send rate as the template draws it, with a summary in words."""

    width: float
    height: float
    samples: list[Sample]
    line: str
    area: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    baseline: float
    summary: str


@dataclass(frozen=True)
class _Plot:
    """Where each value goes: the line through them, the area under it and the y axis."""

    xy: list[tuple[float, float]]
    line: str
    area: str
    y_ticks: list[Tick]
    baseline: float


def _nice_step(value: float) -> int:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``value`` (and 1)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def _labels(values: Sequence[int], step: int) -> list[str]:
    """The axis's figures, short enough for a phone, in one unit: 950 / 9,500 / 95k / 1.05M,
    with as many decimals as the step needs."""
    top = max(values)
    unit, suffix = (
        (1_000_000, "M") if top >= 1_000_000 else (1000, "k") if top >= 10_000 else (1, "")
    )
    decimals = 0
    while decimals < 3 and (step * 10**decimals) % unit:
        decimals += 1
    return [f"{value / unit:,.{decimals}f}{suffix}" if value else "0" for value in values]


def _scale(low: int, high: int) -> tuple[int, int]:
    """(floor, step) of a y axis of four whole steps holding ``low``..``high``: from 0, or
    from just under ``low`` when the curve would otherwise be a flat line at the top."""
    floor = 0 if low <= high // 2 else low - (high - low) // 4 - 1
    step = _nice_step(max(high - floor, 1) / TICKS)
    while True:
        floor -= floor % step
        if floor + TICKS * step >= high:
            return max(floor, 0), step
        step = _nice_step(step + 1)


def _plot(values: Sequence[int], *, from_zero: bool = False) -> _Plot:
    """The geometry of a line through ``values`` (at least one), evenly spaced across."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    floor, tick = _scale(0 if from_zero else min(values), max(values))
    span = TICKS * tick
    step = plot_w / max(len(values) - 1, 1)

    def y_of(value: float) -> float:
        return round(baseline - (value - floor) / span * plot_h, 1)

    xy = [(round(LEFT + i * step, 1), y_of(v)) for i, v in enumerate(values)]
    line = " ".join(f"{x},{y}" for x, y in xy)
    area = f"{xy[0][0]},{baseline} {line} {xy[-1][0]},{baseline}"
    figures = [floor + i * tick for i in range(TICKS + 1)]
    y_ticks = [
        Tick(y_of(f), label) for f, label in zip(figures, _labels(figures, tick), strict=True)
    ]
    return _Plot(xy, line, area, y_ticks, baseline)


def _x_ticks(xs: Sequence[float], label: Callable[[int], str], most: int = 6) -> list[Tick]:
    """About ``most`` labels on the time axis, evenly spaced, the last point always labelled
    (its label ends there, the others are centred on theirs); a label that would touch its
    neighbour at a phone's size (:data:`LABEL_FONT`) is left out."""
    every = max(len(xs) // most, 1)
    wanted = [Tick(x, label(i)) for i, x in enumerate(xs) if (len(xs) - 1 - i) % every == 0]
    kept: list[Tick] = []
    room = WIDTH  # where the label kept last (the one to the right) begins
    for tick in reversed(wanted):
        width = len(tick.label) * LABEL_FONT * CHAR_WIDTH
        right = tick.at if not kept else tick.at + width / 2
        if kept and right + LABEL_GAP > room:
            continue
        kept.append(tick)
        room = right - width
    return kept[::-1]


def growth_chart(days: Sequence[Day]) -> Chart:
    """A line of the running total, a point per day; the y axis from 0 (or just under the
    lowest total, when the curve would otherwise be a flat line at the top)."""
    if not days:
        baseline = HEIGHT - BOTTOM
        return Chart(WIDTH, HEIGHT, [], "", "", [], [], baseline, "No days to show.", None)
    plot = _plot([d.total for d in days])
    points = [Point(x, y, day) for (x, y), day in zip(plot.xy, days, strict=True)]
    x_ticks = _x_ticks([p.x for p in points], lambda i: points[i].day.day.strftime("%d %b"))
    new = sum(d.new for d in days)
    busiest = max(days, key=lambda d: (d.new, d.day))
    summary = (
        f"{days[-1].total:,} subscribers on {days[-1].day:%d %b %Y}: "
        f"{new:+,} in the last {len(days)} days"
        f" (from {days[0].total - days[0].new:,} before {days[0].day:%d %b})."
    )
    if busiest.new:
        summary += f" Most sign-ups in a day: {busiest.new:,}, on {busiest.day:%d %b}."
    return Chart(
        WIDTH,
        HEIGHT,
        points,
        plot.line,
        plot.area,
        x_ticks,
        plot.y_ticks,
        plot.baseline,
        summary,
        busiest if busiest.new else None,
    )


def rate_chart(series: Sequence[tuple[datetime, int]], *, every: str = "minute") -> RateChart:
    """Messages sent per interval (``every`` names it: "minute", "5 seconds") over the
    send, its local times on the time axis (to the second for intervals under a minute);
    the y axis from 0."""
    if not series:
        baseline = HEIGHT - BOTTOM
        return RateChart(WIDTH, HEIGHT, [], "", "", [], [], baseline, "Nothing sent yet.")
    plot = _plot([count for _, count in series], from_zero=True)
    samples = [Sample(x, y, at, count) for (x, y), (at, count) in zip(plot.xy, series, strict=True)]
    clock = "%H:%M:%S" if "second" in every else "%H:%M"
    x_ticks = _x_ticks([s.x for s in samples], lambda i: samples[i].at.strftime(clock))
    busiest = max(samples, key=lambda s: s.count)
    total = sum(s.count for s in samples)
    summary = (
        f"{total:,} messages sent from {samples[0].at:{clock}} to {samples[-1].at:{clock}}; "
        f"at most {busiest.count:,} per {every}, at {busiest.at:{clock}}."
    )
    return RateChart(
        WIDTH,
        HEIGHT,
        samples,
        plot.line,
        plot.area,
        x_ticks,
        plot.y_ticks,
        plot.baseline,
        summary,
    )
