"""The dashboard's growth chart as geometry: the template ``admin/_growth.html`` writes it as
inline SVG (no script, no style attribute: it renders under the admin's CSP), with a title,
a description and the same figures in a table for screen readers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from publisher.newsroom import Day

WIDTH, HEIGHT = 720.0, 240.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 12.0, 12.0, 28.0  # room for the axes' labels
TICKS = 4  # steps on the y axis


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    day: Day


@dataclass(frozen=True)
class Tick:
    at: float  # x for the time axis, y for the figures
    label: str


@dataclass(frozen=True)
class Chart:
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


def growth_chart(days: Sequence[Day]) -> Chart:
    """A line of the running total, a point per day; the y axis from 0 (or just under the
    lowest total, when the curve would otherwise be a flat line at the top)."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    if not days:
        return Chart(WIDTH, HEIGHT, [], "", "", [], [], baseline, "No days to show.", None)
    floor, tick = _scale(min(d.total for d in days), max(d.total for d in days))
    span = TICKS * tick
    step = plot_w / max(len(days) - 1, 1)

    def y_of(value: float) -> float:
        return round(baseline - (value - floor) / span * plot_h, 1)

    points = [Point(round(LEFT + i * step, 1), y_of(day.total), day) for i, day in enumerate(days)]
    line = " ".join(f"{p.x},{p.y}" for p in points)
    area = f"{points[0].x},{baseline} {line} {points[-1].x},{baseline}"
    figures = [floor + i * tick for i in range(TICKS + 1)]
    y_ticks = [
        Tick(y_of(f), label) for f, label in zip(figures, _labels(figures, tick), strict=True)
    ]
    every = max(len(days) // 6, 1)
    x_ticks = [
        Tick(p.x, p.day.day.strftime("%d %b"))
        for i, p in enumerate(points)
        if (len(points) - 1 - i) % every == 0
    ]
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
        line,
        area,
        x_ticks,
        y_ticks,
        baseline,
        summary,
        busiest if busiest.new else None,
    )
