"""Where replies go on Discord: the channel a message came from (:class:`DiscordOutlet`, as the bot account),
or a character's own webhook in that channel (:class:`WebhookOutlet`, for the characters of an ensemble,
each webhook made once by :class:`WebhookPool`). Both post under the one mention and nonce policy
(bot/discord/posting.py) and keep the typing indicator running beside the generation (:func:`typing_in`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

import discord

from bot.core.keyed import KeyedLocks
from bot.core.stages import Outlet, ThreadRefused
from bot.discord.posting import SendOptions, allowed_mentions_for, reply_nonce
from bot.reply.ensemble import Ensemble

log = logging.getLogger(__name__)

TYPING_REFRESH_SECONDS = 8.0  # Discord shows "typing" for 10 s after each request
FIRST_TYPING_WAIT = 0.5  # seconds a reply may wait for its typing request to reach Discord


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


def _guild_id(message: discord.Message) -> int | None:
    return message.guild.id if message.guild is not None else None


class Buttons(Protocol):
    """The buttons a reply's whole answer in one message is posted with (a feature's, connected to the
    message flow by its cog: the swipes', cogs/swipes.py)."""

    async def view(self, channel_id: int, guild_id: int | None,
                   parent_id: int | None = None) -> discord.ui.View | None:
        """The buttons of a reply just posted there (``parent_id``: a thread's channel); None where they are
        switched off."""
        ...

    def posted(self, answered: int, message_id: int, text: str, character: str,
               webhook_id: int | None) -> None:
        """Message ``message_id`` (showing ``text``), answering message ``answered``, went out with them."""
        ...


class DiscordOutlet:
    """Speaks into the channel the message came from; the first part of the answer replies to it in servers.
    ``greeting``: it posts the greeting before the answer (:meth:`greeting`); ``buttons``: those a reply's
    whole answer in one message goes out with (None: never)."""

    def __init__(self, message: discord.Message, *, greeting: bool = False,
                 buttons: Buttons | None = None, channel: discord.Thread | None = None) -> None:
        """``channel``: the thread opened from the message, where the answer goes instead (not as a reply:
        the thread starts from the message)."""
        self.message = message
        self.channel: discord.abc.Messageable = channel if channel is not None else message.channel
        self.in_thread = channel is not None
        self.parts = 0
        self.greeting_posts = greeting
        self.buttons = buttons

    def greeting(self) -> DiscordOutlet:
        """The outlet of the greeting posted before the answer: its nonces name the greeting, so the
        answer's own parts keep theirs (a restart between the two re-sends the answer, not the greeting).
        It replies to nothing: in a server the answer is the reply to the message, as a restart looks
        for (cogs/messages.py)."""
        return DiscordOutlet(self.message, greeting=True,
                             channel=self.channel if isinstance(self.channel, discord.Thread) else None)

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.channel)

    def resume_at(self, part: int) -> None:
        """The next part sent is part ``part`` of the reply (a reply resumed after a crash): its nonce is
        that part's, so one that reached Discord unbeknown to us is not posted twice."""
        self.parts = part

    async def send(self, text: str, *, first: bool, whole: bool = False) -> int | None:
        """``whole``: the reply's whole answer in one message, posted with its buttons on."""
        allowed = allowed_mentions_for(text)
        # a re-sent part is the same post (bot/discord/posting.py)
        nonce = reply_nonce(self.message.id, self.parts, greeting=self.greeting_posts)
        self.parts += 1
        buttons = self.buttons if whole and not self.greeting_posts else None
        view = await _buttons_view(buttons, self.channel, self.message)
        buttons = buttons if view is not None else None
        options: SendOptions = {"view": view} if view is not None else {}
        try:
            if first and self.message.guild is not None and not self.greeting_posts and not self.in_thread:
                sent = await self.message.reply(text, mention_author=False, allowed_mentions=allowed,
                                                nonce=nonce, **options)
            else:
                sent = await self.channel.send(text, allowed_mentions=allowed, nonce=nonce, **options)
        except discord.HTTPException as exc:
            why = thread_refusal(self.channel, exc)
            if why is None:
                raise
            log.warning("reply to message %s not posted: thread %s %s", self.message.id,
                        _channel_id(self.channel), why)
            return None
        if buttons is not None:
            buttons.posted(self.message.id, sent.id, text, "", None)
        return sent.id

    async def send_whole(self, text: str) -> int | None:
        return await self.send(text, first=True, whole=True)

    async def edit(self, message_id: int, text: str) -> None:
        """Edit a message of this reply (streamed delivery)."""
        await _partial(self.channel, message_id).edit(content=text,
                                                      allowed_mentions=allowed_mentions_for(text))

    async def edit_whole(self, message_id: int, text: str, *, changed: bool = True) -> None:
        """The last edit of a streamed reply that stayed one message: its whole answer, with its buttons on
        (sparing the edit that would add them after, which Discord's edit rate limit may hold back).
        ``changed``: whether the message shows other words now (if not, and no buttons go on, no edit)."""
        buttons = self.buttons if not self.greeting_posts else None
        view = await _buttons_view(buttons, self.channel, self.message)
        if view is None and not changed:
            return
        await _partial(self.channel, message_id).edit(
            content=text, allowed_mentions=allowed_mentions_for(text),
            view=view if view is not None else discord.utils.MISSING)
        if buttons is not None and view is not None:
            buttons.posted(self.message.id, message_id, text, "", None)

    async def delete(self, message_id: int) -> None:
        await _partial(self.channel, message_id).delete()


