"""The threads a character opened to go on with a conversation (``/bot threads on``): inside its own threads
it answers every message (bot/reply/threads.py). A row per thread, kept so that a restart still knows them;
a thread Discord deleted is forgotten. Ids only: the thread's name (words of the message it was opened from)
is Discord's, never kept here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from database.engine import Database
from database.models import TZ, Base, utcnow


class TalkThread(Base):
    """A thread ``character`` opened from a message in channel ``parent_id`` (0040_talk_threads)."""

    __tablename__ = "talk_threads"

    thread_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    character: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class TalkThreads:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, thread_id: int, character: str, parent_id: int, guild_id: int) -> None:
        ins = self.db.insert(TalkThread).values(thread_id=thread_id, character=character, parent_id=parent_id,
                                                guild_id=guild_id, opened_at=utcnow())
        await self.db.change(ins.on_conflict_do_nothing(index_elements=[TalkThread.thread_id]))

    async def forget(self, thread_id: int) -> None:
        await self.db.change(delete(TalkThread).where(TalkThread.thread_id == thread_id))

    async def of(self, character: str) -> set[int]:
        """Every thread ``character`` opened and Discord still has (as far as we heard)."""
        rows = await self.db.rows(select(TalkThread.thread_id).where(TalkThread.character == character))
        return {int(str(r[0])) for r in rows}

    async def opened_by(self, thread_id: int, character: str) -> bool:
        """Whether ``thread_id`` is a conversation thread ``character`` opened."""
        rows = await self.db.rows(select(TalkThread.thread_id).where(
            TalkThread.thread_id == thread_id, TalkThread.character == character))
        return bool(rows)
