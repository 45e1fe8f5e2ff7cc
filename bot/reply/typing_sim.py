"""How long the character "types" a reply: from its length, like a person would."""

from __future__ import annotations

import random

from bot.core.config import TypingSettings


def typing_time(text: str, typing: TypingSettings, rng: random.Random | None = None) -> float:
    """Seconds of typing indicator for ``text``: length / speed, +/- variance, clamped to [min, max]."""
    base = len(text) / typing.typing_speed_cpm * 60.0
    variance = typing.typing_variance
    factor = 1.0 + (rng or random).uniform(-variance, variance) if variance else 1.0
    return min(max(base * factor, typing.min_typing_time), typing.max_typing_time)

