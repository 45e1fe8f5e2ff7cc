"""A registered place switch's command, ``/bot <switch> on|off|default [scope]`` (bot/operator/registration.py
``Switch``): made from the switch alone, so whichever cog holds the group it goes in adds it (``/bot``'s own
cog, cogs/activation.py; a feature's own subgroup, bot/discord/subgroups.py, for one such as ``mcp
private``). Setting it, and switching a place off, tells the features that asked to hear of it
(``Contribution.place_changed``: the voice feature leaves a call where it may no longer be)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from bot.core.i18n import sentences, t
from bot.discord.language import answer_language
from bot.discord.permissions import HookInteraction, Kindred, admin_only, in_server, server_admin_only
from bot.operator.registration import PlaceSwitch, Switch

log = logging.getLogger(__name__)

Scope = Literal["channel", "server"]
OnOff = Literal["on", "off", "default"]


def switch_command(switch: Switch, name: str) -> app_commands.Command[Any, ..., None]:
    """``switch``'s command, called ``name`` in its group: a scope option (this channel, the default, or the
    whole server) unless the switch is set for the whole server only."""
    state_text = switch.state_text or f"on, off, or default ({switch.default_name})"

    async def set_server(interaction: HookInteraction, state: OnOff) -> None:
        await set_switch(interaction, switch, state, "server")

    async def set_here(interaction: HookInteraction, state: OnOff, scope: Scope = "channel") -> None:
        await set_switch(interaction, switch, state, scope)

    callback: Callable[..., Awaitable[None]]
    if switch.server_wide:
        callback = app_commands.describe(state=state_text)(set_server)
    else:
        callback = app_commands.describe(state=state_text,
                                         scope="This channel (default) or the whole server")(set_here)
    if switch.server_admins:
        callback = server_admin_only()(callback)
    else:
        callback = in_server()(admin_only()(callback))
    return app_commands.Command(name=name, description=switch.description, callback=callback)


def place(interaction: HookInteraction, scope: Scope, language: str | None = None) -> tuple[str, int, str]:
    """(place type, place id, how to name it in ``language``) for the database and the answer."""
    if scope == "server":
        guild = interaction.guild
        return ("guild", int(interaction.guild_id or 0),
                t(language, "the server {name}", name=guild.name) if guild else t(language, "this server"))
    channel = interaction.channel
    name = getattr(channel, "mention", None) or t(language, "this channel")
    return "channel", int(interaction.channel_id or 0), name


def on_off(language: str | None, on: bool) -> str:
    return t(language, "on") if on else t(language, "off")


async def place_changed(bot: Kindred, guild_id: int | None) -> None:
    """A place of the server was switched off, or a switch changed there: every feature that asked is told
    (once the admin is answered: what it does may take a while)."""
    if guild_id is None:
        return
    for changed in bot.services.place_changed:
        try:
            await changed(guild_id)
        except Exception:  # one feature's failure must not keep the others from hearing of it
            log.exception("a feature failed on a place change in server %s", guild_id)


async def set_switch(interaction: HookInteraction, switch: Switch, state: OnOff, scope: Scope) -> None:
    bot: Kindred = interaction.client
    places = bot.services.tools.places
    language = await answer_language(interaction)
    place_type, place_id, name = place(interaction, scope, language)
    wanted = None if state == "default" else state == "on"
    await places.set_switch(switch.name, place_type, place_id, wanted)
    read = PlaceSwitch(switch, places, bot.settings_holder)  # as the feature's own code reads it
    default, default_key = read.default, switch.default_name
    channel = interaction.channel
    parent_id = channel.parent_id if isinstance(channel, discord.Thread) else None
    effective = await read.at(int(interaction.channel_id or 0), interaction.guild_id, parent_id=parent_id)
    log.info("admin %s set %s %s for %s %s", interaction.user.id, switch.name, state, place_type, place_id)
    title = switch.name.replace("_", " ").capitalize()  # the switch's own name, as its command spells it
    head = (t(language, "{switch} for {place}: back to the default ({state}, {setting}).", switch=title,
              place=name, state=on_off(language, default), setting=default_key)
            if state == "default" else
            t(language, "{switch} is **{state}** for {place}.", switch=title,
              state=on_off(language, state == "on"), place=name))
    now = (t(language, "Here it is now **{state}**: {what}.", state=on_off(language, True),
             what=t(language, switch.what)) if effective
           else t(language, "Here it is now **{state}**: not here.", state=on_off(language, False)))
    wins = t(language, "A channel setting wins over its server's.")
    await interaction.response.send_message(sentences(head, now, wins), ephemeral=True)
    await place_changed(bot, interaction.guild_id)
