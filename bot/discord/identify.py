"""Discord's session-start rule, kept instead of discord.py's blanket five-second wait.

Discord accepts ``max_concurrency`` IDENTIFYs per five seconds, one per bucket (``shard_id %
max_concurrency``, from ``GET /gateway/bot``), and answers a faster one with an invalid session. discord.py's
default hook sleeps five seconds before every IDENTIFY but the first, whatever the limit: the shards of a
large bot start one by one, and a session lost an hour after its IDENTIFY still waits five seconds
before the bot answers again. This waits only what is left of the five seconds
since the last IDENTIFY in the same bucket.

In a cluster (several processes on one PostgreSQL) the bucket's window is the bot's, not the process's: it is
held for every process through the database (:meth:`IdentifyPacer.share`, database/cluster.py
``SharedWindows``), so a cluster started at once (a deploy, a reboot) gets no invalid session.

Discord also allows a bot only so many session starts a day (``session_start_limit``), after which no shard
connects until it resets: :class:`SessionBudget` reads it before each IDENTIFY, says it at start-up, and keeps
the last few in reserve (a crash-looping process waits for the reset instead of spending them)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

log = logging.getLogger(__name__)

WINDOW = 5.0  # seconds: Discord's IDENTIFY window per bucket


class Windows(Protocol):
    """Windows of time one process of the cluster holds at a time (database/cluster.py SharedWindows)."""

    async def take(self, name: str, seconds: float, start: asyncio.Event) -> bool: ...

    async def close(self) -> None: ...


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
        self._shared: Windows | None = None
        self._bot = ""
        self._answered: dict[int | None, asyncio.Event] = {}  # shard -> set when its IDENTIFY was answered

    def share(self, windows: Windows | None, bot_id: int) -> None:
        """Hold each bucket's window for every process of the cluster (``windows``; None: this process
        alone, SQLite). ``bot_id``: whose buckets they are (several characters may share a database)."""
        self._shared = windows
        self._bot = str(bot_id)

    def answered(self, shard_id: int | None) -> None:
        """Discord answered this shard's IDENTIFY (READY): its bucket's shared window counts from now."""
        event = self._answered.pop(shard_id, None)
        if event is not None:
            event.set()

    async def close(self) -> None:
        if self._shared is not None:
            await self._shared.close()

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
        if self._shared is not None:
            bucket = shard % await self._buckets()
            # Its last IDENTIFY got no READY (an invalid session, a lost connection): it was answered all the
            # same, so its window counts from now and this one waits for it.
            self.answered(shard_id)
            answered = self._answered[shard_id] = asyncio.Event()
            if not await self._shared.take(f"identify:{self._bot}:{bucket}", WINDOW, answered):
                log.warning("IDENTIFY bucket %d: another process has held its window for a minute; "
                            "identifying all the same", bucket)
            return
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


Limit = Mapping[str, object]  # GET /gateway/bot's session_start_limit


class SessionBudget:
    """Discord's daily session starts, read before each IDENTIFY; the last ``reserve`` are not spent: the
    process waits for the reset and says so (a crash loop, or a cluster redeployed many times, would else
    leave no shard able to connect until the reset)."""

    def __init__(self, fetch: Callable[[], Awaitable[Limit]], reserve: int,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._fetch = fetch
        self.reserve = reserve
        self._sleep = sleep
        self._told = False
        self.waiting = False

    async def spend(self) -> None:
        """Return when one session start may be spent."""
        while True:
            try:
                limit = await self._fetch()
                total, remaining = int(str(limit["total"])), int(str(limit["remaining"]))
                reset = float(str(limit["reset_after"])) / 1000
                concurrency = int(str(limit.get("max_concurrency", 1)))
            except Exception as exc:  # noqa: BLE001 - unknown: Discord's own refusal is the guard left
                log.warning("could not read the session-start budget (%s); connecting", exc)
                return
            if not self._told:
                self._told = True
                log.info("Discord session starts: %d of %d left (resets in %s), %d IDENTIFY(s) per 5 s",
                         remaining, total, _hours(reset), concurrency)
            if remaining > self.reserve:
                self.waiting = False
                return
            self.waiting = True
            log.warning("Discord session starts: %d of %d left, the last %d kept in reserve "
                        "(session_start_reserve): not connecting until the budget resets in %s",
                        remaining, total, self.reserve, _hours(reset))
            await self._sleep(max(reset, 1.0))


def _hours(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{max(minutes, 1)} min"
