"""Server-rendered SVG charts: geometry computed here, drawn by the templates."""

from __future__ import annotations

from dataclasses import dataclass

SERIES = [("accepted", "#2e7d32"), ("rejected", "#c62828"), ("ignored", "#9e9e9e"), ("missed", "#f9a825")]
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 760, 220, 36, 24, 10


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


def daily_stacked_bars(days: list[dict]) -> dict:
    """Stacked bars per day for the daily chart, with y ticks and sparse x labels."""
    peak = max([sum(d[name] for name, _ in SERIES) for d in days] + [1])
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bars: list[Bar] = []
    labels = []
    every = max(1, len(days) // 10)
    for i, day in enumerate(days):
        x = LEFT + i * slot + slot * 0.15
        y = TOP + plot_h
        for name, color in SERIES:
            h = plot_h * day[name] / peak
            if h:
                y -= h
                bars.append(Bar(x, y, slot * 0.7, h, color, f"{day['day']:%d %b}: {day[name]} {name}"))
        if i % every == 0:
            labels.append({"x": LEFT + i * slot + slot / 2, "text": f"{day['day']:%d %b}"})
    values = sorted({0, peak // 2, peak})  # whole numbers, each drawn at its own height
    ticks = [{"y": TOP + plot_h - plot_h * v / peak, "value": v} for v in values]
    return {
        "width": WIDTH, "height": HEIGHT, "bars": bars, "labels": labels, "ticks": ticks,
        "baseline": TOP + plot_h, "left": LEFT, "right": WIDTH - 8, "series": SERIES,
    }  # fmt: skip
