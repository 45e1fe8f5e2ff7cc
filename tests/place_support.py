"""Places written out for tests that build a message by hand (bot/core/place.py): the bot derives its own
from Discord's (bot/discord/places.py ``place_of``); a test states the place it means."""

from __future__ import annotations

from pathlib import Path

from bot.core.config import load_settings
from bot.core.config.holder import SettingsHolder
from bot.core.place import Place
from bot.operator.places import PlaceControls
from bot.operator.registration import PlaceSwitch, Switch
from database.store import Store

FINN = Path(__file__).resolve().parent.parent / "characters" / "finn"


def server_place(channel_id: int, guild_id: int | None, *, private: bool = False,
                 parent_id: int | None = None, age_restricted: bool = False, guild_name: str = "",
                 channel_name: str = "") -> Place:
    """A server's place (public, not a thread, not age-restricted unless said)."""
    return Place(channel_id=channel_id, is_dm=False, guild_id=guild_id, private=private, parent_id=parent_id,
                 age_restricted=age_restricted, guild_name=guild_name, channel_name=channel_name)


def place(channel_id: int, dm: bool, guild_id: int | None = None, **more: object) -> Place:
    """A DM (``dm``) or a server's place, as the old flat fields said it."""
    if dm:
        return Place.dm(channel_id, guild_id=guild_id)
    return server_place(channel_id, guild_id, **more)  # type: ignore[arg-type]


def place_switch(store: Store, switch: Switch, **env: str) -> PlaceSwitch:
    """A feature's switch as its code reads it (bot/operator/registration.py ``PlaceSwitch``), over the
    store's place settings, its default from Finn's settings with ``env`` over them."""
    settings = load_settings(FINN, None, environ={"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k", **env})
    return PlaceSwitch(switch, PlaceControls(store.places, store.switches), SettingsHolder(settings))
