"""Writing-style profiles: how each person writes (the profile itself is bot/alive/style.py's). Only people
the character may remember have one; learning and the consent check share one transaction, so a profile
is never written for someone who opted out, and an opt-out removes it at their next message."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, delete, select

from database.alive_models import StyleProfileRow
from database.boundary import Statements
from database.engine import Database
from database.models import utcnow
from database.statements import execute_all

# (stored profile or None, the user's memory consent) -> new profile, or None to keep none.
StyleUpdate = Callable[[str | None, bool | None], str | None]


class StyleProfiles:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q

    async def get(self, user_id: int) -> str | None:
        value = await self.db.scalar(select(StyleProfileRow.profile)
                                     .where(StyleProfileRow.user_id == user_id))
        return None if value is None else str(value)

    async def learn(self, user_id: int, update: StyleUpdate) -> str | None:
        """Apply ``update`` to the user's stored profile in one transaction; returns what is stored now."""

        q, key = self._q, {"user_id": user_id}

        def write(conn: Connection) -> str | None:
            together = q.get("user_style")  # SQLite: (memory consent, profile) in one statement
            if together is not None:
                user = conn.execute(together, key).first()
                if user is None:  # never seen, or just forgotten: nothing to attach a profile to
                    return None
                consent, old = user
            else:
                user = conn.execute(q["user"], key).first()  # (premium, memory consent, ...)
                if user is None:
                    return None
                consent, old = user[1], conn.execute(q["style_locked"], key).scalar()  # locked: PostgreSQL
            new = update(None if old is None else str(old), consent)
            if new is None:
                if old is not None:
                    conn.execute(delete(StyleProfileRow).where(StyleProfileRow.user_id == user_id))
                return None
            execute_all(conn, q["style_upsert"], [{**key, "profile": new, "updated_at": utcnow()}])
            return new

        return await self.db.write_shared(write)  # after a reply, with the other listeners' writes

    async def delete(self, user_id: int) -> bool:
        return bool(await self.db.change(delete(StyleProfileRow).where(StyleProfileRow.user_id == user_id)))
