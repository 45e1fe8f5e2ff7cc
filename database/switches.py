"""Per-place switches of single behaviours (``reactions``, ``quiet``): what an admin set for a channel
or a whole server. As with activation, a channel's own setting wins over its server's; where neither has
one, the configured default applies (the caller's). A thread without a setting of its own follows its
channel's.

Each switch is a registered setting (database/place_config.py), read through its cached accessor: this
process's own changes apply at once; another process's within the cache window, or at once when the
cluster passes them on."""

from __future__ import annotations

from database.place_config import CHANNEL, PLACE_TYPES, SERVER, PlaceConfig, register


def register_switch(name: str, follows: str = "", default: bool | None = None) -> None:
    """Register the place switch ``name``: an on/off place setting whose default is the global setting
    ``follows`` (its key; keys are flat), else ``default``. A feature's switch registers itself so
    (bot/operator/registration.py ``Switch``); the same registration again is harmless."""
    register(name, "bool", follows=follows, default=None if follows else default,
             help="a place switch (/bot " + name.replace("_", "-") + ")")


class PlaceSwitches:
    def __init__(self, config: PlaceConfig) -> None:
        self.config = config

    def forget(self) -> None:
        """Another process changed a switch: read the table again at the next ask."""
        self.config.forget()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self.config.drain()

    async def set(self, switch: str, place_type: str, place_id: int, enabled: bool | None) -> None:
        """Switch ``switch`` on or off for a place; None removes the place's own setting."""
        await self.config.set(switch, PLACE_TYPES[place_type], place_id, enabled)

    async def get(self, switch: str, channel_id: int,
                  guild_id: int | None) -> tuple[bool | None, bool | None]:
        """(the channel's setting, its server's setting); None where nothing was set."""
        channel = await self.config.own(switch, CHANNEL, channel_id)
        guild = await self.config.own(switch, SERVER, guild_id) if guild_id is not None else None
        return (None if channel is None else bool(channel)), (None if guild is None else bool(guild))

    async def is_on(self, switch: str, channel_id: int, guild_id: int | None, default: bool, *,
                    parent_id: int | None = None) -> bool:
        """``parent_id``: a thread's channel, whose setting a thread without its own follows (an admin who
        switched a channel off meant its threads too)."""
        return bool(await self.config.value(switch, channel_id, guild_id, default, parent_id=parent_id))
