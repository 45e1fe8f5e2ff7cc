"""What a place is, derived from what Discord hands: the one function every way of making a reply gets its
place from (bot/core/place.py): a message's channel (a live message, an owed one recovered), an
interaction's (a swipe, /reroll), a voice channel (an utterance), a channel the cache holds for a row of the
database (a reminder, a place task, proactive talk, a correction's answer: bot/discord/presence.py)."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.place import Place


def place_of(source: Any, *, guild_id: int | None = None, channel_id: int = 0,
             known: KnownPlaces | None = None) -> Place:
    """The place of ``source``: a discord.py Message, an Interaction, or a channel (a text or voice
    channel, a thread, a DM, a partial one, None when the cache does not hold it). ``guild_id`` and
    ``channel_id``: what is known besides, when the channel is not (a row's). A server place the cache does
    not know counts as private and not age-restricted (the safe side of each); no server: a DM.
    ``known``: the facts of server places derived already (a message's, the hot path: :class:`KnownPlaces`).
    (Any: whatever discord.py hands, read by duck typing.)"""
    channel: Any = source
    if isinstance(source, discord.Message):
        channel = source.channel
        guild_id = source.guild.id if source.guild is not None else guild_id
    elif isinstance(source, discord.Interaction):
        channel = source.channel
        guild_id = source.guild_id if source.guild_id is not None else guild_id
        channel_id = source.channel_id or channel_id
    channel_id = int(getattr(channel, "id", 0) or channel_id)
    guild = getattr(channel, "guild", None)
    if guild is not None:
        guild_id = guild.id
    elif guild_id is None:
        guild_id = getattr(channel, "guild_id", None)
    if guild_id is None:
        return Place.dm(channel_id)
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    if guild is None:  # a server place the cache does not hold
        return Place(channel_id=channel_id, is_dm=False, guild_id=guild_id, private=True, parent_id=parent_id,
                     age_restricted=False, channel_name=getattr(channel, "name", "") or "")
    private, age_restricted, cannot_post = (known.facts(channel) if known is not None
                                            else server_facts(channel))
    return Place(channel_id=channel_id, is_dm=False, guild_id=guild_id, private=private,
                 parent_id=parent_id, age_restricted=age_restricted, guild_name=guild.name,
                 channel_name=getattr(channel, "name", "") or "", cannot_post=cannot_post)


Facts = tuple[bool, bool, str]  # private, age-restricted, the permission the bot lacks to post ("": none)

# The gateway events after which a server place's facts may differ: a channel's or a thread's overwrites,
# flags or parent, a role's permissions or position, the bot's own roles or timeout (its member), a server's
# owner; and a (re)connection, which rebuilds discord.py's cache. A member's update is another member's
# unless it is the bot's (see :meth:`KnownPlaces.told`).
PLACE_EVENTS = frozenset({
    "guild_channel_create", "guild_channel_update", "guild_channel_delete",
    "thread_create", "thread_update", "thread_delete", "raw_thread_update", "raw_thread_delete",
    "guild_role_create", "guild_role_update", "guild_role_delete", "member_update",
    "guild_update", "guild_join", "guild_remove", "guild_available", "guild_unavailable",
    "connect", "shard_connect", "ready", "shard_ready", "resumed", "shard_resumed",
})


class KnownPlaces:
    """The facts of each server place a message came from, derived once (two permission computations: what
    @everyone may see, what the bot may post) and kept until a gateway event says something they are derived
    from may have changed: then all are forgotten, so the next message derives its place afresh. The bot's
    dispatch tells it each event (:meth:`told`) before any listener runs, after discord.py's cache has
    applied it."""

    LIMIT = 100_000  # places kept at most (a bot in many servers): past it, all are forgotten

    def __init__(self) -> None:
        self._facts: dict[int, Facts] = {}

    def facts(self, channel: Any) -> Facts:
        """(Any: as :func:`private_place`.)"""
        known = self._facts.get(channel.id)
        if known is None:
            if len(self._facts) >= self.LIMIT:
                self._facts.clear()
            known = self._facts[channel.id] = server_facts(channel)
        return known

    def told(self, event: str, args: tuple[Any, ...], own_id: int | None) -> None:
        """A gateway event dispatched (its name, its arguments); ``own_id``: the bot user's id."""
        if event not in PLACE_EVENTS:
            return
        if event == "member_update" and getattr(args[-1], "id", None) != own_id:
            return  # another member's roles change nothing the bot may do, nor what @everyone sees
        self._facts.clear()


def server_facts(channel: Any) -> Facts:
    """A server place's facts, derived now. (Any: as :func:`private_place`.)"""
    return private_place(channel), age_restricted_place(channel), missing_post_permission(channel)


def missing_post_permission(channel: Any) -> str:
    """The permission the bot lacks to post in a server place, as Discord's settings name it ("" when it
    may post, or in a DM). (Any: as :func:`private_place`.)"""
    guild = getattr(channel, "guild", None)
    if guild is None or guild.me is None:
        return ""
    try:
        allowed = channel.permissions_for(guild.me)
    except (AttributeError, TypeError):
        return ""  # unknown: the post is tried, as before
    if isinstance(channel, discord.Thread):
        return "" if allowed.send_messages_in_threads else "Send Messages in Threads"
    return "" if allowed.send_messages else "Send Messages"


def age_restricted_place(channel: Any) -> bool:
    """A server channel marked age-restricted (NSFW), or a thread of one (discord.py's ``is_nsfw`` reads
    the parent's flag); a DM never is. (Any: as :func:`private_place`.)"""
    is_nsfw = getattr(channel, "is_nsfw", None)
    return getattr(channel, "guild", None) is not None and callable(is_nsfw) and bool(is_nsfw())


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
