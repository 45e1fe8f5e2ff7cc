"""Where the bot takes part (``/bot activate``, ``/bot deactivate``, ``/bot status-here``) and the per-place
switches (``/bot reactions`` and the like), without Discord: a channel's setting wins over its server's."""

from __future__ import annotations

from database.places import Places as PlaceRows
from database.switches import PlaceSwitches


class PlaceControls:
    """``places``: where the bot is active (the store's places repository); ``switches``: the per-place
    switches."""

    def __init__(self, places: PlaceRows, switches: PlaceSwitches) -> None:
        self.places = places
        self.switches = switches

    async def set_active(self, place_type: str, place_id: int, active: bool) -> None:
        await self.places.set_active(place_type, place_id, active)

    async def is_active(self, channel_id: int, guild_id: int | None) -> bool:
        return await self.places.is_active(channel_id, guild_id)

    async def activation(self, channel_id: int, guild_id: int | None) -> tuple[bool | None, bool | None]:
        """(the channel's own setting, the server's), read fresh (an admin sees one read)."""
        return await self.places.activation(channel_id, guild_id, fresh=True)

    async def set_switch(self, switch: str, place_type: str, place_id: int, wanted: bool | None) -> None:
        """Switch ``switch`` on or off at a place; None: back to the default."""
        await self.switches.set(switch, place_type, place_id, wanted)

    async def switch_is_on(self, switch: str, channel_id: int, guild_id: int | None, default: bool, *,
                           parent_id: int | None = None) -> bool:
        """``parent_id``: a thread's channel, whose setting the thread follows where it has none."""
        return await self.switches.is_on(switch, channel_id, guild_id, default, parent_id=parent_id)
