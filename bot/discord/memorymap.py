"""/memory map as a Components V2 panel: the person's facts in one section per topic (the topic with the
most facts first, as in the picture), each fact with how often and how lately it came up, paged when there
are many, and the picture itself (memory/svgmap.py's SVG) attached through a file component.

A V2 message shows an attachment only through a file or media component; a media gallery shows raster
images and videos, and Discord does not render SVG, so the picture is a file to open in a browser.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

import discord
from discord import ui

from bot.core.i18n import sentences, t, tn
from bot.core.text import Page, clip
from bot.discord.panels import MAX_TEXT, PagedPanel
from bot.discord.permissions import HookInteraction
from database.records import FactRow
from memory.facts import category_name
from memory.svgmap import days_ago, render_fact_map

MAP_FILE = "memory-map.svg"
PAGE_FACTS = 12  # facts per page: with their topics' headings well inside 40 components and 4,000 characters
FACT_CHARS = 140


def by_topic(facts: Sequence[FactRow]) -> list[tuple[str, list[FactRow]]]:
    """Facts grouped by category, the largest group first (ties by name), each group's most mentioned and
    then most recent first: the picture's order."""
    groups: dict[str, list[FactRow]] = {}
    for fact in facts:
        groups.setdefault(fact.category or "other", []).append(fact)
    ordered = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [(topic, sorted(items, key=lambda f: (-f.reference_count, -f.last_mentioned.timestamp())))
            for topic, items in ordered]


def mentions(fact: FactRow, now: datetime, language: str) -> str:
    """How often a fact came up and how lately ("×5, today"), in ``language``."""
    return t(language, "×{count}, {when}", count=fact.reference_count,
             when=days_ago(fact.last_mentioned, now, language))


def map_line(fact: FactRow, now: datetime, language: str = "en") -> str:
    pin = " 📌" if fact.pinned else ""
    private = " 🔒" if fact.private else ""
    return f"• {clip(fact.fact, FACT_CHARS)}{pin}{private} · {mentions(fact, now, language)}"


def map_file(facts: Sequence[FactRow], *, user_name: str, character: str, now: datetime,
             language: str = "en") -> discord.File:
    svg = render_fact_map(facts, user_name=user_name, character=character, now=now, language=language)
    return discord.File(io.BytesIO(svg.encode("utf-8")), filename=MAP_FILE)


class MapPanel(PagedPanel):
    """The map's panel: :class:`PagedPanel`'s pages and buttons, each page's facts under their topic's
    heading (a text display per topic), and the picture's file component on every page (an edit keeps the
    message's attachment, which a V2 message may show only through a component)."""

    def __init__(self, origin: HookInteraction, facts: Sequence[FactRow], *, character: str, now: datetime,
                 timeout: float | None, language: str = "en") -> None:
        groups = by_topic(facts)
        # Set before PagedPanel's constructor, which renders the first page.
        self.topics = [topic for topic, items in groups for _ in items]
        self.sizes = {topic: len(items) for topic, items in groups}
        lines = [map_line(fact, now, language) for _, items in groups for fact in items]
        topics = tn(language, "in {count} topic", "in {count} topics", len(groups))
        legend = sentences(
            tn(language, "{count} fact {in_topics}; ×how often it came up, and when last; 📌 pinned, 🔒 from "
                         "our DMs or private places only.",
               "{count} facts {in_topics}; ×how often it came up, and when last; 📌 pinned, 🔒 from our DMs "
               "or private places only.", len(facts), in_topics=topics),
            t(language, "The picture below opens in a browser."))

        def heading(page: Page) -> str:
            title = (t(language, "What {character} remembers about you (page {number}/{count})",
                       character=character, number=page.number + 1, count=page.count) if page.count > 1
                     else t(language, "What {character} remembers about you", character=character))
            return f"### {title}\n{legend}"

        super().__init__(origin, lines, heading, size=PAGE_FACTS, timeout=timeout, language=language)

    def render(self) -> None:
        page = self.page
        heading = self.heading(page)[:1000]  # clip() would flatten its lines
        self.prev_button.disabled = self.note != "" or not page.has_prev
        self.next_button.disabled = self.note != "" or not page.has_next
        self.clear_items()
        note = f"-# {self.note}" if self.note else ""
        room = MAX_TEXT - len(heading) - len(note)
        sections: list[ui.Item[PagedPanel]] = []
        shown = range(page.offset, min(page.offset + page.size, len(self.lines)))
        start = page.offset
        for i in shown:
            if i + 1 < shown.stop and self.topics[i + 1] == self.topics[i]:
                continue  # the topic goes on: its section ends further down the page
            topic = self.topics[i]
            name = f"**{clip(category_name(topic, self.language), 80)}**"
            if start > 0 and self.topics[start - 1] == topic:
                name = t(self.language, "{topic} (continued)", topic=name)
            text = f"{name} · {self.sizes[topic]}\n" + "\n".join(self.lines[start:i + 1])
            if len(text) > room:
                break  # never past the text a V2 message may hold: the rest of the page stays out
            sections.append(ui.TextDisplay(text))
            room -= len(text)
            start = i + 1
        body: list[ui.Item[PagedPanel]] = [ui.TextDisplay(heading), ui.Separator(), *sections,
                                           ui.Separator(), ui.File(f"attachment://{MAP_FILE}")]
        if note:
            body.append(ui.TextDisplay(note))
        self.add_item(ui.Container(*body, ui.ActionRow(self.prev_button, self.next_button)))
