"""The proactive feature's section of config.env (named in its ``FEATURE``; read as
``settings.section(ProactiveSettings)``)."""

from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key


@dataclass(frozen=True)
class ProactiveSettings:
    """Speaking first in a quiet channel (bot/features/proactive/)."""

    TITLE: ClassVar[str] = "Proactive talk"
    proactive_talk: bool = key(
        False, "Speak first in channels where no admin used /bot proactive (admins switch it per channel or "
        "server).")
    proactive_interval_minutes: int = key(
        30, "Minutes between proactive rounds (each channel where it is on rolls once).", above=0,
        restart=True)
    proactive_chance: float = key(
        0.1, "Chance that a proactive round speaks in a channel that passed the checks.", min=0.0, max=1.0)
    proactive_max_silence_hours: float = key(
        6.0, "A channel silent for longer gets no proactive message (no talking into an empty room).",
        above=0)
