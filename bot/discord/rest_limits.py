"""Discord's REST limits kept by the whole cluster, not by each process.

Discord counts two limits per bot (per address), whatever the number of processes: **50 requests a second**
(the global limit; more is answered with 429s) and **10,000 invalid requests (401, 403, 429) in ten
minutes**, past which Cloudflare bans the address for a while. discord.py keeps neither across processes (it
only waits after a global 429), so N processes may send N x 50 and a process getting 401s or 403s over and
over does not slow the others.

:class:`RestGovernor` sits in front of discord.py's requests (an aiohttp trace: each request waits for its
permit before it is sent). Its counts are the database's (database/cluster.py ``SharedCounts``): a process
takes permits for the current second in leases of ten (one trip to the database, on a connection of its
own, for several requests, with the invalid count read), up to
:data:`RATE` a second for the cluster together; each 401, 403 or 429 (not a 429 of a ``shared`` bucket,
which Discord does not count) is added to the ten minutes' count, and every process slows as that count
grows: from :data:`SLOW_FROM` invalid requests its rate falls, down to one request a second at
:data:`SLOWEST_AT`, well before the ban. On SQLite (one process) it does nothing: discord.py's own handling
of 429s is the process's, and the process is the bot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Protocol

import aiohttp

log = logging.getLogger(__name__)

RATE = 45  # of Discord's 50 a second: a margin for clocks and the network between the database and Discord
LEASE = 10  # permits one trip to the database takes
INVALID_WINDOW = 600.0  # seconds: Discord's ten minutes
SLOW_FROM = 1000  # invalid requests in the window from which the cluster slows ...
SLOWEST_AT = 8000  # ... down to one request a second here (Discord's ban comes at 10,000)
INVALID = frozenset({401, 403, 429})


class Counts(Protocol):
    """database/cluster.py SharedCounts."""

    async def add(self, name: str, seconds: float, n: int) -> tuple[int, float]: ...

    async def close(self) -> None: ...


class RestGovernor:
    def __init__(self, *, rate: int = RATE, lease: int = LEASE, slow_from: int = SLOW_FROM,
                 slowest_at: int = SLOWEST_AT, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.rate, self.lease = rate, lease
        self.slow_from, self.slowest_at = slow_from, slowest_at
        self._clock, self._sleep = clock, sleep
        self._counts: Counts | None = None
        self._bot = ""
        self._held = 0  # permits of the current window leased and not yet spent
        self._held_until = 0.0
        self._lock = asyncio.Lock()
        self.invalid = 0  # the cluster's invalid requests in the current ten minutes, as last read
        self.slowed = False

    def share(self, counts: Counts | None, bot_id: int) -> None:
        """Keep the limits with every process of the database (``counts``; None: this process alone)."""
        self._counts = counts
        self._bot = str(bot_id)

    async def close(self) -> None:
        if self._counts is not None:
            await self._counts.close()

    def allowed(self) -> int:
        """Requests a second the cluster may send now, as the invalid requests stand."""
        if self.invalid < self.slow_from:
            return self.rate
        share = max(0.0, (self.slowest_at - self.invalid) / (self.slowest_at - self.slow_from))
        return max(1, int(self.rate * share))

    async def permit(self) -> None:
        """Return when one more request may be sent."""
        if self._counts is None:
            return
        async with self._lock:  # one lease at a time: requests sent together share it
            while True:
                if self._held > 0 and self._clock() < self._held_until:
                    self._held -= 1
                    return
                await self._take_lease(self._counts)

    async def _take_lease(self, counts: Counts) -> None:
        self.invalid, _ = await counts.add(f"rest-invalid:{self._bot}", INVALID_WINDOW, 0)
        allowed = self.allowed()
        if allowed < self.rate and not self.slowed:
            log.warning("Discord REST: %d invalid requests (401/403/429) by the cluster in ten minutes: "
                        "every process slows to %d requests a second together", self.invalid, allowed)
        self.slowed = allowed < self.rate
        want = min(self.lease, allowed)
        used, left = await counts.add(f"rest:{self._bot}", 1.0, want)
        granted = max(0, min(want, allowed - (used - want)))
        if granted:
            self._held, self._held_until = granted, self._clock() + left
        else:  # the second's requests are spent by the cluster: the next one
            self._held = 0
            await self._sleep(left + 0.001)

    async def count_invalid(self) -> None:
        if self._counts is not None:
            self.invalid, _ = await self._counts.add(f"rest-invalid:{self._bot}", INVALID_WINDOW, 1)

    def trace(self) -> aiohttp.TraceConfig:
        """The aiohttp trace discord.py's HTTP client is given (its ``http_trace``)."""
        config = aiohttp.TraceConfig()

        async def start(_session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                        _params: aiohttp.TraceRequestStartParams) -> None:
            await self.permit()

        async def end(_session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                      params: aiohttp.TraceRequestEndParams) -> None:
            response = params.response
            if response.status in INVALID and response.headers.get("X-RateLimit-Scope") != "shared":
                await self.count_invalid()

        config.on_request_start.append(start)
        config.on_request_end.append(end)
        return config
