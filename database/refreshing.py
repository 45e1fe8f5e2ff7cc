"""A small settings table kept whole in memory, for answers asked at every message (a place's activation,
its switches, a server's settings, a person's own settings: database/place_config.py).

The table holds a row only where an admin (or a person, for themselves) changed something, so it stays
small however many servers the bot is in. A copy answers every message; no message waits on the database
for one after the first. Kept per key instead, a bot in many servers would find thousands of answers
expired at the same moment (their channels' first messages came together) and read them again one by one,
each a turn through the event loop while @mentions wait behind them.

- The first ask reads the whole table; the callers that come meanwhile share that read.
- Once ``seconds`` have passed since the last read, the next ask starts one read in the background of the
  rows changed since the newest one seen, and is answered from the copy meanwhile. The read starts
  ``OVERLAP`` earlier, so a row stamped by a process whose clock is a little behind is not missed.
- This process's own change is read back before the change returns (:meth:`TableMirror.refresh`): it
  applies to the very next message. Another process's change applies within ``seconds``; the cluster also
  tells the others at once (:meth:`TableMirror.forget`: the next ask reads the whole table again).
- Reads run one at a time, so an older read never lands after a newer one.
- Each read also counts the table's rows, in the same look: a row deleted past Kindred (by hand in an SQL
  console), or added with an ``updated_at`` older than the copy's newest, is among no rows changed since,
  but leaves the copy holding another number of rows than the table, and the whole table is read again
  then. (A row edited by hand gets a new ``updated_at`` from the settings table's trigger,
  0047_settings_change_triggers: it is among the rows changed since.)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Iterable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

OVERLAP = timedelta(minutes=5)

Rows = Iterable[tuple[K, V, datetime]]
# Reads the rows changed at or after ``since`` (every row: None) as (key, value, updated_at), and how many
# rows the table holds (counted in the same look).
Load = Callable[[datetime | None], Awaitable[tuple[Rows[K, V], int]]]


class TableMirror(Generic[K, V]):
    """A table's rows kept in memory, as the module says. ``clock``: what ``seconds`` are counted on
    (time.monotonic, unless the caller keeps a clock of its own, as bot/core/pacing.py's Pacer takes one)."""

    def __init__(self, seconds: float, load: Load[K, V], *, clock: Callable[[], float] = time.monotonic
                 ) -> None:
        self.seconds = seconds
        self._load = load
        self._clock = clock
        self._rows: dict[K, V] = {}
        self._newest: datetime | None = None  # the newest updated_at seen; None: read the whole table
        self._read_at: float | None = None  # when the last read began (clock); None: never, or forgotten
        self._line = asyncio.Lock()  # one read at a time
        self._reading: asyncio.Task[None] | None = None  # the read callers may share
        self._tasks: set[asyncio.Task[None]] = set()  # every read under way (close() waits for them)
        self._generation = 0  # moved by forget(): a read begun before it does not count as fresh
        self.version = 0  # moved whenever the copy's rows change

    async def get(self, key: K, *, fresh: bool = False) -> V | None:
        """The row's value (None: the table has no row for ``key``); ``fresh``: the table as it is now."""
        if fresh or self._read_at is None:
            await self._shared_read(fresh=fresh)
        elif self._clock() - self._read_at >= self.seconds and self._reading is None:
            self._start_read().add_done_callback(_quietly)  # answered from the copy meanwhile
        return self._rows.get(key)

    def peek(self, key: K) -> V | None:
        """The copy's value as it stands, without reading (after a :meth:`get` brought it up to date)."""
        return self._rows.get(key)

    @property
    def held(self) -> bool:
        """Whether a copy is held that the next ask answers from (read, and not forgotten since)."""
        return self._read_at is not None

    def settled(self) -> int | None:
        """The copy's :attr:`version` while an ask would be answered from it (held, not forgotten): what is
        derived from the copy may be kept while this stays the same number, without asking. Like
        :meth:`get`, it starts the read of the changes in the background once ``seconds`` have passed (the
        copy answers meanwhile: so may what was derived from it). None: the next ask reads and waits."""
        read_at = self._read_at
        if read_at is None:
            return None
        if self._clock() - read_at >= self.seconds and self._reading is None:
            self._start_read().add_done_callback(_quietly)
        return self.version

    async def refresh(self) -> None:
        """Read the changes now (after this process wrote one: the very next message sees it)."""
        await self._shared_read(fresh=True)

    def forget(self) -> None:
        """Another process changed the table: the next ask reads the whole of it again and waits for it."""
        self._newest = None
        self._read_at = None
        self._reading = None  # a read under way may predate the change: the next ask starts its own
        self._generation += 1

    async def close(self) -> None:
        """Wait for the reads under way (before the database closes)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _shared_read(self, *, fresh: bool) -> None:
        reading = self._reading
        # A read under way is shared, unless the caller needs one that begins after its own write.
        if reading is None or fresh:
            reading = self._start_read()
        await asyncio.shield(reading)

    def _start_read(self) -> asyncio.Task[None]:
        task = asyncio.ensure_future(self._read())
        self._reading = task
        self._tasks.add(task)

        def done(_: asyncio.Task[None]) -> None:
            self._tasks.discard(task)
            if self._reading is task:
                self._reading = None

        task.add_done_callback(done)
        return task

    async def _read(self) -> None:
        async with self._line:
            generation = self._generation
            began = self._clock()
            newest = self._newest
            try:
                rows, total = await self._load(None if newest is None else newest - OVERLAP)
                newest = self._merge(rows, newest)
                if len(self._rows) != total:  # a row deleted past Kindred: only the whole table says which
                    rows, _ = await self._load(None)
                    newest = self._merge(rows, None)
            except BaseException:
                if self._read_at is not None and generation == self._generation:
                    self._read_at = began  # the copy is still served; tried again in `seconds`
                raise
            if generation == self._generation:  # a read begun before a forget() does not count as fresh
                self._newest = newest
                self._read_at = began

    def _merge(self, rows: Rows[K, V], newest: datetime | None) -> datetime | None:
        """``rows`` into the copy (the whole table when ``newest`` is None: rows gone from it go too); the
        newest ``updated_at`` seen now."""
        kept = self._rows
        whole = newest is None
        if whole:
            self._rows = {}
        changed = False
        for key, value, stamp in rows:
            # An unchanged row keeps its object, after a whole read too (holder.py Derived).
            same = key in kept and kept[key] == value
            changed = changed or not same
            self._rows[key] = kept[key] if same else value
            if newest is None or stamp > newest:
                newest = stamp
        if changed or (whole and len(self._rows) != len(kept)):
            self.version += 1
        return newest


def _quietly(task: asyncio.Task[None]) -> None:
    """A background read that failed: the copy stays, and the next message after ``seconds`` tries again."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("could not refresh the cached settings: %s", task.exception())


class CacheChanges:
    """What this process changed in its cached tables (a server's settings, the places' switches), held until
    the cluster passes it on to the other processes (bot/runtime/cluster.py: they :meth:`TableMirror.forget`
    their copies). The tables write into it, the cluster reads it: neither calls the other. A server changed
    twice before it is passed on is told once, so what waits is bounded by the servers the bot is in (on
    SQLite nothing reads it: one process, nobody to tell)."""

    def __init__(self) -> None:
        self._servers: set[int] = set()
        self._places = False
        self._noted = asyncio.Event()

    def server(self, guild_id: int) -> None:
        self._servers.add(guild_id)
        self._noted.set()

    def places(self) -> None:
        self._places = True
        self._noted.set()

    async def wait(self) -> None:
        """Until something changed that was not taken yet."""
        await self._noted.wait()

    def take(self) -> tuple[frozenset[int], bool]:
        """(the servers whose settings changed, whether a place's switch did) since the last take."""
        taken = frozenset(self._servers), self._places
        self._servers.clear()
        self._places = False
        self._noted.clear()
        return taken
