"""A person's archived exchanges for episodic recall (memory/episodes.py does the search).

Rows are written by the consolidation batch that archives their messages (database/consolidation.py, in
its transaction); here they are read whole for a person (with the vectors: recall keeps them as one matrix,
re-read when the person's *excerpt stamp* changes), listed and deleted by the person (``/memory``), and
their vectors filled in after the consolidation run that wrote them (``unembedded`` / ``set_embeddings``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, or_, select, update

from database.boundary import NamedRow, Statements
from database.engine import Database
from database.models import ArchiveExcerpt, User, utcnow
from database.records import ExcerptRow, NewExcerpt
from database.rowmap import record
from database.stamps import ExcerptStamp, FactStamp, excerpt_stamp, fact_stamp, mark_deleted
from database.vectors import DEFAULT_EMBEDDING_MODEL, usable

_COLUMNS = (  # read by name (database/rowmap.py)
    ArchiveExcerpt.id,
    ArchiveExcerpt.message_id,
    ArchiveExcerpt.channel_id,
    ArchiveExcerpt.guild_id,
    ArchiveExcerpt.is_dm,
    ArchiveExcerpt.speaker,
    ArchiveExcerpt.own,
    ArchiveExcerpt.content,
    ArchiveExcerpt.said_at,
)


def _row(r: NamedRow, model: str = DEFAULT_EMBEDDING_MODEL) -> ExcerptRow:
    """``model``: the running embedding model; a vector of another reads as none (a query without the
    vector reads none)."""
    stored = r._mapping.get("embedding")
    vector = usable(bytes(stored), r.embedding_model, model) if stored is not None else None
    return record(ExcerptRow, r, embedding=bytes(vector) if vector is not None else None)


def insert_excerpts(db: Database, conn: Connection, user_id: int, excerpts: Sequence[NewExcerpt]) -> None:
    """Inside a consolidation batch's transaction: a message already indexed for this person is skipped
    (a run that is repeated indexes nothing twice)."""
    if not excerpts:
        return
    rows = [{"user_id": user_id, "message_id": e.message_id, "channel_id": e.channel_id,
             "guild_id": e.guild_id, "is_dm": e.is_dm, "speaker": e.speaker[:100], "own": e.own,
             "content": e.content, "said_at": e.said_at, "embedding": e.embedding,
             "embedding_model": db.embedding_model if e.embedding is not None else None} for e in excerpts]
    conn.execute(db.insert(ArchiveExcerpt).values(rows).on_conflict_do_nothing(
        index_elements=[ArchiveExcerpt.user_id, ArchiveExcerpt.message_id]))


class Excerpts:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q  # "excerpt_stamp" (database/statements.py) and "stamps" (database/stamps.py)

    async def rows(self, user_id: int) -> list[ExcerptRow]:
        """Every excerpt of a person with its vector, in the order they were said (per place)."""
        query = (select(*_COLUMNS, ArchiveExcerpt.embedding, ArchiveExcerpt.embedding_model)
                 .where(ArchiveExcerpt.user_id == user_id)
                 .order_by(ArchiveExcerpt.said_at, ArchiveExcerpt.message_id))
        model = self.db.embedding_model
        return await self.db.read(lambda conn: [_row(r, model) for r in conn.execute(query).all()])

    async def listed(self, user_id: int, limit: int = 500) -> list[ExcerptRow]:
        """A person's own excerpts, newest first, without vectors (what ``/memory`` shows them)."""
        query = (select(*_COLUMNS)
                 .where(ArchiveExcerpt.user_id == user_id, ArchiveExcerpt.own.is_(True))
                 .order_by(ArchiveExcerpt.said_at.desc(), ArchiveExcerpt.id.desc()).limit(limit))
        return await self.db.read(lambda conn: [_row(r) for r in conn.execute(query).all()])

    async def stamp(self, user_id: int) -> ExcerptStamp:
        """Changes with any insert (the newest id) or deletion (``users.excerpts_deleted``; /forget_me takes
        the users row too) of the person's excerpts, which are never updated: two index lookups, whatever
        the number of excerpts (database/stamps.py)."""
        return excerpt_stamp(await self.db.read(
            lambda conn: conn.execute(self._q["excerpt_stamp"], {"user_id": user_id}).first()))

    async def stamps(self, user_id: int) -> tuple[FactStamp, ExcerptStamp]:
        """(the fact stamp, the excerpt stamp) in one trip to the database: what a recall that searches the
        archive compares before it trusts its cached indexes."""
        row = await self.db.read(lambda conn: conn.execute(self._q["stamps"], {"user_id": user_id}).one())
        return fact_stamp(row[:3]), excerpt_stamp(row[3:])

    def _stale(self) -> ColumnElement[bool]:
        """Excerpts without a vector of the running model: none yet, or one of another model."""
        return or_(ArchiveExcerpt.embedding.is_(None),
                   func.coalesce(ArchiveExcerpt.embedding_model, DEFAULT_EMBEDDING_MODEL)
                   != self.db.embedding_model)

    async def count_stale(self) -> int:
        """How many excerpts (of everyone) have no vector of the running model."""
        row = await self.db.first(select(func.count()).select_from(ArchiveExcerpt).where(self._stale()))
        return int(row[0]) if row is not None else 0

    async def unembedded(self, after: int, limit: int) -> list[tuple[int, int, str, str]]:
        """(id, user id, speaker, content) of excerpts without a vector of the running model (none yet, or
        one of another model: re-embedded), past id ``after``, oldest first:
        the caller moves ``after`` on, so each call reads a range of the primary key, not the whole table."""
        query = (select(ArchiveExcerpt.id, ArchiveExcerpt.user_id, ArchiveExcerpt.speaker,
                        ArchiveExcerpt.content)
                 .where(ArchiveExcerpt.id > after, self._stale())
                 .order_by(ArchiveExcerpt.id).limit(limit))
        return await self.db.read(lambda conn: [(int(r[0]), int(r[1]), str(r[2]), str(r[3]))
                                                for r in conn.execute(query).all()])

    async def set_embeddings(self, vectors: Sequence[tuple[int, int, bytes]]) -> None:
        """(id, user id, vector) for excerpts that had none; their people's stamps change (recall
        re-reads them)."""
        if not vectors:
            return

        def write(conn: Connection) -> None:
            conn.execute(update(ArchiveExcerpt).where(ArchiveExcerpt.id == bindparam("eid"))
                         .values(embedding=bindparam("vector"), embedding_model=self.db.embedding_model),
                         [{"eid": eid, "vector": v} for eid, _, v in vectors])
            conn.execute(update(User).where(User.id.in_(sorted({u for _, u, _ in vectors})))
                         .values(excerpts_embedded=utcnow()))

        await self.db.write(write)

    async def delete(self, user_id: int, excerpt_ids: Sequence[int]) -> int:
        """Delete some of a person's own excerpts (only theirs: another person's ids delete nothing)."""
        def write(conn: Connection) -> int:
            gone = int(conn.execute(delete(ArchiveExcerpt).where(
                ArchiveExcerpt.user_id == user_id, ArchiveExcerpt.id.in_(list(excerpt_ids)),
                ArchiveExcerpt.own.is_(True))).rowcount or 0)
            if gone:
                mark_deleted(conn, [user_id], facts=False)
            return gone

        return await self.db.write(write) if excerpt_ids else 0
