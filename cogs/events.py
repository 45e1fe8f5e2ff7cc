"""Messages in, replies out: each Discord message becomes an :class:`~bot.core.pipeline.Incoming` and goes
through the one reply sequence (bot/reply/sequence.py) with the outlets its answers go out through
(bot/discord/outlets.py). Everything between is plain Python."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.core.attachments import NOTHING, Attachment, Carried, Embed
from bot.core.pipeline import Incoming, Outlet
from bot.discord.media import attachment_fetcher
from bot.discord.outlets import WebhookPool, outlets_for
from bot.discord.voice import answer, with_voice_placeholder
from bot.reply.recovery import ANSWERED, NOT_MINE
from bot.runtime.cluster import runs_shard_of

if TYPE_CHECKING:
    from bot.discord.client import Kindred
    from database.owed import Owed

log = logging.getLogger(__name__)


def carried_by(message: discord.Message) -> Carried:
    """What the message holds besides its text (files, stickers, embeds, a poll, a forward)."""
    snapshots = message.message_snapshots
    if not (message.attachments or message.stickers or message.embeds or snapshots
            or message.poll is not None):
        return NOTHING  # the common case: plain text, nothing to build
    # A forward's own files and stickers live in its snapshot, not in the message.
    attachments = [*message.attachments, *(a for s in snapshots for a in s.attachments)]
    stickers = [*message.stickers, *(t for s in snapshots for t in s.stickers)]
    embeds = [*message.embeds, *(e for s in snapshots for e in s.embeds)]
    return Carried(
        attachments=tuple(Attachment(a.filename, a.content_type, a.size, a.url) for a in attachments),
        stickers=tuple(t.name for t in stickers),
        embeds=tuple(Embed(e.title or e.author.name or e.description or "", e.url or "") for e in embeds),
        poll=message.poll.question if message.poll is not None else None,
        forwarded="\n".join(s.content for s in snapshots) if snapshots else None)


def to_incoming(message: discord.Message, me: discord.abc.User, character: str = "") -> Incoming:
    """Translate a discord.py message into the engine's transport-free form; ``character``: the name an
    @mention of the bot account is shown as (the character's, not the account's)."""
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
        content=clean_content(message, me, character),
        created_at=message.created_at,
        is_dm=guild is None,
        guild_id=guild.id if guild else None,
        guild_name=guild.name if guild else "",
        channel_name=getattr(channel, "name", "") or "",
        author_is_bot=message.author.bot,
        mentions_bot=any(u.id == me.id for u in message.mentions),
        mentions_others=any(u.id not in (me.id, message.author.id) for u in message.mentions),
        replies_to_bot=replied is not None and replied.author.id == me.id,
        reply_to_id=reference.message_id if reference else None,
        reply_to_author_id=replied.author.id if replied is not None else None,
        webhook_id=message.webhook_id,
        carried=carried_by(message),
        author_roles=tuple(r.id for r in message.author.roles) if isinstance(message.author, discord.Member)
        else (),
        fetch=attachment_fetcher(message),
        private=private_place(channel),
    )


def clean_content(message: discord.Message, me: discord.abc.User | None = None, character: str = "") -> str:
    """The text with mentions as names (discord.py's clean_content), an @mention of the bot account as the
    character's name (the model then sees someone talking to it). Most chatter has no mention, nor an
    @everyone to defuse, and then is its own clean form: the resolving is skipped."""
    content = message.content
    if "<" in content or "@" in content:
        content = message.clean_content
        if character and me is not None:
            for user in message.mentions:
                if user.id == me.id:
                    content = content.replace(f"@{user.display_name}", f"@{character}")
    return content.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def private_place(channel: Any) -> bool:
    """A server place not everyone there can see: a private thread (a ticket's), a thread of a private
    channel, or a channel @everyone may not view. Unknown counts as private (the log then says less).
    (Any: whatever channel discord.py hands, a message's or an interaction's, read by duck typing.)"""
    if isinstance(channel, discord.Thread):
        if channel.type == discord.ChannelType.private_thread:
            return True
        channel = channel.parent
        if channel is None:
            return True
    guild = getattr(channel, "guild", None)
    if guild is None:
        return False  # a DM: named as a DM already
    try:
        return not channel.permissions_for(guild.default_role).view_channel
    except (AttributeError, TypeError):
        return True


class Events(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self._tasks: set[asyncio.Task[object]] = set()
        ensemble = getattr(bot, "ensemble", None)
        self.webhooks = WebhookPool(lambda: bot.user, ensemble) if ensemble is not None else None
        # The main character's key, for the outlets: fixed for the process, so a message's handling enters
        # the reply sequence and the engine once each, in that order (tests/test_message_walk.py).
        self.main_key = bot.engine.character_key
        self._recovered = False

    async def cog_unload(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    def mention_name(self) -> str:
        """The name an @mention of the bot account stands for: its one character's ("" with an ensemble,
        whose characters share the account)."""
        return "" if self.webhooks is not None else self.bot.engine.character.current().name

    def outlets(self, message: discord.Message) -> Callable[[str], Outlet]:
        return outlets_for(message, self.webhooks, self.main_key)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None:
            return
        if self.bot.stopping and message.author.id != me.id:
            return  # stopping (SIGTERM): no new work; our own replies in flight are still logged
        msg = with_voice_placeholder(to_incoming(message, me, self.mention_name()), message)
        for user in message.mentions:  # a bot named in the message is a character that may answer first
            if user.bot and user.id != me.id:
                self.bot.engine.turns.note_peer(message.channel.id, user.id, user.display_name)
        # discord.py runs each listener call in a task of its own, so a slow Claude never holds up the
        # gateway: the work is done right here (no second task), and tracked so shutdown can wait for it
        # (our own posts too: their log write must not hold a connection open past the close).
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await answer(self.bot, msg, message, self.outlets(message))  # the reply sequence, voice around it
        except Exception:
            log.exception("failed to handle message %s", message.id)
        finally:
            self._tasks.discard(task)
            # The exchange this message started is over (answered, voted down, skipped or failed): the one
            # point a listener (the tests, proving an absence) can know no reply to it is still coming.
            self.bot.dispatch("message_handled", message)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: answer the replies a crash left owed (bot/reply/recovery.py)."""
        # What start-up built (modules, the guilds' caches) lives as long as the process: out of the cyclic
        # collector's sight, so its full collections scan only what messages create, and a busy server's
        # messages do not wait tens of milliseconds for a pass over the whole heap.
        gc.freeze()
        recovery = getattr(self.bot, "recovery", None)
        if recovery is None or self._recovered:
            return
        self._recovered = True
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)  # a shutdown waits for it like for any reply
        try:
            await recovery.run(self._fetch_owed)
        except Exception:
            log.exception("answering the replies owed from before the restart failed")
        finally:
            self._tasks.discard(task)

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
        return with_voice_placeholder(to_incoming(message, me, self.mention_name()), message), \
            self.outlets(message)

    async def _answered(self, message: discord.Message, character: str) -> bool:
        """Whether ``character``'s answer to ``message`` is in the channel already (posted just before a
        crash, longer ago than Discord keeps a nonce): the bot account's reply to it, or, for a character
        speaking through a webhook (which cannot reply), its next post in the channel."""
        me = self.bot.user
        main = character == self.bot.engine.character_key
        name = self.bot.ensemble.engine(character).persona.name if self.bot.ensemble and not main else ""
        async for later in message.channel.history(after=message, limit=50, oldest_first=True):
            if main and me is not None and later.author.id == me.id:
                ref = later.reference
                if ref is not None and ref.message_id == message.id:
                    return True
            elif not main and later.webhook_id is not None and later.author.name == name:
                return True
        return False

    async def drain(self) -> None:
        """Let in-flight replies finish (used by a graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Events(bot))
