"""Global state: small named values the character and admins keep (``daily_mood``, ``verbose``, ...)."""

from __future__ import annotations

from sqlalchemy import delete, select

from database.boundary import Statements
from database.engine import Database
from database.models import GlobalState, utcnow
from database.statements import execute_all


class State:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def get(self, key: str, default: str = "") -> str:
        value = await self.db.scalar(select(GlobalState.value).where(GlobalState.key == key))
        return default if value is None else str(value)

    async def set(self, key: str, value: str) -> None:
        row = {"key": key, "value": value, "updated_at": utcnow()}
        # Shared: the feelings are stored after a reply, beside the other listeners' writes.
        await self.db.write_shared(lambda conn: execute_all(conn, self._q["state_upsert"], [row]))

    async def delete(self, key: str) -> bool:
        return bool(await self.db.change(delete(GlobalState).where(GlobalState.key == key)))

    async def all(self) -> list[tuple[str, str]]:
        rows = await self.db.rows(select(GlobalState.key, GlobalState.value).order_by(GlobalState.key))
        return [(str(k), str(v)) for k, v in rows]
