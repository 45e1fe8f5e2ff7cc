"""Messages in, replies out. Everything between is :class:`bot.engine.ReplyEngine`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot.attachments import NOTHING, Attachment, Carried, Embed
from bot.pipeline import Incoming, Outlet
from bot.posting import allowed_mentions_for, reply_nonce
from bot.recovery import ANSWERED, NOT_MINE
from cogs.media import attachment_fetcher
from cogs.voice import answer, hear, with_voice_placeholder

if TYPE_CHECKING:
    from bot.client import Kindred
    from bot.ensemble import Ensemble
    from database.owed import Owed

log = logging.getLogger(__name__)

TYPING_REFRESH_SECONDS = 8.0  # Discord shows "typing" for 10 s after each request
FIRST_TYPING_WAIT = 0.5  # seconds a reply may wait for its typing request to reach Discord


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
        content=message.clean_content.replace("\x00", ""),  # PostgreSQL text cannot hold NUL
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
    )


@asynccontextmanager
async def typing_in(channel: discord.abc.Messageable) -> AsyncIterator[None]:
    # The indicator runs beside the generation instead of before it (no round trip on the hot path)
    # and is re-sent before Discord's ten seconds lapse.
    shown = asyncio.Event()

    async def keep_typing() -> None:
        while True:
            try:
                await channel.typing()
            except discord.HTTPException as exc:
                log.debug("typing indicator failed: %s", exc)
            shown.set()
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    task = asyncio.create_task(keep_typing())
    try:
        yield
    finally:
        if not shown.is_set():  # each burst of a chunked reply is preceded by its typing, briefly at least
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(shown.wait(), FIRST_TYPING_WAIT)
        task.cancel()
        # Wait for it to stop, so no refresh still in flight reaches Discord after what is sent next.
        await asyncio.gather(task, return_exceptions=True)


class DiscordOutlet:
    """Speaks into the channel the message came from; the first part replies to it in servers."""

    def __init__(self, message: discord.Message) -> None:
        self.message = message
        self.parts = 0

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.message.channel)

    async def send(self, text: str, *, first: bool) -> int | None:
        allowed = allowed_mentions_for(text)
        nonce = reply_nonce(self.message.id, self.parts)  # a re-sent part is the same post (bot/posting.py)
        self.parts += 1
        if first and self.message.guild is not None:
            sent = await self.message.reply(text, mention_author=False, allowed_mentions=allowed, nonce=nonce)
        else:
            sent = await self.message.channel.send(text, allowed_mentions=allowed, nonce=nonce)
        return sent.id

    async def edit(self, message_id: int, text: str) -> None:
        """Edit a message of this reply (streamed delivery)."""
        await _partial(self.message.channel, message_id).edit(content=text,
                                                              allowed_mentions=allowed_mentions_for(text))

    async def delete(self, message_id: int) -> None:
        await _partial(self.message.channel, message_id).delete()


def _partial(channel: discord.abc.Messageable, message_id: int) -> discord.PartialMessage:
    return channel.get_partial_message(message_id)  # type: ignore[attr-defined,no-any-return]


def webhook_name(key: str) -> str:
    """How Kindred finds its own webhook for a character again after a restart."""
    return f"Kindred {key}"[:80]


class WebhookPool:
    """One webhook per character per channel, created on first use with the character's name and avatar."""

    def __init__(self, bot: Kindred, ensemble: Ensemble) -> None:
        self.bot = bot
        self.ensemble = ensemble
        self._hooks: dict[tuple[int, str], discord.Webhook] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    async def get(self, channel: discord.abc.Messageable, key: str) -> discord.Webhook | None:
        """The character's webhook in ``channel``; None where webhooks cannot be used (threads, no
        permission)."""
        if not isinstance(channel, discord.TextChannel):
            return None
        cached = self._hooks.get((channel.id, key))
        if cached is not None:
            return cached
        async with self._locks.setdefault(channel.id, asyncio.Lock()):  # never create two for one character
            cached = self._hooks.get((channel.id, key))
            if cached is not None:
                return cached
            me = self.bot.user
            try:
                name = webhook_name(key)
                found = [w for w in await channel.webhooks()
                         if w.name == name and w.user is not None and me is not None and w.user.id == me.id]
                if found:
                    hook = found[0]
                else:
                    persona = self.ensemble.member(key).engine.persona
                    avatar = persona.avatar_bytes()
                    hook = await channel.create_webhook(name=name, avatar=avatar,
                                                        reason=f"Kindred: {persona.name} speaks through it")
            except (discord.HTTPException, OSError) as exc:
                log.warning("no webhook for %s in channel %s (%s); speaking as the bot account", key,
                            channel.id, exc)
                return None
            self._hooks[(channel.id, key)] = hook
            self.ensemble.register_webhook(hook.id, key)
            return hook


