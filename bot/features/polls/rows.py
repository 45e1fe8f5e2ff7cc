"""The polls' rows read and written (:class:`Polls`, built by the feature from the store's database) and
the value a poll is handed out as (:class:`PollRecord`). A poll row exists before its message is posted
(the buttons carry its id); a poll whose message could not be posted is deleted again, so no poll is left
without its message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select, update

from bot.features.polls.tables import Poll, PollVote
from database.boundary import NamedRow
from database.engine import Database
from database.models import utcnow
from database.rowmap import columns, record


@dataclass(frozen=True)
class PollRecord:
    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int
    question: str
    options: tuple[str, ...]
    closes_at: datetime
    closed: bool


POLL_COLUMNS = columns(Poll, PollRecord)  # read by name (database/rowmap.py)


def _poll(row: NamedRow) -> PollRecord:
    return record(PollRecord, row)


class Polls:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        guild_id: int,
        channel_id: int,
        author_id: int,
        question: str,
        options: list[str],
        closes_at: datetime,
    ) -> int:
        stmt = (
            insert(Poll)
            .values(
                guild_id=guild_id,
                channel_id=channel_id,
                author_id=author_id,
                question=question,
                options=list(options),
                closes_at=closes_at,
                closed=False,
                created_at=utcnow(),
            )
            .returning(Poll.id)
        )
        return int(await self.db.write(lambda conn: conn.execute(stmt).scalar_one()))

    async def set_message(self, poll_id: int, message_id: int) -> None:
        await self.db.change(update(Poll).where(Poll.id == poll_id).values(message_id=message_id))

    async def delete(self, poll_id: int) -> None:
        """Drop a poll whose message never made it (its votes go with it)."""
        await self.db.write(
            lambda conn: (
                conn.execute(delete(PollVote).where(PollVote.poll_id == poll_id)),
                conn.execute(delete(Poll).where(Poll.id == poll_id)),
            )
        )

    async def get(self, poll_id: int) -> PollRecord | None:
        row = await self.db.first(select(*POLL_COLUMNS).where(Poll.id == poll_id))
        return _poll(row) if row is not None else None

    async def vote(self, poll_id: int, user_id: int, option: int) -> bool:
        """Record (or change) a person's vote; False when the poll is closed or gone."""
        now = utcnow()

        def work(conn: Connection) -> bool:
            closed = conn.execute(select(Poll.closed).where(Poll.id == poll_id)).scalar()
            if closed is None or closed:
                return False
            ins = self.db.insert(PollVote).values(
                poll_id=poll_id, user_id=user_id, option=option, voted_at=now
            )
            conn.execute(
                ins.on_conflict_do_update(
                    index_elements=[PollVote.poll_id, PollVote.user_id],
                    set_={"option": option, "voted_at": now},
                )
            )
            return True

        return await self.db.write(work)

    async def counts(self, poll_id: int) -> dict[int, int]:
        """Votes per option index (options nobody chose are absent)."""
        rows = await self.db.rows(
            select(PollVote.option, func.count()).where(PollVote.poll_id == poll_id).group_by(PollVote.option)
        )
        return {int(o): int(n) for o, n in rows}

    async def vote_of(self, poll_id: int, user_id: int) -> int | None:
        value = await self.db.scalar(
            select(PollVote.option).where(PollVote.poll_id == poll_id, PollVote.user_id == user_id)
        )
        return None if value is None else int(value)

    async def close(self, poll_id: int) -> bool:
        """Mark a poll closed; True only for the one caller that closed it (a timer and a restart may
        race)."""
        return bool(
            await self.db.change(
                update(Poll).where(Poll.id == poll_id, Poll.closed.is_(False)).values(closed=True)
            )
        )
