"""Writing-style profiles: how each person writes (the profile itself is memory/style.py's). Only people
the character may remember have one; learning and the consent check share one transaction, so a profile
is never written for someone who opted out, and an opt-out removes it at their next message."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, delete, select

from database.alive_models import StyleProfile
from database.engine import Database
from database.models import User, utcnow

# (stored profile or None, the user's memory consent) -> new profile, or None to keep none.
StyleUpdate = Callable[[str | None, bool | None], str | None]


class StyleProfiles:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: int) -> str | None:
        value = await self.db.scalar(select(StyleProfile.profile).where(StyleProfile.user_id == user_id))
        return None if value is None else str(value)

    async def learn(self, user_id: int, update: StyleUpdate) -> str | None:
        """Apply ``update`` to the user's stored profile in one transaction; returns what is stored now."""

        def write(conn: Connection) -> str | None:
            user = conn.execute(select(User.memory_consent).where(User.id == user_id)).first()
            if user is None:  # never seen, or just forgotten: nothing to attach a profile to
                return None
            old = conn.execute(select(StyleProfile.profile).where(StyleProfile.user_id == user_id)
                               .with_for_update()).scalar()
            new = update(None if old is None else str(old), user[0])
            if new is None:
                if old is not None:
                    conn.execute(delete(StyleProfile).where(StyleProfile.user_id == user_id))
                return None
            ins = self.db.insert(StyleProfile).values(user_id=user_id, profile=new, updated_at=utcnow())
            conn.execute(ins.on_conflict_do_update(
                index_elements=[StyleProfile.user_id],
                set_={"profile": ins.excluded.profile, "updated_at": ins.excluded.updated_at}))
            return new

        return await self.db.write(write)

    async def delete(self, user_id: int) -> bool:
        return bool(await self.db.change(delete(StyleProfile).where(StyleProfile.user_id == user_id)))
