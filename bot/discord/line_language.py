"""The language of a line Kindred posts where everyone reads it (a server feature's post in a channel, a poll,
a ticket's opening panel): the place's ``/settings language`` when set, else the language of the person it
answers (their interaction's locale, what they wrote, their writing profile), else English. A line only the
one person sees answers in their own language (bot/discord/language.py ``answer_language``)."""

from __future__ import annotations

import logging

import discord

from bot.core.i18n import language_named, language_of
from bot.core.locales import FALLBACK
from bot.discord.language import HookInteraction, answer_language, built
from bot.features.servertools.settings import ServerSettingsBook

log = logging.getLogger(__name__)


async def place_language(client: object, guild_id: int | None) -> str | None:
    """The server's ``/settings language``, if set and Kindred speaks it (None in DMs and before start-up);
    ``client``: the bot (its services, once built)."""
    services = built(client)
    if services is None or guild_id is None:
        return None
    try:
        config = await services.part(ServerSettingsBook).get(guild_id)  # cached by the store
    except Exception as exc:  # a language is not worth failing the line over
        log.debug("no settings read for server %s: %s", guild_id, exc)
        return None
    return language_named(getattr(config, "language", None))


async def person_language(client: discord.Client, user_id: int | None, *texts: str | None) -> str | None:
    """The language of what a person wrote (``texts``), else of their writing profile."""
    if (code := language_of(*texts)) is not None:
        return code
    services = built(client)
    if services is None or user_id is None:
        return None
    try:
        written: str | None = await services.memory.written_language(user_id)
        return written
    except Exception as exc:
        log.debug("no writing profile read for user %s: %s", user_id, exc)
        return None


async def post_language(client: discord.Client, guild_id: int | None, user_id: int | None = None,
                        *texts: str | None) -> str:
    """A line posted in a channel of ``guild_id`` answering ``user_id``: the place's language, else theirs,
    else English."""
    return (await place_language(client, guild_id) or await person_language(client, user_id, *texts)
            or FALLBACK)


async def shown_language(interaction: HookInteraction) -> str:
    """A line an interaction posts for everyone there: the place's language, else the one who asked's."""
    place = await place_language(interaction.client, interaction.guild_id)
    return place or await answer_language(interaction)
