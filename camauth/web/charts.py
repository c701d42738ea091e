"""A small bar chart drawn as SVG on the server (no script, no external service).

Only the geometry is computed here; ``templates/admin/chart.html`` draws it, so
every label goes through the template's escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..services.lockout_report import HourCount

WIDTH = 720
HEIGHT = 180
LEFT = 40  # room for the scale
BOTTOM = 24  # room for the hour labels
TOP = 10
LABEL_EVERY = 3  # hours between labels on the time axis


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    count: int
    hour: str  # "14:00-15:00"
    label: str  # "14:00-15:00 UTC: 12 failures", the bar's tooltip
    axis_label: str  # "14:00" every few hours, else ""


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    baseline: float
    top: int
    scale_max: int
    bars: list[Bar]
    total: int


def nice_maximum(value: int) -> int:
    """The scale's top: ``value`` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 1:
        return 1
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= value:
                return step * factor
        step *= 10


def failures_chart(hours: Sequence[HourCount]) -> BarChart:
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    slot = (WIDTH - LEFT) / max(len(hours), 1)
    scale_max = nice_maximum(max((hour.failures for hour in hours), default=0))
    bars = []
    for index, hour in enumerate(hours):
        height = plot_height * hour.failures / scale_max
        start = hour.start.strftime("%H:%M")
        end = f"{(hour.start.hour + 1) % 24:02d}:00"
        noun = "failure" if hour.failures == 1 else "failures"
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.1, 1),
                y=round(baseline - height, 1),
                width=round(slot * 0.8, 1),
                height=round(height, 1),
                count=hour.failures,
                hour=f"{start}-{end}",
                label=f"{start}-{end} UTC: {hour.failures} {noun}",
                axis_label=start if index % LABEL_EVERY == 0 else "",
            )
        )
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        baseline=baseline,
        top=TOP,
        scale_max=scale_max,
        bars=bars,
        total=sum(hour.failures for hour in hours),
    )
