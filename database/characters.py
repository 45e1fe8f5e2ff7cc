"""The characters' own state: interaction counts and evolution stages, and the affinity between two
characters of one ensemble."""

from __future__ import annotations

from sqlalchemy import Connection, case, select, update

from database.engine import Database
from database.models import CharacterAffinity, CharacterState, utcnow
from database.statements import Statements

AFFINITY_LIMIT = 10.0


class Characters:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def character_state(self, character: str) -> tuple[int, str]:
        """(interactions so far, stored evolution stage)."""
        row = await self.db.first(select(CharacterState.interaction_count, CharacterState.stage)
                                  .where(CharacterState.character == character))
        return (int(row[0]), str(row[1])) if row else (0, "")

    async def count_interaction(self, character: str) -> int:
        """One more interaction of the character; returns the new count (one per reply: prepared)."""
        values = {"character": character, "interaction_count": 1, "stage": "", "updated_at": utcnow()}

        def count(conn: Connection) -> int:
            self._q["interaction_upsert"].execute_many(conn, [values])
            return int(self._q["character_state"].first(conn, values)[0])

        return await self.db.write(count)

    async def set_character_stage(self, character: str, stage: str) -> None:
        await self.db.change(update(CharacterState).where(CharacterState.character == character)
                             .values(stage=stage, updated_at=utcnow()))

    async def affinity(self, a: str, b: str) -> tuple[float, int]:
        """(affinity -10..10, exchanges so far) between two characters, whichever order they are named in."""
        a, b = sorted((a, b))
        row = await self.db.first(select(CharacterAffinity.value, CharacterAffinity.exchanges).where(
            CharacterAffinity.character_a == a, CharacterAffinity.character_b == b))
        return (float(row[0]), int(row[1])) if row else (0.0, 0)

    async def adjust_affinity(self, a: str, b: str, delta: float) -> float:
        a, b = sorted((a, b))
        # One atomic upsert: two exchanges of the same pair finishing together must both count.
        moved = CharacterAffinity.value + delta
        clamped = case((moved > AFFINITY_LIMIT, AFFINITY_LIMIT), (moved < -AFFINITY_LIMIT, -AFFINITY_LIMIT),
                       else_=moved)
        ins = self.db.insert(CharacterAffinity).values(
            character_a=a, character_b=b, value=min(AFFINITY_LIMIT, max(-AFFINITY_LIMIT, delta)), exchanges=1,
            updated_at=utcnow())
        stmt = ins.on_conflict_do_update(
            index_elements=[CharacterAffinity.character_a, CharacterAffinity.character_b],
            set_={"value": clamped, "exchanges": CharacterAffinity.exchanges + 1,
                  "updated_at": ins.excluded.updated_at}).returning(CharacterAffinity.value)
        return await self.db.write(lambda conn: float(conn.execute(stmt).scalar_one()))
