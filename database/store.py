"""The one data-access module: every read and write Kindred makes goes through :class:`Store`.

Cogs, the reply engine, memory jobs and the console never write SQL themselves. Everything is
async (aiosqlite for SQLite, asyncpg for PostgreSQL) so the event loop never blocks on the disk.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    Connection,
    String,
    and_,
    bindparam,
    case,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from database.models import (
    ApiCall,
    ArchivedMessage,
    Base,
    CharacterAffinity,
    CharacterState,
    Conversation,
    CoreMemory,
    CoreMemoryVersion,
    GlobalState,
    HistoryMessage,
    IdentityEntry,
    LoggedMessage,
    Nickname,
    PersonaFlowCharacter,
    PersonaFlowMemory,
    PlaceSetting,
    Relationship,
    User,
    UserFact,
    utcnow,
)
from database.prepared import Prepared

log = logging.getLogger(__name__)
T = TypeVar("T")
AUTHOR_REFRESH_SECONDS = 60.0
PLACE_CACHE_SECONDS = 5.0
TURN_CACHE_CONVERSATIONS = 500  # conversations whose turns stay in memory between replies
CHECKPOINT_SECONDS = 1.0  # how often SQLite's write-ahead log is copied back into the database file

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
IDENTITY_KINDS = ("trait", "lore", "fact", "quirk")
# Core memories drawn from DM conversations carry this source and never reach a channel's prompt.
PRIVATE_SOURCE = "summary_dm"
RELATIONSHIP_RANGES: dict[str, tuple[float, float]] = {
    "anger": (0.0, 10.0),
    "rapport": (0.0, 10.0),
    "trust": (0.0, 10.0),
    "formality": (-5.0, 5.0),
}


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything in Kindred compares aware UTC times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# --------------------------------------------------------------------------- value objects


@dataclass(frozen=True)
class SeenMessage:
    """A message the bot saw, as written to the short-term log."""

    message_id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    author_is_bot: bool
    is_dm: bool
    content: str
    created_at: datetime
    reply_to_id: int | None = None


class Turn(NamedTuple):
    """One history message. A tuple, not a dataclass: every reply reads hundreds of them."""

    role: str
    content: str
    id: int = 0
    discord_message_id: int | None = None
    tokens: int = 0


@dataclass(frozen=True)
class History:
    conversation_id: int | None
    summary: str
    turns: list[Turn]

    @property
    def tokens(self) -> int:
        from bot.tokens import count_tokens

        return count_tokens(self.summary) + sum(t.tokens for t in self.turns)


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    is_bot: bool
    premium: bool
    memory_consent: bool | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Usage:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class UserSummary:
    """The figures an admin may see about a user: never message text."""

    user: UserRecord
    usage: Usage
    history_messages: int
    history_tokens: int
    core_memories: int


@dataclass(frozen=True)
class RelationshipRecord:
    anger: float = 0.0
    rapport: float = 5.0
    trust: float = 5.0
    formality: float = 0.0


@dataclass(frozen=True)
class PromptData:
    """Everything about the character and the user that a reply's prompt needs, read in one go."""

    identity: dict[str, list[str]]
    core_memories: list[str]
    relationship: RelationshipRecord | None
    mood: str
    premium: bool
    history: History
    recent: list[SeenMessage]
    # Read in the same go so that nothing else on the reply path needs a trip to the database.
    memory_consent: bool | None = None  # the user's /memory opt-in (True) / opt-out (False); None: never said
    interactions: int = 0  # the character's interaction count (evolution stages)
    stage: str = ""  # the character's stored evolution stage
    fact_stamp: tuple[Any, ...] | None = None  # the user's facts fingerprint (recall's vector cache checks it)


@dataclass(frozen=True)
class PromptRequest:
    """What a reply's prompt read is about: whose conversation, where, and how much channel context."""

    character: str
    user_id: int
    scope: str
    channel_id: int
    recent_limit: int
    before_id: int | None
    private: bool  # a DM: may see memories drawn from DMs; a channel prompt never does


# --------------------------------------------------------------------------- engine set-up


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers and the writer work at once; NORMAL sync is durable across process crashes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # No checkpoint inside a commit (the one crossing 1,000 WAL pages would copy them back with an fsync
    # while a message waits on it): Store checkpoints beside the writers instead (Store._checkpoint_loop).
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def make_engine(url: str) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


