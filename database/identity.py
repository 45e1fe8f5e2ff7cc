"""The character's identity entries (traits, lore, facts, quirks), seeded from its folder and edited by
admins. Which kinds exist is the domain's rule (memory/identity.py); this module only stores them."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, func, insert, select, update

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

    async def seed(self, character: str, entries: Iterable[tuple[str, str]]) -> int:
        """Insert (kind, content) entries once: only when the character has none yet (operators' edits
        win)."""
        rows = list(entries)

        def write(conn: Connection) -> int:
            existing = conn.execute(
                select(func.count()).select_from(IdentityEntry).where(IdentityEntry.character == character)
            ).scalar_one()
            if existing or not rows:
                return 0
            now = utcnow()
            conn.execute(
                insert(IdentityEntry),
                [
                    {
                        "character": character,
                        "kind": kind,
                        "content": content,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for kind, content in rows
                ],
            )
            return len(rows)

        return await self.db.write(write)
