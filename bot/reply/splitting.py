"""How a reply goes out: split into Discord-sized messages without breaking words or code blocks, and how long
the character "types" each, from its length, like a person would."""

from __future__ import annotations

import random

from bot.core.config import TypingSettings
from bot.core.text import SENTENCE_END

FENCE = "```"


def split_message(text: str, limit: int = 2000) -> list[str]:
    """Split on paragraph, then sentence, then word boundaries; every part is at most ``limit`` chars.

    A fenced code block cut in two is closed at the end of one part and reopened (same language tag)
    at the start of the next, so each message renders correctly on its own.
    """
    text = text.strip()
    if len(text) <= limit:
        return [text] if text else []
    # Reserve room for a closing fence and a reopening fence with a language tag.
    budget = max(limit - 24, limit // 2)
    parts: list[str] = []
    open_lang: str | None = None
    rest = text
    while rest:
        prefix = f"{FENCE}{open_lang}\n" if open_lang is not None else ""
        room = budget - len(prefix)
        if len(prefix) + len(rest) <= limit:
            chunk, rest = rest, ""
        else:
            cut = _cut_point(rest, room)
            chunk, rest = rest[:cut].rstrip(), rest[cut:].lstrip("\n" if open_lang is not None else None)
            if open_lang is None:
                rest = rest.lstrip()
        body = prefix + chunk
        open_lang = _open_fence_after(body)
        if open_lang is not None and rest:
            body = body.rstrip() + "\n" + FENCE
        parts.append(body)
    return [p for p in parts if p.strip()]


def _cut_point(text: str, room: int) -> int:
    window = text[:room]
    for finder in (_last_paragraph, _last_sentence, _last_space):
        cut = finder(window)
        if cut > room // 3:
            return cut
    return room  # a single enormous word: hard cut


def _last_paragraph(window: str) -> int:
    return window.rfind("\n\n") + 2 if "\n\n" in window else -1


def _last_sentence(window: str) -> int:
    best = -1
    for match in SENTENCE_END.finditer(window):
        best = match.end()
    newline = window.rfind("\n")
    return max(best, newline + 1 if newline >= 0 else -1)


def _last_space(window: str) -> int:
    return window.rfind(" ") + 1 if " " in window else -1


def _open_fence_after(body: str) -> str | None:
    """The language tag of a code block left open at the end of ``body`` ('' for none), else None."""
    lang: str | None = None
    for line in body.split("\n"):
        stripped = line.strip()
        if stripped.startswith(FENCE):
            if lang is None:
                lang = stripped[3:].strip()
            else:
                lang = None
    return lang


def typing_time(text: str, typing: TypingSettings, rng: random.Random | None = None) -> float:
    """Seconds of typing indicator for ``text``: length / speed, +/- variance, clamped to [min, max]."""
    base = len(text) / typing.typing_speed_cpm * 60.0
    variance = typing.typing_variance
    factor = 1.0 + (rng or random).uniform(-variance, variance) if variance else 1.0
    return min(max(base * factor, typing.min_typing_time), typing.max_typing_time)
