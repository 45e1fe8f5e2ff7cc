"""Long-term facts about people: what consolidation learnt and admins wrote, with their embeddings
(float32 little-endian bytes; memory/ does the maths)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import aliased

from database.boundary import NamedRow, Statements
from database.engine import Database
from database.models import User, UserFact, utcnow
from database.records import FactRow
from database.rowmap import record
from database.stamps import FactStamp, fact_stamp, mark_deleted
from database.vectors import DEFAULT_EMBEDDING_MODEL, usable
from database.visibility import kept_within

_OTHER = aliased(UserFact)
_OTHER_CURRENT = (_OTHER.user_id == UserFact.user_id, _OTHER.valid_until.is_(None),
                  kept_within(private=UserFact.private, guild=UserFact.guild_id, other_private=_OTHER.private,
                              other_guild=_OTHER.guild_id))
# A current fact's doubt: the words of the current fact it may have replaced, else of the newest current fact
# that may have replaced it; only one whose words may go wherever this fact goes (no DM secret in a server).
_DOUBT = case((UserFact.valid_until.is_(None), func.coalesce(
    select(_OTHER.fact).where(_OTHER.id == UserFact.doubts, *_OTHER_CURRENT).scalar_subquery(),
    select(_OTHER.fact).where(_OTHER.doubts == UserFact.id, *_OTHER_CURRENT)
    .order_by(_OTHER.id.desc()).limit(1).scalar_subquery())), else_=None)

_COLUMNS = (  # read by name (database/rowmap.py): FactRow's fields, and the vector's model
    UserFact.id,
    UserFact.fact,
    UserFact.category,
    UserFact.pinned,
    UserFact.private,
    UserFact.reference_count,
    UserFact.first_mentioned,
    UserFact.last_mentioned,
    UserFact.embedding,
    UserFact.lasting,
    UserFact.said_at,
    UserFact.happened_at,
    UserFact.guild_id,
    UserFact.valid_until,
    UserFact.superseded_by,
    UserFact.past,
    _DOUBT.label("doubt"),
    UserFact.slot,
    UserFact.slot_value,
    UserFact.embedding_model,
    UserFact.gloss,
)


def _fact(r: NamedRow, model: str) -> FactRow:
    """``model``: the running embedding model; a vector of another reads as none."""
    vector = r.embedding
    return record(FactRow, r,
                  embedding=usable(None if vector is None else bytes(vector), r.embedding_model, model))


class Facts:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def rows(self, user_id: int) -> list[FactRow]:
        """Every fact of a person with its embedding, oldest first."""
        query = select(*_COLUMNS).where(UserFact.user_id == user_id).order_by(UserFact.id)
        # Converted with the read: on SQLite, off the event loop.
        model = self.db.embedding_model
        return await self.db.read(lambda conn: [_fact(r, model) for r in conn.execute(query).all()])

    async def get(self, user_id: int, fact_id: int) -> FactRow | None:
        """One fact of this person (None if there is no such fact, or it is someone else's)."""
        row = await self.db.first(
            select(*_COLUMNS).where(UserFact.id == fact_id, UserFact.user_id == user_id)
        )
        return None if row is None else _fact(row, self.db.embedding_model)

    async def add(
        self,
        user_id: int,
        fact: str,
        *,
        category: str = "general",
        pinned: bool = False,
        embedding: bytes | None = None,
        lasting: bool = False,
        said_at: datetime | None = None,
        happened_at: datetime | None = None,
        gloss: str | None = None,
    ) -> int:
        """``gloss``: the fact in English, where it is kept in another language (``embedding`` read it)."""
        now = utcnow()
        statement = (
            insert(UserFact)
            .values(
                user_id=user_id,
                fact=fact,
                category=category[:50],
                pinned=pinned,
                embedding=embedding,
                embedding_model=self.db.embedding_model if embedding is not None else None,
                first_mentioned=now,
                last_mentioned=now,
                reference_count=1,
                lasting=lasting,
                said_at=said_at or now,
                happened_at=happened_at,
                gloss=gloss,
            )
            .returning(UserFact.id)
        )
        return await self.db.write(lambda conn: int(conn.execute(statement).scalar_one()))

    async def edit(
        self,
        user_id: int,
        fact_id: int,
        *,
        fact: str | None = None,
        category: str | None = None,
        embedding: bytes | None = None,
    ) -> bool:
        """Change a fact's text and/or category. A new text replaces the embedding with ``embedding`` (None
        when no embedder is available: a stale vector of the old text would recall the wrong thing)."""
        values: dict[str, object] = {}
        if fact is not None:  # the slot the extraction named was of the old words: the cues read the new
            values.update(fact=fact, embedding=embedding, slot=None, slot_value=None, gloss=None,
                          embedding_model=self.db.embedding_model if embedding is not None else None)
        if category is not None:
            values["category"] = category[:50]
        if not values:
            return await self.get(user_id, fact_id) is not None
        return bool(
            await self.db.change(
                update(UserFact).where(UserFact.id == fact_id, UserFact.user_id == user_id).values(**values)
            )
        )

    async def close(self, user_id: int, fact_id: int, until: datetime, past: str | None) -> bool:
        """Close a current fact learnt to be no longer true during the day (a summary pass): since
        ``until``, told as history in ``past`` (None: never recalled again). A closed one keeps its first
        closing; False when it was closed or gone already."""
        return bool(await self.db.change(
            update(UserFact)
            .where(UserFact.id == fact_id, UserFact.user_id == user_id, UserFact.valid_until.is_(None))
            .values(valid_until=until, past=past, updated_at=until)))

    async def pin(self, user_id: int, fact_id: int, pinned: bool) -> bool:
        return bool(
            await self.db.change(
                update(UserFact)
                .where(UserFact.id == fact_id, UserFact.user_id == user_id)
                .values(pinned=pinned)
            )
        )

    async def delete(self, user_id: int, fact_id: int) -> bool:
        def write(conn: Connection) -> bool:
            gone = bool(conn.execute(delete(UserFact).where(UserFact.id == fact_id,
                                                            UserFact.user_id == user_id)).rowcount)
            if gone:
                mark_deleted(conn, [user_id], facts=True)
            return gone

        return await self.db.write(write)

    async def has_embedded(self) -> bool:
        """Whether anyone has a fact with an embedding (recall will need the model)."""
        return (
            await self.db.first(select(UserFact.id).where(UserFact.embedding.is_not(None)).limit(1))
            is not None
        )

    async def stamp(self, user_id: int) -> FactStamp:
        """A cheap fingerprint of a person's facts that changes when one is added, edited, mentioned or
        deleted (every insert and update sets ``updated_at``; every deletion sets ``users.facts_deleted``):
        recall's vector cache compares it instead of re-reading vectors (database/stamps.py)."""
        row = await self.db.read(lambda conn: conn.execute(self._q["fact_stamp"], {"user_id": user_id}).one())
        return fact_stamp(row)

    async def set_embeddings(self, vectors: Sequence[tuple[int, str, str | None, bytes]]) -> int:
        """Store embeddings of facts that had none (added while no model was loaded) or one of another model,
        tagged with the running model (each sets ``updated_at``: recall's cache re-reads the person): (id,
        text, English gloss, vector), the text and gloss the vector encodes. A compare-and-set: a fact
        edited or merged since they were read keeps what it has (its new text's vector, or none, for the
        next pass), never the old text's vector tagged current. How many were written."""
        if not vectors:
            return 0
        stmt = update(UserFact).where(
            UserFact.id == bindparam("fid"), UserFact.fact == bindparam("encoded"),
            UserFact.gloss.is_not_distinct_from(bindparam("encoded_gloss", type_=UserFact.gloss.type)),
        ).values(embedding=bindparam("vec"), embedding_model=self.db.embedding_model)

        def write(conn: Connection) -> int:
            written = (conn.execute(stmt, {"fid": fid, "encoded": text, "encoded_gloss": gloss, "vec": vec})
                       for fid, text, gloss, vec in vectors)
            return sum(int(result.rowcount or 0) for result in written)

        return await self.db.write(write)

    async def delete_expired(self, silent_since: datetime) -> int:
        """Forget the facts that expire (neither pinned nor lasting) of everyone whose last interaction with
        a character is older than ``silent_since``; someone never answered counts from each fact's last
        mention. Their people get a new fact stamp, in the same transaction."""
        silent = select(User.id).where(User.last_interaction < silent_since)
        never = select(User.id).where(User.last_interaction.is_not(None))
        expiring = (UserFact.pinned.is_(False), UserFact.lasting.is_(False),
                    or_(UserFact.user_id.in_(silent),
                        and_(UserFact.user_id.not_in(never), UserFact.last_mentioned < silent_since)))

        def write(conn: Connection) -> int:
            people = [int(u) for u in
                      conn.execute(select(UserFact.user_id).where(*expiring).distinct()).scalars()]
            if not people:
                return 0
            gone = int(conn.execute(delete(UserFact).where(*expiring)).rowcount or 0)
            mark_deleted(conn, people, facts=True)
            return gone

        return await self.db.write(write)

    def _stale(self) -> ColumnElement[bool]:
        """Facts without a vector of the running model: none at all, or one of another model."""
        model = func.coalesce(UserFact.embedding_model, DEFAULT_EMBEDDING_MODEL)
        return or_(UserFact.embedding.is_(None), model != self.db.embedding_model)

    async def count_stale(self) -> int:
        """How many facts (of everyone) have no vector of the running model: what a re-embedding has left."""
        row = await self.db.first(select(func.count()).select_from(UserFact).where(self._stale()))
        return int(row[0]) if row is not None else 0

    async def stale(self, after: int, limit: int) -> list[tuple[int, str, str | None]]:
        """(id, text, English gloss) of facts past id ``after`` without a vector of the running model,
        oldest first: the caller moves ``after`` on (a range of the primary key a call)."""
        query = (select(UserFact.id, UserFact.fact, UserFact.gloss).where(UserFact.id > after, self._stale())
                 .order_by(UserFact.id).limit(limit))
        return await self.db.read(
            lambda conn: [(int(r[0]), str(r[1]), r[2]) for r in conn.execute(query).all()])
