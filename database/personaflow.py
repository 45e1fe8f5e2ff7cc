"""Rows of the personaflow library's store (personaflow/integrations/kindred.py): its characters and
their memories, kept in Kindred's database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from database.boundary import Json, JsonObject
from database.engine import Database
from database.library_models import PersonaFlowCharacter, PersonaFlowMemory
from database.models import utcnow
from database.records import as_utc


@dataclass(frozen=True)
class PersonaFlowCharacterRow:
    name: str
    prompt: str
    background: JsonObject
    memory_config: JsonObject


@dataclass(frozen=True)
class PersonaFlowMemoryRow:
    character: str
    type: str
    content: Json  # text, or a JSON object
    metadata: JsonObject
    timestamp: datetime


def _personaflow_memory_values(m: PersonaFlowMemoryRow) -> dict[str, object]:
    return {"character": m.character, "type": m.type, "content": m.content, "metadata": dict(m.metadata),
            "created_at": m.timestamp}


class PersonaFlowRows:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def characters(self) -> list[PersonaFlowCharacterRow]:
        """Every saved character, in creation order."""
        c = PersonaFlowCharacter
        query = select(c.name, c.prompt, c.background, c.memory_config).order_by(c.id)
        rows = await self.db.run(lambda conn: conn.execute(query).all(), write=False)
        return [PersonaFlowCharacterRow(name, prompt, dict(background or {}), dict(config or {}))
                for name, prompt, background, config in rows]

    async def save_character(self, character: PersonaFlowCharacterRow) -> None:
        """Insert the character, or update its prompt, background and memory config (it keeps its place)."""
        ins = self.db.insert(PersonaFlowCharacter).values(
            name=character.name, prompt=character.prompt, background=dict(character.background),
            memory_config=dict(character.memory_config), created_at=utcnow())
        stmt = ins.on_conflict_do_update(index_elements=[PersonaFlowCharacter.name], set_={
            k: getattr(ins.excluded, k) for k in ("prompt", "background", "memory_config")})
        await self.db.run(lambda conn: conn.execute(stmt), write=True)

    async def delete_character(self, name: str) -> bool:
        """Delete the character and all its memories; False if it was not saved."""

        def write(conn: Connection) -> bool:
            conn.execute(delete(PersonaFlowMemory).where(PersonaFlowMemory.character == name))
            return bool(
                conn.execute(delete(PersonaFlowCharacter).where(PersonaFlowCharacter.name == name)).rowcount
            )

        return await self.db.run(write, write=True)

    async def memories(self, character: str) -> list[PersonaFlowMemoryRow]:
        """A character's memories, oldest first."""
        m = PersonaFlowMemory
        query = (
            select(m.character, m.type, m.content, m.meta, m.created_at)
            .where(m.character == character)
            .order_by(m.id)
        )
        rows = await self.db.run(lambda conn: conn.execute(query).all(), write=False)
        return [
            PersonaFlowMemoryRow(name, kind, content, dict(meta or {}), as_utc(at))
            for name, kind, content, meta, at in rows
        ]

    async def add_memories(self, memories: Sequence[PersonaFlowMemoryRow]) -> None:
        """Append memories (after every memory already stored)."""
        if not memories:
            return
        values = [_personaflow_memory_values(m) for m in memories]
        await self.db.run(lambda conn: conn.execute(insert(PersonaFlowMemory), values), write=True)

    async def replace_memories(self, character: str, memories: Sequence[PersonaFlowMemoryRow]) -> None:
        """Make ``memories`` the character's complete list, in one transaction."""
        values = [_personaflow_memory_values(m) for m in memories]

        def write(conn: Connection) -> None:
            conn.execute(delete(PersonaFlowMemory).where(PersonaFlowMemory.character == character))
            if values:
                conn.execute(insert(PersonaFlowMemory), values)

        await self.db.run(write, write=True)

    async def trim_memories(self, character: str, keep: int) -> int:
        """Delete all but the character's newest ``keep`` memories; returns how many went."""

        def write(conn: Connection) -> int:
            # The newest memory past the ``keep`` newest: it and everything older go.
            cutoff = conn.execute(
                select(PersonaFlowMemory.id)
                .where(PersonaFlowMemory.character == character)
                .order_by(PersonaFlowMemory.id.desc())
                .offset(keep)
                .limit(1)
            ).scalar()
            if cutoff is None:
                return 0
            return int(
                conn.execute(
                    delete(PersonaFlowMemory).where(
                        PersonaFlowMemory.character == character, PersonaFlowMemory.id <= cutoff
                    )
                ).rowcount
                or 0
            )

        return await self.db.run(write, write=True)
