"""Places: where admins switched the character on or off (a channel, or a whole server)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import and_, or_, select

from database.engine import Database
from database.models import PlaceSetting, utcnow
from database.refreshing import RefreshingCache

PLACE_CACHE_SECONDS = 5.0


def effective_activation(channel: bool | None, guild: bool | None) -> bool:
    """A channel setting wins over its server's; places without a setting are active."""
    if channel is not None:
        return channel
    return guild if guild is not None else True


class Places:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: RefreshingCache[tuple[int, int | None], tuple[bool | None, bool | None]] = \
            RefreshingCache(PLACE_CACHE_SECONDS, self._read)
        # Told of each change (the cluster tells the other processes, whose caches would lag otherwise).
        self.changed: list[Callable[[], None]] = []

    def forget(self) -> None:
        """Drop cached answers another process has made stale."""
        self._cache.clear()

    async def set_active(self, place_type: str, place_id: int, active: bool) -> None:
        self._cache.clear()  # our own change applies to the very next message
        ins = self.db.insert(PlaceSetting).values(place_type=place_type, place_id=place_id, active=active,
                                                  updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_update(
            index_elements=[PlaceSetting.place_type, PlaceSetting.place_id],
            set_={"active": ins.excluded.active, "updated_at": ins.excluded.updated_at}))
        self._cache.clear()  # and what a read under way meanwhile found
        for listener in list(self.changed):
            listener()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._cache.close()

    async def is_active(self, channel_id: int, guild_id: int | None) -> bool:
        """A channel setting wins over its server's; places without a setting are active."""
        return effective_activation(*await self.activation(channel_id, guild_id))

    async def activation(self, channel_id: int, guild_id: int | None, *,
                         fresh: bool = False) -> tuple[bool | None, bool | None]:
        """(channel setting, server setting); None where nothing was set.

        Asked for every message, so answers are cached (database/refreshing.py): this process's own changes
        clear them at once; another process's (a shared PostgreSQL) apply within PLACE_CACHE_SECONDS."""
        return await self._cache.get((channel_id, guild_id), fresh=fresh)

    async def _read(self, key: tuple[int, int | None]) -> tuple[bool | None, bool | None]:
        channel_id, guild_id = key
        conds = [and_(PlaceSetting.place_type == "channel", PlaceSetting.place_id == channel_id)]
        if guild_id is not None:
            conds.append(and_(PlaceSetting.place_type == "guild", PlaceSetting.place_id == guild_id))
        query = select(PlaceSetting.place_type, PlaceSetting.active).where(or_(*conds))
        # Shared: the channels of a busy server ask together (their first messages, their refreshes).
        rows = {r[0]: bool(r[1]) for r in await self.db.read_shared(lambda conn: conn.execute(query).all())}
        return rows.get("channel"), rows.get("guild")
