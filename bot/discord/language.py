"""The language Kindred answers an interaction in (a slash command, a button, a menu): the locale the person's
Discord client is set to, which Discord sends with every interaction, when Kindred's lines are translated into
it; else the language the person writes in (their stored writing profile); else English."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord

from bot.core.locales import FALLBACK, language_of_locale

if TYPE_CHECKING:
    from bot.runtime.composition import Services

log = logging.getLogger(__name__)

HookInteraction = discord.Interaction[Any]  # any client's (bot/discord/permissions.py's, which imports this)


def built(client: object) -> Services | None:
    """Kindred's services once start-up built them (None before, and for another client: a test's)."""
    services: Services | None = getattr(client, "built", None)
    return services


def client_language(locale: object) -> str | None:
    """The language of a line for a client of ``locale`` (None: none Kindred speaks). A locale with catalogs
    of its own is named by them (zh-TW: ``zh_Hant``): its lines, the commands they quote, dates and lists
    as its client writes them (Traditional characters)."""
    return language_of_locale(locale)


def locale_language(interaction: HookInteraction) -> str:
    """The interaction's locale's language, or English (no database read: for a line said at once)."""
    return client_language(interaction.locale) or FALLBACK


async def answer_language(interaction: HookInteraction) -> str:
    """The language to answer ``interaction`` in: its locale's, else the person's own, else English."""
    if (code := client_language(interaction.locale)) is not None:
        return code
    services = built(interaction.client)
    if services is None:
        return FALLBACK
    try:
        return await services.memory.written_language(interaction.user.id) or FALLBACK
    except Exception as exc:  # a language is not worth failing the answer over
        log.debug("no writing profile read for user %s: %s", interaction.user.id, exc)
        return FALLBACK
