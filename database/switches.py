"""Per-place switches of single behaviours (``proactive``, ``reactions``): what an admin set for a channel
or a whole server. As with activation, a channel's own setting wins over its server's; where neither has
one, the configured default applies (the caller's). A thread without a setting of its own follows its
channel's.

Asked at every reply (the server tools, the reminders), so answered from a copy of the table
(database/refreshing.py), as the places' activation is: this process's own changes apply at once; another
process's within SWITCH_CACHE_SECONDS, or at once when the cluster passes them on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from database.alive_models import PlaceSwitch
from database.engine import Database
from database.models import utcnow
from database.refreshing import CacheChanges, TableMirror

SWITCH_CACHE_SECONDS = 5.0


class PlaceSwitches:
    def __init__(self, db: Database, changes: CacheChanges | None = None) -> None:
        self.db = db
        # (switch, "channel" or "guild", id) -> on or off: the whole table, a row per place an admin set.
        self._table: TableMirror[tuple[str, str, int], bool] = TableMirror(SWITCH_CACHE_SECONDS, self._read)
        self._changes = changes if changes is not None else CacheChanges()

    def forget(self) -> None:
        """Another process changed a switch: read the table again at the next ask."""
        self._table.forget()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._table.close()

    async def set(self, switch: str, place_type: str, place_id: int, enabled: bool | None) -> None:
        """Switch ``switch`` on or off for a place; None removes the place's own setting."""
        if enabled is None:
            await self.db.change(delete(PlaceSwitch).where(
                PlaceSwitch.switch == switch, PlaceSwitch.place_type == place_type,
                PlaceSwitch.place_id == place_id))
            # A row gone is not among the rows changed since: the whole table is read again.
            self._table.forget()
            await self._table.refresh()
            self._changes.places()
            return
        ins = self.db.insert(PlaceSwitch).values(switch=switch, place_type=place_type, place_id=place_id,
                                                 enabled=enabled, updated_at=utcnow())
        await self.db.change(ins.on_conflict_do_update(
            index_elements=[PlaceSwitch.place_type, PlaceSwitch.place_id, PlaceSwitch.switch],
            set_={"enabled": ins.excluded.enabled, "updated_at": ins.excluded.updated_at}))
        await self._table.refresh()  # our own change applies to the very next message
        self._changes.places()

    async def get(self, switch: str, channel_id: int,
                  guild_id: int | None) -> tuple[bool | None, bool | None]:
        """(the channel's setting, its server's setting); None where nothing was set."""
        channel = await self._table.get((switch, "channel", channel_id))
        return channel, (await self._table.get((switch, "guild", guild_id)) if guild_id is not None else None)

    async def is_on(self, switch: str, channel_id: int, guild_id: int | None, default: bool, *,
                    parent_id: int | None = None) -> bool:
        """``parent_id``: a thread's channel, whose setting a thread without its own follows (an admin who
        switched a channel off meant its threads too)."""
        channel, guild = await self.get(switch, channel_id, guild_id)
        if channel is None and parent_id is not None:
            channel = await self._table.get((switch, "channel", parent_id))
        if channel is not None:
            return channel
        return guild if guild is not None else default

    async def _read(self, since: datetime | None) -> list[tuple[tuple[str, str, int], bool, datetime]]:
        query = select(PlaceSwitch.switch, PlaceSwitch.place_type, PlaceSwitch.place_id, PlaceSwitch.enabled,
                       PlaceSwitch.updated_at)
        if since is not None:
            query = query.where(PlaceSwitch.updated_at >= since)
        rows = await self.db.read_shared(lambda conn: conn.execute(query).all())
        return [((str(switch), str(kind), int(place_id)), bool(enabled), stamp)
                for switch, kind, place_id, enabled, stamp in rows]
