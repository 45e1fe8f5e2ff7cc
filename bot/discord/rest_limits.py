"""Discord's REST limits kept by each process and by the whole cluster.

Discord counts two limits per bot (per address), whatever the number of processes: **50 requests a second**
(the global limit; more is answered with 429s) and **10,000 invalid requests (401, 403, 429) in ten
minutes**, past which Cloudflare bans the address for a while. discord.py keeps neither ahead of time: it
waits out a route's bucket, and only waits after a global 429 has come (the request sent again); a busy
process bursts past 50 a second, and N processes may send N x 50.

:class:`RestGovernor` sits in front of discord.py's requests (an aiohttp trace: each request to the API,
interactions and webhooks aside as Discord counts them, waits for its permit before it is sent):

- **This process's own pace, always, in memory.** At most :data:`RATE` requests in any second (a sliding
  window of send times), so one process alone never meets a global 429 however it bursts. No trip to the
  database: a cluster of one pays nothing for the cluster.
- **The cluster's share, only while other processes are alive** (``peers``, the cluster's heartbeat count).
  The counts are the database's (database/cluster.py ``SharedCounts``): a process takes permits for the
  current second in leases of :data:`LEASE` (one trip to the database, on a connection of its own, which also
  reads the invalid count), up to :data:`RATE` a second for the cluster together.
- **Invalid requests.** Each 401, 403 or 429 (not a 429 of a ``shared`` bucket, which Discord does not count)
  is added to the ten minutes' count (in the database on PostgreSQL, in memory on SQLite), and every process
  slows as that count grows: from :data:`SLOW_FROM` invalid requests its rate falls, down to one request a
  second at :data:`SLOWEST_AT`, well before the ban.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Protocol

import aiohttp
from yarl import URL

log = logging.getLogger(__name__)

RATE = 45  # of Discord's 50 a second: a margin for clocks and the network between the database and Discord
LEASE = 10  # permits one trip to the database takes
SECOND = 1.0
INVALID_WINDOW = 600.0  # seconds: Discord's ten minutes
SLOW_FROM = 1000  # invalid requests in the window from which the cluster slows ...
SLOWEST_AT = 8000  # ... down to one request a second here (Discord's ban comes at 10,000)
INVALID = frozenset({401, 403, 429})
# Discord: "Interaction endpoints are not bound to the bot's Global Rate Limit"; a webhook's token is not
# the bot's. (The fake Discord counts the same.)
NOT_GLOBAL = ("/interactions/", "/webhooks/")


class Counts(Protocol):
    """Counts in fixed windows of time (database/cluster.py SharedCounts; :class:`LocalCounts`)."""

    async def add(self, name: str, seconds: float, n: int) -> tuple[int, float]: ...

    async def lease(self, name: str, seconds: float, n: int, other: str,
                    other_seconds: float) -> tuple[int, float, int, float]: ...

    async def close(self) -> None: ...


class LocalCounts:
    """The same counts for one process alone (SQLite), in memory."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}  # name -> (window number, count)

    async def add(self, name: str, seconds: float, n: int) -> tuple[int, float]:
        now = self._clock()
        period = int(now // seconds)
        was, used = self._counts.get(name, (period, 0))
        used = (used if was == period else 0) + n
        self._counts[name] = (period, used)
        return used, (period + 1) * seconds - now

    async def lease(self, name: str, seconds: float, n: int, other: str,
                    other_seconds: float) -> tuple[int, float, int, float]:
        return (*await self.add(name, seconds, n), *await self.add(other, other_seconds, 0))

    async def close(self) -> None:
        return None


def globally_limited(url: URL) -> bool:
    """A request Discord counts in the bot's 50 a second (the API's, not the gateway's, the CDN's, an
    interaction's or a webhook's)."""
    path = url.path
    if "/api/v" not in path:
        return False
    tail = path.split("/api/v", 1)[1].partition("/")[2]
    return not ("/" + tail).startswith(NOT_GLOBAL)


class RestGovernor:
    def __init__(self, *, rate: int = RATE, lease: int = LEASE, slow_from: int = SLOW_FROM,
                 slowest_at: int = SLOWEST_AT, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.rate, self.lease = rate, lease
        self.slow_from, self.slowest_at = slow_from, slowest_at
        self._clock, self._sleep = clock, sleep
        self._counts: Counts = LocalCounts(clock)
        self._shared = False
        self._peers: Callable[[], int] = lambda: 0
        self._bot = ""
        self._sent: deque[float] = deque()  # when this process's requests of the last second went out
        self._held = 0  # permits of the cluster's current second leased and not yet spent
        self._held_until = 0.0
        self._alone = True  # the last request went without the cluster's count (no other process alive)
        self._lock = asyncio.Lock()
        self.invalid = 0  # the cluster's invalid requests in the current ten minutes, as last read
        self._invalid_until = 0.0  # when that window ends (the count then starts again from nothing)
        self.slowed = False
        self.leases = 0  # trips to the database for permits (none while this process is alone)

    def share(self, counts: Counts | None, bot_id: int, peers: Callable[[], int] | None = None) -> None:
        """Keep the limits with every process of the database (``counts``; None: this process alone).
        ``peers``: how many other processes are alive now (None: take some to be); while none is, each
        request waits only for this process's own pace."""
        if counts is not None:
            self._counts, self._shared = counts, True
        self._peers = peers if peers is not None else (lambda: 1)
        self._bot = str(bot_id)

    async def close(self) -> None:
        await self._counts.close()

    def allowed(self) -> int:
        """Requests a second the cluster (and this process) may send now, as the invalid requests stand."""
        invalid = self.invalid if self._clock() < self._invalid_until else 0
        if invalid < self.slow_from:
            return self.rate
        share = max(0.0, (self.slowest_at - invalid) / (self.slowest_at - self.slow_from))
        return max(1, int(self.rate * share))

    async def permit(self) -> None:
        """Return when one more request may be sent."""
        async with self._lock:  # in turn: the first to wait is the first sent
            await self._own_pace()
            if self._shared and self._peers() > 0:
                # Joining the count: this second's requests sent alone (not counted) are counted first.
                unleased = len(self._sent) if self._alone else 0
                self._alone = False
                while not (self._held > 0 and self._clock() < self._held_until):
                    await self._take_lease(self._counts, unleased)
                    unleased = 0
                self._held -= 1
            else:
                self._alone = True
            self._sent.append(self._clock())

    async def _own_pace(self) -> None:
        """Wait until this process has sent fewer than its allowed requests in the last second."""
        while True:
            now = self._clock()
            while self._sent and now - self._sent[0] >= SECOND:
                self._sent.popleft()
            if len(self._sent) < self.allowed():
                return
            await self._sleep(self._sent[0] + SECOND - now + 0.001)

    async def _take_lease(self, counts: Counts, unleased: int = 0) -> None:
        self.leases += 1
        allowed = self.allowed()
        want = min(self.lease, allowed)
        # The window's end is told from before the trip: a reply that comes back late must not stretch the
        # permits past the second the database counted them in (the next second's would go out beside them).
        asked = self._clock()
        used, left, invalid, invalid_left = await counts.lease(
            f"rest:{self._bot}", SECOND, want + unleased, f"rest-invalid:{self._bot}", INVALID_WINDOW)
        self._invalid_read(invalid, invalid_left)
        allowed = self.allowed()  # as the cluster's invalid requests now stand
        granted = max(0, min(want, allowed - (used - want)))  # (the unleased ones spent already)
        if granted:
            self._held, self._held_until = granted, asked + left
        else:  # the second's requests are spent by the cluster: the next one
            self._held = 0
            await self._sleep(left + 0.001)

    def _invalid_read(self, invalid: int, left: float) -> None:
        self.invalid, self._invalid_until = invalid, self._clock() + left
        allowed = self.allowed()
        if allowed < self.rate and not self.slowed:
            log.warning("Discord REST: %d invalid requests (401/403/429) by the cluster in ten minutes: "
                        "every process slows to %d requests a second together", self.invalid, allowed)
        self.slowed = allowed < self.rate

    async def count_invalid(self) -> None:
        self._invalid_read(*await self._counts.add(f"rest-invalid:{self._bot}", INVALID_WINDOW, 1))

    def trace(self) -> aiohttp.TraceConfig:
        """The aiohttp trace discord.py's HTTP client is given (its ``http_trace``)."""
        config = aiohttp.TraceConfig()

        async def start(_session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                        params: aiohttp.TraceRequestStartParams) -> None:
            if globally_limited(params.url):
                await self.permit()

        async def end(_session: aiohttp.ClientSession, _ctx: SimpleNamespace,
                      params: aiohttp.TraceRequestEndParams) -> None:
            response = params.response
            if response.status in INVALID and response.headers.get("X-RateLimit-Scope") != "shared":
                await self.count_invalid()

        config.on_request_start.append(start)
        config.on_request_end.append(end)
        return config
