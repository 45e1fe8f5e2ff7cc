"""Which shards' gateway latency deserves a warning (the Admin cog reads the latencies every
``heartbeat_interval_seconds`` and posts what :class:`LatencyWatch` reports).

One high reading is not enough: after the gateway invalidates a session (op 9), discord.py waits 5 s before
identifying again, and the first latency it measures on the new connection includes that wait ("5002 ms")
although the gateway is fine. A shard is reported only when its latency is above the threshold on at least
two consecutive readings. With the default interval (60 s, longer than Discord's ~41 s gateway heartbeat)
two readings are always two different measurements.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from bot.operator.admin.language import latency_warning

CONFIRMING_READINGS = 2


@dataclass(frozen=True)
class SlowShard:
    shard_id: int | None
    latency_ms: float

    def describe(self, threshold_ms: float) -> str:
        return latency_warning(self.shard_id, self.latency_ms, threshold_ms)


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
