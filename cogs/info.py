"""``/userinfo`` and ``/serverinfo``: what Discord and the character know of a member, and of the server.
As it loads, the cog connects what a reply's server tools read of Discord (bot/discord/serverview.py) to
them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.permissions import is_admin, require_server
from bot.discord.serverview import DiscordServerView
from bot.discord.ui import tell
from bot.features.servertools.knowing import ServerTools
from bot.features.servertools.userinfo import UserInfo, known_since
from database.models import utcnow

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

INFO_COLOR = discord.Colour.blurple()  # a member without a coloured role, and the server's card

class Info(commands.Cog):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.members = bot.services.part(UserInfo)
        self.tools = bot.services.part(ServerTools)

    async def cog_load(self) -> None:
        # what a reply's server tools read of Discord (members, events) and the reactions they add
        self.tools.connect(DiscordServerView(self.bot))

    async def cog_unload(self) -> None:
        self.tools.connect(None)

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        return discord.Permissions(add_reactions=True), ""  # the reply's react tool

    @property
    def character(self) -> str:
        return self.bot.services.pipeline.persona.name

    @app_commands.command(name="userinfo", description="About a member: joined, created, roles, boosts.")
    @app_commands.guild_only()
    @app_commands.describe(member="Who (default: you)")
    async def userinfo(
        self, interaction: Interaction, member: discord.User | None = None
    ) -> None:
        require_server(interaction)
        target = member or interaction.user
        if not isinstance(target, discord.Member):
            await tell(interaction, f"{target.display_name} is not a member of this server.")
            return
        embed = discord.Embed(
            title=target.display_name,
            colour=target.colour or INFO_COLOR,
            description=f"{target.mention} · `{target.id}`" + (" · bot" if target.bot else ""),
        )
        embed.set_thumbnail(url=target.display_avatar.url)
        embed.add_field(name="Account created", value=stamp(target.created_at))
        embed.add_field(
            name="Joined this server", value=stamp(target.joined_at) if target.joined_at else "unknown"
        )
        roles = [r.mention for r in reversed(target.roles) if not r.is_default()]
        embed.add_field(
            name=f"Roles ({len(roles)})",
            inline=False,
            value=" ".join(roles[:20]) + (" …" if len(roles) > 20 else "") if roles else "none",
        )
        embed.add_field(
            name="Boosting", value=f"since {stamp(target.premium_since)}" if target.premium_since else "no"
        )
        if target.is_timed_out() and target.timed_out_until:
            embed.add_field(name="Timed out", value=f"until {stamp(target.timed_out_until)}")
        known = await self.members.known(target.id)
        embed.add_field(
            name=f"Known to {self.character}",
            inline=False,
            value=(
                f"since {stamp(known.first_seen)} ({known_since(known, utcnow())} days)"
                if known is not None
                else "not yet: we haven't talked"
            ),
        )
        if known is not None and await is_admin(self.bot, interaction.user):
            rel = await self.members.relationship(self.bot.services.pipeline.character_key, target.id)
            embed.add_field(
                name="Relationship (admins only)",
                inline=False,
                value=(
                    f"anger {rel.anger:g}/10 · rapport {rel.rapport:g}/10 · trust {rel.trust:g}/10 · "
                    f"formality {rel.formality:+g}"
                ),
            )
        await tell(interaction, embed=embed)

    @app_commands.command(
        name="serverinfo", description="About this server: created, members, roles, boosts."
    )
    @app_commands.guild_only()
    async def serverinfo(self, interaction: Interaction) -> None:
        require_server(interaction)
        guild = interaction.guild
        if guild is None:
            await tell(interaction, "I can't see this server right now; try again in a moment.")
            return
        embed = discord.Embed(title=guild.name, colour=INFO_COLOR, description=f"`{guild.id}`")
        if guild.icon is not None:
            embed.set_thumbnail(url=guild.icon.url)
        embed.add_field(name="Owner", value=f"<@{guild.owner_id}>")
        embed.add_field(name="Created", value=stamp(guild.created_at))
        cached = guild.members
        bots = sum(1 for m in cached if m.bot)
        total = guild.member_count or len(cached)
        embed.add_field(
            name="Members",
            value=f"{total}" + (f" ({total - bots} people, {bots} bots)" if len(cached) >= total else ""),
        )
        embed.add_field(name="Roles", value=str(len(guild.roles) - 1))
        embed.add_field(
            name="Channels", value=f"{len(guild.text_channels)} text · {len(guild.voice_channels)} voice"
        )
        embed.add_field(
            name="Boosts", value=f"{guild.premium_subscription_count or 0} (tier {guild.premium_tier})"
        )
        await tell(interaction, embed=embed, allowed_mentions=discord.AllowedMentions.none())


def stamp(moment: datetime) -> str:
    """A Discord timestamp: shown in each reader's own time zone, with "x days ago"."""
    seconds = int(moment.timestamp())
    return f"<t:{seconds}:D> (<t:{seconds}:R>)"


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Info(bot))
