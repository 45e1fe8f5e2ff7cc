"""Where a server's moderation and ticket notices go: its own log channel (``/settings set log_channel``),
else the global LOG_CHANNEL_ID when that channel is in the same server, else nowhere (the database keeps
them either way)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.core.policy import ServerPolicy, resolve
from bot.features.servertools.settings import ServerSettingsBook

if TYPE_CHECKING:
    from bot.discord.client import Kindred

log = logging.getLogger(__name__)


async def server_policy(bot: Kindred, guild_id: int, *, fresh: bool = False) -> ServerPolicy:
    config = await bot.services.part(ServerSettingsBook).get(guild_id, fresh=fresh)
    channel = bot.get_channel(bot.settings.secrets.log_channel) if bot.settings.secrets.log_channel else None
    here = getattr(getattr(channel, "guild", None), "id", None) == guild_id
    return resolve(bot.settings, config, global_log_here=here)


async def post_notice(bot: Kindred, guild_id: int, text: str | None, **kwargs: Any) -> int | None:
    """Post to the server's log channel; the message id, or None when there is none (or it failed). No
    ``text`` with a panel (``view=``): a Components V2 message has none."""
    channel_id = (await server_policy(bot, guild_id)).log_channel_id
    if not channel_id:
        return None
    channel = bot.get_channel(channel_id)
    if (
        not isinstance(channel, discord.abc.Messageable)
        or getattr(getattr(channel, "guild", None), "id", None) != guild_id
    ):
        log.warning("log channel %s of server %s is not one of its text channels", channel_id, guild_id)
        return None
    try:
        sent = await channel.send(text, allowed_mentions=discord.AllowedMentions.none(), **kwargs)
    except discord.HTTPException as exc:
        log.warning("could not post to the log channel %s of server %s: %s", channel_id, guild_id, exc)
        return None
    return sent.id
