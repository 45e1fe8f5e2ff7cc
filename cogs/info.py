"""``/userinfo`` and ``/serverinfo``: what Discord and the character know of a member, and of the server, in
the language of the person who asks (their client's locale), its numbers as that language writes them.
As it loads, the cog connects what a reply's server tools read of Discord (bot/discord/serverview.py) to
them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import t, tn
from bot.core.numbers import number
from bot.discord.language import answer_language
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
        language = await answer_language(interaction)
        target = member or interaction.user
        if not isinstance(target, discord.Member):
            await tell(interaction, t(language, "{name} is not a member of this server.",
                                      name=target.display_name))
            return
        embed = discord.Embed(
            title=target.display_name,
            colour=target.colour or INFO_COLOR,
            description=f"{target.mention} · `{target.id}`"
            + (" · " + t(language, "bot") if target.bot else ""),
        )
        embed.set_thumbnail(url=target.display_avatar.url)
        embed.add_field(name=t(language, "Account created"), value=stamp(target.created_at))
        embed.add_field(name=t(language, "Joined this server"),
                        value=stamp(target.joined_at) if target.joined_at else t(language, "unknown"))
        roles = [r.mention for r in reversed(target.roles) if not r.is_default()]
        embed.add_field(
            name=t(language, "Roles ({count})", count=number(len(roles), language)),
            inline=False,
            value=(" ".join(roles[:20]) + (" …" if len(roles) > 20 else "") if roles
                   else t(language, "no roles")),
        )
        embed.add_field(name=t(language, "Boosting"),
                        value=t(language, "since {date}", date=stamp(target.premium_since))
                        if target.premium_since else t(language, "not boosting"))
        if target.is_timed_out() and target.timed_out_until:
            embed.add_field(name=t(language, "Timed out"),
                            value=t(language, "until {date}", date=stamp(target.timed_out_until)))
        known = await self.members.known(target.id)
        days = known_since(known, utcnow()) if known is not None else 0
        embed.add_field(
            name=t(language, "Known to {character}", character=self.character),
            inline=False,
            value=(
                tn(language, "since {date} ({count} day)", "since {date} ({count} days)", days,
                   date=stamp(known.first_seen), count=number(days, language))
                if known is not None
                else t(language, "not yet: we haven't talked")
            ),
        )
        if known is not None and await is_admin(self.bot, interaction.user):
            rel = await self.members.relationship(self.bot.services.pipeline.character_key, target.id)
            embed.add_field(
                name=t(language, "Relationship (admins only)"),
                inline=False,
                value=t(language, "anger {anger}/10 · rapport {rapport}/10 · trust {trust}/10 · "
                                  "formality {formality}",
                        anger=number(rel.anger, language), rapport=number(rel.rapport, language),
                        trust=number(rel.trust, language),
                        formality=number(rel.formality, language, signed=True)),
            )
        await tell(interaction, embed=embed)

    @app_commands.command(
        name="serverinfo", description="About this server: created, members, roles, boosts."
    )
    @app_commands.guild_only()
    async def serverinfo(self, interaction: Interaction) -> None:
        require_server(interaction)
        language = await answer_language(interaction)
        guild = interaction.guild
        if guild is None:
            await tell(interaction, t(language, "I can't see this server right now; try again in a moment."))
            return
        embed = discord.Embed(title=guild.name, colour=INFO_COLOR, description=f"`{guild.id}`")
        if guild.icon is not None:
            embed.set_thumbnail(url=guild.icon.url)
        embed.add_field(name=t(language, "Owner"), value=f"<@{guild.owner_id}>")
        embed.add_field(name=t(language, "Created"), value=stamp(guild.created_at))
        cached = guild.members
        bots = sum(1 for m in cached if m.bot)
        total = guild.member_count or len(cached)
        members = number(total, language)
        if len(cached) >= total:  # who is a bot is known only when every member is cached
            members = t(language, "{total} ({people}, {bots})", total=members,
                        people=tn(language, "{count} person", "{count} people", total - bots,
                                  count=number(total - bots, language)),
                        bots=tn(language, "{count} bot", "{count} bots", bots, count=number(bots, language)))
        embed.add_field(name=t(language, "Members"), value=members)
        embed.add_field(name=t(language, "Roles"), value=number(len(guild.roles) - 1, language))
        text, voice = len(guild.text_channels), len(guild.voice_channels)
        embed.add_field(
            name=t(language, "Channels"),
            value=tn(language, "{count} text channel", "{count} text channels", text,
                     count=number(text, language))
            + " · " + tn(language, "{count} voice channel", "{count} voice channels", voice,
                         count=number(voice, language)),
        )
        boosts = guild.premium_subscription_count or 0
        embed.add_field(name=t(language, "Boosts"),
                        value=t(language, "{count} (tier {tier})", count=number(boosts, language),
                                tier=number(guild.premium_tier, language)))
        await tell(interaction, embed=embed, allowed_mentions=discord.AllowedMentions.none())


def stamp(moment: datetime) -> str:
    """A Discord timestamp: shown in each reader's own time zone, with "x days ago"."""
    seconds = int(moment.timestamp())
    return f"<t:{seconds}:D> (<t:{seconds}:R>)"


async def setup(bot: Kindred) -> None:
    await bot.add_cog(Info(bot))
