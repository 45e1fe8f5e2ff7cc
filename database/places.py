"""Places: where admins switched the character on or off (a channel, or a whole server): the registered
setting ``active`` (database/place_config.py), read through its cached accessor."""

from __future__ import annotations

from database.place_config import CHANNEL, PLACE_TYPES, SERVER, PlaceConfig, register

ACTIVE = register("active", "bool", default=True,
                  help="whether the character takes part here (/bot activate, /bot deactivate)").key


def effective_activation(channel: bool | None, guild: bool | None) -> bool:
    """A channel setting wins over its server's; places without a setting are active."""
    if channel is not None:
        return channel
    return guild if guild is not None else True


class Places:
    def __init__(self, config: PlaceConfig) -> None:
        self.config = config

    def forget(self) -> None:
        """Another process changed a place: read the table again at the next message."""
        self.config.forget()

    def settled(self) -> int | None:
        """The switches' version while they are answered from the copy (database/refreshing.py)."""
        return self.config.settled()

    async def set_active(self, place_type: str, place_id: int, active: bool) -> None:
        await self.config.set(ACTIVE, PLACE_TYPES[place_type], place_id, active)

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self.config.drain()

    async def is_active(self, channel_id: int, guild_id: int | None, parent_id: int | None = None) -> bool:
        """A channel setting wins over its server's; places without a setting are active. ``parent_id``: a
        thread's channel, whose setting a thread without its own follows (a channel switched off is so with
        its threads)."""
        return bool(await self.config.value(ACTIVE, channel_id, guild_id, True, parent_id=parent_id))

    async def activation(self, channel_id: int, guild_id: int | None, *,
                         fresh: bool = False) -> tuple[bool | None, bool | None]:
        """(channel setting, server setting); None where nothing was set (answered from the cached copy:
        database/place_config.py)."""
        channel = await self.config.own(ACTIVE, CHANNEL, channel_id, fresh=fresh)
        guild = await self.config.own(ACTIVE, SERVER, guild_id) if guild_id is not None else None
        return _flag(channel), _flag(guild)


def _flag(value: object) -> bool | None:
    return None if value is None else bool(value)
