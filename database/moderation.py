"""The moderation record of each server: warnings, and every action taken through the bot."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from database.boundary import NamedRow
from database.engine import Database
from database.models import utcnow
from database.records import ModerationRecord, WarningRecord
from database.rowmap import columns, record
from database.server_models import MemberWarning, ModerationAction

ACTION_COLUMNS = columns(ModerationAction, ModerationRecord)  # read by name (database/rowmap.py)
WARNING_COLUMNS = columns(MemberWarning, WarningRecord)


def _action(row: NamedRow) -> ModerationRecord:
    return record(ModerationRecord, row)


class Moderation:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def record(
        self,
        guild_id: int,
        action: str,
        moderator_id: int,
        *,
        target_id: int | None = None,
        channel_id: int | None = None,
        reason: str = "",
        detail: str = "",
    ) -> int:
        """Log one action; returns its id."""
        stmt = (
            insert(ModerationAction)
            .values(
                guild_id=guild_id,
                action=action,
                target_id=target_id,
                moderator_id=moderator_id,
                channel_id=channel_id,
                reason=reason,
                detail=detail[:200],
                created_at=utcnow(),
            )
            .returning(ModerationAction.id)
        )
        return int(await self.db.write(lambda conn: conn.execute(stmt).scalar_one()))

    async def actions(
        self, guild_id: int, *, target_id: int | None = None, limit: int = 50
    ) -> list[ModerationRecord]:
        """The server's newest actions first (optionally only those about one person)."""
        query = select(*ACTION_COLUMNS).where(ModerationAction.guild_id == guild_id)
        if target_id is not None:
            query = query.where(ModerationAction.target_id == target_id)
        rows = await self.db.rows(query.order_by(ModerationAction.id.desc()).limit(limit))
        return [_action(r) for r in rows]

    async def warn(self, guild_id: int, target_id: int, moderator_id: int, reason: str) -> tuple[int, int]:
        """Store a warning and log it as an action, in one transaction. Returns (warning id, how many
        warnings that person now has in this server)."""
        now = utcnow()

        def work(conn: Connection) -> tuple[int, int]:
            wid = conn.execute(
                insert(MemberWarning)
                .values(
                    guild_id=guild_id,
                    target_id=target_id,
                    moderator_id=moderator_id,
                    reason=reason,
                    created_at=now,
                )
                .returning(MemberWarning.id)
            ).scalar_one()
            conn.execute(
                insert(ModerationAction).values(
                    guild_id=guild_id,
                    action="warn",
                    target_id=target_id,
                    moderator_id=moderator_id,
                    channel_id=None,
                    reason=reason,
                    detail=f"warning #{wid}",
                    created_at=now,
                )
            )
            total = conn.execute(
                select(func.count())
                .select_from(MemberWarning)
                .where(MemberWarning.guild_id == guild_id, MemberWarning.target_id == target_id)
            ).scalar_one()
            return int(wid), int(total)

        return await self.db.write(work)

    async def warnings(self, guild_id: int, target_id: int) -> list[WarningRecord]:
        rows = await self.db.rows(
            select(*WARNING_COLUMNS)
            .where(MemberWarning.guild_id == guild_id, MemberWarning.target_id == target_id)
            .order_by(MemberWarning.id)
        )
        return [record(WarningRecord, r) for r in rows]
