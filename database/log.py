"""The short-term log: every message the bot sees, written before any reply work, in batches.

A message that will certainly be answered also has its prompt data read in the same trip to the database
(``then_read``). The log is emptied by consolidation (database/consolidation.py), which moves what may be
kept into the permanent archive.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import TypeVar, overload

from sqlalchemy import Connection, select, update

from database.boundary import Statements
from database.engine import Database
from database.models import ArchivedMessage, LoggedMessage, utcnow
from database.owed import Settled, delete_owed, insert_owed, owed_rows
from database.records import PromptData, PromptRequest, SeenMessage
from database.retry import transient
from database.said import said_by
from database.statements import execute_all, log_batch_params, recent_messages

log = logging.getLogger(__name__)
T = TypeVar("T")
AUTHOR_REFRESH_SECONDS = 60.0
# How long a message nobody waits on (chatter, not a reply certain) may wait for others to share its commit,
# while messages keep coming: on a busy server one commit then carries a dozen messages (on PostgreSQL a
# commit costs the event loop about 2 ms); in a quiet place nothing waits.
LINGER_SECONDS = 0.025
RECENT_AUTHORS = 10_000  # authors remembered as recently upserted (a cache: the oldest forgotten first)
REFUSED_KEPT = 1024  # posts never to be logged (the answers to someone forgotten meanwhile): the latest kept
PromptReader = Callable[[Connection, PromptRequest], PromptData]
PromptReadBeside = Callable[[PromptRequest], Awaitable[PromptData]]  # on connections of its own
# What a batch holds: a seen message with its display name and the character that will answer it (its
# reply owed from this very write), or a posted reply whose owed mark is cleared (database/owed.py).
Entry = tuple[SeenMessage | Settled, str, str | None]


class GroupCommit:
    """Writes seen messages (and their authors) in batches.

    Each caller awaits its own row being committed, so "logged before any reply work" holds, but
    messages that arrive while a commit is in flight share the next one: this is what lets ingest keep
    up with a busy server on SQLite. The writing happens in a task of its own, so a caller cancelled
    while waiting (a shutdown) does not take its message's write down with it.
    """

    def __init__(self, write: Callable[[Sequence[Entry], Sequence[PromptRequest | None]],
                                       Awaitable[list[PromptData | None]]],
                 linger: float = LINGER_SECONDS) -> None:
        self._write = write
        self._linger = linger
        self._pending: list[tuple[Entry, PromptRequest | None, asyncio.Future[PromptData | None]]] = []
        self._in_flight: Sequence[Entry] = ()  # the batch being written
        self._flusher: asyncio.Task[None] | None = None
        self._hurry = asyncio.Event()
        self._last_batch = float("-inf")  # when the last batch went out (time.monotonic())

    async def write(self, entry: Entry, then_read: PromptRequest | None, *, urgent: bool = True
                    ) -> PromptData | None:
        """``urgent``: someone waits on it (a reply certain, an owed mark); other messages (chatter) may
        wait up to ``linger`` seconds for company, so a busy server's chatter shares commits."""
        future: asyncio.Future[PromptData | None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, then_read, future))
        if urgent:
            self._hurry.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return await future

    async def _flush_loop(self) -> None:
        while self._pending:
            # Only while messages keep coming: in a quiet place the first message is written at once.
            busy = time.monotonic() - self._last_batch < 2 * self._linger
            if busy and not self._hurry.is_set():
                try:
                    await asyncio.wait_for(self._hurry.wait(), self._linger)
                except TimeoutError:
                    pass
            self._hurry.clear()
            self._last_batch = time.monotonic()
            batch, self._pending = self._pending, []
            self._in_flight = [e for e, _, _ in batch]
            try:
                read = await self._write(self._in_flight, [r for _, r, _ in batch])
            except Exception as exc:
                if len(batch) > 1 and not transient(exc):
                    # One bad row (issue 49) must not cost its neighbours theirs: each alone, so only it
                    # fails. Not after an outage (the engine retried the batch already).
                    await self._one_by_one(batch)
                else:  # every waiter learns of the failure
                    for _, _, fut in batch:
                        if not fut.done():
                            fut.set_exception(exc)
            else:
                for (_, _, fut), data in zip(batch, read, strict=True):
                    if not fut.done():
                        fut.set_result(data)
            finally:
                self._in_flight = ()

    async def _one_by_one(self, batch: list[tuple[Entry, PromptRequest | None,
                                                  asyncio.Future[PromptData | None]]]) -> None:
        for entry, request, fut in batch:
            try:
                [data] = await self._write([entry], [request])
            except Exception as exc:
                what = entry[0]
                log.error("the log refused %s: %s", f"message {what.message_id}"
                          if isinstance(what, SeenMessage) else "an owed mark's clearing", exc)
                if not fut.done():
                    fut.set_exception(exc)
            else:
                if not fut.done():
                    fut.set_result(data)

    def unwritten(self, channel_id: int, before_id: int | None) -> list[SeenMessage]:
        """The messages of ``channel_id`` (older than ``before_id``) handed to the log and not yet committed:
        waiting for company, or in the batch being written; as the log will keep them."""
        entries = [*self._in_flight, *(e for e, _, _ in self._pending)]
        return [as_logged(m, display) for m, display, _ in entries
                if isinstance(m, SeenMessage) and m.channel_id == channel_id
                and (before_id is None or m.message_id < before_id)]

    async def drain(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)


