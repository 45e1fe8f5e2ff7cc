"""Helpers for the server-tools tests: the moderation world (roles with Discord's hierarchy) and slash
options as Discord sends them."""

from __future__ import annotations

from typing import Any

from tests.fakes.discord_guild import BAN_MEMBERS, KICK_MEMBERS, MANAGE_MESSAGES, MODERATE_MEMBERS
from tests.harness import ADMIN_ID, GUILD_ID, Harness, ephemeral, invited

MODERATOR = KICK_MEMBERS | BAN_MEMBERS | MODERATE_MEMBERS | MANAGE_MESSAGES
MODERATOR_ID = ADMIN_ID  # "admin" holds the Moderator role in these tests


def opt(name: str, value: Any) -> dict[str, Any]:
    """One option; ints are integers, floats numbers, bools booleans, ("user", id) users, ("role", id) roles,
    ("channel", id) channels, anything else a string."""
    if isinstance(value, tuple):
        kind = {"user": 6, "channel": 7, "role": 8}[value[0]]
        return {"name": name, "type": kind, "value": str(value[1])}
    kind = (5 if isinstance(value, bool) else 4 if isinstance(value, int)
            else 10 if isinstance(value, float) else 3)
    return {"name": name, "type": kind, "value": value}


def opts(**options: Any) -> list[dict[str, Any]]:
    return [opt(k, v) for k, v in options.items() if v is not None]


def sub(name: str, **options: Any) -> list[dict[str, Any]]:
    return [{"type": 1, "name": name, "options": opts(**options)}]


async def answer(ix: Any) -> str:
    """The ephemeral text of an interaction's answer (asserting it is ephemeral)."""
    await ephemeral(ix)
    return str(await ix.text())


class World:
    """Roles of the moderation tests: the bot's managed role (given exactly the invite permissions), a
    Moderator role below it held by MODERATOR_ID, and a Senior role above the bot's."""

    def __init__(self, h: Harness) -> None:
        self.h = h
        self.bot_role = 0
        self.moderator = 0
        self.senior = 0

    async def build(self) -> World:
        d = self.h.discord
        self.bot_role = d.bot_role_id(GUILD_ID)
        await d.set_role_permissions(GUILD_ID, self.bot_role, invited())
        self.moderator = await d.add_role(GUILD_ID, "Moderator", permissions=MODERATOR, position=1)
        await d.give_role(GUILD_ID, MODERATOR_ID, self.moderator)
        bot_position = d.roles[GUILD_ID][self.bot_role]["position"]
        self.senior = await d.add_role(GUILD_ID, "Senior", permissions=0, position=bot_position + 1)
        return self

    async def run(self, name: str, *, as_user: int = MODERATOR_ID, **options: Any) -> str:
        ix = await self.h.slash(name, opts(**options), user=as_user)
        return await answer(ix)