def thread_refusal(channel: object, exc: discord.HTTPException) -> str | None:
    """Why Discord turned a post in a thread away, where nothing is to be done but say so once: the thread
    was deleted (10003), or is archived and locked for who may not manage threads (50083). None: another
    error (a thread's or not), raised as any."""
    if not isinstance(channel, discord.Thread):
        return None
    if exc.code == 10003:
        return "was deleted"
    if exc.code == 50083:
        return "is archived and locked (only who may manage threads posts there)"
    return None


def _channel_id(channel: discord.abc.Messageable) -> int:
    # every channel a message is posted in has an id; the Messageable protocol does not declare it
    return int(channel.id)  # type: ignore[attr-defined]


def _where(channel: discord.abc.Messageable, message: discord.Message) -> tuple[int, int | None, int | None]:
    """(channel, server, a thread's channel) of a post, for a feature's per-place switch."""
    parent = channel.parent_id if isinstance(channel, discord.Thread) else None
    return _channel_id(channel), _guild_id(message), parent


async def _buttons_view(buttons: Buttons | None, channel: discord.abc.Messageable,
                        message: discord.Message) -> discord.ui.View | None:
    """The view ``buttons`` give a reply to ``message`` posted in ``channel``; None without buttons, or where
    they are switched off."""
    return await buttons.view(*_where(channel, message)) if buttons is not None else None


def _partial(channel: discord.abc.Messageable, message_id: int) -> discord.PartialMessage:
    # every channel a message arrives in has it; the Messageable protocol does not declare it
    partial: discord.PartialMessage = channel.get_partial_message(message_id)  # type: ignore[attr-defined]
    return partial


def in_thread(channel: object) -> Any:
    """What a webhook's send, edit or delete is given as ``thread`` for a message in ``channel``: the
    thread itself (Discord's ``thread_id``), else nothing."""
    return channel if isinstance(channel, discord.Thread) else discord.utils.MISSING


def webhook_name(key: str) -> str:
    """How Kindred finds its own webhook for a character again after a restart."""
    return f"Kindred {key}"[:80]


class WebhookPool:
    """One webhook per character per channel, created on first use with the character's name and avatar."""

    def __init__(self, me: Callable[[], discord.ClientUser | None], ensemble: Ensemble) -> None:
        self.me = me  # the bot account (known once logged in): its webhooks are the ones it made
        self.ensemble = ensemble
        self._hooks: dict[tuple[int, str], discord.Webhook] = {}
        self._locks: KeyedLocks[int] = KeyedLocks()

    async def get(self, channel: discord.abc.Messageable, key: str) -> discord.Webhook | None:
        """The character's webhook in ``channel`` (a thread's: its channel's, which posts there with
        :func:`in_thread`); None where webhooks cannot be used (DMs, a forum, no permission)."""
        if isinstance(channel, discord.Thread):
            channel = channel.parent  # type: ignore[assignment]
        if not isinstance(channel, discord.TextChannel):
            return None
        cached = self._hooks.get((channel.id, key))
        if cached is not None:
            return cached
        async with self._locks(channel.id):  # never create two for one character
            cached = self._hooks.get((channel.id, key))
            if cached is not None:
                return cached
            me = self.me()
            try:
                name = webhook_name(key)
                found = [w for w in await channel.webhooks()
                         if w.name == name and w.user is not None and me is not None and w.user.id == me.id]
                if found:
                    hook = found[0]
                else:
                    persona = self.ensemble.member(key).pipeline.persona
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

    def __init__(self, pool: WebhookPool, message: discord.Message, key: str,
                 buttons: Buttons | None = None, channel: discord.Thread | None = None) -> None:
        """``channel``: the thread opened from the message (the channel's webhook speaks there)."""
        self.pool = pool
        self.message = message
        self.key = key
        self.buttons = buttons
        self.channel: discord.abc.Messageable = channel if channel is not None else message.channel

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.channel)

    async def send(self, text: str, *, first: bool, whole: bool = False) -> int | None:
        """``whole``: the reply's whole answer in one message, posted with its buttons on (through the
        webhook only: a message the bot account says for the character cannot be edited as it)."""
        allowed = allowed_mentions_for(text)
        persona = self.pool.ensemble.member(self.key).pipeline.persona  # read now: live edits apply
        hook = await self.pool.get(self.channel, self.key)
        if hook is None:  # still say it, marked with who is speaking
            sent = await self.channel.send(f"**{persona.name}:** {text}", allowed_mentions=allowed)
            return sent.id
        buttons = self.buttons if whole else None
        view = await _buttons_view(buttons, self.channel, self.message)
        buttons = buttons if view is not None else None
        # A picture given as a URL (acore_bot's avatar_url) is fetched by Discord, per message.
        sent = await hook.send(text, username=persona.name, wait=True, allowed_mentions=allowed,
                               avatar_url=persona.avatar_url or discord.utils.MISSING,
                               view=view if view is not None else discord.utils.MISSING,
                               thread=in_thread(self.channel))
        if buttons is not None:
            buttons.posted(self.message.id, sent.id, text, self.key, hook.id)
        return sent.id

    async def send_whole(self, text: str) -> int | None:
        return await self.send(text, first=True, whole=True)

    def resume_at(self, part: int) -> None:
        pass  # a webhook's posts carry no nonce

    async def edit(self, message_id: int, text: str) -> None:
        """Edit a message of this reply (streamed delivery), as it was sent: by webhook, or marked."""
        hook = await self.pool.get(self.channel, self.key)
        if hook is None:
            name = self.pool.ensemble.member(self.key).pipeline.persona.name
            await _partial(self.channel, message_id).edit(content=f"**{name}:** {text}",
                                                                  allowed_mentions=allowed_mentions_for(text))
        else:
            await hook.edit_message(message_id, content=text, allowed_mentions=allowed_mentions_for(text),
                                    thread=in_thread(self.channel))

    async def edit_whole(self, message_id: int, text: str, *, changed: bool = True) -> None:
        """The last edit of a streamed reply that stayed one message, with its buttons on (through the
        webhook only, as :meth:`send`); ``changed`` as :meth:`DiscordOutlet.edit_whole`."""
        hook = await self.pool.get(self.channel, self.key)
        buttons = self.buttons if hook is not None else None
        view = await _buttons_view(buttons, self.channel, self.message)
        if hook is None or view is None:
            if changed:
                await self.edit(message_id, text)
            return
        await hook.edit_message(message_id, content=text, allowed_mentions=allowed_mentions_for(text),
                                view=view, thread=in_thread(self.channel))
        if buttons is not None:
            buttons.posted(self.message.id, message_id, text, self.key, hook.id)

    async def delete(self, message_id: int) -> None:
        hook = await self.pool.get(self.channel, self.key)
        if hook is None:
            await _partial(self.channel, message_id).delete()
        else:
            await hook.delete_message(message_id, thread=in_thread(self.channel))