class MessageLog:
    def __init__(self, db: Database, q: Statements, read_prompt: PromptReader,
                 read_prompt_beside: PromptReadBeside) -> None:
        self.db = db
        self._q = q
        self._read_prompt = read_prompt
        self._read_prompt_beside = read_prompt_beside
        self._batches = GroupCommit(self._write_seen)
        self._solo: set[asyncio.Future[None]] = set()  # writes of messages that will be answered (PostgreSQL)
        # Authors upserted lately (so their next message skips the upsert): a cache, bounded, oldest out.
        self._recent_authors: OrderedDict[int, tuple[tuple[str, str], float]] = OrderedDict()
        self._refused: OrderedDict[int, None] = OrderedDict()

    async def log_message(
        self, message: SeenMessage, display_name: str | None = None, *,
        then_read: PromptRequest | None = None, owed_by: str | None = None,
    ) -> PromptData | None:
        """Write a seen message (and upsert its author and nickname) durably, batched with its neighbours.

        ``then_read``: once the write is committed, also read that prompt's data in the same trip to the
        database (a message that will certainly be answered; on PostgreSQL beside it, see _write_addressed);
        None when not asked or when the read failed (the write stands either way).

        ``owed_by``: the character that will answer it; the reply is marked owed in the same transaction
        (database/owed.py), so a crash between the two cannot lose it."""
        display = display_name or message.author_name
        if then_read is not None and not self.db.is_sqlite:
            return await self._write_addressed(message, display, owed_by, then_read)
        return await self._batches.write((message, display, owed_by), then_read,
                                         urgent=then_read is not None or owed_by is not None)

    async def settle_owed(self, character: str, message_id: int) -> None:
        """Clear the owed mark of a reply just posted, committed with the log's next batch (a busy server's
        replies share commits with its incoming messages)."""
        # Not urgent: nobody waits on the clearing (a crash before it finds the reply posted, see
        # bot/reply/recovery.py), and it mostly shares a commit with the reply's own log write.
        await self._batches.write((Settled(character, message_id), "", None), None, urgent=False)

    async def _write_addressed(self, message: SeenMessage, display: str, owed_by: str | None,
                               then_read: PromptRequest) -> PromptData | None:
        """A message that will be answered, on PostgreSQL: written in a transaction of its own, not queued
        behind the batch of a busy channel's chatter in flight, and its prompt read on another connection at
        the same time (the read is of what came before it). The caller still waits for the commit."""
        # The channel's lines still on their way to the database (chatter said a moment before, waiting for
        # its batch or in it) are not there for a read beside this write: they are added from memory.
        unwritten = self._batches.unwritten(then_read.channel_id, then_read.before_id) \
            if then_read.recent_limit else []
        # Like a batch, the write runs in a task of its own: a caller cancelled while waiting (a shutdown)
        # does not take the message's write down with it; flush() waits for it.
        writing = asyncio.ensure_future(self._commit([(message, display, owed_by)]))
        self._solo.add(writing)
        writing.add_done_callback(self._solo.discard)
        reading = asyncio.ensure_future(self._read_prompt_beside(then_read))
        reading.add_done_callback(_consume)
        try:
            await asyncio.shield(writing)
        except BaseException:
            reading.cancel()
            raise
        try:
            data = await reading
        except Exception:  # the reply reads again on its own (and reports a lasting failure there)
            log.exception("prompt read beside logging message %s failed", message.message_id)
            return None
        return with_lines(data, unwritten, then_read.recent_limit)

    async def set_content(self, message_id: int, content: str) -> None:
        """Replace a logged message's text (a voice message, logged before it was heard, once heard)."""
        await self.flush()  # its own log write first
        await self.db.change(update(LoggedMessage).where(LoggedMessage.message_id == message_id)
                             .values(content=content.replace("\x00", "\ufffd")))

    async def flush(self) -> None:
        """Wait until every message handed to the log is committed (graceful shutdown, /forget_me)."""
        await self._batches.drain()
        if self._solo:
            await asyncio.gather(*list(self._solo), return_exceptions=True)

    def refuse(self, message_ids: Iterable[int]) -> None:
        """Never log these messages (the character's answers in the DMs of someone forgotten meanwhile:
        their echo from Discord may come after the deletion)."""
        for message_id in message_ids:
            self._refused[message_id] = None
        while len(self._refused) > REFUSED_KEPT:
            self._refused.popitem(last=False)

    def forget_author(self, user_id: int) -> None:
        """Their next message must write their users row again (it was deleted)."""
        self._recent_authors.pop(user_id, None)

    async def _write_seen(
        self, batch: Sequence[Entry], reads: Sequence[PromptRequest | None]
    ) -> list[PromptData | None]:
        if not any(r is not None for r in reads):
            await self._commit(batch)
            return [None] * len(batch)

        def read(conn: Connection) -> list[PromptData | None]:
            out: list[PromptData | None] = []
            for request in reads:
                try:
                    out.append(self._read_prompt(conn, request) if request is not None else None)
                except Exception:  # the reply reads again on its own (and reports a lasting failure there)
                    log.exception("prompt read after logging message failed")
                    out.append(None)
            return out

        return await self._commit(batch, read)

    @overload
    async def _commit(self, entries: Sequence[Entry]) -> None: ...
    @overload
    async def _commit(self, entries: Sequence[Entry],
                      read: Callable[[Connection], list[PromptData | None]]) -> list[PromptData | None]: ...

    async def _commit(self, entries: Sequence[Entry],
                      read: Callable[[Connection], list[PromptData | None]] | None = None
                      ) -> list[PromptData | None] | None:
        """Write ``entries`` (messages, their authors, owed marks set and cleared) in one transaction; then
        ``read`` on the same connection."""
        batch = [(m, d) for m, d, _ in entries if isinstance(m, SeenMessage)
                 and not (self._refused and m.message_id in self._refused)]
        settled = [m for m, _, _ in entries if isinstance(m, Settled)]
        owed = [row for m, _, character in entries if isinstance(m, SeenMessage) and character is not None
                for row in owed_rows(character, [(m.message_id, m.channel_id)])]
        now = utcnow()
        clock = time.monotonic()
        users: dict[int, dict[str, object]] = {}
        nicks: dict[tuple[int, str], dict[str, object]] = {}
        for m, display in batch:
            # An author seen under the same names within the last minute needs no upsert: last_seen
            # is kept to the minute, and most messages come from people who just spoke.
            key = (clean_name(display), clean_name(m.author_name))
            recent = self._recent_authors.get(m.author_id)
            if recent is not None and recent[0] == key and clock - recent[1] < AUTHOR_REFRESH_SECONDS:
                continue
            self._recent_authors[m.author_id] = (key, clock)
            self._recent_authors.move_to_end(m.author_id)
            while len(self._recent_authors) > RECENT_AUTHORS:
                self._recent_authors.popitem(last=False)
            users[m.author_id] = {
                "id": m.author_id,
                "name": key[0],
                "is_bot": m.author_is_bot,
                "premium": False,
                "first_seen": now,
                "last_seen": now,
            }
            for nick in set(key):
                if nick:
                    nicks[(m.author_id, nick)] = {
                        "user_id": m.author_id,
                        "nickname": nick,
                        "first_seen": now,
                        "last_seen": now,
                    }
        rows = [log_row(m, display) for m, display in batch]
        q = self._q

        def write(conn: Connection) -> None:
            if users:
                execute_all(conn, q["user_upsert"], list(users.values()))
                execute_all(conn, q["nick_upsert"], list(nicks.values()))
            if rows:
                execute_all(conn, q["log_insert"], rows)
            insert_owed(q, conn, owed)
            delete_owed(q, conn, settled)

        try:
            if read is not None:
                return await self.db.write_then_read(write, read)
            if "log_batch" in q:  # PostgreSQL: the whole batch in one statement, one round trip
                # Its parts see the table as it was before it: a mark set and cleared in the same batch
                # is not set (one after the other, the clearing would remove it).
                cleared = {(c, m) for c, m in settled}
                params = log_batch_params(
                    list(users.values()), list(nicks.values()), rows,
                    [r for r in owed if (r["character"], r["message_id"]) not in cleared], list(cleared))
                await self.db.run(lambda conn: conn.execute(q["log_batch"], params), write=True, single=True)
                return None
            await self.db.write(write)
            return None
        except Exception:
            for m, _ in batch:  # the upsert may not have happened: do it next time
                self._recent_authors.pop(m.author_id, None)
            raise

    async def recent_messages(
        self, channel_id: int, *, limit: int, before_id: int | None = None
    ) -> list[SeenMessage]:
        """The channel's latest messages, oldest first; falls back to the archive after a consolidation.
        Shared: when a busy server's vote windows close together, their reads go to the database as one."""
        return await self.db.read_shared(
            lambda conn: recent_messages(conn, self._q, channel_id, limit, before_id))

    async def said_by(self, author_ids: Iterable[int], *, limit: int,
                      since: datetime | None = None) -> list[SeenMessage]:
        """What these authors said in public server channels, log and archive (database/said.py)."""
        return await said_by(self.db, author_ids, limit=limit, since=since)

    async def guild_of(self, channel_id: int) -> int | None:
        """The server of a channel the log or the archive saw a message in (None: unknown, or a DM)."""
        for table in (LoggedMessage, ArchivedMessage):
            guild = await self.db.scalar(select(table.guild_id).where(
                table.channel_id == channel_id, table.guild_id.is_not(None)).limit(1))
            if guild is not None:
                return int(guild)
        return None


