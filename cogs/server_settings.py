"""``/settings show`` and ``/settings set``: a server's own settings (server admins; the global settings stay
the defaults). A separate group from ``/bot`` (cogs/activation.py), which switches the bot on or off by place.

What each key does is bot/features/servertools/settings.py; every change applies to the very next message (the
store's cache of the row is cleared by the change).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import language_named, t
from bot.discord.language import answer_language, locale_language
from bot.discord.permissions import is_server_admin, server_admin_only
from bot.discord.serverlog import server_policy
from bot.discord.ui import tell
from bot.features.servertools.settings import (
    CLEAR_WORDS,
    BadValue,
    ServerSettingsBook,
    everyone_refusal,
    is_set,
    keys,
    language_options,
    parse_value,
    show_declared,
    show_value,
)
from bot.operator.registration import CHANNEL_ID, ROLE_ID

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)


class ServerSettingsCog(commands.Cog, name="ServerSettings"):
    group = app_commands.Group(
        name="settings",
        description="This server's own settings (server admins).",
        guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.server_settings = bot.services.part(ServerSettingsBook)

    @property
    def character(self) -> str:
        return self.bot.services.pipeline.persona.name

    @group.command(name="show", description="This server's settings, and which ones are the defaults.")
    @server_admin_only()
    async def show(self, interaction: Interaction) -> None:
        guild_id = int(interaction.guild_id or 0)
        config = await self.server_settings.get(guild_id, fresh=True)
        policy = await server_policy(self.bot, guild_id)
        language = await answer_language(interaction)
        name = interaction.guild.name if interaction.guild else t(language, "this server")
        title = t(language, "{character}'s settings in {server}", character=self.character, server=name)
        embed = discord.Embed(title=title, colour=discord.Colour.blurple())
        for key, spec in keys().items():
            if spec.declared is None:
                value, own = show_value(key, policy, language), is_set(key, config)
            else:  # a feature's key
                found, own = await self.server_settings.declared(guild_id, spec)
                value = show_declared(spec, found, language)
            origin = t(language, "set here") if own else t(language, "default")
            shown = f"**{value}** ({origin})\n-# {spec.help_in(language)}"
            embed.add_field(name=key, value=shown[:1024])
        embed.set_footer(
            text=t(language, "Change one with /settings set; the value 'default' goes back to the global "
                             "setting.")
        )
        await tell(interaction, embed=embed, allowed_mentions=discord.AllowedMentions.none())

    async def ac_value(
        self, interaction: Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if interaction.guild is None or not await is_server_admin(self.bot, interaction):
            return []
        key = str(getattr(interaction.namespace, "key", "") or "")
        spec = keys().get(key)
        typed = current.casefold()
        if key == "language":  # each by its own name, found by its name in any language
            options = language_options(current, locale_language(interaction))
        else:
            guild = interaction.guild
            if key == "log_channel" or (spec is not None and spec.kind == CHANNEL_ID.name):
                named = [(f"#{c.name}", str(c.id)) for c in guild.text_channels]
            elif spec is not None and spec.kind == ROLE_ID.name:
                named = [(f"@{r.name}", str(r.id)) for r in guild.roles if not r.is_default()]
            else:
                named = [(c, c) for c in (spec.choices if spec is not None else ())]
            options = [(n, v) for n, v in named if typed in n.casefold()]
        default = t(locale_language(interaction), "default (the global setting)")
        if typed in default.casefold():
            options.append((default, "default"))
        return [app_commands.Choice(name=n, value=v) for n, v in options][:25]

    @group.command(name="set", description="Change one of this server's settings.")
    @app_commands.describe(key="Which setting", value="Its new value ('default' for the global setting)")
    @app_commands.choices(key=[app_commands.Choice(name=k, value=k) for k in keys()])
    @app_commands.autocomplete(value=ac_value)
    @server_admin_only()
    async def set_value(self, interaction: Interaction, key: str, value: str) -> None:
        language = await answer_language(interaction)
        spec = keys().get(key)
        try:
            parsed = parse_value(key, value)
        except BadValue as exc:
            # with what the key takes, so the admin need not look it up in /settings show
            explained = exc.said(language) + (f"\n-# {key}: {spec.help_in(language)}" if spec else "")
            await tell(interaction, explained, allowed_mentions=discord.AllowedMentions.none())
            return
        guild = interaction.guild
        kind = spec.kind if spec is not None else ""
        if kind == ROLE_ID.name and parsed is not None and guild is not None:
            role = guild.get_role(int(parsed))  # type: ignore[call-overload]
            if role is None:
                await tell(interaction, t(language, "{value} is not a role of this server.",
                                          value=value.strip()[:40]),
                           allowed_mentions=discord.AllowedMentions.none())
                return
            if role.is_default():  # a role of this server, but not one a role setting can mean
                await tell(interaction, everyone_refusal(key, language),
                           allowed_mentions=discord.AllowedMentions.none())
                return
        if (key == "log_channel" or kind == CHANNEL_ID.name) and parsed is not None and guild is not None:
            # parsed: the log_channel setting's parser gives a channel id
            channel = guild.get_channel(int(parsed))  # type: ignore[call-overload]
            if not isinstance(channel, discord.TextChannel):
                await tell(interaction, t(language, "{value} is not a text channel of this server.",
                                          value=value.strip()[:40]))
                return
            if not channel.permissions_for(guild.me).send_messages:
                await tell(interaction, t(language, "I can't post in {channel}; give me Send Messages there "
                                                    "first.", channel=channel.mention))
                return
        check = spec.declared.check if spec is not None and spec.declared is not None else None
        if check is not None and parsed is not None and guild is not None:
            refused = await check(guild, parsed, language)  # the feature's own (its commands ask the same)
            if refused is not None:
                await tell(interaction, refused, allowed_mentions=discord.AllowedMentions.none())
                return
        guild_id = int(interaction.guild_id or 0)
        await self.server_settings.set(guild_id, key, parsed)
        policy = await server_policy(self.bot, guild_id)
        log.info("server %s: %s set to %r by %s", guild_id, key, parsed, interaction.user.id)
        if spec is not None and spec.declared is not None:
            shown = show_declared(spec, (await self.server_settings.declared(guild_id, spec))[0], language)
        else:
            shown = show_value(key, policy, language)
        # a language the character writes in, but Kindred's own lines are not translated into: say so
        untranslated = (key == "language" and isinstance(parsed, str) and language_named(parsed) is None)
        note = ("\n-# " + t(language, "My own lines here (tickets, polls, notices) stay in English: they "
                                      "are not translated into {language}.", language=shown)
                if untranslated else "")
        await tell(
            interaction,
            (t(language, "*{character} makes a note.* Here, {key} is now **{value}** (the global default).",
               character=self.character, key=key, value=shown) if value.strip().lower() in CLEAR_WORDS
             else t(language, "*{character} makes a note.* Here, {key} is now **{value}**.",
                    character=self.character, key=key, value=shown)) + note,
            allowed_mentions=discord.AllowedMentions.none(),
        )


async def setup(bot: Kindred) -> None:
    await bot.add_cog(ServerSettingsCog(bot))
