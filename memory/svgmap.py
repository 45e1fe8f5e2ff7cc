"""/memory map: a hand-written SVG of what the character remembers about someone.

Facts are grouped by category into panels; each fact is a bubble whose area grows with how often it was
mentioned (reference count) and whose colour fades from fresh to grey with the days since it was last
mentioned. Pinned facts get an outline. Every piece of text is XML-escaped (facts are user-derived).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from bot.core.i18n import t, tn
from bot.core.text import clip
from database.records import FactRow
from memory.facts import category_name

WIDTH = 960
COLUMNS = 2
PANEL_GAP = 16
MARGIN = 24
HEADER = 72
ROW = 34
PANEL_TITLE = 34
LABEL_CHARS = 52
MIN_R, MAX_R = 5.0, 15.0
FRESH = (46, 139, 87)  # sea green: mentioned today
STALE = (176, 176, 176)  # grey: not mentioned for FADE_DAYS
FADE_DAYS = 30.0


def radius(refs: int, most: int) -> float:
    """Area proportional to references, between MIN_R and MAX_R."""
    if most <= 1:
        return MIN_R + (MAX_R - MIN_R) * 0.35
    share = (max(refs, 1) - 1) / (most - 1)
    return math.sqrt(MIN_R ** 2 + share * (MAX_R ** 2 - MIN_R ** 2))


def shade(last_mentioned: datetime, now: datetime) -> str:
    age = max(0.0, (now - last_mentioned).total_seconds() / 86400)
    t = min(age / FADE_DAYS, 1.0)
    r, g, b = (round(f + (s - f) * t) for f, s in zip(FRESH, STALE, strict=True))
    return f"#{r:02x}{g:02x}{b:02x}"


def days_ago(when: datetime, now: datetime, language: str | None = None) -> str:
    """How long ago ``when`` was, in ``language`` (the reader's; None: English)."""
    days = int(max(0.0, (now - when).total_seconds()) // 86400)
    if days == 0:
        return t(language, "today")
    if days == 1:
        return t(language, "yesterday")
    return tn(language, "{count} day ago", "{count} days ago", days)


def mentioned(fact: FactRow, now: datetime, language: str | None) -> str:
    """A fact's bubble's tooltip line: how often and how lately it came up, and whether it is pinned."""
    when = days_ago(fact.last_mentioned, now, language)
    if fact.pinned:
        return tn(language, "mentioned {count} time, last {when}, pinned",
                  "mentioned {count} times, last {when}, pinned", fact.reference_count, when=when)
    return tn(language, "mentioned {count} time, last {when}", "mentioned {count} times, last {when}",
              fact.reference_count, when=when)


def render_fact_map(facts: Sequence[FactRow], *, user_name: str, character: str, now: datetime,
                    language: str | None = None) -> str:
    """The SVG document (UTF-8 text), its words in ``language`` (the reader's; None: English)."""
    groups: dict[str, list[FactRow]] = defaultdict(list)
    for fact in facts:
        groups[fact.category or "other"].append(fact)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    most = max((f.reference_count for f in facts), default=1)
    panel_w = (WIDTH - 2 * MARGIN - (COLUMNS - 1) * PANEL_GAP) / COLUMNS
    heights = [0.0] * COLUMNS
    body: list[str] = []
    for category, items in ordered:
        items = sorted(items, key=lambda f: (-f.reference_count, -f.last_mentioned.timestamp()))
        col = heights.index(min(heights))
        x = MARGIN + col * (panel_w + PANEL_GAP)
        y = HEADER + heights[col]
        h = PANEL_TITLE + ROW * len(items) + 8
        body.append(f'<g class="category" data-category={quoteattr(category)}>')
        body.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{panel_w:.1f}" height="{h:.1f}" rx="10" '
                    'fill="#f7f9fb" stroke="#d5dde5"/>')
        name = escape(category_name(category, language))
        body.append(f'<text x="{x + 14:.1f}" y="{y + 23:.1f}" class="title">{name} '
                    f'<tspan class="count">({len(items)})</tspan></text>')
        for i, fact in enumerate(items):
            cy = y + PANEL_TITLE + ROW * i + ROW / 2
            cx = x + 14 + MAX_R
            r = radius(fact.reference_count, most)
            outline = ' stroke="#1f3b57" stroke-width="2"' if fact.pinned else ""
            tip = f"{fact.fact}\n{mentioned(fact, now, language)}"
            body.append(f'<g class="fact" data-references="{fact.reference_count}">'
                        f'<title>{escape(tip)}</title>'
                        f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" '
                        f'fill="{shade(fact.last_mentioned, now)}"{outline}/>'
                        f'<text x="{cx + MAX_R + 10:.1f}" y="{cy + 4.5:.1f}">'
                        f'{escape(clip(fact.fact, LABEL_CHARS))}'
                        "</text></g>")
        body.append("</g>")
        heights[col] += h + PANEL_GAP
    if not facts:
        nothing = t(language, "Nothing remembered yet.")
        body.append(f'<text x="{MARGIN}" y="{HEADER + 20}">{escape(nothing)}</text>')
    height = HEADER + max(max(heights), 40.0) + MARGIN
    legend_x = WIDTH - MARGIN - 300
    title = t(language, "What {character} remembers about {name}", character=character, name=user_name)
    legend = tn(language, "{count} fact · bigger = mentioned more often · greener = mentioned more "
                          "recently · outlined = pinned",
                "{count} facts · bigger = mentioned more often · greener = mentioned more recently · "
                "outlined = pinned", len(facts))
    today = t(language, "today")
    faded = tn(language, "{count}+ day ago", "{count}+ days ago", int(FADE_DAYS))
    stale_x = legend_x + 20 + max(58, 7 * len(today))  # past the word "today", however long it is
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label={quoteattr(title)}>',
        "<style>text{font-family:'Segoe UI',Helvetica,Arial,sans-serif;font-size:13px;fill:#22313f}"
        ".title{font-size:15px;font-weight:600}.count{fill:#7a8896;font-weight:400}"
        ".heading{font-size:20px;font-weight:700}.legend{font-size:11px;fill:#52606d}</style>",
        f'<rect width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="34" class="heading">{escape(title)}</text>',
        f'<text x="{MARGIN}" y="54" class="legend">{escape(legend)}</text>',
        f'<circle cx="{legend_x + 8}" cy="30" r="7" fill="{shade(now, now)}"/>',
        f'<text x="{legend_x + 20}" y="34" class="legend">{escape(today)}</text>',
        f'<circle cx="{stale_x}" cy="30" r="7" fill="#{STALE[0]:02x}{STALE[1]:02x}{STALE[2]:02x}"/>',
        f'<text x="{stale_x + 12}" y="34" class="legend">{escape(faded)}</text>',
    ]
    return "\n".join([*head, *body, "</svg>"]) + "\n"