def make_sync_sqlite_engine(url: str) -> Engine:
    """A plain pysqlite engine on the same file, driven from one dedicated thread (see Store._run)."""
    sync_url = url.replace("sqlite+aiosqlite", "sqlite", 1)
    engine = create_engine(sync_url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(_alembic_config(connection), "head")


# --------------------------------------------------------------------------- the store


StoreMethod = TypeVar("StoreMethod", bound=Callable[..., Awaitable[Any]])


def _changes_history(method: StoreMethod) -> StoreMethod:
    """Marks a Store method that changes conversation history (other than append_turns, which keeps count
    per conversation): every prompt read taken before it ends is stale, and the turn cache is emptied."""

    @functools.wraps(method)
    async def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return await method(self, *args, **kwargs)
        finally:  # also after a failure: the change may have been made
            self._history_changes += 1
            self._turns.clear()

    return wrapper  # type: ignore[return-value]


class _TurnCache:
    """The turns of recently active conversations, kept between replies so that a long conversation is
    not read whole for every message. An entry serves only while its conversation's revision is the one
    it was read at: a database trigger moves that number on any change to the conversation's history,
    made by Kindred or by anyone else (migration 0004). Replies extend their entry as they store their
    turns, so a conversation in progress is read whole once. Touched from the SQLite thread and the event
    loop, hence the lock."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[int, tuple[Turn, ...]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conversation_id: int, revision: int) -> list[Turn] | None:
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is None or entry[0] != revision:
                return None
            self._entries.move_to_end(conversation_id)
            return list(entry[1])

    def put(self, conversation_id: int, revision: int, turns: Sequence[Turn]) -> None:
        with self._lock:
            self._put(conversation_id, revision, tuple(turns))

    def _put(self, conversation_id: int, revision: int, turns: tuple[Turn, ...]) -> None:
        self._entries[conversation_id] = (revision, turns)
        self._entries.move_to_end(conversation_id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def extend(self, conversation_id: int, before: int, after: int, turns: Sequence[Turn]) -> None:
        """Storing ``turns`` moved the conversation's revision from ``before`` to ``after``."""
        with self._lock:
            entry = self._entries.get(conversation_id)
            if entry is not None and entry[0] == before:
                self._put(conversation_id, after, entry[1] + tuple(turns))
            elif entry is not None and entry[0] != after:  # (a read since may already have it whole)
                del self._entries[conversation_id]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class _GroupCommitLog:
    """Writes seen messages (and their authors) in batches.

    Each caller awaits its own row being committed, so "logged before any reply work" holds, but
    messages that arrive while a commit is in flight share the next one: this is what lets ingest keep
    up with a busy server on SQLite. The writing happens in a task of its own, so a caller cancelled
    while waiting (a shutdown) does not take its message's write down with it.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._pending: list[tuple[SeenMessage, str, PromptRequest | None, asyncio.Future[PromptData | None]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def write(self, message: SeenMessage, display_name: str, then_read: PromptRequest | None) -> PromptData | None:
        future: asyncio.Future[PromptData | None] = asyncio.get_running_loop().create_future()
        self._pending.append((message, display_name, then_read, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await future

    async def _flush_loop(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                read = await self._store._write_seen([(m, n) for m, n, _, _ in batch], [r for _, _, r, _ in batch])
            except Exception as exc:  # every waiter learns of the failure
                for _, _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
            else:
                for (_, _, _, fut), data in zip(batch, read, strict=True):
                    if not fut.done():
                        fut.set_result(data)

    async def drain(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._log = _GroupCommitLog(self)
        self._recent_authors: dict[int, tuple[tuple[str, str], float]] = {}
        self._places: dict[tuple[int, int | None], tuple[tuple[bool | None, bool | None], float]] = {}
        self.closed = False
        # Counts of history changes made through this store (see history_stamp).
        self._history_changes = 0
        self._appends: dict[tuple[str, int, str], int] = {}
        self._turns = _TurnCache(TURN_CACHE_CONVERSATIONS)
        # aiosqlite pays a thread hop per DBAPI call (several per statement). Hot-path operations on SQLite
        # instead run as one unit of plain sqlite3 work on a dedicated thread: one hop per operation.
        self._sync_engine: Engine | None = None
        self._checkpointer: asyncio.Task[None] | None = None
        self._stop_checkpoints = asyncio.Event()
        self._sqlite_thread: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite":
            self._sync_engine = make_sync_sqlite_engine(url)
            self._sqlite_thread = ThreadPoolExecutor(1, thread_name_prefix="kindred-sqlite")
        # The hot path's statements, compiled for the dialect that runs them (the sync engine's on SQLite).
        self._q = _prepared_queries(self._sync_engine.dialect if self._sync_engine else self.engine.dialect)

    async def _run(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run ``fn(connection)`` as one unit: in a transaction when ``write``. On PostgreSQL it runs on the
        async engine (asyncpg, natively async); on SQLite on the dedicated thread."""
        if self._sync_engine is not None and self._sqlite_thread is not None:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._sqlite_thread, self._run_sync, fn, write)
        async with (self.engine.begin() if write else self.engine.connect()) as conn:
            return await conn.run_sync(fn)

    def _run_sync(self, fn: Callable[[Connection], T], write: bool) -> T:
        assert self._sync_engine is not None
        with (self._sync_engine.begin() if write else self._sync_engine.connect()) as conn:
            return fn(conn)

    async def _run_write_then_read(self, write: Callable[[Connection], None], read: Callable[[Connection], T]) -> T:
        """Commit ``write``, then run ``read`` on the same connection: on SQLite, one trip to its thread."""
        if self._sync_engine is not None and self._sqlite_thread is not None:
            def both(conn: Connection) -> T:
                with conn.begin():
                    write(conn)
                return read(conn)

            return await asyncio.get_running_loop().run_in_executor(self._sqlite_thread, self._run_sync, both, False)
        async with self.engine.connect() as conn:
            async with conn.begin():
                await conn.run_sync(write)
            return await conn.run_sync(read)

    # -- lifecycle

    async def open(self) -> Store:
        """Bring the schema to the newest migration (Alembic) so an upgrade of Kindred upgrades the data."""
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)
        if self._sync_engine is not None:
            self._checkpointer = asyncio.create_task(self._checkpoint_loop(), name="kindred-sqlite-checkpoint")
        return self

    async def _checkpoint_loop(self) -> None:
        """Copy SQLite's write-ahead log back into the database file every second, in a thread of its own.

        Left to SQLite, the commit that takes the log past 1,000 pages does it, fsync included: now and
        then a message's log write would wait several milliseconds for it. A PASSIVE checkpoint neither
        waits for readers nor holds up writers. Stopped by ``_stop_checkpoints``, never cancelled: a
        checkpoint cut off half-way would still run in its thread and make close()'s final one fail."""
        while True:
            try:
                await asyncio.wait_for(self._stop_checkpoints.wait(), CHECKPOINT_SECONDS)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.to_thread(self.checkpoint, "PASSIVE")
            except Exception:
                log.warning("SQLite checkpoint failed (tried again in %gs)", CHECKPOINT_SECONDS, exc_info=True)

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """Run a WAL checkpoint now (SQLite; blocking): (busy, pages in the log, pages checkpointed)."""
        assert self._sync_engine is not None and mode in {"PASSIVE", "FULL", "RESTART", "TRUNCATE"}
        with self._sync_engine.connect() as conn:
            busy, pages, done = conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})").one()
        return int(busy), int(pages), int(done)

    async def close(self) -> None:
        await self._log.drain()
        if self._checkpointer is not None:
            self._stop_checkpoints.set()
            await asyncio.gather(self._checkpointer, return_exceptions=True)
            try:  # leave the database file whole, the log emptied
                await asyncio.to_thread(self.checkpoint, "TRUNCATE")
            except Exception:
                log.warning("final SQLite checkpoint failed", exc_info=True)
        await self.engine.dispose()
        if self._sync_engine is not None and self._sqlite_thread is not None:
            await asyncio.get_running_loop().run_in_executor(self._sqlite_thread, self._sync_engine.dispose)
            self._sqlite_thread.shutdown(wait=True)
        self.closed = True  # every pooled connection released (what shutdown reports)

    def _insert(self, table: Any) -> Any:
        return (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)

    # -- users and the short-term log

    async def log_message(self, message: SeenMessage, display_name: str | None = None, *,
                          then_read: PromptRequest | None = None) -> PromptData | None:
        """Write a seen message (and upsert its author and nickname) durably, batched with its neighbours.

        ``then_read``: once the write is committed, also read that prompt's data in the same trip to the
        database (a message that will certainly be answered); None when not asked or when the read failed
        (the write stands either way)."""
        return await self._log.write(message, display_name or message.author_name, then_read)

    async def _write_seen(self, batch: Sequence[tuple[SeenMessage, str]],
                          reads: Sequence[PromptRequest | None]) -> list[PromptData | None]:
        now = utcnow()
        clock = time.monotonic()
        users: dict[int, dict[str, Any]] = {}
        nicks: dict[tuple[int, str], dict[str, Any]] = {}
        for m, display in batch:
            # An author seen under the same names within the last minute needs no upsert: last_seen
            # is kept to the minute, and most messages come from people who just spoke.
            key = (display[:100], m.author_name[:100])
            recent = self._recent_authors.get(m.author_id)
            if recent is not None and recent[0] == key and clock - recent[1] < AUTHOR_REFRESH_SECONDS:
                continue
            self._recent_authors[m.author_id] = (key, clock)
            users[m.author_id] = {"id": m.author_id, "name": display[:100], "is_bot": m.author_is_bot,
                                  "premium": False, "first_seen": now, "last_seen": now}
            for nick in {display[:100], m.author_name[:100]}:
                if nick:
                    nicks[(m.author_id, nick)] = {"user_id": m.author_id, "nickname": nick,
                                                  "first_seen": now, "last_seen": now}
        rows = [
            {"message_id": m.message_id, "channel_id": m.channel_id, "guild_id": m.guild_id,
             "author_id": m.author_id, "author_name": display[:100], "author_is_bot": m.author_is_bot,
             "is_dm": m.is_dm, "content": m.content, "reply_to_id": m.reply_to_id, "created_at": m.created_at}
            for m, display in batch
        ]
        q = self._q

        def write(conn: Connection) -> None:
            if users:
                q["user_upsert"].execute_many(conn, list(users.values()))
                q["nick_upsert"].execute_many(conn, list(nicks.values()))
            q["log_insert"].execute_many(conn, rows)

        def read(conn: Connection) -> list[PromptData | None]:
            out: list[PromptData | None] = []
            for request in reads:
                try:
                    out.append(self._read_prompt(conn, request) if request is not None else None)
                except Exception:  # the reply reads again on its own (and reports a lasting failure there)
                    log.exception("prompt read after logging message failed")
                    out.append(None)
            return out

        try:
            if any(r is not None for r in reads):
                return await self._run_write_then_read(write, read)
            await self._run(write, write=True)
            return [None] * len(batch)
        except Exception:
            for m, _ in batch:  # the upsert may not have happened: do it next time
                self._recent_authors.pop(m.author_id, None)
            raise

    async def ensure_user(self, user_id: int, name: str, is_bot: bool = False) -> None:
        now = utcnow()
        async with self.engine.begin() as conn:
            ins = self._insert(User).values(id=user_id, name=name[:100], is_bot=is_bot, premium=False,
                                            first_seen=now, last_seen=now)
            await conn.execute(ins.on_conflict_do_nothing(index_elements=[User.id]))

    async def get_user(self, user_id: int) -> UserRecord | None:
        row = await self._run(lambda conn: self._q["user_record"].first(conn, {"user_id": user_id}), write=False)
        return None if row is None else _user_record(row)

    async def list_users(self, *, offset: int = 0, limit: int = 10, humans_only: bool = True) -> list[UserRecord]:
        query = select(*USER_RECORD_COLUMNS).order_by(User.last_seen.desc(), User.id).offset(offset).limit(limit)
        if humans_only:
            query = query.where(User.is_bot.is_(False))
        async with self.engine.connect() as conn:
            return [_user_record(r) for r in (await conn.execute(query)).all()]

    async def count_users(self, *, humans_only: bool = True) -> int:
        query = select(func.count()).select_from(User)
        if humans_only:
            query = query.where(User.is_bot.is_(False))
        async with self.engine.connect() as conn:
            return int((await conn.execute(query)).scalar_one())

    async def nicknames(self, user_id: int) -> list[tuple[str, datetime, datetime]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(Nickname.nickname, Nickname.first_seen, Nickname.last_seen)
                                       .where(Nickname.user_id == user_id).order_by(Nickname.first_seen))).all()
        return [(r[0], as_utc(r[1]), as_utc(r[2])) for r in rows]

    async def set_premium(self, user_id: int, premium: bool) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(User).where(User.id == user_id).values(premium=premium))

    async def set_memory_consent(self, user_id: int, consent: bool | None) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(User).where(User.id == user_id).values(memory_consent=consent))

    async def recent_messages(self, channel_id: int, *, limit: int, before_id: int | None = None) -> list[SeenMessage]:
        """The channel's latest messages, oldest first; falls back to the archive after a consolidation."""
        return await self._run(lambda conn: _recent(conn, self._q, channel_id, limit, before_id), write=False)

    async def count_logged(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(LoggedMessage))).scalar_one())

    async def count_archived(self) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(ArchivedMessage))).scalar_one())

    # -- conversations

    async def _conversation_id(self, conn: AsyncConnection, character: str, user_id: int, scope: str,
                               *, create: bool) -> int | None:
        query = select(Conversation.id).where(Conversation.character == character, Conversation.user_id == user_id,
                                              Conversation.scope == scope)
        cid = (await conn.execute(query)).scalar()
        if cid is None and create:
            ins = self._insert(Conversation).values(character=character, user_id=user_id, scope=scope, summary="",
                                                    updated_at=utcnow())
            await conn.execute(ins.on_conflict_do_nothing())
            cid = (await conn.execute(query)).scalar()
        return cid

    async def history(self, character: str, user_id: int, scope: str) -> History:
        return await self._run(lambda conn: self._read_history(conn, character, user_id, scope), write=False)

    def _read_history(self, conn: Connection, character: str, user_id: int, scope: str) -> History:
        row = self._q["conversation"].first(conn, {"character": character, "user_id": user_id, "scope": scope})
        if row is None:
            return History(None, "", [])
        cid, summary, revision = row
        # The revision is read before the turns: turns read later can only be newer, and a newer state
        # never carries this revision again, so a mislabelled entry is never served.
        turns = self._turns.get(cid, revision)
        if turns is None:
            turns = [Turn._make(t) for t in self._q["turns"].all(conn, {"conversation_id": cid})]
            self._turns.put(cid, revision, turns)
        return History(cid, summary, turns)

    def history_stamp(self, character: str, user_id: int, scope: str) -> tuple[int, int]:
        """Changes so far to this conversation's history made through this store: a prompt read taken
        under one stamp is stale once the stamp differs."""
        return self._history_changes, self._appends.get((character, user_id, scope), 0)

    async def append_turns(self, character: str, user_id: int, scope: str, turns: Iterable[Turn]) -> list[int]:
        try:
            return await self._append_turns(character, user_id, scope, turns)
        finally:  # also after a failure: the turns may have been stored
            key = (character, user_id, scope)
            self._appends[key] = self._appends.get(key, 0) + 1

    async def _append_turns(self, character: str, user_id: int, scope: str, turns: Iterable[Turn]) -> list[int]:
        from bot.tokens import count_tokens

        rows = [(t, t.tokens or count_tokens(t.content)) for t in turns]

        q = self._q
        key = {"character": character, "user_id": user_id, "scope": scope}

        def write(conn: Connection) -> tuple[int, int, int, list[int]]:
            # Locked (on PostgreSQL; SQLite writes one at a time anyway) so that the revision before and
            # after are this append's own: the turn cache is extended only across exactly this change.
            now = utcnow()
            row = q["conversation_locked"].first(conn, key)
            if row is None:
                q["conversation_insert"].execute_many(conn, [{**key, "summary": "", "updated_at": now, "revision": 0}])
                row = q["conversation_locked"].first(conn, key)
            cid, before = int(row[0]), int(row[1])
            ids = [int(q["turn_insert"].first(conn, {
                "conversation_id": cid, "role": turn.role, "content": turn.content, "tokens": tokens,
                "discord_message_id": turn.discord_message_id, "created_at": now})[0]) for turn, tokens in rows]
            after = q["conversation_touch"].first(conn, {"conversation_id": cid, "touched_at": now})[0]
            return cid, before, int(after), ids

        cid, before, after, ids = await self._run(write, write=True)
        # Committed: the cached turns of this conversation, if current, grow by exactly these.
        self._turns.extend(cid, before, after, [Turn(t.role, t.content, i, t.discord_message_id, tokens)
                                                for (t, tokens), i in zip(rows, ids, strict=True)])
        return ids

    @_changes_history
    async def replace_turn(self, turn_id: int, content: str, discord_message_id: int | None = None) -> None:
        from bot.tokens import count_tokens

        values: dict[str, Any] = {"content": content, "tokens": count_tokens(content)}
        if discord_message_id is not None:
            values["discord_message_id"] = discord_message_id
        async with self.engine.begin() as conn:
            await conn.execute(update(HistoryMessage).where(HistoryMessage.id == turn_id).values(**values))

    @_changes_history
    async def delete_turns(self, turn_ids: Sequence[int]) -> int:
        if not turn_ids:
            return 0
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(HistoryMessage).where(HistoryMessage.id.in_(list(turn_ids))))
        return int(result.rowcount or 0)

    @_changes_history
    async def reset_conversation(self, character: str, user_id: int, scope: str) -> int:
        """Clear a conversation's history and summary; core memories stay."""
        async with self.engine.begin() as conn:
            cid = await self._conversation_id(conn, character, user_id, scope, create=False)
            if cid is None:
                return 0
            result = await conn.execute(delete(HistoryMessage).where(HistoryMessage.conversation_id == cid))
            await conn.execute(update(Conversation).where(Conversation.id == cid).values(summary="", updated_at=utcnow()))
        return int(result.rowcount or 0)

    @_changes_history
    async def compact_history(self, conversation_id: int, summary: str, drop_through_id: int) -> None:
        """Replace every turn up to ``drop_through_id`` by ``summary`` (turns after it stay), atomically."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(HistoryMessage).where(HistoryMessage.conversation_id == conversation_id,
                                                            HistoryMessage.id <= drop_through_id))
            await conn.execute(update(Conversation).where(Conversation.id == conversation_id)
                               .values(summary=summary, updated_at=utcnow()))

    async def conversations_over(self, character: str, token_threshold: int) -> list[tuple[int, str]]:
        """(user_id, scope) of conversations whose stored history is over the threshold."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(
                select(Conversation.user_id, Conversation.scope)
                .join(HistoryMessage, HistoryMessage.conversation_id == Conversation.id)
                .where(Conversation.character == character)
                .group_by(Conversation.id, Conversation.user_id, Conversation.scope)
                .having(func.sum(HistoryMessage.tokens) > token_threshold))).all()
        return [(int(r[0]), str(r[1])) for r in rows]

    # -- prompt data (one read per reply)

    async def prompt_data(self, character: str, user_id: int, scope: str, channel_id: int, *,
                          recent_limit: int, before_id: int | None, private: bool) -> PromptData:
        """Everything a reply's prompt needs, in one read. ``private`` (a DM) may see memories drawn from
        DMs; a channel prompt never does."""
        request = PromptRequest(character, user_id, scope, channel_id, recent_limit, before_id, private)
        return await self._run(lambda conn: self._read_prompt(conn, request), write=False)

    def _read_prompt(self, conn: Connection, r: PromptRequest) -> PromptData:
        q = self._q
        params = {"character": r.character, "user_id": r.user_id, "scope": r.scope, "private_source": PRIVATE_SOURCE}
        identity: dict[str, list[str]] = {k: [] for k in IDENTITY_KINDS}
        for kind, content in q["identity"].all(conn, params):
            identity.setdefault(kind, []).append(content)
        memories = [row[0] for row in q["memories_private" if r.private else "memories"].all(conn, params)]
        rel = q["relationship"].first(conn, params)
        mood = q["mood"].scalar(conn)
        user = q["user"].first(conn, params)
        state = q["character_state"].first(conn, params)
        stamp = _fact_stamp(q["fact_stamp"].first(conn, params))
        history = self._read_history(conn, r.character, r.user_id, r.scope)
        recent = _recent(conn, q, r.channel_id, r.recent_limit, r.before_id) if r.recent_limit else []
        return PromptData(identity, memories, RelationshipRecord(*rel) if rel else None, mood or "",
                          bool(user and user[0]), history, recent,
                          memory_consent=user[1] if user else None,
                          interactions=int(state[0]) if state else 0, stage=str(state[1]) if state else "",
                          fact_stamp=stamp)

    # -- core memories

    async def core_memories(self, character: str, user_id: int) -> list[tuple[int, str, str]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(CoreMemory.id, CoreMemory.content, CoreMemory.source).where(
                CoreMemory.character == character, CoreMemory.user_id == user_id).order_by(CoreMemory.id))).all()
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    async def _archive_core(self, conn: AsyncConnection, character: str, user_id: int, reason: str) -> None:
        rows = (await conn.execute(select(CoreMemory.content, CoreMemory.source).where(
            CoreMemory.character == character, CoreMemory.user_id == user_id).order_by(CoreMemory.id))).all()
        snapshot = json.dumps([{"content": r[0], "source": r[1]} for r in rows])
        await conn.execute(insert(CoreMemoryVersion).values(character=character, user_id=user_id, snapshot=snapshot,
                                                            reason=reason, created_at=utcnow()))

    async def add_core_memory(self, character: str, user_id: int, content: str, source: str = "user") -> int:
        async with self.engine.begin() as conn:
            await self._archive_core(conn, character, user_id, f"before add ({source})")
            result = await conn.execute(insert(CoreMemory).values(
                character=character, user_id=user_id, content=content, source=source,
                created_at=utcnow(), updated_at=utcnow()).returning(CoreMemory.id))
            return int(result.scalar_one())

    async def update_core_memory(self, memory_id: int, content: str) -> bool:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(CoreMemory.character, CoreMemory.user_id)
                                      .where(CoreMemory.id == memory_id))).first()
            if row is None:
                return False
            await self._archive_core(conn, row[0], row[1], "before edit")
            await conn.execute(update(CoreMemory).where(CoreMemory.id == memory_id)
                               .values(content=content, updated_at=utcnow()))
        return True

    async def delete_core_memory(self, memory_id: int) -> bool:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(CoreMemory.character, CoreMemory.user_id)
                                      .where(CoreMemory.id == memory_id))).first()
            if row is None:
                return False
            await self._archive_core(conn, row[0], row[1], "before delete")
            await conn.execute(delete(CoreMemory).where(CoreMemory.id == memory_id))
        return True

    async def replace_core_memories(self, character: str, user_id: int, contents: Sequence[str], *,
                                    reason: str, source: str = "summary") -> None:
        """Rewrite the memories of one ``source`` as a whole (merged by summarization), archiving the old
        version; memories from other sources (/remember, admins, the other privacy side) stay."""
        async with self.engine.begin() as conn:
            await self._archive_core(conn, character, user_id, reason)
            await conn.execute(delete(CoreMemory).where(CoreMemory.character == character,
                                                        CoreMemory.user_id == user_id, CoreMemory.source == source))
            for content in contents:
                await conn.execute(insert(CoreMemory).values(character=character, user_id=user_id, content=content,
                                                             source=source, created_at=utcnow(), updated_at=utcnow()))

    async def core_memory_versions(self, character: str, user_id: int) -> list[tuple[int, datetime, str, list[dict[str, str]]]]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(CoreMemoryVersion).where(
                CoreMemoryVersion.character == character, CoreMemoryVersion.user_id == user_id)
                .order_by(CoreMemoryVersion.id.desc()))).all()
        return [(r.id, as_utc(r.created_at), r.reason, json.loads(r.snapshot)) for r in rows]

    async def restore_core_memory_version(self, version_id: int) -> bool:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(CoreMemoryVersion).where(CoreMemoryVersion.id == version_id))).first()
            if row is None:
                return False
            await self._archive_core(conn, row.character, row.user_id, f"before restore of version {version_id}")
            await conn.execute(delete(CoreMemory).where(CoreMemory.character == row.character,
                                                        CoreMemory.user_id == row.user_id))
            for item in json.loads(row.snapshot):
                await conn.execute(insert(CoreMemory).values(
                    character=row.character, user_id=row.user_id, content=item["content"],
                    source=item.get("source", "summary"), created_at=utcnow(), updated_at=utcnow()))
        return True

    # -- identity

    async def identity(self, character: str, kind: str | None = None) -> list[tuple[int, str, str]]:
        query = select(IdentityEntry.id, IdentityEntry.kind, IdentityEntry.content).where(
            IdentityEntry.character == character)
        if kind:
            query = query.where(IdentityEntry.kind == kind)
        async with self.engine.connect() as conn:
            return [(int(r[0]), str(r[1]), str(r[2])) for r in (await conn.execute(query.order_by(IdentityEntry.id))).all()]

    async def add_identity(self, character: str, kind: str, content: str) -> int:
        if kind not in IDENTITY_KINDS:
            raise ValueError(f"kind must be one of {', '.join(IDENTITY_KINDS)}")
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(IdentityEntry).values(
                character=character, kind=kind, content=content, created_at=utcnow(), updated_at=utcnow())
                .returning(IdentityEntry.id))
            return int(result.scalar_one())

    async def update_identity(self, entry_id: int, content: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(IdentityEntry).where(IdentityEntry.id == entry_id)
                                        .values(content=content, updated_at=utcnow()))
        return bool(result.rowcount)

    async def delete_identity(self, entry_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(IdentityEntry).where(IdentityEntry.id == entry_id))
        return bool(result.rowcount)

    async def seed_identity(self, character: str, entries: dict[str, list[str]]) -> int:
        """Insert identity entries once: only when the character has none yet (operators' edits win)."""
        async with self.engine.begin() as conn:
            existing = (await conn.execute(select(func.count()).select_from(IdentityEntry)
                                           .where(IdentityEntry.character == character))).scalar_one()
            if existing:
                return 0
            count = 0
            for kind, items in entries.items():
                singular = kind.rstrip("s") if kind.rstrip("s") in IDENTITY_KINDS else kind
                if singular not in IDENTITY_KINDS:
                    continue
                for content in items:
                    await conn.execute(insert(IdentityEntry).values(character=character, kind=singular, content=content,
                                                                    created_at=utcnow(), updated_at=utcnow()))
                    count += 1
        return count

    # -- relationship

    async def relationship(self, character: str, user_id: int) -> RelationshipRecord:
        async with self.engine.connect() as conn:
            rel = (await conn.execute(select(Relationship).where(
                Relationship.character == character, Relationship.user_id == user_id))).first()
        return RelationshipRecord(rel.anger, rel.rapport, rel.trust, rel.formality) if rel else RelationshipRecord()

    async def set_relationship(self, character: str, user_id: int, **values: float) -> RelationshipRecord:
        """Set metrics, each clamped to its range (see RELATIONSHIP_RANGES)."""
        for key in values:
            if key not in RELATIONSHIP_RANGES:
                raise ValueError(f"unknown metric {key!r}")
        clamped = {k: min(max(float(v), RELATIONSHIP_RANGES[k][0]), RELATIONSHIP_RANGES[k][1]) for k, v in values.items()}
        current = await self.relationship(character, user_id)
        merged = {**current.__dict__, **clamped}
        async with self.engine.begin() as conn:
            ins = self._insert(Relationship).values(character=character, user_id=user_id, updated_at=utcnow(), **merged)
            await conn.execute(ins.on_conflict_do_update(
                index_elements=[Relationship.character, Relationship.user_id],
                set_={**{k: getattr(ins.excluded, k) for k in merged}, "updated_at": ins.excluded.updated_at}))
        return RelationshipRecord(**merged)

    async def delete_relationship(self, character: str, user_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(Relationship).where(
                Relationship.character == character, Relationship.user_id == user_id))
        return bool(result.rowcount)

    # -- global state

    async def get_state(self, key: str, default: str = "") -> str:
        async with self.engine.connect() as conn:
            value = (await conn.execute(select(GlobalState.value).where(GlobalState.key == key))).scalar()
        return default if value is None else str(value)

    async def set_state(self, key: str, value: str) -> None:
        async with self.engine.begin() as conn:
            ins = self._insert(GlobalState).values(key=key, value=value, updated_at=utcnow())
            await conn.execute(ins.on_conflict_do_update(
                index_elements=[GlobalState.key], set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at}))

    async def delete_state(self, key: str) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(GlobalState).where(GlobalState.key == key))
        return bool(result.rowcount)

    async def list_state(self) -> list[tuple[str, str]]:
        async with self.engine.connect() as conn:
            return [(str(k), str(v)) for k, v in
                    (await conn.execute(select(GlobalState.key, GlobalState.value).order_by(GlobalState.key))).all()]

    # -- places (activation)

    async def set_place_active(self, place_type: str, place_id: int, active: bool) -> None:
        self._places.clear()  # our own change applies to the very next message
        async with self.engine.begin() as conn:
            ins = self._insert(PlaceSetting).values(place_type=place_type, place_id=place_id, active=active,
                                                    updated_at=utcnow())
            await conn.execute(ins.on_conflict_do_update(
                index_elements=[PlaceSetting.place_type, PlaceSetting.place_id],
                set_={"active": ins.excluded.active, "updated_at": ins.excluded.updated_at}))

    async def is_active(self, channel_id: int, guild_id: int | None) -> bool:
        """A channel setting wins over its server's; places without a setting are active."""
        return effective_activation(*await self.place_activation(channel_id, guild_id))

    # -- usage

    async def record_api_call(self, *, user_id: int | None, purpose: str, model: str, input_tokens: int,
                              output_tokens: int, cache_creation_tokens: int, cache_read_tokens: int, cost: float,
                              latency_ms: float, ok: bool, error: str = "") -> None:
        row = {"user_id": user_id, "purpose": purpose, "model": model, "input_tokens": input_tokens,
               "output_tokens": output_tokens, "cache_creation_tokens": cache_creation_tokens,
               "cache_read_tokens": cache_read_tokens, "cost": cost, "latency_ms": latency_ms, "ok": ok,
               "error": error[:300], "created_at": utcnow()}
        await self._run(lambda conn: self._q["api_call_insert"].execute_many(conn, [row]), write=True)

    async def usage(self, user_id: int | None = None, *, purpose: str | None = None) -> Usage:
        query = select(func.count(), func.coalesce(func.sum(ApiCall.input_tokens), 0),
                       func.coalesce(func.sum(ApiCall.output_tokens), 0),
                       func.coalesce(func.sum(ApiCall.cache_creation_tokens), 0),
                       func.coalesce(func.sum(ApiCall.cache_read_tokens), 0), func.coalesce(func.sum(ApiCall.cost), 0.0))
        if user_id is not None:
            query = query.where(ApiCall.user_id == user_id)
        if purpose is not None:
            query = query.where(ApiCall.purpose == purpose)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).one()
        return Usage(int(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), float(row[5]))

    async def api_calls(self, *, user_id: int | None = None, limit: int = 100) -> list[Any]:
        """Newest first; rows with ApiCall's columns as attributes."""
        query = select(ApiCall).order_by(ApiCall.id.desc()).limit(limit)
        if user_id is not None:
            query = query.where(ApiCall.user_id == user_id)
        async with self.engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def user_summary(self, character: str, user_id: int) -> UserSummary | None:
        user = await self.get_user(user_id)
        if user is None:
            return None
        usage = await self.usage(user_id)
        async with self.engine.connect() as conn:
            msgs = (await conn.execute(
                select(func.count(HistoryMessage.id), func.coalesce(func.sum(HistoryMessage.tokens), 0))
                .join(Conversation, HistoryMessage.conversation_id == Conversation.id)
                .where(Conversation.user_id == user_id, Conversation.character == character))).one()
            memories = (await conn.execute(select(func.count()).select_from(CoreMemory).where(
                CoreMemory.user_id == user_id, CoreMemory.character == character))).scalar_one()
        return UserSummary(user, usage, int(msgs[0]), int(msgs[1]), int(memories))

    # -- characters

    async def character_state(self, character: str) -> tuple[int, str]:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(CharacterState.interaction_count, CharacterState.stage)
                                      .where(CharacterState.character == character))).first()
        return (int(row[0]), str(row[1])) if row else (0, "")

    async def count_interaction(self, character: str) -> int:
        """One more interaction of the character; returns the new count (one per reply: prepared)."""
        values = {"character": character, "interaction_count": 1, "stage": "", "updated_at": utcnow()}

        def count(conn: Connection) -> int:
            self._q["interaction_upsert"].execute_many(conn, [values])
            return int(self._q["character_state"].first(conn, values)[0])

        return await self._run(count, write=True)

    async def set_character_stage(self, character: str, stage: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(CharacterState).where(CharacterState.character == character)
                               .values(stage=stage, updated_at=utcnow()))

    async def affinity(self, a: str, b: str) -> tuple[float, int]:
        a, b = sorted((a, b))
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(CharacterAffinity.value, CharacterAffinity.exchanges).where(
                CharacterAffinity.character_a == a, CharacterAffinity.character_b == b))).first()
        return (float(row[0]), int(row[1])) if row else (0.0, 0)

    async def adjust_affinity(self, a: str, b: str, delta: float) -> float:
        a, b = sorted((a, b))
        # One atomic upsert: two exchanges of the same pair finishing together must both count.
        moved = CharacterAffinity.value + delta
        clamped = case((moved > 10.0, 10.0), (moved < -10.0, -10.0), else_=moved)
        async with self.engine.begin() as conn:
            ins = self._insert(CharacterAffinity).values(character_a=a, character_b=b,
                                                         value=min(10.0, max(-10.0, delta)), exchanges=1,
                                                         updated_at=utcnow())
            stmt = ins.on_conflict_do_update(
                index_elements=[CharacterAffinity.character_a, CharacterAffinity.character_b],
                set_={"value": clamped, "exchanges": CharacterAffinity.exchanges + 1,
                      "updated_at": ins.excluded.updated_at}).returning(CharacterAffinity.value)
            return float((await conn.execute(stmt)).scalar_one())

    # -- facts (embeddings are float32 bytes; memory/ does the maths)

    async def facts(self, user_id: int) -> list[Any]:
        """Rows with UserFact's columns as attributes, oldest first."""
        async with self.engine.connect() as conn:
            return list((await conn.execute(select(UserFact).where(UserFact.user_id == user_id)
                                            .order_by(UserFact.id))).all())

    @_changes_history
    async def delete_user_data(self, user_id: int) -> dict[str, int]:
        """Delete everything stored about a user, in one transaction. Returns rows deleted per table.

        Their direct-message channels go whole: the character's answers there are about them too. Someone who
        opted out of memory keeps a bare users row saying only that (no name, none of their dates), so that
        forgetting them does not start remembering them again."""
        await self._log.drain()  # their messages already on the way to the log must not outlive this
        counts: dict[str, int] = {}
        self._recent_authors.pop(user_id, None)  # their next message must recreate the user row
        async with self.engine.begin() as conn:
            consent = (await conn.execute(select(User.memory_consent).where(User.id == user_id))).scalar()
            # Collected before anything is deleted: their own messages are what identifies their DM channels.
            dm_channels: set[int] = set()
            for table in (LoggedMessage, ArchivedMessage):
                dm_channels.update(int(c) for c in (await conn.execute(
                    select(table.channel_id).where(table.author_id == user_id, table.is_dm.is_(True))
                    .distinct())).scalars())

            def theirs(table: Any) -> Any:
                authored = table.author_id == user_id
                if not dm_channels:
                    return authored
                return or_(authored, and_(table.is_dm.is_(True), table.channel_id.in_(sorted(dm_channels))))

            conv_ids = select(Conversation.id).where(Conversation.user_id == user_id)
            plan: list[tuple[str, Any]] = [
                ("history_messages", delete(HistoryMessage).where(HistoryMessage.conversation_id.in_(conv_ids))),
                ("conversations", delete(Conversation).where(Conversation.user_id == user_id)),
                ("core_memories", delete(CoreMemory).where(CoreMemory.user_id == user_id)),
                ("core_memory_versions", delete(CoreMemoryVersion).where(CoreMemoryVersion.user_id == user_id)),
                ("user_facts", delete(UserFact).where(UserFact.user_id == user_id)),
                ("relationships", delete(Relationship).where(Relationship.user_id == user_id)),
                ("message_log", delete(LoggedMessage).where(theirs(LoggedMessage))),
                ("message_archive", delete(ArchivedMessage).where(theirs(ArchivedMessage))),
                ("api_calls", delete(ApiCall).where(ApiCall.user_id == user_id)),
                ("nicknames", delete(Nickname).where(Nickname.user_id == user_id)),
                ("users", delete(User).where(User.id == user_id)),
            ]
            for name, stmt in plan:
                counts[name] = int((await conn.execute(stmt)).rowcount or 0)
            if consent is False:
                now = utcnow()
                await conn.execute(insert(User).values(id=user_id, name="", is_bot=False, premium=False,
                                                       memory_consent=False, first_seen=now, last_seen=now))
        return counts

    async def rows_about_user(self, user_id: int, dm_channel_ids: Iterable[int] = ()) -> dict[str, int]:
        """Rows still holding something about a user, per table (tables without any left out): /forget_me's
        proof. Independent of delete_user_data on purpose: the tables come from the schema (the users row,
        every table with a user_id or author_id column, every table pointing at one of those) and the direct
        messages from ``dm_channel_ids``, which the caller knows from Discord rather than from this database."""
        dms = sorted(set(dm_channel_ids))
        keys = ("user_id", "author_id")
        queries: dict[str, Any] = {}
        for table in Base.metadata.sorted_tables:
            conds: list[Any] = [table.c[k] == user_id for k in keys if k in table.c]
            if table is User.__table__:
                conds.append(table.c.id == user_id)
            for fk in table.foreign_keys:
                parent = fk.column.table
                for k in keys:
                    if k in parent.c:
                        conds.append(fk.parent.in_(select(fk.column).where(parent.c[k] == user_id)))
            if dms and "is_dm" in table.c and "channel_id" in table.c:
                conds.append(and_(table.c.is_dm.is_(True), table.c.channel_id.in_(dms)))
            if conds:
                queries[table.name] = select(func.count()).select_from(table).where(or_(*conds))

        def read(conn: Connection) -> dict[str, int]:
            counts = {name: int(conn.execute(query).scalar_one()) for name, query in queries.items()}
            return {name: n for name, n in counts.items() if n}

        return await self._run(read, write=False)

    async def prune_log(self, older_than: timedelta) -> int:
        cutoff = utcnow() - older_than
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(LoggedMessage).where(LoggedMessage.created_at < cutoff))
        return int(result.rowcount or 0)

    # -- per-place activation, as set (for /bot status-here; is_active gives the effective answer)

    async def place_activation(self, channel_id: int, guild_id: int | None, *,
                               fresh: bool = False) -> tuple[bool | None, bool | None]:
        """(channel setting, server setting); None where nothing was set.

        Asked for every message, so answers are kept for PLACE_CACHE_SECONDS: this process's own changes
        clear them at once; another process's (a shared PostgreSQL) apply within that time."""
        key = (channel_id, guild_id)
        cached = self._places.get(key)
        if cached is not None and not fresh and time.monotonic() - cached[1] < PLACE_CACHE_SECONDS:
            return cached[0]
        conds = [and_(PlaceSetting.place_type == "channel", PlaceSetting.place_id == channel_id)]
        if guild_id is not None:
            conds.append(and_(PlaceSetting.place_type == "guild", PlaceSetting.place_id == guild_id))
        query = select(PlaceSetting.place_type, PlaceSetting.active).where(or_(*conds))
        rows = {r[0]: bool(r[1]) for r in await self._run(lambda conn: conn.execute(query).all(), write=False)}
        answer = (rows.get("channel"), rows.get("guild"))
        if len(self._places) > 10_000:  # bounded: one entry per channel seen
            self._places.clear()
        self._places[key] = (answer, time.monotonic())
        return answer

    # -- administration (log-channel commands and admin slash commands; see bot/admin.py)

    async def flush(self) -> None:
        """Wait until every message handed to the short-term log is committed (graceful shutdown)."""
        await self._log.drain()

    async def user_summaries(self, character: str, *, offset: int = 0, limit: int = 10,
                             humans_only: bool = True) -> list[UserSummary]:
        """A page of :class:`UserSummary` as ordered by list_users (most recently seen first): one grouped
        query per figure instead of one user_summary() per user."""
        users = await self.list_users(offset=offset, limit=limit, humans_only=humans_only)
        if not users:
            return []
        ids = [u.id for u in users]
        async with self.engine.connect() as conn:
            usage_rows = (await conn.execute(
                select(ApiCall.user_id, func.count(), func.coalesce(func.sum(ApiCall.input_tokens), 0),
                       func.coalesce(func.sum(ApiCall.output_tokens), 0),
                       func.coalesce(func.sum(ApiCall.cache_creation_tokens), 0),
                       func.coalesce(func.sum(ApiCall.cache_read_tokens), 0),
                       func.coalesce(func.sum(ApiCall.cost), 0.0))
                .where(ApiCall.user_id.in_(ids)).group_by(ApiCall.user_id))).all()
            history_rows = (await conn.execute(
                select(Conversation.user_id, func.count(HistoryMessage.id),
                       func.coalesce(func.sum(HistoryMessage.tokens), 0))
                .join(HistoryMessage, HistoryMessage.conversation_id == Conversation.id)
                .where(Conversation.user_id.in_(ids), Conversation.character == character)
                .group_by(Conversation.user_id))).all()
            memory_rows = (await conn.execute(
                select(CoreMemory.user_id, func.count()).where(CoreMemory.user_id.in_(ids),
                                                               CoreMemory.character == character)
                .group_by(CoreMemory.user_id))).all()
        usage = {int(r[0]): Usage(int(r[1]), int(r[2]), int(r[3]), int(r[4]), int(r[5]), float(r[6]))
                 for r in usage_rows}
        history = {int(r[0]): (int(r[1]), int(r[2])) for r in history_rows}
        memories = {int(r[0]): int(r[1]) for r in memory_rows}
        return [UserSummary(u, usage.get(u.id, Usage()), *history.get(u.id, (0, 0)), memories.get(u.id, 0))
                for u in users]

    async def search_users(self, text: str, *, limit: int = 25) -> list[UserRecord]:
        """Users whose name contains ``text`` or whose id starts with it, most recently seen first
        (autocomplete of user options)."""
        query = select(*USER_RECORD_COLUMNS).order_by(User.last_seen.desc(), User.id).limit(limit)
        text = text.strip()
        if text:
            pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conds = [User.name.ilike(pattern, escape="\\")]
            if text.isdigit():
                conds.append(cast(User.id, String).like(text + "%"))
            query = query.where(or_(*conds))
        async with self.engine.connect() as conn:
            return [_user_record(r) for r in (await conn.execute(query)).all()]

    async def user_fact(self, fact_id: int) -> Any | None:
        """One fact (UserFact's columns as attributes), or None."""
        async with self.engine.connect() as conn:
            return (await conn.execute(select(UserFact).where(UserFact.id == fact_id))).first()

    async def insert_user_fact(self, user_id: int, fact: str, *, category: str = "general", pinned: bool = False,
                               embedding: bytes | None = None) -> int:
        now = utcnow()
        async with self.engine.begin() as conn:
            result = await conn.execute(insert(UserFact).values(
                user_id=user_id, fact=fact, category=category[:50], pinned=pinned, embedding=embedding,
                first_mentioned=now, last_mentioned=now, reference_count=1).returning(UserFact.id))
            return int(result.scalar_one())

    async def edit_user_fact(self, fact_id: int, *, fact: str | None = None, category: str | None = None,
                             embedding: bytes | None = None) -> bool:
        """Change a fact's text and/or category. A new text replaces the embedding with ``embedding`` (None
        when no embedder is available: a stale vector of the old text would recall the wrong thing)."""
        values: dict[str, Any] = {}
        if fact is not None:
            values.update(fact=fact, embedding=embedding)
        if category is not None:
            values["category"] = category[:50]
        if not values:
            return await self.user_fact(fact_id) is not None
        async with self.engine.begin() as conn:
            result = await conn.execute(update(UserFact).where(UserFact.id == fact_id).values(**values))
        return bool(result.rowcount)

    async def pin_user_fact(self, fact_id: int, pinned: bool) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(update(UserFact).where(UserFact.id == fact_id).values(pinned=pinned))
        return bool(result.rowcount)

    async def delete_user_fact(self, fact_id: int) -> bool:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(UserFact).where(UserFact.id == fact_id))
        return bool(result.rowcount)

    # -- long-term memory (memory/: summarization, consolidation, recall, consent) ---------------------------
    # Consolidation's writes are built so that killing the process at any point loses and duplicates nothing:
    # each batch moves its messages to the archive AND applies the facts and relationship change drawn from
    # them in ONE transaction, and rolls back if any of its messages already left the log (another run, or
    # /forget_me, got there first). Facts are therefore counted exactly once per message.

    async def conversation_tokens(self, character: str, user_id: int, scope: str) -> tuple[int, int]:
        """(stored turns, their tokens plus the summary's) of one conversation: is it due for summarization?"""
        from bot.tokens import count_tokens

        def read(conn: Connection) -> tuple[int, int, str]:
            row = self._q["conversation"].first(conn, {"character": character, "user_id": user_id, "scope": scope})
            if row is None:
                return 0, 0, ""
            n, tokens = self._q["conversation_tokens"].first(conn, {"conversation_id": row[0]})
            return int(n), int(tokens), str(row[1] or "")

        turns, tokens, summary = await self._run(read, write=False)
        return turns, tokens + count_tokens(summary)

    @_changes_history
    async def apply_summary(self, conversation_id: int, *, summary: str, previous_summary: str,
                            drop_through_id: int, expected_dropped: int, character: str, user_id: int,
                            memories: Sequence[str] | None, source: str, reason: str) -> bool:
        """Replace the turns up to ``drop_through_id`` by ``summary`` and rewrite the user's core memories of
        ``source`` (the old version archived), atomically. Nothing changes, and False is returned, when the
        conversation moved under the summarizer's feet (reset, turns forgotten, another summary)."""
        async with self.engine.begin() as conn:
            current = (await conn.execute(select(Conversation.summary)
                                          .where(Conversation.id == conversation_id))).first()
            if current is None or (current[0] or "") != previous_summary:
                return False
            dropped = (await conn.execute(select(func.count()).select_from(HistoryMessage).where(
                HistoryMessage.conversation_id == conversation_id,
                HistoryMessage.id <= drop_through_id))).scalar_one()
            if int(dropped) != expected_dropped:
                return False
            await conn.execute(delete(HistoryMessage).where(HistoryMessage.conversation_id == conversation_id,
                                                            HistoryMessage.id <= drop_through_id))
            await conn.execute(update(Conversation).where(Conversation.id == conversation_id)
                               .values(summary=summary, updated_at=utcnow()))
            if memories is not None:
                await self._archive_core(conn, character, user_id, reason)
                await conn.execute(delete(CoreMemory).where(CoreMemory.character == character,
                                                            CoreMemory.user_id == user_id, CoreMemory.source == source))
                now = utcnow()
                if memories:
                    await conn.execute(insert(CoreMemory), [
                        {"character": character, "user_id": user_id, "content": m, "source": source,
                         "created_at": now, "updated_at": now} for m in memories])
        return True

    async def has_embedded_facts(self) -> bool:
        """Whether any user has a fact with an embedding (recall will need the model)."""
        query = select(UserFact.id).where(UserFact.embedding.is_not(None)).limit(1)
        return await self._run(lambda conn: conn.execute(query).first(), write=False) is not None

    async def fact_stamp(self, user_id: int) -> tuple[Any, ...]:
        """A cheap fingerprint of a user's facts that changes when one is added, edited, mentioned or deleted
        (every insert and update sets ``updated_at``; a deletion changes the count): recall's vector cache
        compares it instead of re-reading vectors. Answered from ix_user_facts_user_id_updated_at alone."""
        row = await self._run(lambda conn: self._q["fact_stamp"].first(conn, {"user_id": user_id}), write=False)
        return _fact_stamp(row)

    async def fact_rows(self, user_id: int) -> list[FactRow]:
        """Every fact of a user with its embedding, oldest first."""
        query = select(UserFact.id, UserFact.fact, UserFact.category, UserFact.pinned, UserFact.private,
                       UserFact.reference_count, UserFact.first_mentioned, UserFact.last_mentioned,
                       UserFact.embedding).where(UserFact.user_id == user_id).order_by(UserFact.id)

        def read(conn: Connection) -> list[FactRow]:  # converted with the read: on SQLite, off the event loop
            return [FactRow(int(r[0]), str(r[1]), str(r[2]), bool(r[3]), bool(r[4]), int(r[5]), as_utc(r[6]),
                            as_utc(r[7]), bytes(r[8]) if r[8] is not None else None)
                    for r in conn.execute(query).all()]

        return await self._run(read, write=False)

    async def set_fact_embeddings(self, vectors: Sequence[tuple[int, bytes]]) -> None:
        """Store embeddings of facts that had none (added while no model was loaded)."""
        if not vectors:
            return
        stmt = update(UserFact).where(UserFact.id == bindparam("fid")).values(embedding=bindparam("vec"))

        def write(conn: Connection) -> None:
            for fid, vec in vectors:
                conn.execute(stmt, {"fid": fid, "vec": vec})

        await self._run(write, write=True)

    async def delete_expired_facts(self, last_mentioned_before: datetime) -> int:
        """Forget unpinned facts not mentioned since ``last_mentioned_before``."""
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(UserFact).where(UserFact.pinned.is_(False),
                                                               UserFact.last_mentioned < last_mentioned_before))
        return int(result.rowcount or 0)

    async def memory_consents(self) -> dict[int, bool]:
        """Users who answered /memory opt-in (True) or opt-out (False); everyone else never asked."""
        query = select(User.id, User.memory_consent).where(User.memory_consent.is_not(None))
        async with self.engine.connect() as conn:
            return {int(r[0]): bool(r[1]) for r in (await conn.execute(query)).all()}

    async def log_watermark(self) -> int:
        """The newest row of the short-term log: a consolidation run handles everything up to it."""
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.coalesce(func.max(LoggedMessage.id), 0)))).scalar_one())

    async def logged_through(self, max_log_id: int, *, after_id: int = 0,
                             limit: int | None = None) -> list[tuple[int, SeenMessage]]:
        """(log row id, message) of logged messages with ``after_id`` < id <= ``max_log_id``, oldest first,
        at most ``limit`` of them (a consolidation reads a big backlog window by window)."""
        query = select(LoggedMessage).where(LoggedMessage.id > after_id, LoggedMessage.id <= max_log_id) \
            .order_by(LoggedMessage.id).limit(limit)

        def convert(rows: Sequence[Any]) -> list[tuple[int, SeenMessage]]:
            return [(int(r.id), _seen(r)) for r in rows]

        # A window holds up to 200k rows: never converted on the event loop.
        if self._sync_engine is not None:  # SQLite: on the database thread, together with the read
            return await self._run(lambda conn: convert(conn.execute(query).all()), write=False)
        rows = await self._run(lambda conn: conn.execute(query).all(), write=False)
        return await asyncio.to_thread(convert, rows)

    async def count_logged_through(self, max_log_id: int) -> int:
        async with self.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(LoggedMessage)
                                           .where(LoggedMessage.id <= max_log_id))).scalar_one())

    async def purge_logged(self, log_ids: Sequence[int]) -> int:
        """Delete log rows without archiving them (people whose messages may not be kept)."""
        def write(conn: Connection) -> int:
            return sum(int(conn.execute(delete(LoggedMessage).where(LoggedMessage.id.in_(chunk))).rowcount or 0)
                       for chunk in _chunks(log_ids))

        return await self._run(write, write=True) if log_ids else 0

    async def archive_logged(self, log_ids: Sequence[int]) -> int:
        """Move log rows to the permanent archive in one transaction; returns how many left the log."""
        if not log_ids:
            return 0
        return await self._run(lambda conn: self._move_to_archive(conn, log_ids, utcnow()), write=True)

    def _move_to_archive(self, conn: Connection, log_ids: Sequence[int], now: datetime) -> int:
        """Copy to the archive (an already archived message_id is skipped), then delete from the log."""
        names = [c.name for c in ArchivedMessage.__table__.columns if c.name not in ("id", "archived_at")]
        stamp = literal(now, type_=ArchivedMessage.__table__.c.archived_at.type)
        moved = 0
        for chunk in _chunks(log_ids):
            source = select(*(LoggedMessage.__table__.c[n] for n in names), stamp).where(LoggedMessage.id.in_(chunk))
            conn.execute(self._insert(ArchivedMessage).from_select([*names, "archived_at"], source)
                         .on_conflict_do_nothing(index_elements=[ArchivedMessage.message_id]))
            moved += int(conn.execute(delete(LoggedMessage).where(LoggedMessage.id.in_(chunk))).rowcount or 0)
        return moved

    async def commit_consolidation(self, batch: ConsolidationBatch) -> bool:
        """Archive a batch's messages and apply what was learnt from them, in one transaction. False (and
        nothing written) when some of the messages had already left the log."""
        now = batch.at or utcnow()

        def write(conn: Connection) -> None:
            changed = utcnow()  # the real clock, whatever ``at`` says: the fact stamp must move forward
            if self._move_to_archive(conn, batch.log_ids, now) != len(batch.log_ids):
                raise _BatchConflict
            if batch.new_facts:
                conn.execute(insert(UserFact), [
                    {"user_id": batch.user_id, "fact": f.fact, "category": f.category[:50], "pinned": False,
                     "private": f.private, "embedding": f.embedding, "first_mentioned": now, "last_mentioned": now,
                     "reference_count": 1, "updated_at": changed} for f in batch.new_facts])
            for fact_id, public in batch.mentioned:
                values: dict[str, Any] = {"reference_count": UserFact.reference_count + 1, "last_mentioned": now,
                                          "updated_at": changed}
                if public:  # now said in a channel: no longer only a DM secret
                    values["private"] = False
                conn.execute(update(UserFact).where(UserFact.id == fact_id, UserFact.user_id == batch.user_id)
                             .values(**values))
            if batch.relationship_delta:
                self._apply_relationship_delta(conn, batch, now)

        try:
            await self._run(write, write=True)
        except _BatchConflict:
            return False
        return True

    def _apply_relationship_delta(self, conn: Connection, batch: ConsolidationBatch, now: datetime) -> None:
        row = conn.execute(select(Relationship).where(Relationship.character == batch.character,
                                                      Relationship.user_id == batch.user_id)).first()
        current = {k: float(getattr(row, k)) for k in RELATIONSHIP_RANGES} if row else dict(
            RelationshipRecord().__dict__)
        used: dict[str, float] = {}
        if row is not None and row.consolidated_day == batch.day:
            try:
                used = {k: float(v) for k, v in json.loads(row.consolidated_change or "{}").items()}
            except (ValueError, TypeError, AttributeError):
                used = {}
        values, used = bound_daily_change(current, used, batch.relationship_delta or {}, batch.max_daily_change)
        ins = self._insert(Relationship).values(character=batch.character, user_id=batch.user_id, updated_at=now,
                                                consolidated_day=batch.day, consolidated_change=json.dumps(used),
                                                **values)
        conn.execute(ins.on_conflict_do_update(
            index_elements=[Relationship.character, Relationship.user_id],
            set_={k: getattr(ins.excluded, k) for k in (*values, "consolidated_day", "consolidated_change",
                                                         "updated_at")}))

    # -- the personaflow library's characters and memories (personaflow/integrations/kindred.py)

    async def personaflow_characters(self) -> list[PersonaFlowCharacterRow]:
        """Every saved character, in creation order."""
        c = PersonaFlowCharacter
        query = select(c.name, c.prompt, c.background, c.memory_config).order_by(c.id)
        rows = await self._run(lambda conn: conn.execute(query).all(), write=False)
        return [PersonaFlowCharacterRow(name, prompt, dict(background or {}), dict(config or {}))
                for name, prompt, background, config in rows]

    async def save_personaflow_character(self, character: PersonaFlowCharacterRow) -> None:
        """Insert the character, or update its prompt, background and memory config (it keeps its place)."""
        ins = self._insert(PersonaFlowCharacter).values(
            name=character.name, prompt=character.prompt, background=dict(character.background),
            memory_config=dict(character.memory_config), created_at=utcnow())
        stmt = ins.on_conflict_do_update(index_elements=[PersonaFlowCharacter.name], set_={
            k: getattr(ins.excluded, k) for k in ("prompt", "background", "memory_config")})
        await self._run(lambda conn: conn.execute(stmt), write=True)

    async def delete_personaflow_character(self, name: str) -> bool:
        """Delete the character and all its memories; False if it was not saved."""

        def write(conn: Connection) -> bool:
            conn.execute(delete(PersonaFlowMemory).where(PersonaFlowMemory.character == name))
            return bool(conn.execute(delete(PersonaFlowCharacter).where(PersonaFlowCharacter.name == name)).rowcount)

        return await self._run(write, write=True)

    async def personaflow_memories(self, character: str) -> list[PersonaFlowMemoryRow]:
        """A character's memories, oldest first."""
        m = PersonaFlowMemory
        query = select(m.character, m.type, m.content, m.meta, m.created_at).where(m.character == character) \
            .order_by(m.id)
        rows = await self._run(lambda conn: conn.execute(query).all(), write=False)
        return [PersonaFlowMemoryRow(name, kind, content, dict(meta or {}), as_utc(at))
                for name, kind, content, meta, at in rows]

    async def add_personaflow_memories(self, memories: Sequence[PersonaFlowMemoryRow]) -> None:
        """Append memories (after every memory already stored)."""
        if not memories:
            return
        values = [_personaflow_memory_values(m) for m in memories]
        await self._run(lambda conn: conn.execute(insert(PersonaFlowMemory), values), write=True)

    async def replace_personaflow_memories(self, character: str, memories: Sequence[PersonaFlowMemoryRow]) -> None:
        """Make ``memories`` the character's complete list, in one transaction."""
        values = [_personaflow_memory_values(m) for m in memories]

        def write(conn: Connection) -> None:
            conn.execute(delete(PersonaFlowMemory).where(PersonaFlowMemory.character == character))
            if values:
                conn.execute(insert(PersonaFlowMemory), values)

        await self._run(write, write=True)

    async def trim_personaflow_memories(self, character: str, keep: int) -> int:
        """Delete all but the character's newest ``keep`` memories; returns how many went."""

        def write(conn: Connection) -> int:
            # The newest memory past the ``keep`` newest: it and everything older go.
            cutoff = conn.execute(select(PersonaFlowMemory.id).where(PersonaFlowMemory.character == character)
                                  .order_by(PersonaFlowMemory.id.desc()).offset(keep).limit(1)).scalar()
            if cutoff is None:
                return 0
            return int(conn.execute(delete(PersonaFlowMemory).where(
                PersonaFlowMemory.character == character, PersonaFlowMemory.id <= cutoff)).rowcount or 0)

        return await self._run(write, write=True)


