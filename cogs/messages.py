"""The messages cog: Discord messages in, replies out. Each message is handed to the message flow
(bot/discord/flow.py: it becomes an :class:`~bot.core.stages.Incoming` and goes through the one reply
sequence, bot/reply/pipeline.py) with the outlets its answers go out through (bot/discord/outlets.py); once
ready, the replies a crash left owed are answered; a thread the character opened and Discord deleted is
forgotten."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.core.stages import Incoming, Outlet
from bot.discord.flow import MessageFlow
from bot.discord.outlets import WebhookPool, outlets_for
from bot.reply.recovery import ANSWERED, NOT_MINE
from bot.runtime.cluster import runs_shard_of

if TYPE_CHECKING:
    from bot.discord.client import Kindred
    from database.owed import Owed

log = logging.getLogger(__name__)


class Messages(commands.Cog):
    def __init__(self, bot: Kindred, flow: MessageFlow, webhooks: WebhookPool | None) -> None:
        """``flow``: the bot's (built by its setup_hook); ``webhooks``: the cast's (None: one character, who
        speaks as the bot account)."""
        self.bot = bot
        self.flow = flow
        self.webhooks = webhooks
        # The main character's key, for the outlets: fixed for the process, so a message's handling enters
        # the reply sequence and the pipeline once each, in that order (tests/test_message_walk.py).
        self.main_key = bot.services.pipeline.character_key
        self.character = bot.services.pipeline.character  # its name, as a reload leaves it
        self._recovered = False

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        # an ensemble's characters speak through webhooks; a conversation goes on in a thread opened from
        # the message (bot/features/threads/)
        return discord.Permissions(manage_webhooks=True, create_public_threads=True), ""

    def mention_name(self, message: discord.Message) -> str:
        """The name an @mention of the bot account in ``message`` stands for: its one character's ("" with an
        ensemble, whose characters share the account, or when it mentions nobody: no name to show)."""
        if self.webhooks is not None or not message.mentions:
            return ""
        return self.character.current().name

    def outlets(self, message: discord.Message) -> Callable[[str], Outlet]:
        return outlets_for(message, self.webhooks, self.main_key, self.flow.buttons)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None:
            return
        if self.bot.stopping and message.author.id != me.id:
            return  # stopping (SIGTERM): no new work; our own replies in flight are still logged
        msg = self.flow.incoming(message, me, self.mention_name(message))
        self.flow.note_peers(message, me)
        # discord.py runs each listener call in a task of its own, so a slow Claude never holds up the
        # gateway: the work is done right here (no second task); the flow counts it as in flight, so a
        # shutdown waits for it.
        try:
            await self.flow.answer(msg, message, self.outlets(message))  # the reply sequence, voice around it
        except Exception:
            log.exception("failed to handle message %s", message.id)
        finally:
            # The exchange this message started is over (answered, voted down, skipped or failed): the one
            # point a listener (the tests, proving an absence) can know no reply to it is still coming.
            self.bot.dispatch("message_handled", message)

    @commands.Cog.listener()
    async def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        """A thread the character opened, deleted under it: forgotten (bot/features/threads/)."""
        threads = self.bot.services.replies.threads
        if threads is not None:
            await threads.forget(payload.thread_id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: answer the replies a crash left owed (bot/reply/recovery.py)."""
        # What start-up built (modules, the guilds' caches) lives as long as the process: out of the cyclic
        # collector's sight, so its full collections scan only what messages create, and a busy server's
        # messages do not wait tens of milliseconds for a pass over the whole heap.
        gc.freeze()
        recovery = self.bot.services.recovery
        if self._recovered:
            return
        self._recovered = True
        try:
            with self.flow.in_flight:  # a shutdown waits for it like for any reply
                await recovery.run(self._fetch_owed)
        except Exception:
            log.exception("answering the replies owed from before the restart failed")

    async def _fetch_owed(self, owed: Owed) -> tuple[Incoming, Callable[[str], Outlet]] | str | None:
        me = self.bot.user
        if me is None:
            raise RuntimeError("not logged in")
        try:
            channel = self.bot.get_channel(owed.channel_id)
            if channel is None:
                channel = await self.bot.fetch_channel(owed.channel_id)
                guild = getattr(channel, "guild", None)
                if not runs_shard_of(guild.id if guild is not None else None,
                                     getattr(self.bot, "shard_ids", None), self.bot.shard_count or 1):
                    return NOT_MINE
            # the channel of a message owed a reply: one that holds messages
            message = await channel.fetch_message(owed.message_id)  # type: ignore[union-attr]
            # A reply of several parts cut short is resumed where it stopped, not taken as answered.
            if message.guild is not None and not owed.parts and await self._answered(message, owed.character):
                return ANSWERED
        except (discord.NotFound, discord.Forbidden):
            return None
        return self.flow.incoming(message, me, self.mention_name(message)), \
            self.outlets(message)

    async def _answered(self, message: discord.Message, character: str) -> bool:
        """Whether ``character``'s answer to ``message`` is in the channel already (posted just before a
        crash, longer ago than Discord keeps a nonce): the bot account's reply to it, or, for a character
        speaking through a webhook (which cannot reply), its next post in the channel. Where a thread was
        begun from the message, the answer is there: the character's first post not replying to another."""
        me = self.bot.user
        main = character == self.bot.services.pipeline.character_key
        ensemble = self.bot.services.ensemble
        name = ensemble.pipeline(character).persona.name if ensemble and not main else ""
        thread = message.thread
        where = message.channel if thread is None else thread
        async for later in where.history(after=message, limit=50, oldest_first=True):
            if main and me is not None and later.author.id == me.id:
                ref = later.reference
                if (ref.message_id == message.id) if ref is not None else thread is not None:
                    return True
            elif not main and later.webhook_id is not None and later.author.name == name:
                return True
        return False


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Messages(bot, bot.flow, bot.webhooks))
