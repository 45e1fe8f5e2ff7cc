"""The voice channel's status while the character is in a call: it shows that the character listens, and is
cleared as it leaves (``PUT /channels/{id}/voice-status``, discord.py's ``VoiceChannel.edit(status=...)``).

Discord lets only a member connected to the channel set it, with Set Voice Channel Status (or Manage
Channels) there: it is set once connected and cleared before the disconnect. Where Discord refuses (the
permission missing, the channel gone), the refusal is logged once per server and nothing else changes: the
call goes on without a status. Each request is bounded, so joining and leaving stay within their windows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import aiohttp
import discord

from bot.core.i18n import t

log = logging.getLogger(__name__)

MAX_STATUS = 500  # Discord's limit on a voice channel's status
STATUS_SECONDS = 2.0  # how long showing or clearing it may take (a leave waits for the clearing)


def listening_status(name: str, language: str = "en") -> str:
    return ("🎧 " + t(language, "{name} is listening", name=name))[:MAX_STATUS]


async def _english(guild_id: int) -> str | None:
    return None


class ChannelStatus:
    """``name``: the character's name as the status shows it (read at each call: a reload may change it);
    ``language``: the server's language, which everyone in the channel reads it in (None: English)."""

    def __init__(self, name: Callable[[], str],
                 language: Callable[[int], Awaitable[str | None]] = _english) -> None:
        self._name = name
        self._language = language
        self._refused: set[int] = set()  # servers where a refusal was said (one line each)

    async def show(self, channel: discord.VoiceChannel) -> bool:
        """The channel's status says the character listens; False when Discord did not take it."""
        language = await self._language(channel.guild.id) or "en"
        return await self._put(channel, listening_status(self._name(), language), "show")

    async def clear(self, channel: discord.VoiceChannel) -> None:
        await self._put(channel, None, "clear")

    async def _put(self, channel: discord.VoiceChannel, status: str | None, what: str) -> bool:
        try:
            async with asyncio.timeout(STATUS_SECONDS):
                await channel.edit(status=status)
        except (discord.Forbidden, discord.NotFound) as exc:
            if channel.guild.id not in self._refused:
                self._refused.add(channel.guild.id)
                log.warning("could not %s the status of voice channel %s in server %s (HTTP %s: %s): it "
                            "needs Set Voice Channel Status there; the call goes on without it", what,
                            channel.id, channel.guild.id, exc.status, exc.text or "refused")
            return False
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError, OSError) as exc:  # slow or failing
            log.debug("voice channel %s's status not %s: %s", channel.id, "shown" if status else "cleared",
                      type(exc).__name__)
            return False
        return True
