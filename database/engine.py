"""The database connection and the one rule for where a statement runs.

**The rule:** every repository runs its statements through :meth:`Database.run` — one unit of work on a
plain synchronous ``Connection``. On PostgreSQL that unit runs on the async engine (asyncpg, natively
async). On SQLite it runs on one dedicated thread with one plain pysqlite connection
(database/sqlite_thread.py): aiosqlite pays a thread hop per DBAPI call (several per statement), this pays
one per unit of work, and SQLite writes one at a time anyway. The aiosqlite engine (``Database.engine``)
stays for what SQLAlchemy's async API needs to be handed (tests, the Alembic CLI); Kindred's own statements
never use it on SQLite.

Also here: the SQLite pragmas, the background WAL checkpoints and the Alembic upgrade at start-up. On
PostgreSQL that upgrade runs under an advisory lock: processes of one cluster started together (compose, a
reboot, a release with a new migration) would otherwise run the same migration at once and one would crash
on a duplicate ``CREATE``. One migrates; the others wait for it, then find the schema current.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, Executable, Table, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import AdaptedConnection, Dialect, Engine, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from database.boundary import DbValue, NamedRow
from database.errors import DatabaseClosed, SchemaNotReady
from database.migrating import MIGRATION_LOCK_KEY as MIGRATION_LOCK_KEY
from database.migrating import MIGRATIONS as MIGRATIONS
from database.migrating import upgrade, upgrade_locked
from database.retry import RETRY_SECONDS, Retry
from database.sqlite_thread import SQLiteThread
from database.trips import SharedTrips
from database.vectors import DEFAULT_EMBEDDING_MODEL

log = logging.getLogger(__name__)
T = TypeVar("T")
CHECKPOINT_SECONDS = 1.0  # how often SQLite's write-ahead log is copied back into the database file
WARM_CONNECTIONS = 6  # PostgreSQL connections opened at start-up, before any message needs one
# How long a process waits for another's migration (or a table a migration needs) before it gives up
# with one line: long enough for a large data migration, short enough that a stuck one is noticed.
MIGRATION_WAIT_SECONDS = 300.0
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout expires


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry,
                    busy_timeout: float = 10.0) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and the writer work at once; NORMAL sync is durable across process crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")  # then Database.run retries
    # No checkpoint inside a commit (the one crossing 1,000 WAL pages would copy them back with an fsync
    # while a message waits on it): Database checkpoints beside the writers instead (_checkpoint_loop).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_private(path: Path) -> None:
    """A SQLite database file not there yet is made readable by its owner only (0600), in a folder made
    0700: it holds what people said. SQLite gives its -wal and -shm files the database file's mode. An
    existing file or folder keeps the mode its operator gave it."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)  # mkdir's mode is cut by the umask; parents above it keep the default
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # SQLite takes an empty file


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (None: another database, an in-memory one, a ``file:`` URI)."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" and not path.startswith("file:") else None


def make_engine(url: str, busy_timeout: float = 10.0) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            create_private(path)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", partial(_sqlite_pragmas, busy_timeout=busy_timeout))
        return engine
    # No pre-ping: it costs a round trip per unit of work, and Database.run already retries a unit whose
    # connection turns out dead (database/retry.py). Room for a reply's concurrent reads in a busy burst.
    engine = create_async_engine(url, pool_size=20, max_overflow=20, pool_use_lifo=True)
    event.listen(engine.sync_engine, "checkout", _drop_closed)
    return engine


def _drop_closed(dbapi_connection: AdaptedConnection, _record: ConnectionPoolEntry,
                 _proxy: PoolProxiedConnection) -> None:
    """Checkout: a pooled connection asyncpg already knows the server closed (a restart, a terminated
    backend) is replaced before use, with no round trip. Without this each of the pool's dead connections
    cost a failed unit of work and a retry's backoff after PostgreSQL came back."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def make_sync_sqlite_engine(url: str, busy_timeout: float = 10.0) -> Engine:
    """A plain pysqlite engine on the same file, driven from one dedicated thread (see Database.run)."""
    sync_url = url.replace("sqlite+aiosqlite", "sqlite", 1)
    engine = create_engine(sync_url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", partial(_sqlite_pragmas, busy_timeout=busy_timeout))
    return engine


def _in_transaction(fn: Callable[[Connection], T], conn: Connection) -> T:
    with conn.begin():
        return fn(conn)


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, wherever SQLAlchemy and asyncpg put it."""
    current: BaseException | None = exc
    for _ in range(5):
        if current is None:
            return None
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(code, str):
            return code
        current = getattr(current, "orig", None) or current.__cause__
    return None


