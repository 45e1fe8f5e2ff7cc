"""Pacing: starts of background work spread out in time, however many are due at once.

A busy server's vote windows close together (they open with the first messages after a start, and stay in
step): dozens of vote rounds would start in the same instant, each a few milliseconds of the event loop
(its channel read, its prompt, three requests), and an @mention arriving then would wait behind all of
them. A :class:`Pacer` lets one start through every ``spacing`` seconds and the others wait their turn. It
limits starts, not work under way: a round waiting on the model's answer (most of its time with a real
model) holds nothing, so the rate of rounds a process can run is not tied to the model's latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    def __init__(self, spacing: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.spacing = spacing
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")  # when the next start may go

    async def turn(self) -> None:
        """Return when this start may go: at once when none went within ``spacing``, else in turn."""
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.spacing
        if slot > now:
            await self._sleep(slot - now)
