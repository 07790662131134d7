"""Bar charts as plain geometry for an inline SVG: no IO, no Flask, so it is tested alone."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    top: int  # the value the top gridline stands for
    baseline: float  # y of the x axis
    left: int  # x of the y axis
    top_y: float  # y of the top gridline


def nice_top(n: int) -> int:
    """The smallest of 1, 2, 5 × 10^k at or above n (at least 1), for a readable top gridline."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= n:
                return max(1, m * step)
        step *= 10


def bar_chart(series: list[tuple[str, int]], width: int = 900, height: int = 180, pad_left: int = 40,
              pad_bottom: int = 24, pad_top: int = 12, gap: float = 0.25) -> Chart:
    """Bars for (label, value) pairs, left to right, scaled to the chart's height."""
    top = nice_top(max((v for _, v in series), default=0))
    plot_w, plot_h = width - pad_left - 8, height - pad_top - pad_bottom
    slot = plot_w / max(1, len(series))
    baseline = pad_top + plot_h
    bars = []
    for i, (label, value) in enumerate(series):
        h = plot_h * value / top
        bars.append(Bar(label, value, round(pad_left + i * slot + slot * gap / 2, 1), round(baseline - h, 1),
                        round(slot * (1 - gap), 1), round(h, 1)))
    return Chart(width, height, bars, top, baseline, pad_left, pad_top)
