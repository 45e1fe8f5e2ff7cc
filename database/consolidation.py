"""Consolidation batches: reading the short-term log window by window, and moving each person's messages
to the archive together with what was learnt from them.

Built so that killing the process at any point loses and duplicates nothing: each batch moves its messages
to the archive AND applies the facts and relationship change drawn from them in ONE transaction, and rolls
back if any of its messages already left the log (another run, or /forget_me, got there first). Facts are
therefore counted exactly once per message.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Connection, case, delete, func, insert, literal, select, update

from database.boundary import NamedRow
from database.engine import Database
from database.excerpts import insert_excerpts
from database.models import ArchivedMessage, LoggedMessage, Relationship, UserFact, utcnow
from database.person_read import felt_since
from database.records import ConsolidationBatch, NewFact, RelationshipRecord, SeenMessage
from database.stamps import mark_deleted
from database.statements import seen_message
from database.threads import NO_CHANGES, ThreadChanges, apply_thread_changes


class _BatchConflict(Exception):
    """Some of a batch's messages already left the log: roll the batch back."""


def _since(fact: NewFact, now: datetime) -> datetime:
    """When what a new fact replaces stopped being true: the day it happened ("got the keys yesterday"),
    where the person said and it is not still to come; else when it was told."""
    told = fact.said_at or now
    return fact.happened_at if fact.happened_at is not None and fact.happened_at <= told else told


