"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing fetched, so they work offline and
with JavaScript off. One bar per day (grouped when a chart has two series); every bar carries its day and
value (a tooltip in the page's language, and data attributes as ISO days and plain figures)."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial

from markupsafe import Markup, escape

from bot.core.numbers import compact, day

WIDTH, HEIGHT = 640, 210
LEFT, RIGHT, TOP, BOTTOM = 56, 8, 26, 26
Format = Callable[[float], str]


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 × 10^k at or above ``value`` (the top of the axis); 1 for nothing."""
    if value <= 0 or not math.isfinite(value):
        return 1.0
    power: float = 10 ** math.floor(math.log10(value))  # an int (typed Any: a negative power is a float)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def text_width(text: str) -> int:
    """About how wide ``text`` is drawn, in the chart's units: a wide character (Chinese, Japanese, Korean)
    takes two narrow ones' room."""
    return sum(14 if unicodedata.east_asian_width(c) in "WF" else 7 for c in text)


def bar_chart(key: str, title: str, days: Sequence[str], series: Sequence[Series], *, language: str | None,
              fmt: Format | None = None, empty: str = "nothing yet") -> Markup:
    """One SVG figure: ``days`` (ISO dates) along the bottom, a bar per series and day; its figures ``fmt``
    (by default a figure shortened as ``language`` shortens one) and its days written as ``language``
    writes them."""
    fmt = fmt or partial(compact, language=language)
    shown = [day(date.fromisoformat(d), language) for d in days]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    top = nice_ceiling(max((v for s in series for v in s.values), default=0.0))
    slot = plot_w / max(len(days), 1)
    bar_w = slot * 0.8 / max(len(series), 1)
    parts = [f'<svg class="chart" data-chart="{escape(key)}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f'<text class="title" x="{LEFT}" y="16">{escape(title)}</text>']
    for fraction in (0.0, 0.5, 1.0):  # gridlines with their values
        y = TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{escape(fmt(top * fraction))}</text>')
    for i, iso in enumerate(days):
        for j, s in enumerate(series):
            value = float(s.values[i]) if i < len(s.values) else 0.0
            height = plot_h * max(value, 0.0) / top
            x = LEFT + i * slot + slot * 0.1 + j * bar_w
            label = f"{shown[i]} · {s.name}: {fmt(value)}"
            parts.append(f'<rect class="bar s{j + 1}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{bar_w:.1f}" height="{height:.1f}" data-day="{escape(iso)}" '
                         f'data-value="{value:g}"><title>{escape(label)}</title></rect>')
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        x = LEFT + (i + 0.5) * slot
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{escape(shown[i])}</text>')
    if len(series) > 1:  # a legend, right-aligned in the title row
        x = WIDTH - RIGHT
        for j, s in reversed(list(enumerate(series))):
            text_w = text_width(s.name)
            x -= text_w
            parts.append(f'<text class="legend" x="{x}" y="16">{escape(s.name)}</text>')
            x -= 14
            parts.append(f'<rect class="bar s{j + 1}" x="{x}" y="7" width="10" height="10"/>')
            x -= 12
    if not any(v for s in series for v in s.values):
        parts.append(f'<text class="empty" x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" '
                     f'text-anchor="middle">{escape(empty)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
