"""The Discord side of the character's own initiative (bot/alive/service.py's DiscordSide): the text
channels it may speak in, DMs, the server's emotes (from the guild cache), reactions and the custom status.
Made by bot/discord/client.py before the services, which are built with it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import discord

from bot.alive.emotes import Emote, EmoteSet
from bot.alive.initiative import Venue
from bot.core.place import Place
from bot.core.reach import Permit
from bot.discord.outlets import typing_in
from bot.discord.places import place_of
from bot.discord.posting import allowed_mentions_for

log = logging.getLogger(__name__)


class ChannelOutlet:
    """Speaks into a channel or DM on the character's own initiative (no message to reply to). ``nonce``:
    what the posts are (a reminder's): each part goes out with it and its index as Discord's nonce, so the
    same post sent again (a retry, a run after a crash) returns the message already made instead of a
    second one (bot/discord/posting.py). ``reply_to``: a message there the first post replies to (an answer
    to a reaction on it); gone by then, the post goes out without the reply."""

    def __init__(self, channel: discord.abc.Messageable, nonce: str | None = None,
                 reply_to: int | None = None) -> None:
        self.channel = channel
        self.nonce = nonce
        self.reply_to = reply_to
        self.parts = 0  # posted so far

    def typing(self) -> AbstractAsyncContextManager[None]:
        return typing_in(self.channel)

    async def send(self, text: str, *, first: bool) -> int | None:
        allowed = allowed_mentions_for(text)
        extra: dict[str, Any] = {}
        if first and self.reply_to is not None:
            allowed.replied_user = False  # the reply is to its own message: nobody to ping
            extra["reference"] = discord.MessageReference(
                message_id=self.reply_to, channel_id=int(getattr(self.channel, "id", 0)),
                fail_if_not_exists=False)
        if self.nonce is None:
            return (await self.channel.send(text, allowed_mentions=allowed, **extra)).id
        nonce = f"{self.nonce}.{self.parts}"[:25]  # Discord's limit
        sent = await self.channel.send(text, allowed_mentions=allowed, nonce=nonce, **extra)
        self.parts += 1
        return sent.id

    def resume_at(self, part: int) -> None:
        self.parts = part  # the same nonce as that part's first try


class AlivePresence:
    """The Discord side of the character's own initiative (bot/alive/service.py's DiscordSide), made by the
    bot before its services (bot/runtime/composition.py) so that they can be built with it."""

    def __init__(self, bot: discord.Client, *, is_log_channel: Callable[[int], bool]) -> None:
        self.bot = bot
        self.is_log_channel = is_log_channel
        self._emotes: dict[int, tuple[Sequence[discord.Emoji], EmoteSet]] = {}

    async def show_status(self, text: str) -> None:
        """The custom status shown on this process's shards (the cluster's others are told by the alive
        service, bot/alive/service.py)."""
        await self.present(text)

    async def present(self, text: str) -> None:
        if self.bot.ws is None or self.bot.is_closed():
            return  # shown at the next READY
        await self.bot.change_presence(activity=discord.CustomActivity(name=text))

    def places(self) -> Sequence[Venue]:
        """Text channels where the bot may speak (the log channel never counts)."""
        out = []
        for guild in self.bot.guilds:
            me = guild.me
            for channel in guild.text_channels:
                if self.is_log_channel(channel.id):
                    continue
                if me is not None and not channel.permissions_for(me).send_messages:
                    continue
                out.append(Venue(channel.id, guild.id, channel.name, guild.name, channel.is_nsfw()))
        return out

    def outlet_for(self, place: Venue, permit: Permit, *, nonce: str | None = None,
                   reply_to: int | None = None) -> ChannelOutlet:
        if permit.where.channel_id != place.channel_id or permit.user_id is not None and permit.where.is_dm:
            raise ValueError(f"{permit!r} is no leave to speak in channel {place.channel_id}")
        found = self.bot.get_channel(place.channel_id)
        channel = (found if isinstance(found, discord.abc.Messageable)
                   else self.bot.get_partial_messageable(place.channel_id, guild_id=place.guild_id))
        return ChannelOutlet(channel, nonce, reply_to)

    def place_of(self, channel_id: int, guild_id: int | None) -> Place:
        """What the place is (bot/discord/places.py ``place_of``), as the cache knows its channel; one it
        does not know counts as private (``guild_id``: the server the row names; None: a DM)."""
        return place_of(self.bot.get_channel(channel_id), guild_id=guild_id, channel_id=channel_id)

    async def open_dm(self, permit: Permit, *, nonce: str | None = None,
                      reply_to: int | None = None) -> ChannelOutlet | None:
        user_id = permit.user_id
        if user_id is None or not permit.where.is_dm:
            raise ValueError(f"{permit!r} is no leave to open a DM")
        try:
            user = self.bot.get_user(user_id) or await self.bot.fetch_user(user_id)
            return ChannelOutlet(await user.create_dm(), nonce, reply_to)
        except discord.HTTPException as exc:
            log.warning("no DM channel with user %s: %s", user_id, exc)
            return None

    def roles_of(self, guild_id: int, user_id: int) -> Collection[int]:
        """The member's role ids in the server, as the cache knows them (none when it does not)."""
        guild = self.bot.get_guild(guild_id)
        member = guild.get_member(user_id) if guild is not None else None
        return [r.id for r in member.roles] if member is not None else ()

    def emotes_for(self, guild_id: int | None) -> EmoteSet:
        guild = self.bot.get_guild(guild_id) if guild_id else None
        if guild is None:
            return EmoteSet()
        emojis = guild.emojis  # a new tuple whenever they change (GUILD_EMOJIS_UPDATE): compared by identity
        cached = self._emotes.get(guild.id)
        if cached is None or cached[0] is not emojis:
            cached = (emojis, EmoteSet(Emote(e.name, e.id, e.animated) for e in emojis if e.available))
            self._emotes[guild.id] = cached
        return cached[1]

    async def react(self, channel_id: int, message_id: int, emote: Emote | str) -> None:
        emoji: discord.PartialEmoji | str = (
            discord.PartialEmoji(name=emote.name, id=emote.id, animated=emote.animated)
            if isinstance(emote, Emote) else emote)
        try:
            channel = self.bot.get_partial_messageable(channel_id)
            await channel.get_partial_message(message_id).add_reaction(emoji)
        except discord.HTTPException as exc:
            log.warning("could not react to message %s: %s", message_id, exc)