class MessageOutlets:
    """Each character's outlet for answering ``message``: the main one as the bot account, the others of an
    ensemble through their webhooks (in DMs, or without a pool, everyone as the bot account); ``buttons``:
    those a reply's whole answer in one message goes out with; ``thread``: the thread opened from the message,
    where they all speak instead. It may open that thread (bot/core/stages.py ThreadOpener)."""

    def __init__(self, message: discord.Message, pool: WebhookPool | None, main_key: str,
                 buttons: Buttons | None = None, thread: discord.Thread | None = None) -> None:
        self.message = message
        self.pool = pool
        self.main_key = main_key
        self.buttons = buttons
        self.thread = thread

    def __call__(self, key: str, /) -> Outlet:
        if self.pool is None or key == self.main_key or self.message.guild is None:
            return DiscordOutlet(self.message, buttons=self.buttons, channel=self.thread)
        return WebhookOutlet(self.pool, self.message, key, self.buttons, self.thread)

    async def open_thread(self, name: str, *, again: bool = False) -> tuple[int, Callable[[str], Outlet]]:
        """A public thread from the message, archived after the channel's default duration (discord.py sends
        it). Discord's rules, each one line: only a text channel's message opens one; Create Public Threads to
        open it and Send Messages in Threads to speak there; a message has one thread at most; a rate limit is
        waited out by discord.py. ``again``: the one begun before a restart, as the fetched message names
        it (Discord sends a message with the thread started from it)."""
        if again:
            begun = self.message.thread
            if begun is None:
                raise ThreadRefused("the thread begun from the message is gone")
            return begun.id, MessageOutlets(self.message, self.pool, self.main_key, self.buttons, begun)
        channel = self.message.channel
        if self.thread is not None or not isinstance(channel, discord.TextChannel):
            raise ThreadRefused("threads open only from a message of a text channel")
        allowed = channel.permissions_for(channel.guild.me)
        for right, label in (("create_public_threads", "Create Public Threads"),
                             ("send_messages_in_threads", "Send Messages in Threads")):
            if not getattr(allowed, right):
                raise ThreadRefused(f"missing the {label} permission")
        try:
            thread = await self.message.create_thread(name=name,
                                                      reason="Kindred: a conversation goes on here")
        except discord.HTTPException as exc:
            raise ThreadRefused(f"Discord refused it: {exc.status} {exc.code} {exc.text}") from exc
        return thread.id, MessageOutlets(self.message, self.pool, self.main_key, self.buttons, thread)


def outlets_for(message: discord.Message, pool: WebhookPool | None, main_key: str,
                buttons: Buttons | None = None) -> MessageOutlets:
    """Each character's outlet for answering ``message`` (:class:`MessageOutlets`)."""
    return MessageOutlets(message, pool, main_key, buttons)
