"""What a place is, derived from what Discord hands: the one function every way of making a reply gets its
place from (bot/core/place.py): a message's channel (a live message, an owed one recovered), an
interaction's (a swipe, /reroll), a voice channel (an utterance), a channel the cache holds for a row of the
database (a reminder, a place task, proactive talk, a correction's answer: bot/discord/presence.py)."""

from __future__ import annotations

from typing import Any

import discord

from bot.core.place import Place


def place_of(source: Any, *, guild_id: int | None = None, channel_id: int = 0) -> Place:
    """The place of ``source``: a discord.py Message, an Interaction, or a channel (a text or voice
    channel, a thread, a DM, a partial one, None when the cache does not hold it). ``guild_id`` and
    ``channel_id``: what is known besides, when the channel is not (a row's). A server place the cache does
    not know counts as private and not age-restricted (the safe side of each); no server: a DM.
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
    return Place(channel_id=channel_id, is_dm=False, guild_id=guild_id, private=private_place(channel),
                 parent_id=parent_id, age_restricted=age_restricted_place(channel), guild_name=guild.name,
                 channel_name=getattr(channel, "name", "") or "",
                 cannot_post=missing_post_permission(channel))


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