def _chunks(ids: Sequence[int], size: int = 500) -> Iterable[list[int]]:
    """Keep IN lists well under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield list(ids[start:start + size])


class ConsolidationLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def log_watermark(self) -> int:
        """The newest row of the short-term log: a consolidation run handles everything up to it."""
        return int(await self.db.scalar(select(func.coalesce(func.max(LoggedMessage.id), 0))))

    async def logged_through(self, max_log_id: int, *, after_id: int = 0,
                             limit: int | None = None) -> list[tuple[int, SeenMessage]]:
        """(log row id, message) of logged messages with ``after_id`` < id <= ``max_log_id``, oldest first,
        at most ``limit`` of them (a consolidation reads a big backlog window by window)."""
        query = select(LoggedMessage).where(LoggedMessage.id > after_id, LoggedMessage.id <= max_log_id) \
            .order_by(LoggedMessage.id).limit(limit)

        def convert(rows: Sequence[NamedRow]) -> list[tuple[int, SeenMessage]]:
            return [(int(r.id), seen_message(r)) for r in rows]

        # A window holds up to 200k rows: never converted on the event loop.
        if self.db.is_sqlite:  # on the database thread, together with the read
            return await self.db.read(lambda conn: convert(conn.execute(query).all()))
        return await asyncio.to_thread(convert, await self.db.rows(query))

    async def count_logged_through(self, max_log_id: int) -> int:
        return int(await self.db.scalar(select(func.count()).select_from(LoggedMessage)
                                        .where(LoggedMessage.id <= max_log_id)))

    async def purge_logged(self, log_ids: Sequence[int]) -> int:
        """Delete log rows without archiving them (people whose messages may not be kept)."""
        def write(conn: Connection) -> int:
            return sum(
                int(conn.execute(delete(LoggedMessage).where(LoggedMessage.id.in_(chunk))).rowcount or 0)
                for chunk in _chunks(log_ids)
            )

        return await self.db.write(write) if log_ids else 0

    async def archive_logged(self, log_ids: Sequence[int]) -> int:
        """Move log rows to the permanent archive in one transaction; returns how many left the log."""
        if not log_ids:
            return 0
        return await self.db.write(lambda conn: self._move_to_archive(conn, log_ids, utcnow()))

    def _move_to_archive(self, conn: Connection, log_ids: Sequence[int], now: datetime) -> int:
        """Copy to the archive (an already archived message_id is skipped), then delete from the log."""
        names = [c.name for c in ArchivedMessage.__table__.columns if c.name not in ("id", "archived_at")]
        stamp = literal(now, type_=ArchivedMessage.__table__.c.archived_at.type)
        moved = 0
        for chunk in _chunks(log_ids):
            source = select(*(LoggedMessage.__table__.c[n] for n in names), stamp).where(
                LoggedMessage.id.in_(chunk)
            )
            conn.execute(
                self.db.insert(ArchivedMessage)
                .from_select([*names, "archived_at"], source)
                .on_conflict_do_nothing(index_elements=[ArchivedMessage.message_id])
            )
            moved += int(conn.execute(delete(LoggedMessage).where(LoggedMessage.id.in_(chunk))).rowcount or 0)
        return moved

    async def commit_consolidation(self, batch: ConsolidationBatch,
                                   threads: ThreadChanges = NO_CHANGES) -> bool:
        """Archive a batch's messages and apply what was learnt from them (``threads``: the open threads it
        opens and closes), in one transaction. False (and nothing written) when some of the messages had
        already left the log."""
        now = batch.at or utcnow()

        def write(conn: Connection) -> None:
            changed = utcnow()  # the real clock, whatever ``at`` says: the fact stamp must move forward
            if self._move_to_archive(conn, batch.log_ids, now) != len(batch.log_ids):
                raise _BatchConflict
            if batch.new_facts:
                rows = [
                    {
                        "user_id": batch.user_id,
                        "fact": f.fact,
                        "gloss": f.gloss,
                        "category": f.category[:50],
                        "pinned": False,
                        "private": f.private,
                        "embedding": f.embedding,
                        "embedding_model": self.db.embedding_model if f.embedding is not None else None,
                        "first_mentioned": now,
                        "last_mentioned": now,
                        "reference_count": 1,
                        "updated_at": changed,
                        "lasting": f.lasting,
                        "said_at": f.said_at or now,
                        "happened_at": f.happened_at,
                        "guild_id": f.guild_id,
                        "doubts": f.doubts,
                        "slot": f.slot[:80] if f.slot is not None else None,
                        "slot_value": f.slot_value,
                    }
                    for f in batch.new_facts
                ]
                plain = [row for row, f in zip(rows, batch.new_facts, strict=True)
                         if f.replaces is None and not f.closes]
                if plain:
                    conn.execute(insert(UserFact), plain)
                for row, f in zip(rows, batch.new_facts, strict=True):
                    if f.replaces is not None or f.closes:  # the new fact first, then the old ones closed
                        new_id = int(conn.execute(insert(UserFact).values(**row).returning(UserFact.id))
                                     .scalar_one())
                        closed = ((f.replaces, f.past),) if f.replaces is not None else ()
                        for old_id, past in (*closed, *f.closes):
                            self._close(conn, batch.user_id, old_id, _since(f, now), changed, past, new_id)
            deleted = False
            for fact_id, past in batch.retired:
                if past is None:  # not worth keeping as history (never true, or asked to be forgotten)
                    deleted |= bool(conn.execute(delete(UserFact).where(
                        UserFact.id == fact_id, UserFact.user_id == batch.user_id)).rowcount)
                else:
                    self._close(conn, batch.user_id, fact_id, now, changed, past, None)
            if deleted:
                mark_deleted(conn, [batch.user_id], facts=True)
            for fact_id, public in batch.mentioned:
                values: dict[str, object] = {
                    "reference_count": UserFact.reference_count + 1,
                    "last_mentioned": now,
                    "updated_at": changed,
                }
                if public:  # now said in a channel: no longer only a DM secret, and that server's
                    values["private"] = False
                    values["guild_id"] = case((UserFact.private.is_(True), batch.guild_id),
                                              else_=UserFact.guild_id)
                if fact_id in batch.lasting:  # said again as something that lasts
                    values["lasting"] = True
                conn.execute(
                    update(UserFact)
                    .where(UserFact.id == fact_id, UserFact.user_id == batch.user_id)
                    .values(**values)
                )
            insert_excerpts(self.db, conn, batch.user_id, batch.excerpts)
            apply_thread_changes(conn, batch.user_id, threads)
            if batch.relationship_update is not None:
                self._update_relationship(conn, batch, now)

        try:
            await self.db.write(write)
        except _BatchConflict:
            return False
        return True

    @staticmethod
    def _close(conn: Connection, user_id: int, fact_id: int, until: datetime, changed: datetime,
               past: str | None, by: int | None) -> None:
        """Close a current fact: no longer true since ``until`` (a closed one keeps its first closing)."""
        open_fact = (UserFact.id == fact_id, UserFact.user_id == user_id, UserFact.valid_until.is_(None))
        conn.execute(update(UserFact).where(*open_fact)
                     .values(valid_until=until, superseded_by=by, past=past, updated_at=changed))

    def _update_relationship(self, conn: Connection, batch: ConsolidationBatch, now: datetime) -> None:
        assert batch.relationship_update is not None
        metrics = list(asdict(RelationshipRecord()))
        row = conn.execute(
            select(Relationship).where(
                Relationship.character == batch.character, Relationship.user_id == batch.user_id
            )
        ).first()
        current = {k: float(getattr(row, k)) for k in metrics} if row else asdict(RelationshipRecord())
        used: dict[str, float] = {}
        if row is not None and row.consolidated_day == batch.day:
            try:
                used = {k: float(v) for k, v in json.loads(row.consolidated_change or "{}").items()}
            except (ValueError, TypeError, AttributeError):
                used = {}
        values, used, changed = batch.relationship_update(current, used)
        # what the relationship says changed: since now, and in public only when public talk changed it (a
        # server's reply never learns when something said in private moved it)
        since = {"felt_since": felt_since(now, public=batch.guild_id is not None)} if changed else {}
        ins = self.db.insert(Relationship).values(
            character=batch.character,
            user_id=batch.user_id,
            updated_at=now,
            consolidated_day=batch.day,
            consolidated_change=json.dumps(used),
            **values,
            **since,
        )
        conn.execute(
            ins.on_conflict_do_update(
                index_elements=[Relationship.character, Relationship.user_id],
                set_={
                    k: getattr(ins.excluded, k)
                    for k in (*values, *since, "consolidated_day", "consolidated_change", "updated_at")
                },
            )
        )
