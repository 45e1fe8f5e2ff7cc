"""The moderation record of each server: warnings, and every action taken through the bot."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select

from database.boundary import DbRow
from database.engine import Database
from database.models import utcnow
from database.records import ModerationRecord, WarningRecord, as_utc
from database.server_models import MemberWarning, ModerationAction

ACTION_COLUMNS = (
    ModerationAction.id,
    ModerationAction.guild_id,
    ModerationAction.action,
    ModerationAction.target_id,
    ModerationAction.moderator_id,
    ModerationAction.channel_id,
    ModerationAction.reason,
    ModerationAction.detail,
    ModerationAction.created_at,
)


def _action(row: DbRow) -> ModerationRecord:
    return ModerationRecord(
        int(row[0]),
        int(row[1]),
        str(row[2]),
        None if row[3] is None else int(row[3]),
        int(row[4]),
        None if row[5] is None else int(row[5]),
        str(row[6]),
        str(row[7]),
        as_utc(row[8]),
    )


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
            select(
                MemberWarning.id,
                MemberWarning.guild_id,
                MemberWarning.target_id,
                MemberWarning.moderator_id,
                MemberWarning.reason,
                MemberWarning.created_at,
            )
            .where(MemberWarning.guild_id == guild_id, MemberWarning.target_id == target_id)
            .order_by(MemberWarning.id)
        )
        return [
            WarningRecord(int(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]), as_utc(r[5])) for r in rows
        ]