class Database:
    """The engines, the SQLite thread and its checkpoints: what every repository runs its work on."""

    def __init__(self, url: str, *, retry_seconds: float = RETRY_SECONDS,
                 busy_timeout: float = 10.0, checkpoint_seconds: float = CHECKPOINT_SECONDS) -> None:
        self.url = url
        self.retry_seconds = retry_seconds  # how long a unit of work is retried through an outage or a lock
        self.checkpoint_seconds = checkpoint_seconds  # between SQLite's background checkpoints
        self.engine = make_engine(url, busy_timeout)
        self.dialect = self.engine.dialect.name
        self._sync_engine: Engine | None = None
        self._thread: SQLiteThread | None = None
        if self.dialect == "sqlite":
            self._sync_engine = make_sync_sqlite_engine(url, busy_timeout)
            self._thread = SQLiteThread(self._sync_engine)
        # Whether statements run on the SQLite thread; a plain attribute, read on every message's log write.
        self.is_sqlite = self._sync_engine is not None
        # PostgreSQL reads, and writes of one statement, without a transaction: under its default READ
        # COMMITTED each statement sees its own snapshot anyway, one statement is atomic by itself, and BEGIN
        # and COMMIT (or the ROLLBACK on return) cost two round trips a unit (about a quarter of a small
        # read's client CPU).
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._checkpointer: asyncio.Task[None] | None = None
        self._stop_checkpoints = asyncio.Event()
        self._trips = SharedTrips(self)
        # Set once close() has let the last shared trips go: later work raises DatabaseClosed at once, on
        # both dialects (PostgreSQL's disposed pool would quietly open a connection nobody closes).
        self._closed = False
        # Run on each connection opened at start-up (PostgreSQL): the store prepares its hot statements.
        self.warm_up: Callable[[Connection], None] | None = None
        # The embedding model of this process (memory/embeddings.py ``model_id``): vectors written are tagged
        # with it, and vectors read of another model are read as none (database/records.py ``usable``).
        self.embedding_model = DEFAULT_EMBEDDING_MODEL  # the running model's, set by the memory service

    @property
    def sync_engines(self) -> list[Engine]:
        """The synchronous engines statements run on (the async engine's, and the SQLite thread's), for
        whoever times them through SQLAlchemy's events (bot/core/metrics.py)."""
        return [self.engine.sync_engine, *([self._sync_engine] if self._sync_engine is not None else [])]

    @property
    def statement_dialect(self) -> Dialect:
        """The dialect statements are compiled for: the one of the engine that runs them."""
        return self._sync_engine.dialect if self._sync_engine is not None else self.engine.dialect

    def insert(self, table: type[DeclarativeBase] | Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT that knows ON CONFLICT (both dialects spell it the same way)."""
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    async def run(self, fn: Callable[[Connection], T], *, write: bool, single: bool = False) -> T:
        """Run ``fn(connection)`` as one unit of work: in a transaction when ``write``; retried, whole,
        through a transient failure (see database/retry.py). ``single``: a write of one statement (an
        executemany included), atomic by itself: on PostgreSQL it needs no transaction around it."""
        return await self._retried(lambda: self._run_once(fn, write, single))

    async def _retried(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()``'s result, tried again, whole, through a transient failure."""
        retry: Retry | None = None  # made at the first failure: most units succeed at once
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                retry = retry or Retry(self.retry_seconds)
                if await retry.again(exc):
                    continue
                raise
            if retry is not None:
                retry.done()
            return result

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseClosed()

    async def _run_once(self, fn: Callable[[Connection], T], write: bool, single: bool = False) -> T:
        self._check_open()
        if self._thread is not None:
            return await self._thread.run(partial(_in_transaction, fn) if write else fn)
        async with (self.engine.begin() if write and not single else self._autocommit.connect()) as conn:
            return await conn.run_sync(fn)

    async def read(self, fn: Callable[[Connection], T]) -> T:
        return await self.run(fn, write=False)

    async def write_shared(self, fn: Callable[[Connection], T], *, single: bool = False) -> T:
        """A small write that may share its transaction (and its trip to the database) with the other small
        units of work made at the same moment (database/trips.py): the writes after a reply, say. Awaited
        like :meth:`write`: it returns once committed. ``single``: see :meth:`run`."""
        return await self._trips.run(fn, write=True, single=single)

    async def read_shared(self, fn: Callable[[Connection], T]) -> T:
        """A small read that may share its trip to the database with other small units of the moment."""
        return await self._trips.run(fn, write=False)

    async def write(self, fn: Callable[[Connection], T]) -> T:
        return await self.run(fn, write=True)

    async def rows(self, query: Executable) -> list[NamedRow]:
        return await self.read(lambda conn: list(conn.execute(query).all()))

    async def first(self, query: Executable) -> NamedRow | None:
        return await self.read(lambda conn: conn.execute(query).first())

    async def scalar(self, query: Executable) -> DbValue:
        return await self.read(lambda conn: conn.execute(query).scalar())

    async def change(self, statement: Executable) -> int:
        """Run one data-changing statement in its own transaction; the number of rows it touched."""
        return await self.write(lambda conn: int(conn.execute(statement).rowcount or 0))

    async def run_trip(self, trip: Callable[[Connection], T], *, writes: bool = True) -> T:
        """``trip(connection)`` on one connection, outside any transaction (it manages its own): on SQLite
        one hop to its thread. Not retried here (database/trips.py decides). ``writes=False``: it only
        reads (on PostgreSQL, then, without a transaction, like :meth:`read`)."""
        self._check_open()
        if self._thread is not None:
            return await self._thread.run(trip)
        async with (self.engine if writes else self._autocommit).connect() as conn:
            return await conn.run_sync(trip)

    async def write_then_read(self, write: Callable[[Connection], None],
                              read: Callable[[Connection], T]) -> T:
        """Commit ``write``, then run ``read`` on the same connection: on SQLite, one trip to its thread."""
        return await self._retried(lambda: self._write_then_read_once(write, read))

    async def _write_then_read_once(self, write: Callable[[Connection], None],
                                    read: Callable[[Connection], T]) -> T:
        self._check_open()
        if self._thread is not None:

            def both(conn: Connection) -> T:
                with conn.begin():
                    write(conn)
                return read(conn)

            return await self._thread.run(both)
        async with self.engine.connect() as conn:
            async with conn.begin():
                await conn.run_sync(write)
            return await conn.run_sync(read)

    # -- lifecycle

    @property
    def safe_url(self) -> str:
        """The URL without its password (what messages may show)."""
        return make_url(self.url).render_as_string(hide_password=True)

    async def open(self, *, migration_wait: float | None = None) -> None:
        """Upgrade the schema (so an upgrade of Kindred upgrades the data), then start the checkpoints.

        On PostgreSQL under the migration lock, waiting up to ``migration_wait`` seconds (default
        MIGRATION_WAIT_SECONDS) for another process's migration; :class:`SchemaNotReady` when that runs
        out."""
        if self.dialect == "postgresql":
            wait = MIGRATION_WAIT_SECONDS if migration_wait is None else migration_wait
            try:
                await self.write(partial(upgrade_locked, wait_seconds=wait))
            except DBAPIError as exc:
                if _sqlstate(exc) != _LOCK_NOT_AVAILABLE:
                    raise
                raise SchemaNotReady(
                    self.safe_url, f"waited {wait:g}s for another process's migration (advisory lock "
                    f"{MIGRATION_LOCK_KEY}) or a table it holds; is a migration stuck? start again once it "
                    "ends"
                ) from None
        else:
            await self.write(upgrade)
        if self.dialect == "postgresql":
            await self._warm_pool(WARM_CONNECTIONS)
        if self._sync_engine is not None:
            self._checkpointer = asyncio.create_task(
                self._checkpoint_loop(), name="kindred-sqlite-checkpoint"
            )

    async def _warm_pool(self, count: int) -> None:
        """Open ``count`` connections now and leave them in the pool: each costs the event loop several
        milliseconds (the connection, asyncpg's type set-up), which the first burst of messages after a start
        would otherwise pay while people wait. ``warm_up`` (the store's hot statements) runs on each."""
        opened = await asyncio.gather(*(self._autocommit.connect().start() for _ in range(count)),
                                      return_exceptions=True)
        for conn in opened:  # back to the pool, open
            if isinstance(conn, BaseException):  # reported by the first real use instead
                log.warning("could not open a database connection ahead of use: %s", conn)
                continue
            try:
                if self.warm_up is not None:
                    await conn.run_sync(self.warm_up)
            finally:
                await conn.close()

    async def _checkpoint_loop(self) -> None:
        """Copy SQLite's write-ahead log back into the database file every ``checkpoint_seconds`` (a second
        by default), in a thread of its own.

        Left to SQLite, the commit that takes the log past 1,000 pages does it, fsync included: now and
        then a message's log write would wait several milliseconds for it. A PASSIVE checkpoint neither
        waits for readers nor holds up writers. Stopped by ``_stop_checkpoints``, never cancelled: a
        checkpoint cut off half-way would still run in its thread and make close()'s final one fail."""
        while True:
            try:
                await asyncio.wait_for(self._stop_checkpoints.wait(), self.checkpoint_seconds)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self.checkpoint, "PASSIVE")
            except Exception:
                log.warning(
                    "SQLite checkpoint failed (tried again in %gs)", self.checkpoint_seconds, exc_info=True
                )

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """Run a WAL checkpoint now (SQLite; blocking): (busy, pages in the log, pages checkpointed)."""
        assert self._sync_engine is not None and mode in {"PASSIVE", "FULL", "RESTART", "TRUNCATE"}
        with self._sync_engine.connect() as conn:
            busy, pages, done = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").one()
        return int(busy), int(pages), int(done)

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """Let the shared trips finish, checkpoint, then close the engines; work asked after that raises
        DatabaseClosed. A second close does nothing more."""
        if self._closed:
            return
        await self._trips.drain()
        self._closed = True
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            await asyncio.gather(self._checkpointer, return_exceptions=True)
            try:  # leave the database file whole, the log emptied
                await asyncio.to_thread(self.checkpoint, "TRUNCATE")
            except Exception:
                log.warning("final SQLite checkpoint failed", exc_info=True)
        await self.engine.dispose()
        if self._sync_engine is not None and self._thread is not None:
            await self._thread.close(self._sync_engine.dispose)
