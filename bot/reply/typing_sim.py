"""How long the character "types" a reply: from its length, like a person would."""

from __future__ import annotations

import random

from bot.core.config import Settings


def typing_seconds(text: str, settings: Settings, rng: random.Random | None = None) -> float:
    """Seconds of typing indicator for ``text``: length / speed, +/- variance, clamped to [min, max]."""
    base = len(text) / settings.typing.typing_speed_cpm * 60.0
    variance = settings.typing.typing_variance
    factor = 1.0 + (rng or random).uniform(-variance, variance) if variance else 1.0
    return min(max(base * factor, settings.typing.min_typing_time), settings.typing.max_typing_time)
