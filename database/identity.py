"""The character's identity entries (traits, lore, facts, quirks), seeded from its folder and edited by
admins. Which kinds exist is the domain's rule (memory/identity.py); this module only stores them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, delete, insert, select, update

from database.engine import Database
from database.models import IdentityEntry, utcnow


class Identity:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def entries(self, character: str, kind: str | None = None) -> list[tuple[int, str, str]]:
        """(id, kind, content), oldest first."""
        query = select(IdentityEntry.id, IdentityEntry.kind, IdentityEntry.content).where(
            IdentityEntry.character == character)
        if kind:
            query = query.where(IdentityEntry.kind == kind)
        return [
            (int(r[0]), str(r[1]), str(r[2])) for r in await self.db.rows(query.order_by(IdentityEntry.id))
        ]

    async def add(self, character: str, kind: str, content: str) -> int:
        statement = (
            insert(IdentityEntry)
            .values(character=character, kind=kind, content=content, created_at=utcnow(), updated_at=utcnow())
            .returning(IdentityEntry.id)
        )
        return await self.db.write(lambda conn: int(conn.execute(statement).scalar_one()))

    async def update(self, entry_id: int, content: str) -> bool:
        return bool(
            await self.db.change(
                update(IdentityEntry)
                .where(IdentityEntry.id == entry_id)
                .values(content=content, updated_at=utcnow())
            )
        )

    async def delete(self, entry_id: int) -> bool:
        return bool(await self.db.change(delete(IdentityEntry).where(IdentityEntry.id == entry_id)))

    async def sync_seed(self, character: str, entries: Iterable[tuple[str, str]]) -> tuple[int, int]:
        """Make the entries seeded from the character's identity file follow it: (kind, content) entries the
        file has and the table lacks are added, entries seeded from it that it no longer has are removed.
        Entries added by admins stay; one an admin reworded stays reworded while the file keeps its entry.
        An entry an admin wrote exactly as the file does is taken over by the file (this is also how entries
        seeded before the ``source`` column existed are recognised). One transaction. Returns (added,
        removed)."""
        wanted: dict[str, tuple[str, str]] = {}
        for kind, content in entries:
            wanted.setdefault(seed_source(kind, content), (kind, content))

        def write(conn: Connection) -> tuple[int, int]:
            rows = conn.execute(
                select(IdentityEntry.id, IdentityEntry.kind, IdentityEntry.content, IdentityEntry.source)
                .where(IdentityEntry.character == character).order_by(IdentityEntry.id)).all()
            covered: set[str] = set()
            stale: list[int] = []
            for row_id, _, _, source in rows:
                if source.startswith(FILE_PREFIX):
                    if source in wanted and source not in covered:
                        covered.add(source)
                    else:
                        stale.append(int(row_id))
            for row_id, kind, content, source in rows:
                own = seed_source(kind, content)
                if not source.startswith(FILE_PREFIX) and own in wanted and own not in covered:
                    covered.add(own)
                    conn.execute(update(IdentityEntry).where(IdentityEntry.id == row_id).values(source=own))
            if stale:
                conn.execute(delete(IdentityEntry).where(IdentityEntry.id.in_(stale)))
            now = utcnow()
            new = [{"character": character, "kind": kind, "content": content, "source": source,
                    "created_at": now, "updated_at": now}
                   for source, (kind, content) in wanted.items() if source not in covered]
            if new:
                conn.execute(insert(IdentityEntry), new)
            return len(new), len(stale)

        return await self.db.write(write)


FILE_PREFIX = "file:"


def seed_source(kind: str, content: str) -> str:
    """The ``source`` of an entry seeded from the identity file: its kind and text, digested (fits 64)."""
    return FILE_PREFIX + hashlib.sha1(f"{kind}\0{content}".encode()).hexdigest()