@dataclass(frozen=True)
class PersonaFlowCharacterRow:
    name: str
    prompt: str
    background: dict[str, Any]
    memory_config: dict[str, Any]


@dataclass(frozen=True)
class PersonaFlowMemoryRow:
    character: str
    type: str
    content: Any  # text, or a JSON object
    metadata: dict[str, Any]
    timestamp: datetime


def _personaflow_memory_values(m: PersonaFlowMemoryRow) -> dict[str, Any]:
    return {"character": m.character, "type": m.type, "content": m.content, "metadata": dict(m.metadata),
            "created_at": m.timestamp}


# --------------------------------------------------------------------------- long-term memory value objects


@dataclass(frozen=True)
class FactRow:
    """One long-term fact as memory/ works with it (``embedding``: float32 little-endian bytes or None)."""

    id: int
    fact: str
    category: str
    pinned: bool
    private: bool
    reference_count: int
    first_mentioned: datetime
    last_mentioned: datetime
    embedding: bytes | None


@dataclass(frozen=True)
class NewFact:
    fact: str
    category: str
    embedding: bytes | None
    private: bool = False


@dataclass(frozen=True)
class ConsolidationBatch:
    """What one consolidation batch (one user's messages) wrote, applied atomically by commit_consolidation.

    ``mentioned``: (fact id, said in a channel) of known facts mentioned again; ``relationship_delta``: the
    judged change per metric, bounded to ``max_daily_change`` per UTC ``day`` in total."""

    character: str
    user_id: int
    log_ids: tuple[int, ...]
    new_facts: tuple[NewFact, ...] = ()
    mentioned: tuple[tuple[int, bool], ...] = ()
    relationship_delta: dict[str, float] | None = None
    max_daily_change: float = 1.0
    day: str = ""
    at: datetime | None = None


