"""The dashboard's bar chart of login failures, drawn as SVG on the server (no
script, no external service).

Only the geometry is computed here; ``templates/admin/chart.html`` draws it, so
every label goes through the template's escaping. Each bar stacks failures for
usernames that exist (the ones that can lead to a lockout) on failures for
usernames that do not (guessing), and links to the audit log of its slice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from ..services.lockout_report import Bucket
from ..time_zones import UTC_NAME, local

WIDTH = 720
HEIGHT = 200
LEFT = 40  # room for the scale
BOTTOM = 24  # room for the time labels
TOP = 10
LABELS = 8  # about this many time labels along the axis
PERIOD_WORDS = {"24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days"}


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    known_y: float
    known_height: float
    unknown_y: float
    unknown_height: float
    known: int
    unknown: int
    span: str  # "14:00-15:00" or "Jan 05"
    label: str  # the bar's tooltip
    axis_label: str  # shown under some bars only
    link: str  # the audit log of this slice's failures
    current: bool


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    left: int
    baseline: float
    top: int
    scale_max: int
    ticks: list[Tick]
    bars: list[Bar]
    total: int
    known_total: int
    period: str
    period_words: str
    zone: str  # the viewer's time zone, which the labels use


def round_scale(value: int) -> tuple[int, int]:
    """(top, step) of a scale for ``value``: steps of 1, 2 or 5 times a power of ten,
    4 to 6 of them, so every tick is a round number."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            size = step * factor
            steps = max(4, -(-value // size))
            if steps <= 6:
                return size * steps, size
        step *= 10


def _span(bucket: Bucket, zone: str) -> str:
    if bucket.end - bucket.start >= timedelta(days=1):
        # a day's bucket is a UTC day (so are its audit link's bounds): named as such
        return bucket.start.strftime("%b %d")
    start, end = local(bucket.start, zone), local(bucket.end, zone)
    return f"{start:%b %d %H:%M}-{end:%H:%M}"


def failures_chart(
    buckets: Sequence[Bucket],
    period: str,
    link: Callable[[Bucket], str],
    zone: str = UTC_NAME,
) -> BarChart:
    """The chart of ``buckets``, labelled in time zone ``zone`` (the buckets and
    their audit links stay in UTC: only what a person reads moves)."""
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    slot = (WIDTH - LEFT) / max(len(buckets), 1)
    scale_max, step = round_scale(max((bucket.failures for bucket in buckets), default=0))
    label_every = max(1, len(buckets) // LABELS)
    bars = []
    for index, bucket in enumerate(buckets):
        unknown_height = plot_height * bucket.unknown / scale_max
        known_height = plot_height * bucket.known / scale_max
        current = index == len(buckets) - 1
        span = _span(bucket, zone)
        start, end = local(bucket.start, zone), local(bucket.end, zone)
        daily = bucket.end - bucket.start >= timedelta(days=1)
        short = bucket.start.strftime("%b %d") if daily else start.strftime("%H:%M")
        if not daily and bucket.end - bucket.start > timedelta(hours=1):
            short = start.strftime("%a %H:%M")
        total = bucket.failures
        bars.append(
            Bar(
                x=round(LEFT + index * slot + slot * 0.1, 1),
                width=round(slot * 0.8, 1),
                unknown_y=round(baseline - unknown_height, 1),
                unknown_height=round(unknown_height, 1),
                known_y=round(baseline - unknown_height - known_height, 1),
                known_height=round(known_height, 1),
                known=bucket.known,
                unknown=bucket.unknown,
                span=span,
                label=(
                    f"{start:%Y-%m-%d %H:%M}-{end:%H:%M} {zone}: {total} failed "
                    f"login{'' if total == 1 else 's'} ({bucket.known} for existing "
                    f"usernames, {bucket.unknown} for unknown ones)"
                ),
                axis_label="now" if current else (short if index % label_every == 0 else ""),
                link=link(bucket),
                current=current,
            )
        )
    return BarChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        baseline=baseline,
        top=TOP,
        scale_max=scale_max,
        ticks=[
            Tick(round(baseline - plot_height * value / scale_max, 1), value)
            for value in range(0, scale_max + 1, step)
        ],
        bars=bars,
        total=sum(bucket.failures for bucket in buckets),
        known_total=sum(bucket.known for bucket in buckets),
        period=period,
        period_words=PERIOD_WORDS[period],
        zone=zone,
    )
