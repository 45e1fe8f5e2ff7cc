"""Places: where admins switched the character on or off (a channel, or a whole server)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from database.engine import Database
from database.models import PlaceSetting, utcnow
from database.refreshing import CacheChanges, TableMirror

PLACE_CACHE_SECONDS = 5.0


def effective_activation(channel: bool | None, guild: bool | None) -> bool:
    """A channel setting wins over its server's; places without a setting are active."""
    if channel is not None:
        return channel
    return guild if guild is not None else True


class Places:
    def __init__(self, db: Database, changes: CacheChanges) -> None:
        self.db = db
        # ("channel" or "guild", id) -> its switch: the whole table, a row per place an admin switched.
        self._table: TableMirror[tuple[str, int], bool] = TableMirror(PLACE_CACHE_SECONDS, self._read)
        # Where each change is noted: the cluster tells the other processes, whose caches would lag otherwise.
        self._changes = changes

    def forget(self) -> None:
        """Another process changed a place: read the table again at the next message."""
        self._table.forget()

    async def set_active(self, place_type: str, place_id: int, active: bool) -> None:
        ins = self.db.insert(PlaceSetting).values(place_type=place_type, place_id=place_id, active=active,
                                                  updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_update(
            index_elements=[PlaceSetting.place_type, PlaceSetting.place_id],
            set_={"active": ins.excluded.active, "updated_at": ins.excluded.updated_at}))
        await self._table.refresh()  # our own change applies to the very next message
        self._changes.places()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._table.close()

    async def is_active(self, channel_id: int, guild_id: int | None, parent_id: int | None = None) -> bool:
        """A channel setting wins over its server's; places without a setting are active. ``parent_id``: a
        thread's channel, whose setting a thread without its own follows (a channel switched off is so with
        its threads)."""
        channel, guild = await self.activation(channel_id, guild_id)
        if channel is None and parent_id is not None:
            channel = await self._table.get(("channel", parent_id))
        return effective_activation(channel, guild)

    async def activation(self, channel_id: int, guild_id: int | None, *,
                         fresh: bool = False) -> tuple[bool | None, bool | None]:
        """(channel setting, server setting); None where nothing was set.

        Asked for every message, so answered from a copy of the table (database/refreshing.py): this
        process's own changes apply at once; another process's (a shared PostgreSQL) within
        PLACE_CACHE_SECONDS, or at once when the cluster passes them on."""
        channel = await self._table.get(("channel", channel_id), fresh=fresh)
        return channel, (await self._table.get(("guild", guild_id)) if guild_id is not None else None)

    async def _read(self, since: datetime | None) -> list[tuple[tuple[str, int], bool, datetime]]:
        query = select(PlaceSetting.place_type, PlaceSetting.place_id, PlaceSetting.active,
                       PlaceSetting.updated_at)
        if since is not None:
            query = query.where(PlaceSetting.updated_at >= since)
        rows = await self.db.read_shared(lambda conn: conn.execute(query).all())
        return [((str(kind), int(place_id)), bool(active), stamp) for kind, place_id, active, stamp in rows]
