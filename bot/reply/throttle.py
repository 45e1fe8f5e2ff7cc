"""Bot-to-bot talk that must not loop (the reply pipeline asks :class:`BotThrottle` before answering one)."""

from __future__ import annotations

import time

from bot.core.config import ReplySettings
from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.stages import Decision


class BotThrottle:
    """Keeps bot-to-bot talk from looping: at most ``threshold`` consecutive replies to bots in a
    channel until a human speaks, and ``cooldown`` seconds between replies to the same bot."""

    def __init__(self, replies: ReplySettings) -> None:
        self.replies = replies  # read at each decision (a section following reloads: one applies at once)
        self._consecutive: dict[int, int] = {}
        self._last_reply_to: dict[int, float] = {}

    @property
    def threshold(self) -> int:
        return self.replies.bot_reply_threshold

    @property
    def cooldown(self) -> float:
        return self.replies.reply_cooldown

    def human_spoke(self, channel_id: int) -> None:
        self._consecutive.pop(channel_id, None)

    def blocked(self, channel_id: int, bot_id: int) -> Decision | None:
        """The decision not to answer ``bot_id`` here (None: answering would not loop)."""
        if self._consecutive.get(channel_id, 0) >= self.threshold:
            return Decision(False, Line(N_("bot reply threshold {threshold} reached until a human speaks"),
                                 threshold=Figure(self.threshold)),
                            kind="bot_threshold")
        last = self._last_reply_to.get(bot_id)
        if last is not None and time.monotonic() - last < self.cooldown:
            return Decision(False, Line(N_("cooldown {seconds}s for this bot"),
                                        seconds=Figure(self.cooldown)), kind="bot_cooldown")
        return None

    def replied_to_bot(self, channel_id: int, bot_id: int) -> None:
        self._consecutive[channel_id] = self._consecutive.get(channel_id, 0) + 1
        self._last_reply_to[bot_id] = time.monotonic()