class WebhookOutlet:
    """Speaks as one character of the ensemble through its channel webhook (its own name and avatar)."""

    def __init__(self, pool: WebhookPool, message: discord.Message, key: str) -> None:
        self.pool = pool
        self.message = message
        self.key = key

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.message.channel)

    async def send(self, text: str, *, first: bool) -> int | None:
        allowed = allowed_mentions_for(text)
        persona = self.pool.ensemble.member(self.key).engine.persona  # read now: live edits apply
        hook = await self.pool.get(self.message.channel, self.key)
        if hook is None:  # still say it, marked with who is speaking
            sent = await self.message.channel.send(f"**{persona.name}:** {text}", allowed_mentions=allowed)
        else:
            # A picture given as a URL (acore_bot's avatar_url) is fetched by Discord, per message.
            picture = {"avatar_url": persona.avatar_url} if persona.avatar_url else {}
            sent = await hook.send(text, username=persona.name, wait=True, allowed_mentions=allowed,
                                   **picture)
        return sent.id

    async def edit(self, message_id: int, text: str) -> None:
        """Edit a message of this reply (streamed delivery), as it was sent: by webhook, or marked."""
        hook = await self.pool.get(self.message.channel, self.key)
        if hook is None:
            name = self.pool.ensemble.member(self.key).engine.persona.name
            await _partial(self.message.channel, message_id).edit(content=f"**{name}:** {text}",
                                                                  allowed_mentions=allowed_mentions_for(text))
        else:
            await hook.edit_message(message_id, content=text, allowed_mentions=allowed_mentions_for(text))

    async def delete(self, message_id: int) -> None:
        hook = await self.pool.get(self.message.channel, self.key)
        if hook is None:
            await _partial(self.message.channel, message_id).delete()
        else:
            await hook.delete_message(message_id)


class Events(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self._tasks: set[asyncio.Task[Any]] = set()
        ensemble = getattr(bot, "ensemble", None)
        self.webhooks = WebhookPool(bot, ensemble) if ensemble is not None else None
        self._recovered = False

    async def cog_unload(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None:
            return
        if self.bot.stopping and message.author.id != me.id:
            return  # stopping (SIGTERM): no new work; our own replies in flight are still logged
        msg = with_voice_placeholder(to_incoming(message, me), message)
        if self.bot.ensemble is not None and message.guild is not None:
            # Several characters: the ensemble also hears its own members (they may answer each other).
            work = self._ensemble(msg, message)
        elif message.author.id == me.id:
            # Our own words belong in the log and channel context. Tracked like replies: a shutdown must wait
            # for this write too, or it could hold a database connection open past the close.
            work = self._observe(msg)
        else:
            for user in message.mentions:  # a bot named in the message is a character that may answer first
                if user.bot and user.id != me.id:
                    self.bot.engine.note_peer(message.channel.id, user.id, user.display_name)
            work = self._handle(msg, message)
        # discord.py runs each listener call in a task of its own, so a slow Claude never holds up the
        # gateway: the work is done right here (no second task), and tracked so shutdown can wait for it.
        task = asyncio.current_task()
        if task is None:
            await work
            return
        self._tasks.add(task)
        try:
            await work
        finally:
            self._tasks.discard(task)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Once per process: answer the replies a crash left owed (bot/recovery.py)."""
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
            self._tasks.discard(task)  # type: ignore[arg-type]

    async def _fetch_owed(self, owed: Owed) -> tuple[Incoming, Outlet] | str | None:
        me = self.bot.user
        if me is None:
            raise RuntimeError("not logged in")
        try:
            channel = self.bot.get_channel(owed.channel_id)
            if channel is None:
                channel = await self.bot.fetch_channel(owed.channel_id)
                if not self._my_shard(getattr(channel, "guild", None)):
                    return NOT_MINE
            message = await channel.fetch_message(owed.message_id)  # type: ignore[union-attr]
            if message.guild is not None:  # our reply may be there already (a nonce lasts minutes only)
                async for later in message.channel.history(after=message, limit=50, oldest_first=True):
                    ref = later.reference
                    if later.author.id == me.id and ref is not None and ref.message_id == message.id:
                        return ANSWERED
        except (discord.NotFound, discord.Forbidden):
            return None
        return with_voice_placeholder(to_incoming(message, me), message), DiscordOutlet(message)

    def _my_shard(self, guild: discord.abc.Snowflake | None) -> bool:
        """Whether this process runs the shard a guild (None: DMs, which come on shard 0) is on."""
        shard_ids = getattr(self.bot, "shard_ids", None)
        if not shard_ids:
            return True  # one process runs every shard
        count = self.bot.shard_count or 1
        return ((guild.id >> 22) % count if guild is not None else 0) in shard_ids

    async def _ensemble(self, msg: Incoming, message: discord.Message) -> None:
        ensemble, pool = self.bot.ensemble, self.webhooks
        assert ensemble is not None and pool is not None

        def outlet_for(key: str) -> Outlet:
            return DiscordOutlet(message) if key == ensemble.main.key else WebhookOutlet(pool, message, key)

        try:
            heard = await hear(self.bot, msg, message, DiscordOutlet(message))  # a voice message's words
            if heard is not None:
                await ensemble.handle(heard, outlet_for)
        except Exception:
            log.exception("failed to handle message %s", message.id)

    async def _observe(self, msg: Incoming) -> None:
        try:
            await self.bot.engine.observe(msg)
        except Exception:
            log.exception("failed to log our own message %s", msg.message_id)

    async def _handle(self, msg: Incoming, message: discord.Message) -> None:
        try:
            await answer(self.bot, msg, message, DiscordOutlet(message))  # engine.handle, voice around it
        except Exception:
            log.exception("failed to handle message %s", message.id)

    async def drain(self) -> None:
        """Let in-flight replies finish (used by a graceful shutdown)."""
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Events(bot))
