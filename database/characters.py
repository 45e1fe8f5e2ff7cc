"""The characters' own state: interaction counts and evolution stages, and the affinity between two
characters of one ensemble."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection, case, select, update

from database.boundary import Statements
from database.engine import Database
from database.models import CharacterAffinity, CharacterState, utcnow
from database.server_models import ServerStage

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

    async def count_interaction(self, character: str,
                                stage_for: Callable[[int], str] | None = None) -> tuple[int, str]:
        """One more interaction of the character (one per reply: prepared). ``stage_for`` names the
        evolution stage a count reaches; a new one is stored in the same transaction, so no reader ever
        sees the new count with the old stage. Returns (the new count, the stage now stored)."""
        values = {"character": character, "interaction_count": 1, "stage": "", "updated_at": utcnow()}

        def count(conn: Connection) -> tuple[int, str]:
            number, stage = conn.execute(self._q["interaction_upsert"], values).one()
            if stage_for is not None and (reached := stage_for(int(number))) != stage:
                conn.execute(update(CharacterState).where(CharacterState.character == character)
                             .values(stage=reached))
                stage = reached
            return int(number), str(stage)

        return await self.db.write_shared(count)  # after a reply, with the other listeners' writes

    async def count_server_interaction(self, character: str, guild_id: int,
                                       stage_for: Callable[[int], str]) -> tuple[str, bool]:
        """One more interaction of the character in one server; returns (the stage reached there, whether
        this one changed it). The stage is stored in the same transaction as the count."""
        ins = self.db.insert(ServerStage).values(character=character, guild_id=guild_id, interaction_count=1,
                                                 stage="", updated_at=utcnow())
        upsert = ins.on_conflict_do_update(
            index_elements=[ServerStage.character, ServerStage.guild_id],
            set_={"interaction_count": ServerStage.interaction_count + 1,
                  "updated_at": ins.excluded.updated_at},
        ).returning(ServerStage.interaction_count, ServerStage.stage)

        def count(conn: Connection) -> tuple[str, bool]:
            number, stage = conn.execute(upsert).one()
            reached = stage_for(int(number))
            if reached == stage:
                return str(stage), False
            conn.execute(update(ServerStage).where(ServerStage.character == character,
                                                   ServerStage.guild_id == guild_id).values(stage=reached))
            return reached, True

        return await self.db.write_shared(count)  # after a reply, with the other listeners' writes

    async def server_stage(self, character: str, guild_id: int) -> str:
        """The evolution stage the character reached in one server ("" before any interaction there)."""
        stage = await self.db.scalar(select(ServerStage.stage).where(ServerStage.character == character,
                                                                     ServerStage.guild_id == guild_id))
        return "" if stage is None else str(stage)

    async def affinity(self, a: str, b: str) -> tuple[float, int]:
        """(affinity -10..10, exchanges so far) between two characters, whichever order they are named in."""
        a, b = sorted((a, b))
        row = await self.db.first(select(CharacterAffinity.value, CharacterAffinity.exchanges).where(
            CharacterAffinity.character_a == a, CharacterAffinity.character_b == b))
        return (float(row[0]), int(row[1])) if row else (0.0, 0)

    async def affinity_since(self, a: str, b: str) -> tuple[float, int, datetime | None]:
        """(affinity as stored, exchanges, when it last changed: None for a pair that never talked)."""
        a, b = sorted((a, b))
        row = await self.db.first(select(CharacterAffinity.value, CharacterAffinity.exchanges,
                                         CharacterAffinity.updated_at).where(
            CharacterAffinity.character_a == a, CharacterAffinity.character_b == b))
        return (float(row[0]), int(row[1]), row[2]) if row else (0.0, 0, None)

    async def adjust_affinity(self, a: str, b: str, delta: float,
                              decay: Callable[[float, datetime], float] | None = None) -> float:
        """Move the pair's affinity by ``delta`` (clamped to -10..10); with ``decay``, the stored value is
        first faded by it (value, last change) -> value, in the same transaction."""
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
        if decay is None:
            return await self.db.write(lambda conn: float(conn.execute(stmt).scalar_one()))
        pair = (CharacterAffinity.character_a == a, CharacterAffinity.character_b == b)

        def faded_then_moved(conn: Connection) -> float:
            # The row lock (PostgreSQL; SQLite writes from one thread) keeps two exchanges from fading twice.
            row = conn.execute(select(CharacterAffinity.value, CharacterAffinity.updated_at).where(*pair)
                               .with_for_update()).first()
            if row is None:
                return float(conn.execute(stmt).scalar_one())  # a new pair: nothing to fade yet
            value = min(AFFINITY_LIMIT, max(-AFFINITY_LIMIT, decay(float(row[0]), row[1]) + delta))
            conn.execute(update(CharacterAffinity).where(*pair).values(
                value=value, exchanges=CharacterAffinity.exchanges + 1, updated_at=utcnow()))
            return value

        return await self.db.write(faded_then_moved)
