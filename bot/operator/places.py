"""Where the bot takes part (``/bot activate``, ``/bot deactivate``, ``/bot status-here``) and the per-place
switches (``/bot reactions`` and the like), without Discord: a channel's setting wins over its server's."""

from __future__ import annotations

from database.store import Store


class Places:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def set_active(self, place_type: str, place_id: int, active: bool) -> None:
        await self.store.places.set_active(place_type, place_id, active)

    async def is_active(self, channel_id: int, guild_id: int | None) -> bool:
        return await self.store.places.is_active(channel_id, guild_id)

    async def activation(self, channel_id: int, guild_id: int | None) -> tuple[bool | None, bool | None]:
        """(the channel's own setting, the server's), read fresh (an admin sees one read)."""
        return await self.store.places.activation(channel_id, guild_id, fresh=True)

    async def set_switch(self, switch: str, place_type: str, place_id: int, wanted: bool | None) -> None:
        """Switch ``switch`` on or off at a place; None: back to the default."""
        await self.store.switches.set(switch, place_type, place_id, wanted)

    async def switch_is_on(self, switch: str, channel_id: int, guild_id: int | None, default: bool) -> bool:
        return await self.store.switches.is_on(switch, channel_id, guild_id, default)
