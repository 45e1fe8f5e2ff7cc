"""The cluster's rows and its PostgreSQL link.

:class:`ClusterNodes` keeps one row per process (shards, heartbeat, leader flag) for `main.py cluster status`.
:class:`ClusterLink` is one dedicated asyncpg connection per process, outside SQLAlchemy's pool, because the
two things it holds live as long as a session: the leader's advisory lock (released by PostgreSQL the moment
the process's connection dies, kill -9 included) and the LISTEN for the cluster's signals.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import make_url

from database.boundary import JsonObject
from database.engine import Database
from database.library_models import ClusterNode
from database.models import utcnow

log = logging.getLogger(__name__)

CHANNEL = "kindred_cluster"  # one NOTIFY channel per database: every character's processes hear it
MAX_PAYLOAD = 7900  # PostgreSQL refuses a NOTIFY payload of 8000 bytes or more
FORGET_AFTER = timedelta(days=1)  # rows of processes gone this long are dropped


@dataclass(frozen=True)
class NodeRow:
    node_id: str
    character: str
    host: str
    pid: int
    shards: str
    shard_count: int
    leader: bool
    started_at: datetime
    last_seen: datetime
    stopped_at: datetime | None


class ClusterNodes:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def register(self, node_id: str, character: str, host: str, pid: int, shards: str,
                       shard_count: int) -> None:
        now = utcnow()
        await self.db.change(delete(ClusterNode).where(ClusterNode.last_seen < now - FORGET_AFTER))
        await self.db.change(self.db.insert(ClusterNode).values(
            node_id=node_id, character=character, host=host, pid=pid, shards=shards, shard_count=shard_count,
            leader=False, started_at=now, last_seen=now, stopped_at=None))

    async def beat(self, node_id: str, *, leader: bool) -> None:
        await self.db.change(update(ClusterNode).where(ClusterNode.node_id == node_id)
                             .values(last_seen=utcnow(), leader=leader))

    async def take_lead(self, node_id: str, character: str) -> None:
        """This process holds the leader lock: no other row of the character may still claim it (a leader
        killed with -9 never cleared its own flag)."""
        now = utcnow()
        await self.db.change(update(ClusterNode).where(ClusterNode.character == character,
                                                       ClusterNode.node_id != node_id).values(leader=False))
        await self.db.change(update(ClusterNode).where(ClusterNode.node_id == node_id)
                             .values(last_seen=now, leader=True))

    async def others_alive(self, node_id: str, since: datetime) -> int:
        """Processes other than ``node_id`` (any character) that beat since ``since`` and have not stopped."""
        return int(await self.db.scalar(
            select(func.count()).select_from(ClusterNode).where(
                ClusterNode.node_id != node_id, ClusterNode.last_seen >= since,
                ClusterNode.stopped_at.is_(None))))

    async def stop(self, node_id: str) -> None:
        now = utcnow()
        await self.db.change(update(ClusterNode).where(ClusterNode.node_id == node_id)
                             .values(last_seen=now, leader=False, stopped_at=now))

    async def nodes(self, character: str | None = None) -> list[NodeRow]:
        query = select(ClusterNode.node_id, ClusterNode.character, ClusterNode.host, ClusterNode.pid,
                       ClusterNode.shards, ClusterNode.shard_count, ClusterNode.leader,
                       ClusterNode.started_at, ClusterNode.last_seen, ClusterNode.stopped_at)
        if character is not None:
            query = query.where(ClusterNode.character == character)
        rows = await self.db.rows(query.order_by(ClusterNode.character, ClusterNode.started_at))
        return [NodeRow(*row) for row in rows]


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name`` (the same in every process)."""
    return int.from_bytes(hashlib.sha256(f"kindred:{name}".encode()).digest()[:8], "big", signed=True)


Listener = Callable[[JsonObject], None]  # told each signal, as the JSON object it was sent as


