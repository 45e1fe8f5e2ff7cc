"""Discord's session-start rule, kept instead of discord.py's blanket five-second wait.

Discord accepts ``max_concurrency`` IDENTIFYs per five seconds, one per bucket (``shard_id %
max_concurrency``, from ``GET /gateway/bot``), and answers a faster one with an invalid session. discord.py's
default hook sleeps five seconds before every IDENTIFY but the first, whatever the limit: the shards of a
large bot start one by one, and a session lost an hour after its IDENTIFY still waits five seconds
before the bot answers again. This waits only what is left of the five seconds
since the last IDENTIFY in the same bucket."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

WINDOW = 5.0  # seconds: Discord's IDENTIFY window per bucket


class IdentifyPacer:
    def __init__(self, max_concurrency: Callable[[], Awaitable[int]],
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._fetch = max_concurrency
        self._clock = clock
        self._sleep = sleep
        self._concurrency: int | None = None
        self._sent: dict[int, float] = {}  # shard id -> when its last IDENTIFY went (or will go) out
        self._lock = asyncio.Lock()

    async def _buckets(self) -> int:
        if self._concurrency is None:
            try:
                self._concurrency = max(1, int(await self._fetch()))
            except Exception as exc:  # noqa: BLE001 - unknown: the strictest limit is always safe
                log.warning("could not read the gateway's max_concurrency (%s): one IDENTIFY at a time", exc)
                self._concurrency = 1
        return self._concurrency

    async def wait(self, shard_id: int | None) -> None:
        """Return when this shard may IDENTIFY; the first IDENTIFY of a process never waits."""
        shard = shard_id or 0
        async with self._lock:  # the slot is decided and taken under the lock, the waiting done outside
            delay = 0.0
            if self._sent:
                buckets = await self._buckets()
                same = [at for other, at in self._sent.items() if other % buckets == shard % buckets]
                if same:
                    delay = max(0.0, max(same) + WINDOW - self._clock())
            self._sent[shard] = self._clock() + delay
        if delay:
            await self._sleep(delay)
