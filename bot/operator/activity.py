"""Per-day counters of what the reply pipeline decided, for the operator's dashboard.

A decision observer of the main pipeline (an ensemble announces every decision there) and a turn observer of
every pipeline (bot/runtime/composition.py declares both), so it sees every message the character considered
(whichever character of an ensemble answers). On the message's path it only adds to a dictionary; the sums
reach the database (``store.stats``) in one small write every ``FLUSH_SECONDS`` (a job of the process's
ticker, bot/core/ticker.py) and at shutdown. Counted per UTC day and character:

- ``seen``: messages the character considered (in active places; admin commands excluded)
- ``answered``: of those, the ones it decided to answer
- ``voted``: the ones put to the yes/no vote (not addressed to it); ``votes`` / ``vote_failures``: the
  votes that came back, and those that failed
- ``fallbacks``: replies that were the in-character fallback (Claude failed or answered nothing)
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from datetime import UTC, datetime

from bot.core.stages import Decision, Incoming, ReplyResult
from bot.core.ticker import Ticker, TickerJob
from database.stats import Stats

log = logging.getLogger(__name__)

FLUSH_SECONDS = 10.0
COUNTERS = ("seen", "answered", "voted", "votes", "vote_failures", "fallbacks")


_DAY: tuple[int, str] = (-1, "")  # (UTC day number, its date): strftime only when the day turns


def today() -> str:
    """Today's UTC date, as the counters are filed (asked at every message's decision)."""
    global _DAY
    day = int(time.time() // 86_400)
    if day != _DAY[0]:
        _DAY = (day, datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d"))
    return _DAY[1]


class ActivityRecorder:
    def __init__(self, stats: Stats, character: str, ticker: Ticker) -> None:
        self.stats = stats
        self.character = character
        self.ticker = ticker
        self._pending: Counter[tuple[str, str, str]] = Counter()
        self._flusher: TickerJob | None = None

    # -- the observers (on every message: dictionary work only)

    async def on_decision(self, msg: Incoming, decision: Decision) -> None:
        day = today()
        self._add(day, "seen")
        if decision.reply:
            self._add(day, "answered")
        if decision.votes:
            self._add(day, "voted")
            self._add(day, "votes", sum(v is not None for v in decision.votes))
            self._add(day, "vote_failures", sum(v is None for v in decision.votes))

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        if not result.ok:
            self._add(today(), "fallbacks")

    def _add(self, day: str, name: str, n: int = 1) -> None:
        if n:
            self._pending[(day, self.character, name)] += n

    @property
    def unwritten(self) -> int:
        """Counters waiting for the next flush (the metrics' queue depth)."""
        return len(self._pending)

    # -- lifecycle

    def start(self) -> None:
        if self._flusher is None:
            self._flusher = self.ticker.every("the activity counters' flush", lambda: FLUSH_SECONDS,
                                              self.flush)

    async def flush(self) -> None:
        """Write what was counted since the last flush; kept for the next one when the write fails."""
        if not self._pending:
            return
        batch, self._pending = self._pending, Counter()
        try:
            await self.stats.add_counts(batch)
        except Exception as exc:  # figures must never break the bot; try again with the next flush
            log.warning("could not write the day's activity counters (kept for the next try): %s", exc)
            self._pending.update(batch)

    async def close(self) -> None:
        """Stop the periodic flush and write the rest (before the store closes)."""
        if self._flusher is not None:
            await self._flusher.stop(finish=True)  # a write under way is not cut half-way
            self._flusher = None
        await self.flush()
