"""Global state: small named values the character and admins keep (``daily_mood``, ``verbose``, ...)."""

from __future__ import annotations

from sqlalchemy import delete, select

from database.engine import Database
from database.models import GlobalState, utcnow


class State:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, key: str, default: str = "") -> str:
        value = await self.db.scalar(select(GlobalState.value).where(GlobalState.key == key))
        return default if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        ins = self.db.insert(GlobalState).values(key=key, value=value, updated_at=utcnow())
        await self.db.change(
            ins.on_conflict_do_update(
                index_elements=[GlobalState.key],
                set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at},
            )
        )

    async def delete(self, key: str) -> bool:
        return bool(await self.db.change(delete(GlobalState).where(GlobalState.key == key)))

    async def all(self) -> list[tuple[str, str]]:
        rows = await self.db.rows(select(GlobalState.key, GlobalState.value).order_by(GlobalState.key))
        return [(str(k), str(v)) for k, v in rows]
