"""Charts as inline SVG, drawn on the server: no script, no CDN, nothing fetched, so they work offline and
with JavaScript off. One bar per day (grouped when a chart has two series); every bar carries its day and
value (a tooltip, and data attributes for tests)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

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


def plain_number(value: float) -> str:
    if abs(value) >= 1_000_000:
        return f"{value / 1_000_000:.3g}M"
    if abs(value) >= 1000:
        return f"{value / 1000:.3g}k"
    return f"{value:.3g}"


def bar_chart(key: str, title: str, days: Sequence[str], series: Sequence[Series], *,
              fmt: Format = plain_number, empty: str = "nothing yet") -> Markup:
    """One SVG figure: ``days`` along the bottom, a bar per series and day."""
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
    for i, day in enumerate(days):
        for j, s in enumerate(series):
            value = float(s.values[i]) if i < len(s.values) else 0.0
            height = plot_h * max(value, 0.0) / top
            x = LEFT + i * slot + slot * 0.1 + j * bar_w
            label = f"{day} · {s.name}: {fmt(value)}"
            parts.append(f'<rect class="bar s{j + 1}" x="{x:.1f}" y="{TOP + plot_h - height:.1f}" '
                         f'width="{bar_w:.1f}" height="{height:.1f}" data-day="{escape(day)}" '
                         f'data-value="{value:g}"><title>{escape(label)}</title></rect>')
    for i in sorted({0, len(days) // 2, len(days) - 1}) if days else ():
        x = LEFT + (i + 0.5) * slot
        parts.append(f'<text class="axis" x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
                     f'{escape(days[i][5:])}</text>')
    if len(series) > 1:  # a legend, right-aligned in the title row
        x = WIDTH - RIGHT
        for j, s in reversed(list(enumerate(series))):
            text_w = 7 * len(s.name)
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
