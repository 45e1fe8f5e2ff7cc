"""The gateway-latency heartbeat: every ``heartbeat_interval_seconds`` :class:`Heartbeat` reads each shard's
latency and warns, in the log and the log channel, about the shards :class:`LatencyWatch` finds slow. The
composition root builds it; the bot starts it in its setup_hook and stops it when it closes. Its rounds are a
job of the process's ticker (bot/core/ticker.py), which logs a round that failed.

One high reading is not enough: after the gateway invalidates a session (op 9), discord.py waits 5 s before
identifying again, and the first latency it measures on the new connection includes that wait ("5002 ms")
although the gateway is fine. A shard is reported only when its latency is above the threshold on at least
two consecutive readings. With the default interval (60 s, longer than Discord's ~41 s gateway heartbeat)
two readings are always two different measurements.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.core.config import DiscordSettings
from bot.core.lines import Line
from bot.core.ticker import Ticker, TickerJob
from bot.operator.admin.language import Latencies, latency_warning

log = logging.getLogger(__name__)

CONFIRMING_READINGS = 2


@dataclass(frozen=True)
class SlowShard:
    shard_id: int | None
    latency_ms: float

    def line(self, threshold_ms: float) -> Line:
        return latency_warning(self.shard_id, self.latency_ms, threshold_ms)

    def describe(self, threshold_ms: float) -> str:
        """The warning as the bot's log reads it (English)."""
        return self.line(threshold_ms).english()


def slow_shards(latencies: Iterable[tuple[int | None, float]], threshold_ms: float) -> list[SlowShard]:
    """Shards whose measured latency is above the threshold in this one reading. A shard without a
    measurement yet (inf/nan) is skipped: discord.py heartbeats as soon as it connects, so that state only
    lasts a moment."""
    out = []
    for shard_id, seconds in latencies:
        if math.isfinite(seconds) and seconds * 1000 > threshold_ms:
            out.append(SlowShard(shard_id, seconds * 1000))
    return out


class LatencyWatch:
    """Remembers, per shard, how many readings in a row were above the threshold; :meth:`check` returns the
    shards slow for at least ``readings`` of them (reported again at every further slow reading). A reading
    at or under the threshold, or without a measurement, starts the count again."""

    def __init__(self, readings: int = CONFIRMING_READINGS) -> None:
        self.readings = readings
        self._streaks: dict[int | None, int] = {}

    def check(self, latencies: Iterable[tuple[int | None, float]], threshold_ms: float) -> list[SlowShard]:
        slow = slow_shards(latencies, threshold_ms)
        self._streaks = {s.shard_id: self._streaks.get(s.shard_id, 0) + 1 for s in slow}
        return [s for s in slow if self._streaks[s.shard_id] >= self.readings]


class Heartbeat:
    """``latencies``: every shard's gateway latency now (the Discord client's); ``post``: a line in the log
    channel (rendered there in its language). Reads the interval and the threshold at each round, so a live
    reload applies."""

    def __init__(self, settings: DiscordSettings, latencies: Callable[[], Latencies],
                 post: Callable[[Line], Awaitable[object]], ticker: Ticker) -> None:
        self.settings = settings
        self.latencies = latencies
        self.post = post
        self.ticker = ticker
        self.watch = LatencyWatch()
        self.readings = 0  # rounds done, each one's warnings posted (tests wait on it)
        self._job: TickerJob | None = None

    @property
    def running(self) -> bool:
        return self._job is not None and self._job.running

    def start(self) -> None:
        if self._job is None:  # a first reading at once, then one every interval
            self._job = self.ticker.every("the latency heartbeat",
                                          lambda: self.settings.heartbeat_interval_seconds, self._round,
                                          at_once=True)

    async def stop(self) -> None:
        if self._job is not None:
            await self._job.stop()

    async def _round(self) -> None:
        try:
            await self.check()
        finally:  # a failed round counts too (the ticker logs it)
            self.readings += 1

    async def check(self) -> None:
        """One reading of every shard's latency; warn about those slow on consecutive readings. Before the
        gateway connects there is no measurement (nothing to warn about)."""
        threshold = self.settings.latency_warning_ms
        for slow in self.watch.check(self.latencies(), threshold):
            line = slow.line(threshold)
            log.warning(line.english())
            try:
                await self.post(line)
            except Exception as exc:  # a slow gateway often means a slow REST API too; keep checking
                log.warning("could not post the latency warning to the log channel: %s", exc)
