"""Pacing: starts of background work spread out in time, however many are due at once.

A busy server's vote windows close together (they open with the first messages after a start, and stay in
step): dozens of vote rounds would start in the same instant, each a few milliseconds of the event loop
(its channel read, its prompt, three requests), and an @mention arriving then would wait behind all of
them. A :class:`Pacer` lets one start through every ``spacing`` seconds and the others wait their turn in
line. It limits starts, not work under way: a round waiting on the model's answer (most of its time with a
real model) holds nothing, so the rate of rounds a process can run is not tied to the model's latency.

A start also waits, up to ``patience`` after it fell due, while the event loop is behind: one turn of the
loop taking ``busy`` seconds or more means messages are queued (on PostgreSQL each of a reply's statements
is a turn through that queue), and they go first. On a loop that keeps up this costs one turn; under
overload a start still goes once its patience is spent, so starts never fall further behind than that.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Pacer:
    def __init__(self, spacing: float, *, patience: float | Callable[[], float] = 0.0, busy: float = 0.001,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.spacing = spacing
        # A callable: read at each start (a setting a live reload may change).
        self._patience = patience if callable(patience) else (lambda: patience)
        self.busy = busy
        self._clock = clock
        self._sleep = sleep
        self._line = asyncio.Lock()  # first come, first started
        self._last = float("-inf")  # when the last start went

    async def turn(self) -> None:
        """Return when this start may go: at once on a quiet loop when none went within ``spacing``, else in
        turn, after what the loop has queued (at most ``patience`` after the call)."""
        due = self._clock()
        patience = self._patience()
        async with self._line:
            wait = self._last + self.spacing - self._clock()
            if wait > 0:
                await self._sleep(wait)
            while self._clock() - due < patience:
                before = self._clock()
                await self._sleep(0)  # one turn of the loop: all that was ready runs first
                if self._clock() - before < self.busy:
                    break
                await self._sleep(self.spacing)
            self._last = self._clock()
