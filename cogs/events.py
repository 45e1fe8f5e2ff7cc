"""Messages in, replies out. Everything between is :class:`bot.engine.ReplyEngine`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.prompting import Incoming

if TYPE_CHECKING:
    from bot.client import Kindred

log = logging.getLogger(__name__)

TYPING_REFRESH_SECONDS = 8.0  # Discord shows "typing" for 10 s after each request


def to_incoming(message: discord.Message, me: discord.abc.User) -> Incoming:
    """Translate a discord.py message into the engine's transport-free form."""
    reference = message.reference
    replied: discord.Message | None = None
    if reference is not None:
        resolved = reference.resolved
        replied = resolved if isinstance(resolved, discord.Message) else None
        if replied is None and reference.message_id is not None:
            replied = message._state._get_message(reference.message_id)
    guild = message.guild
    channel = message.channel
    return Incoming(
        message_id=message.id,
        channel_id=channel.id,
        author_id=message.author.id,
        author_name=message.author.display_name,
        content=message.clean_content,
        created_at=message.created_at,
        is_dm=guild is None,
        guild_id=guild.id if guild else None,
        guild_name=guild.name if guild else "",
        channel_name=getattr(channel, "name", "") or "",
        author_is_bot=message.author.bot,
        mentions_bot=any(u.id == me.id for u in message.mentions),
        replies_to_bot=replied is not None and replied.author.id == me.id,
        reply_to_id=reference.message_id if reference else None,
    )


class DiscordOutlet:
    """Speaks into the channel the message came from; the first part replies to it in servers."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        # The indicator runs beside the generation instead of before it (no round trip on the hot path)
        # and is re-sent before Discord's ten seconds lapse.
        task = asyncio.create_task(self._keep_typing())
        try:
            yield
        finally:
            task.cancel()

    async def _keep_typing(self) -> None:
        while True:
            try:
                await self.message.channel.typing()
            except discord.HTTPException as exc:
                log.debug("typing indicator failed: %s", exc)
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    async def send(self, text: str, *, first: bool) -> int | None:
        allowed = discord.AllowedMentions(everyone=False, roles=False, users=True, replied_user=False)
        if first and self.message.guild is not None:
            sent = await self.message.reply(text, mention_author=False, allowed_mentions=allowed)
        else:
            sent = await self.message.channel.send(text, allowed_mentions=allowed)
        return sent.id


class Events(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self._tasks: set[asyncio.Task[None]] = set()

    async def cog_unload(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None:
            return
        msg = to_incoming(message, me)
        if message.author.id == me.id:
            await self.bot.engine.observe(msg)  # our own words belong in the log and channel context
            return
        # Reply work runs in its own task so a slow Claude never holds up the gateway.
        task = asyncio.create_task(self._handle(msg, message), name=f"reply-{message.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Incoming, message: discord.Message) -> None:
        try:
            await self.bot.engine.handle(msg, DiscordOutlet(message))
        except Exception:
            log.exception("failed to handle message %s", message.id)

    async def drain(self) -> None:
        """Let in-flight replies finish (used by a graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Events(bot))