class _BatchConflict(Exception):
    """Some of a batch's messages already left the log: roll the batch back."""


def bound_daily_change(current: dict[str, float], used: dict[str, float], delta: dict[str, float],
                       max_change: float) -> tuple[dict[str, float], dict[str, float]]:
    """Apply ``delta`` to ``current`` so that the day's total change of each metric (``used`` so far) stays
    within +/-``max_change`` and each value within its range. Returns (new values, new day totals)."""
    values = dict(current)
    totals = dict(used)
    for key, (low, high) in RELATIONSHIP_RANGES.items():
        step = float(delta.get(key, 0.0) or 0.0)
        if not step:
            continue
        before = totals.get(key, 0.0)
        after = min(max(before + step, -max_change), max_change)
        new = min(max(values[key] + (after - before), low), high)
        totals[key] = before + (new - values[key])
        values[key] = new
    return values, totals


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    """Keep IN lists well under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])

def effective_activation(channel: bool | None, guild: bool | None) -> bool:
    """A channel setting wins over its server's; places without a setting are active."""
    if channel is not None:
        return channel
    return guild if guild is not None else True


MAX_MESSAGE_ID = 2**63 - 1  # above every Discord snowflake: "no upper bound" as a bound parameter


def _recent(conn: Connection, q: dict[str, Prepared], channel_id: int, limit: int,
            before_id: int | None) -> list[SeenMessage]:
    out: list[SeenMessage] = []
    before = before_id if before_id is not None else MAX_MESSAGE_ID
    for name in ("recent_logged", "recent_archived"):  # the archive only when the log has too few
        want = limit - len(out)
        if want <= 0:
            break
        if out:
            before = min(before, min(m.message_id for m in out))
        rows = q[name].all(conn, {"channel_id": channel_id, "before": before, "limit": want})
        out.extend(SeenMessage(*r[:8], as_utc(r[8]), r[9]) for r in rows)
    out.sort(key=lambda m: m.message_id)
    return out


