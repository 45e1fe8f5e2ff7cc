"""Per-place switches of single behaviours (``proactive``, ``reactions``): what an admin set for a channel
or a whole server. As with activation, a channel's own setting wins over its server's; where neither has
one, the configured default applies (the caller's)."""

from __future__ import annotations

from sqlalchemy import and_, delete, or_, select

from database.alive_models import PlaceSwitch
from database.engine import Database
from database.models import utcnow


class PlaceSwitches:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, switch: str, place_type: str, place_id: int, enabled: bool | None) -> None:
        """Switch ``switch`` on or off for a place; None removes the place's own setting."""
        if enabled is None:
            await self.db.change(delete(PlaceSwitch).where(
                PlaceSwitch.switch == switch, PlaceSwitch.place_type == place_type,
                PlaceSwitch.place_id == place_id))
            return
        ins = self.db.insert(PlaceSwitch).values(switch=switch, place_type=place_type, place_id=place_id,
                                                 enabled=enabled, updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_update(
            index_elements=[PlaceSwitch.place_type, PlaceSwitch.place_id, PlaceSwitch.switch],
            set_={"enabled": ins.excluded.enabled, "updated_at": ins.excluded.updated_at}))

    async def get(self, switch: str, channel_id: int,
                  guild_id: int | None) -> tuple[bool | None, bool | None]:
        """(the channel's setting, its server's setting); None where nothing was set."""
        conds = [and_(PlaceSwitch.place_type == "channel", PlaceSwitch.place_id == channel_id)]
        if guild_id is not None:
            conds.append(and_(PlaceSwitch.place_type == "guild", PlaceSwitch.place_id == guild_id))
        query = select(PlaceSwitch.place_type, PlaceSwitch.enabled).where(PlaceSwitch.switch == switch,
                                                                          or_(*conds))
        rows = {str(r[0]): bool(r[1]) for r in await self.db.rows(query)}
        return rows.get("channel"), rows.get("guild")

    async def is_on(self, switch: str, channel_id: int, guild_id: int | None, default: bool) -> bool:
        channel, guild = await self.get(switch, channel_id, guild_id)
        if channel is not None:
            return channel
        return guild if guild is not None else default
