"""The image bytes a process holds for replies in flight, bounded (``image_bytes_in_flight``): the pipeline
takes a :class:`Lease` of a reply's pictures before downloading them, and its generation gives it back when
its call ends."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque


class ImageBudget:
    """The image bytes this process holds for replies in flight, bounded: pictures are downloaded, encoded
    and sent a whole request at a time, and a few people sending large ones at once would otherwise hold
    several copies of each together. A reply whose pictures would pass ``limit`` waits, in order of arrival,
    for earlier replies' calls to end (never refused); one larger than ``limit`` alone counts as ``limit``,
    so it goes through when nothing else is held."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.held = 0
        self.peak = 0  # the most held at once (for tests and benchmarks)
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def waiting(self) -> int:
        """How many replies wait for their pictures' bytes to fit."""
        return len(self._waiting)

    async def take(self, size: int) -> Lease:
        """A lease of ``size`` bytes (at most ``limit``), once they fit."""
        size = max(0, min(size, self.limit))
        if size and (self._waiting or self.held + size > self.limit):
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            entry = (size, turn)
            self._waiting.append(entry)
            try:
                await turn
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():  # granted as it was cancelled: give it back
                    self.give_back(size)
                else:
                    with contextlib.suppress(ValueError):  # already passed over by _grant
                        self._waiting.remove(entry)
                    self._grant()  # those behind it may fit now
                raise
        else:
            self._hold(size)
        return Lease(self, size)

    def _hold(self, size: int) -> None:
        self.held += size
        self.peak = max(self.peak, self.held)

    def give_back(self, size: int) -> None:
        """``size`` bytes held no longer (a :class:`Lease` released): those waiting may fit now."""
        self.held -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            size, turn = self._waiting[0]
            if turn.done():  # cancelled while waiting: its taker is leaving
                self._waiting.popleft()
                continue
            if self.held + size > self.limit:
                return
            self._waiting.popleft()
            self._hold(size)
            turn.set_result(None)


class Lease:
    """Bytes held of an :class:`ImageBudget`, until released (releasing again does nothing)."""

    def __init__(self, budget: ImageBudget, size: int) -> None:
        self.budget = budget
        self.size = size

    def release(self) -> None:
        size, self.size = self.size, 0
        if size:
            self.budget.give_back(size)
