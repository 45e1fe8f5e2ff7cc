"""The Discord side of a face per server (bot/features/faces/faces.py): one current-member edit
(``PATCH /guilds/{guild}/members/@me``) through discord.py's ``Member.edit`` on the bot's own member."""

from __future__ import annotations

import discord

from bot.features.faces.faces import FaceRefused, FaceWriteLimited, decode_image
from database.boundary import JsonObject


class DiscordFaces:
    def __init__(self, client: discord.Client) -> None:
        self.client = client

    async def write(self, guild_id: int, change: JsonObject) -> None:
        guild = self.client.get_guild(guild_id)
        if guild is None:
            raise LookupError(f"not a member of server {guild_id}")
        kwargs: dict[str, bytes | str | None] = {}
        for field in ("avatar", "banner"):
            if field in change:
                kwargs[field] = decode_image(change[field])
        if "bio" in change:
            kwargs["bio"] = change["bio"]
        try:
            await guild.me.edit(**kwargs)  # type: ignore[arg-type]
        except discord.RateLimited as limited:
            raise FaceWriteLimited(limited.retry_after) from limited
        except discord.HTTPException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:  # for good; a 429 or a 5xx passes
                raise FaceRefused(" ".join(str(exc).split())) from None
            raise
