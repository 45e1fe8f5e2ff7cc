"""How the model client waits when a model server is overloaded: bounded retries and one breaker per backend.

A call retries a transient failure at most :data:`MAX_ATTEMPTS` times, waiting at least :data:`FLOOR` seconds
and growing exponentially with jitter; a server's retry-after may lengthen a wait, never shorten it below
the floor. The process keeps one :class:`OverloadBreaker` per backend: after :data:`THRESHOLD` failures in a
row it opens, and every call (new messages and retries alike) waits for it instead of trying on its own.
When the cool-down ends one call goes through as a probe; its success closes the breaker for everyone, its
failure opens it again for twice as long. A call whose deadline passes while it waits gets its fallback.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable

MAX_ATTEMPTS = 4  # requests one call may make through transient failures
FLOOR = 0.5  # seconds, the shortest wait between two attempts, whatever retry-after says
LONGEST = 8.0  # seconds, the longest wait of our own backoff (a retry-after may ask for more, up to 10 s)
THRESHOLD = 3  # failures in a row, across all calls, that open the breaker
COOL_DOWN = 1.0  # seconds the breaker first stays open; doubled after each failed probe
LONGEST_COOL_DOWN = 30.0


def backoff(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after the ``attempt``-th failed try: exponential with jitter, at least :data:`FLOOR`;
    a server's ``retry_after`` may make it longer."""
    own = min(FLOOR * 2.0 ** (attempt - 1), LONGEST) * (0.5 + random.random() / 2)
    return max(FLOOR, own, retry_after or 0.0)


class OverloadBreaker:
    """One backend's state, shared by every call of the process (see the module's description)."""

    def __init__(self, *, threshold: int = THRESHOLD, cool_down: float = COOL_DOWN,
                 longest: float = LONGEST_COOL_DOWN, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.first_cool_down = cool_down
        self.longest = longest
        self._clock = clock
        self._failures = 0
        self._cool_down = cool_down
        self._open_until: float | None = None  # None: closed
        self._probing = False
        self._changed: asyncio.Event | None = None
        self.opened = 0  # times it opened since start (the benchmark and /status read it)

    @property
    def closed(self) -> bool:
        return self._open_until is None

    async def admit(self) -> bool:
        """Wait until a request may go out; True when it is the half-open probe (whose outcome the caller
        must report with :meth:`succeeded` or :meth:`failed`, or :meth:`abandon` when it never had one)."""
        while True:
            if self._open_until is None:
                return False
            now = self._clock()
            if not self._probing and now >= self._open_until:
                self._probing = True
                return True
            if self._changed is None:
                self._changed = asyncio.Event()
            changed = self._changed
            wait = None if self._probing else max(self._open_until - now, 0.0)
            try:
                async with asyncio.timeout(wait):
                    await changed.wait()
            except TimeoutError:
                pass

    def succeeded(self, probe: bool) -> None:
        """The server answered (whatever it said): closed for everyone."""
        self._failures = 0
        self._cool_down = self.first_cool_down
        self._open_until = None
        if probe:
            self._probing = False
        self._tell()

    def failed(self, probe: bool, retry_after: float | None) -> None:
        """A transient failure (overloaded, 5xx, 429, the connection): counted; the breaker opens at the
        threshold, and again, for twice as long, when its probe fails."""
        now = self._clock()
        if probe:
            self._probing = False
            self._cool_down = min(self._cool_down * 2, self.longest)
            self._open(now, retry_after)
        else:
            self._failures += 1
            if self._open_until is None and self._failures >= self.threshold:
                self._open(now, retry_after)
        self._tell()

    def abandon(self, probe: bool) -> None:
        """The call stopped (its deadline, a cancellation) before its probe had an outcome: another may
        try."""
        if probe and self._probing:
            self._probing = False
            self._tell()

    def _open(self, now: float, retry_after: float | None) -> None:
        if self._open_until is None:
            self.opened += 1
        self._open_until = now + max(self._cool_down, retry_after or 0.0)

    def _tell(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None
