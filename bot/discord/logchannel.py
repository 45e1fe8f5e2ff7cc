"""The admin log channel (``log_channel``) as the bot posts to it: verbose mode's mirror
(bot/operator/logmirror.py, given :meth:`LogChannel.post` when it is built) and the log channel's admin
commands (cogs/admin.py) post here, pinging no one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import discord

from bot.discord.ui import NO_PINGS


class LogChannel:
    """Where the admins read what the bot does; ``channel_id`` is read at each post (the settings' current
    ``log_channel``: a reload applies at once; 0: none)."""

    def __init__(self, bot: discord.Client, channel_id: Callable[[], int]) -> None:
        self.bot = bot
        self.channel_id = channel_id

    def channel(self) -> discord.abc.Messageable | None:
        channel_id = self.channel_id()
        if not channel_id:
            return None
        channel = self.bot.get_channel(channel_id)
        if isinstance(channel, discord.abc.Messageable):
            return channel
        return self.bot.get_partial_messageable(channel_id)

    async def post(self, text: str, **kwargs: Any) -> discord.Message | None:
        """``text`` posted (cut to Discord's 2,000 characters); None where no log channel is set."""
        channel = self.channel()
        if channel is None:
            return None
        return await channel.send(text[:2000], allowed_mentions=NO_PINGS, **kwargs)