def _prepared_queries(dialect: Dialect) -> dict[str, Prepared]:
    """The per-message statements (the log write and the reply's prompt read), built and compiled once:
    building a select() costs more than running it on SQLite, and these run for every message."""
    character, user_id = bindparam("character"), bindparam("user_id")
    memories = select(CoreMemory.content).where(CoreMemory.character == character, CoreMemory.user_id == user_id)

    def recent(table: Any) -> Any:
        return (select(table.message_id, table.channel_id, table.guild_id, table.author_id,  # SeenMessage's order
                       table.author_name, table.author_is_bot, table.is_dm, table.content, table.created_at,
                       table.reply_to_id)
                .where(table.channel_id == bindparam("channel_id"), table.message_id < bindparam("before"))
                .order_by(table.id.desc()).limit(bindparam("limit")))

    insert_for = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    user, nick, state = insert_for(User), insert_for(Nickname), insert_for(CharacterState)
    conversation_key = and_(Conversation.character == character, Conversation.user_id == user_id,
                            Conversation.scope == bindparam("scope"))
    statements: dict[str, tuple[Any, list[str] | None]] = {
        "user_upsert": (user.on_conflict_do_update(
            index_elements=[User.id], set_={"name": user.excluded.name, "last_seen": user.excluded.last_seen}),
            ["id", "name", "is_bot", "premium", "first_seen", "last_seen"]),
        "nick_upsert": (nick.on_conflict_do_update(
            index_elements=[Nickname.user_id, Nickname.nickname], set_={"last_seen": nick.excluded.last_seen}),
            ["user_id", "nickname", "first_seen", "last_seen"]),
        "log_insert": (insert_for(LoggedMessage).on_conflict_do_nothing(index_elements=[LoggedMessage.message_id]),
                       ["message_id", "channel_id", "guild_id", "author_id", "author_name", "author_is_bot", "is_dm",
                        "content", "reply_to_id", "created_at"]),
        "recent_logged": (recent(LoggedMessage), None),
        "recent_archived": (recent(ArchivedMessage), None),
        "identity": (select(IdentityEntry.kind, IdentityEntry.content).where(IdentityEntry.character == character)
                     .order_by(IdentityEntry.id), None),
        "memories_private": (memories.order_by(CoreMemory.id), None),
        "memories": (memories.where(CoreMemory.source != bindparam("private_source")).order_by(CoreMemory.id), None),
        "relationship": (select(Relationship.anger, Relationship.rapport, Relationship.trust,  # the record's order
                                Relationship.formality)
                         .where(Relationship.character == character, Relationship.user_id == user_id), None),
        "mood": (select(GlobalState.value).where(GlobalState.key == "daily_mood"), None),
        "user": (select(User.premium, User.memory_consent).where(User.id == user_id), None),
        "fact_stamp": (select(func.count(), func.max(UserFact.id), func.max(UserFact.updated_at))
                       .where(UserFact.user_id == user_id), None),
        "character_state": (select(CharacterState.interaction_count, CharacterState.stage)
                            .where(CharacterState.character == character), None),
        "conversation": (select(Conversation.id, Conversation.summary, Conversation.revision)
                         .where(conversation_key), None),
        # After a reply (append_turns, usage, the interaction count, the summarization check).
        "conversation_locked": (select(Conversation.id, Conversation.revision).where(conversation_key)
                                .with_for_update(), None),
        "conversation_insert": (insert_for(Conversation).on_conflict_do_nothing(),
                                ["character", "user_id", "scope", "summary", "updated_at", "revision"]),
        "turn_insert": (insert(HistoryMessage).returning(HistoryMessage.id),
                        ["conversation_id", "role", "content", "tokens", "discord_message_id", "created_at"]),
        "conversation_touch": (update(Conversation).where(Conversation.id == bindparam("conversation_id"))
                               .values(updated_at=bindparam("touched_at")).returning(Conversation.revision), None),
        "conversation_tokens": (select(func.count(), func.coalesce(func.sum(HistoryMessage.tokens), 0))
                                .where(HistoryMessage.conversation_id == bindparam("conversation_id")), None),
        "api_call_insert": (insert(ApiCall), ["user_id", "purpose", "model", "input_tokens", "output_tokens",
                                              "cache_creation_tokens", "cache_read_tokens", "cost", "latency_ms",
                                              "ok", "error", "created_at"]),
        "interaction_upsert": (state.on_conflict_do_update(
            index_elements=[CharacterState.character],
            set_={"interaction_count": CharacterState.interaction_count + 1, "updated_at": state.excluded.updated_at}),
            ["character", "interaction_count", "stage", "updated_at"]),
        "user_record": (select(*USER_RECORD_COLUMNS).where(User.id == user_id), None),
        "turns": (select(HistoryMessage.role, HistoryMessage.content, HistoryMessage.id,  # Turn's field order
                         HistoryMessage.discord_message_id, HistoryMessage.tokens)
                  .where(HistoryMessage.conversation_id == bindparam("conversation_id")).order_by(HistoryMessage.id),
                  None),
    }
    return {name: Prepared(stmt, dialect, column_keys=keys) for name, (stmt, keys) in statements.items()}


def _fact_stamp(row: Any) -> tuple[Any, ...]:
    return (int(row[0]), row[1], str(row[2]))


# UserRecord's field order: every read of users that makes records selects these.
USER_RECORD_COLUMNS = (User.id, User.name, User.is_bot, User.premium, User.memory_consent, User.first_seen,
                       User.last_seen)


def _user_record(row: Any) -> UserRecord:
    """From a row of ``select(*USER_RECORD_COLUMNS)``."""
    return UserRecord(*row[:5], as_utc(row[5]), as_utc(row[6]))


def _seen(r: Any) -> SeenMessage:
    return SeenMessage(r.message_id, r.channel_id, r.guild_id, r.author_id, r.author_name, r.author_is_bot, r.is_dm,
                       r.content, as_utc(r.created_at), r.reply_to_id)


async def reset_schema_for_tests(url: str) -> None:
    """Drop every table (tests only): lets each test start from a fresh, migrated database."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        if conn.dialect.name == "postgresql":  # outlives the tables (migration 0004)
            await conn.exec_driver_sql("DROP FUNCTION IF EXISTS kindred_history_revision()")
    await engine.dispose()
