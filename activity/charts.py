"""Server-rendered SVG charts: geometry computed here, drawn by the templates.

The drawing is 760 units wide and scales to its card; on a phone the stylesheet enlarges
the labels' font (in the same units), so there are few enough labels to fit at that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.utils import timezone

SERIES = [("accepted", "#2e7d32"), ("rejected", "#c62828"), ("ignored", "#9e9e9e"), ("missed", "#f9a825"),
          ("cancelled", "#5c6bc0")]  # fmt: skip
WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 760, 230, 44, 30, 12, 8
MAX_X_LABELS = 8


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    color: str
    title: str


def nice_ticks(peak: int) -> list[int]:
    """0 and whole steps of 1, 2 or 5 times a power of ten up to the first one at or above the peak (at most 5)."""
    peak = max(peak, 1)
    step = 1
    for magnitude in (10**n for n in range(int(math.log10(peak)) + 1)):
        for factor in (1, 2, 5):
            step = factor * magnitude
            if peak / step <= 4:
                return list(range(0, step * math.ceil(peak / step) + 1, step))
    return list(range(0, step * math.ceil(peak / step) + 1, step))


def _frame(slots: int, peak: int) -> dict:
    ticks = nice_ticks(peak)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - BOTTOM - TOP
    top = ticks[-1]
    return {
        "slot": plot_w / max(slots, 1), "plot_h": plot_h, "top": top,
        "ticks": [{"y": TOP + plot_h - plot_h * v / top, "value": v} for v in ticks],
        "width": WIDTH, "height": HEIGHT, "baseline": TOP + plot_h, "left": LEFT, "right": WIDTH - RIGHT,
    }  # fmt: skip


def _label_indexes(count: int) -> list[int]:
    """Evenly spaced labels that always include the last slot (today)."""
    every = max(1, math.ceil(count / MAX_X_LABELS))
    return list(range(count - 1, -1, -every))[::-1]


def daily_stacked_bars(days: list[dict]) -> dict:
    """Stacked bars per day for the daily chart: every response, cancelled included."""
    peak = max([sum(d.get(name, 0) for name, _ in SERIES) for d in days] + [1])
    chart = _frame(len(days), peak)
    slot, plot_h, top = chart["slot"], chart["plot_h"], chart["top"]
    today = timezone.localdate()
    bars: list[Bar] = []
    for i, day in enumerate(days):
        x, y = LEFT + i * slot + slot * 0.15, TOP + plot_h
        for name, color in SERIES:
            h = plot_h * day.get(name, 0) / top
            if h:
                y -= h
                bars.append(Bar(x, y, slot * 0.7, h, color, f"{day['day']:%d %b}: {day[name]} {name}"))
    indexes = _label_indexes(len(days))
    labels = [
        {"x": LEFT + i * slot + slot / 2, "text": _day_label(days[i]["day"], today), "minor": _minor(n, len(indexes))}
        for n, i in enumerate(indexes)
    ]
    return {**chart, "bars": bars, "labels": labels, "series": SERIES}


def _minor(position: int, count: int) -> bool:
    """Every other label counted back from the last (today), which a phone hides: at the
    phone's larger font, eight labels ran into each other ("11 Nov15 Nov")."""
    return (count - 1 - position) % 2 == 1


def _day_label(day: date, today: date) -> str:
    return "Today" if day == today else f"{day.day} {day:%b}"


def hourly_bars(rows: list) -> dict:
    """Requests per hour of the day, the accepted part drawn over the rest."""
    peak = max([row.requests for row in rows] + [1])
    chart = _frame(len(rows), peak)
    slot, plot_h, top = chart["slot"], chart["plot_h"], chart["top"]
    bars: list[Bar] = []
    for i, row in enumerate(rows):
        x, base = LEFT + i * slot + slot * 0.15, TOP + plot_h
        for value, color, what in ((row.requests, "#c5cae9", "requests"), (row.accepted, "#2e7d32", "accepted")):
            h = plot_h * value / top
            if h:
                bars.append(Bar(x, base - h, slot * 0.7, h, color, f"{row.hour:02d}:00: {value} {what}"))
    labels = [
        {"x": LEFT + i * slot + slot / 2, "text": f"{rows[i].hour:02d}", "minor": (i // 3) % 2 == 1}
        for i in range(0, len(rows), 3)
    ]
    return {**chart, "bars": bars, "labels": labels, "series": [("requests", "#c5cae9"), ("accepted", "#2e7d32")]}