def clean_name(name: str) -> str:
    """A name as the log, users and nicknames keep it: at most 100 characters, and no NUL (PostgreSQL's
    text cannot hold one; webhooks and other bots can send one, and it would fail the whole batch)."""
    return name[:100].replace("\x00", "\ufffd")


def log_row(m: SeenMessage, display: str) -> dict[str, object]:
    """The log's row of ``m``: under its author's display name, and no NUL (PostgreSQL's text cannot hold
    one, and one would fail the whole batch). A dict written out: every message makes one."""
    return {
        "message_id": m.message_id,
        "channel_id": m.channel_id,
        "guild_id": m.guild_id,
        "author_id": m.author_id,
        "author_name": clean_name(display),
        "author_is_bot": m.author_is_bot,
        "is_dm": m.is_dm,
        "content": m.content.replace("\x00", "\ufffd"),
        "reply_to_id": m.reply_to_id,
        "created_at": m.created_at,
        "private": m.private,
    }


def as_logged(m: SeenMessage, display: str) -> SeenMessage:
    """``m`` as the log will hold it (:func:`log_row`)."""
    return m._replace(author_name=clean_name(display), content=m.content.replace("\x00", "\ufffd"))


def with_lines(data: PromptData | None, lines: Sequence[SeenMessage], limit: int) -> PromptData | None:
    """``data`` with ``lines`` of its channel among its recent ones (those it lacks), the latest ``limit``."""
    if data is None or not lines:
        return data
    have = {m.message_id for m in data.recent}
    missing = [m for m in lines if m.message_id not in have]
    if not missing:
        return data
    recent = sorted([*data.recent, *missing], key=lambda m: m.message_id)[-limit:]
    return dataclasses.replace(data, recent=recent)


def _consume(task: asyncio.Future[T]) -> None:
    """Retrieve a finished read's outcome, so one nobody awaits (its write failed) is not reported as lost."""
    if not task.cancelled():
        task.exception()