class ClusterLink:
    """A process's own PostgreSQL session: the leader lock and the cluster's LISTEN/NOTIFY signals."""

    def __init__(self, url: str) -> None:
        # SQLAlchemy's URL ("postgresql+asyncpg://...") as the plain libpq DSN asyncpg takes.
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: Any = None  # asyncpg's connection (asyncpg has no type hints)
        self._listener: Listener | None = None
        # One statement at a time: asyncpg refuses a second on a busy connection ("another operation is in
        # progress"), which lost signals sent together and made a ping beside a signal read as a dead session.
        self._turn = asyncio.Lock()

    @property
    def alive(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self, listener: Listener) -> None:
        import asyncpg

        self._listener = listener
        # Keepalives: a leader whose machine vanishes (no FIN) loses the lock within seconds, not hours.
        self._conn = await asyncpg.connect(self.dsn, timeout=10, server_settings={
            "tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "2",
            "application_name": "kindred-cluster"})
        await self._conn.add_listener(CHANNEL, self._heard)

    def _heard(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("cluster: ignored a signal that is not JSON")
            return
        if isinstance(message, dict) and self._listener is not None:
            self._listener(message)

    async def ping(self) -> bool:
        """Whether the session still works (a restarted server drops it, and with it the lock)."""
        if not self.alive:
            return False
        try:
            async with self._turn:
                await self._conn.fetchval("SELECT 1", timeout=5)
            return True
        except Exception:
            return False

    async def try_lock(self, key: int) -> bool:
        async with self._turn:
            return bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", key, timeout=5))

    async def unlock(self, key: int) -> None:
        if self.alive:
            async with self._turn:
                await self._conn.fetchval("SELECT pg_advisory_unlock($1)", key, timeout=5)

    async def notify(self, message: JsonObject) -> None:
        payload = json.dumps(message, separators=(",", ":"))
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError("cluster signal too large for NOTIFY")
        async with self._turn:
            await self._conn.execute("SELECT pg_notify($1, $2)", CHANNEL, payload, timeout=5)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.close(timeout=5)
        except Exception:
            conn.terminate()


class SharedWindows:
    """Windows of time one process of the cluster holds at a time, whichever machine it runs on: Discord's
    IDENTIFY window per bucket is the bot's, not the process's. A window is a session-level advisory lock
    on a connection of its own, taken (waiting while another process holds it) and let go ``seconds``
    after ``start`` is set (what it guards was done: Discord answered the IDENTIFY; so the window is
    counted from what Discord saw, however slow a loaded machine was to send it), when that connection
    closes. A process that dies inside its window lets it go early (its
    session ends with it); a restart takes longer than the window's five seconds."""

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._held: set[asyncio.Task[None]] = set()

    async def take(self, name: str, seconds: float, start: asyncio.Event, *, patience: float = 60.0) -> bool:
        """Return once this process holds ``name``'s window (False: another held it past ``patience``
        seconds, a process hung inside its window, and the caller goes on without it)."""
        import asyncpg

        conn = await asyncpg.connect(self.dsn, timeout=10, server_settings={
            "tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "2",
            "application_name": "kindred-window", "lock_timeout": str(int(patience * 1000))})
        try:
            await conn.fetchval("SELECT pg_advisory_lock($1)", lock_key(name))
        except asyncpg.LockNotAvailableError:
            await conn.close(timeout=5)
            return False
        except BaseException:
            conn.terminate()
            raise
        task = asyncio.get_running_loop().create_task(self._let_go(conn, seconds, start, patience),
                                                      name=f"window {name}")
        self._held.add(task)
        task.add_done_callback(self._held.discard)
        return True

    @staticmethod
    async def _let_go(conn: Any, seconds: float, start: asyncio.Event, patience: float) -> None:
        try:
            with contextlib.suppress(TimeoutError):  # never answered: counted from the give-up
                await asyncio.wait_for(start.wait(), patience / 2)
            await asyncio.sleep(seconds)
        finally:  # the lock goes with the session
            conn.terminate()

    async def close(self) -> None:
        for task in list(self._held):
            task.cancel()
        await asyncio.gather(*self._held, return_exceptions=True)


ADD_TO_COUNT = """
INSERT INTO shared_counts (name, period, used)
VALUES ($1, floor(extract(epoch FROM clock_timestamp()) / $2::float8), $3)
ON CONFLICT (name) DO UPDATE SET
    used = CASE WHEN shared_counts.period = EXCLUDED.period THEN shared_counts.used + EXCLUDED.used
                ELSE EXCLUDED.used END,
    period = EXCLUDED.period
RETURNING used, (period + 1) * $2::float8 - extract(epoch FROM clock_timestamp())::float8
"""


# A count added to and another read in one trip (a lease of REST permits, the invalid requests read).
LEASE_AND_READ = """
WITH added AS (
    INSERT INTO shared_counts (name, period, used)
    VALUES ($1, floor(extract(epoch FROM clock_timestamp()) / $2::float8), $3)
    ON CONFLICT (name) DO UPDATE SET
        used = CASE WHEN shared_counts.period = EXCLUDED.period THEN shared_counts.used + EXCLUDED.used
                    ELSE EXCLUDED.used END,
        period = EXCLUDED.period
    RETURNING used, (period + 1) * $2::float8 - extract(epoch FROM clock_timestamp())::float8 AS left_
)
SELECT added.used, added.left_,
       coalesce(invalid.used, 0),
       (floor(extract(epoch FROM clock_timestamp()) / $5::float8) + 1) * $5::float8
           - extract(epoch FROM clock_timestamp())::float8
FROM added LEFT JOIN shared_counts invalid
    ON invalid.name = $4 AND invalid.period = floor(extract(epoch FROM clock_timestamp()) / $5::float8)
"""


class SharedCounts:
    """Counts every process of the database adds to, each in fixed windows of time told by the database's
    clock (one clock for every machine): Discord's limits are the bot's, counted together. On a connection
    of its own, off the pool the messages' work uses (a count is on every REST request's path). PostgreSQL
    only (on SQLite there is one process, which counts alone)."""

    def __init__(self, url: str) -> None:
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: Any = None  # asyncpg's connection
        self._turn = asyncio.Lock()

    async def add(self, name: str, seconds: float, n: int) -> tuple[int, float]:
        """Add ``n`` (0: only read) to ``name``'s count in the current window of ``seconds``; the count
        now, and the seconds left in the window."""
        used, left = await self._fetch(ADD_TO_COUNT, name, seconds, n)
        return int(used), max(0.0, float(left))

    async def lease(self, name: str, seconds: float, n: int, other: str,
                    other_seconds: float) -> tuple[int, float, int, float]:
        """:meth:`add` ``n`` to ``name`` and read ``other``'s count in its own windows (``n`` = 0), in one
        trip: (the count now, its window's seconds left, the other count, its window's seconds left)."""
        used, left, bad, bad_left = await self._fetch(LEASE_AND_READ, name, seconds, n, other, other_seconds)
        return int(used), max(0.0, float(left)), int(bad), max(0.0, float(bad_left))

    async def _fetch(self, query: str, *args: object) -> Any:
        import asyncpg

        async with self._turn:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.dsn, timeout=10,
                                                   server_settings={"application_name": "kindred-limits"})
            return await self._conn.fetchrow(query, *args, timeout=5)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            conn.terminate()
