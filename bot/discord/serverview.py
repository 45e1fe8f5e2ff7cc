"""The Discord side of the server's tools (bot/features/servertools/knowing.py ``ServerView``): a member read
with ``GET /guilds/{guild}/members/{user}`` (no privileged intent needed), the scheduled events with
``GET /guilds/{guild}/scheduled-events`` (Discord leaves out those in channels the bot cannot view) and a
reaction to a message. Built and connected to the tools by the server tools' cog (cogs/info.py) as it
loads."""

from __future__ import annotations

import logging

import discord

from bot.features.servertools.knowing import EventCard, MemberCard

log = logging.getLogger(__name__)
LIVE = (discord.EventStatus.scheduled, discord.EventStatus.active)


class DiscordServerView:
    def __init__(self, bot: discord.Client) -> None:
        self.bot = bot

    async def member(self, guild_id: int, user_id: int) -> MemberCard | None:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None  # not a server of ours
        try:
            member = guild.get_member(user_id) or await guild.fetch_member(user_id)
        except (discord.NotFound, discord.Forbidden):
            return None  # Unknown Member: not in this server
        roles = tuple(r.name for r in reversed(member.roles) if not r.is_default())
        return MemberCard(member.id, member.display_name, member.name, roles, member.joined_at, member.bot)

    async def events(self, guild_id: int) -> list[EventCard]:
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return []
        try:
            events = await guild.fetch_scheduled_events(with_counts=False)
        except discord.HTTPException as exc:
            log.warning("could not read the scheduled events of server %s: %s", guild_id, exc)
            return []
        out = []
        for event in events:
            if event.status not in LIVE:
                continue
            channel = guild.get_channel(event.channel_id) if event.channel_id is not None else None
            where = event.location or (f"#{channel.name}" if channel is not None else "")
            out.append(EventCard(event.name, event.start_time, event.end_time, where, event.description or "",
                                 private=channel is not None and not everyone_sees(channel),
                                 channel_id=event.channel_id))
        return out

    async def react(self, channel_id: int, message_id: int, emoji: str) -> str | None:
        try:
            channel = self.bot.get_partial_messageable(channel_id)
            await channel.get_partial_message(message_id).add_reaction(emoji)
        except discord.HTTPException as exc:
            log.warning("could not react %s to message %s: %s", emoji, message_id, exc)
            return exc.text or "Discord refused it"
        return None


def everyone_sees(channel: discord.abc.GuildChannel) -> bool:
    """Whether @everyone may view the channel (an event held in a private one stays there)."""
    return channel.permissions_for(channel.guild.default_role).view_channel
