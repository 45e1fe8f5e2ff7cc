"""Core memories: what the character always remembers about a person. Every change first archives the
whole previous set as a version, which restore brings back.

Each memory knows where it belongs (issue 49): a private source (DMs and private places) is used in DMs only;
any other is used in the server it was learnt in (``guild_id``), or everywhere when it has none (an admin's).
Versions keep that place, and a summary pass rewrites one place's memories only."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, delete, false, insert, or_, select, true, update
from sqlalchemy.sql.expression import Executable

from database.boundary import JsonObject
from database.engine import Database
from database.models import CoreMemory, CoreMemoryVersion, User, utcnow
from database.records import PRIVATE_OF, PRIVATE_SOURCES, Archived, CoreMemoryRow, VersionReason, as_utc

QUOTED = "quoted_user_id"  # a version's memory quoting someone: the last key of its JSON object


def quoted_in_snapshot(user_id: int) -> str:
    """What a version's snapshot holds when one of its memories quotes ``user_id`` (json.dumps' spacing, and
    the key last, so one id is never matched as a prefix of another)."""
    return f'"{QUOTED}": {int(user_id)}}}'


def in_use() -> ColumnElement[bool]:
    """Memories that may reach a prompt: a note quoting someone only while that person has not opted out
    (their opt-out is a choice about their words, wherever they are kept)."""
    return or_(CoreMemory.quoted_user_id.is_(None),
               select(User.memory_consent).where(User.id == CoreMemory.quoted_user_id)
               .scalar_subquery().is_not(false()))


def archive_core_memories(conn: Connection, character: str, user_id: int, reason: VersionReason) -> None:
    """Save the person's current core memories as one version (inside the caller's transaction)."""
    rows = conn.execute(select(CoreMemory.content, CoreMemory.source, CoreMemory.guild_id,
                               CoreMemory.quoted_user_id).where(
        CoreMemory.character == character, CoreMemory.user_id == user_id).order_by(CoreMemory.id)).all()
    snapshot = json.dumps([{"content": r.content, "source": r.source, "guild_id": r.guild_id,
                            **({QUOTED: int(r.quoted_user_id)} if r.quoted_user_id is not None else {})}
                           for r in rows])
    conn.execute(insert(CoreMemoryVersion).values(character=character, user_id=user_id, snapshot=snapshot,
                                                  reason=reason.code, reason_detail=reason.detail,
                                                  created_at=utcnow()))


def replace_source_memories(conn: Connection, character: str, user_id: int, contents: Sequence[str], *,
                            source: str, reason: VersionReason, guild_id: int | None = None) -> None:
    """Archive the person's memories, then make ``contents`` their whole set of ``source`` memories of
    ``guild_id``'s place (a private source has none: one private set) (inside the caller's transaction).
    The memories of other places are never touched."""
    if source in PRIVATE_SOURCES:
        guild_id = None
    archive_core_memories(conn, character, user_id, reason)
    place = CoreMemory.guild_id.is_(None) if guild_id is None else CoreMemory.guild_id == guild_id
    conn.execute(delete(CoreMemory).where(CoreMemory.character == character, CoreMemory.user_id == user_id,
                                          CoreMemory.source == source, place))
    now = utcnow()
    if contents:
        conn.execute(insert(CoreMemory), [{"character": character, "user_id": user_id, "content": c,
                                           "source": source, "guild_id": guild_id, "created_at": now,
                                           "updated_at": now} for c in contents])


def _insert(conn: Connection, character: str, user_id: int, content: str, source: str,
            guild_id: int | None = None, quoted_user_id: int | None = None) -> int:
    now = utcnow()
    return int(conn.execute(insert(CoreMemory).values(
        character=character, user_id=user_id, content=content, source=source,
        guild_id=None if source in PRIVATE_SOURCES else guild_id, quoted_user_id=quoted_user_id,
        created_at=now, updated_at=now).returning(CoreMemory.id)).scalar_one())


def snapshot_place(item: JsonObject) -> tuple[str, int | None]:
    """(source, guild_id) of one memory of a version. A version archived before 0016 has no place: its
    summary and /remember memories come back private, as the migration made the stored ones."""
    source = str(item.get("source", "summary"))
    if "guild_id" not in item:
        return PRIVATE_OF.get(source, source), None
    guild = item["guild_id"]
    return source, None if guild is None else int(guild)


class _Unchanged(Exception):
    """A guarded change found nothing to change (its memory was edited or deleted meanwhile)."""


class Memories:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def core_memories(self, character: str, user_id: int, *,
                            usable: bool = False) -> list[tuple[int, str, str]]:
        """(id, content, source), oldest first; ``usable``: only those that may reach a prompt (in_use)."""
        rows = await self.db.rows(select(CoreMemory.id, CoreMemory.content, CoreMemory.source).where(
            CoreMemory.character == character, CoreMemory.user_id == user_id,
            in_use() if usable else true()).order_by(CoreMemory.id))
        return [(int(r.id), str(r.content), str(r.source)) for r in rows]

    async def placed_memories(self, character: str, user_id: int, *,
                              usable: bool = False) -> list[CoreMemoryRow]:
        """Every core memory of the person with where it belongs, oldest first (``usable``: as above)."""
        rows = await self.db.rows(select(CoreMemory.id, CoreMemory.content, CoreMemory.source,
                                         CoreMemory.guild_id).where(
            CoreMemory.character == character, CoreMemory.user_id == user_id,
            in_use() if usable else true()).order_by(CoreMemory.id))
        return [CoreMemoryRow(int(r.id), str(r.content), str(r.source),
                              None if r.guild_id is None else int(r.guild_id)) for r in rows]

    async def add_core_memory(self, character: str, user_id: int, content: str, source: str = "user", *,
                              guild_id: int | None = None, quoted_user_id: int | None = None) -> int:
        """``guild_id``: the server it belongs to (None with a private source, or for every place);
        ``quoted_user_id``: whose words it quotes (a note made with "Remember this")."""
        def write(conn: Connection) -> int:
            archive_core_memories(conn, character, user_id, VersionReason(Archived.ADDED, source))
            return _insert(conn, character, user_id, content, source, guild_id, quoted_user_id)

        return await self.db.write(write)

    async def update_core_memory(self, memory_id: int, content: str, *, expected: str | None = None) -> bool:
        """Rewrite one memory (the previous set archived first). ``expected``: the text the editor started
        from; when the memory no longer reads so (someone else changed it meanwhile), nothing is written and
        False comes back, as for a memory that does not exist."""
        statement = update(CoreMemory).where(CoreMemory.id == memory_id)
        if expected is not None:  # checked by the UPDATE itself: a concurrent edit cannot slip in between
            statement = statement.where(CoreMemory.content == expected)
        return await self._change(memory_id, VersionReason(Archived.EDITED),
                                  statement.values(content=content, updated_at=utcnow()))

    async def delete_core_memory(self, memory_id: int) -> bool:
        return await self._change(
            memory_id, VersionReason(Archived.DELETED), delete(CoreMemory).where(CoreMemory.id == memory_id)
        )

    async def _change(self, memory_id: int, reason: VersionReason, statement: Executable) -> bool:
        def write(conn: Connection) -> bool:
            row = conn.execute(
                select(CoreMemory.character, CoreMemory.user_id).where(CoreMemory.id == memory_id)
            ).first()
            if row is None:
                return False
            archive_core_memories(conn, row.character, row.user_id, reason)
            if not conn.execute(statement).rowcount:
                raise _Unchanged  # rolls the archived version back too: nothing happened
            return True

        try:
            return await self.db.write(write)
        except _Unchanged:
            return False

    async def replace_core_memories(
        self, character: str, user_id: int, contents: Sequence[str], *, reason: VersionReason,
        source: str = "summary",
        guild_id: int | None = None,
    ) -> None:
        """Rewrite the memories of one ``source`` and place as a whole (merged by summarization), archiving
        the old version; memories from other sources (/remember, admins, the other privacy side) or other
        servers stay."""

        await self.db.write(lambda conn: replace_source_memories(conn, character, user_id, contents,
                                                                 source=source, reason=reason,
                                                                 guild_id=guild_id))

    async def core_memory_versions(
        self, character: str, user_id: int
    ) -> list[tuple[int, datetime, VersionReason, list[dict[str, str]]]]:
        """(version id, archived at, why, the memories then), newest first."""
        rows = await self.db.rows(
            select(CoreMemoryVersion)
            .where(CoreMemoryVersion.character == character, CoreMemoryVersion.user_id == user_id)
            .order_by(CoreMemoryVersion.id.desc())
        )
        return [(r.id, as_utc(r.created_at), VersionReason(r.reason, r.reason_detail), json.loads(r.snapshot))
                for r in rows]

    async def restore_core_memory_version(self, version_id: int) -> bool:
        def write(conn: Connection) -> bool:
            row = conn.execute(select(CoreMemoryVersion).where(CoreMemoryVersion.id == version_id)).first()
            if row is None:
                return False
            archive_core_memories(conn, row.character, row.user_id,
                                  VersionReason(Archived.RESTORED, str(version_id)))
            conn.execute(
                delete(CoreMemory).where(
                    CoreMemory.character == row.character, CoreMemory.user_id == row.user_id
                )
            )
            for item in json.loads(row.snapshot):
                quoted = item.get(QUOTED)
                _insert(conn, row.character, row.user_id, item["content"], *snapshot_place(item),
                        None if quoted is None else int(quoted))
            return True

        return await self.db.write(write)
