"""Admin slash commands: ``/identity``, ``/facts``, ``/memories``, ``/relationship`` and ``/state``.

Every command needs Discord's administrator permission (the groups' default permission) AND to be a Kindred
admin (``admin_user_ids`` or the application owner) AND to be used in a server (both checked here for every
command and autocomplete). All answers are ephemeral. Each change is read by the very next reply, since
prompts are built from the database at every message. The reads and edits themselves are
``bot.services.admin`` (:class:`bot.operator.admin.tools.AdminTools`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.i18n import N_
from bot.core.lines import Line
from bot.discord.language import answer_language
from bot.discord.permissions import HookInteraction, NotAdmin, is_admin, require_server
from bot.discord.ui import send_long
from bot.operator.admin.language import Choice
from bot.operator.conversation_tools import InvalidInput

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

Kind = Literal["trait", "lore", "fact", "quirk"]
USER_HELP = "The user (pick from the list, or paste their id)"


def admin_group(name: str, description: str) -> app_commands.Group:
    return app_commands.Group(
        name=name, description=description, guild_only=True,
        allowed_contexts=app_commands.AppCommandContext(guild=True),
        default_permissions=discord.Permissions(administrator=True), extras={"admin": True})


DEFER_AFTER_SECONDS = 1.5

Choices = list[app_commands.Choice[str | int | float]]  # an autocomplete's answer (discord.py's value types)


class AdminSlash(commands.Cog):
    identity = admin_group("identity", "The character's traits, lore, facts and quirks (admins).")
    facts = admin_group("facts", "Long-term facts about a user (admins).")
    memories = admin_group("memories", "A user's core memories and their archived versions (admins).")
    relationship = admin_group("relationship", "How the character feels about a user (admins).")
    state = admin_group("state", "The bot's global state keys (admins).")

    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.tools = bot.services.admin

    async def interaction_check(self, interaction: HookInteraction) -> bool:
        """Every command of this cog: in a server (the groups are guild-only, but discord.py does not enforce
        that for incoming interactions), and by a Kindred admin (Discord's permission alone is not enough)."""
        require_server(interaction)
        if await is_admin(self.bot, interaction.user):
            return True
        raise NotAdmin()

    async def answer(self, interaction: Interaction,
                     work: Awaitable[str] | Callable[[str], Awaitable[str]]) -> None:
        """Answer with ``work``'s text; a callable is given the admin's language to write it in."""
        language = await answer_language(interaction)
        task = asyncio.ensure_future(work(language) if callable(work) else work)
        deferred = False
        # Discord allows 3 s for the first answer; slow work (e.g. loading the embedding model) defers first.
        done, _ = await asyncio.wait({task}, timeout=DEFER_AFTER_SECONDS)
        if not done:
            await interaction.response.defer(ephemeral=True, thinking=True)
            deferred = True
        try:
            text = await task
        except InvalidInput as exc:  # the catalogs' lines in the admin's language, the rest as written
            text = exc.said(language)
        else:
            name = interaction.command.qualified_name if interaction.command else "?"
            log.info("admin %s used /%s", interaction.user.id, name)
            self.bot.mirror.emit(Line(N_("Admin {name} ({user}) used /{command}"),
                                      name=interaction.user.display_name, user=interaction.user.id,
                                      command=name))
        await send_long(interaction, text, deferred=deferred, language=language)

    # -- autocomplete (admins only: the choices show user names and stored text)

    async def _choices(self, interaction: Interaction,
                       produce: Callable[[], Awaitable[Sequence[Choice]]]) -> Choices:
        if interaction.guild_id is None or not await is_admin(self.bot, interaction.user):
            return []
        try:
            pairs = await produce()
        except Exception:
            log.exception("admin autocomplete failed")
            return []
        return [app_commands.Choice(name=name, value=value) for name, value in pairs]

    @staticmethod
    def _user_option(interaction: Interaction) -> str:
        return str(getattr(interaction.namespace, "user", "") or "")

    async def ac_user(self, interaction: Interaction,
                      current: str) -> Choices:
        language = await answer_language(interaction)  # "unnamed", "[bot]" in the admin's language
        return await self._choices(interaction, lambda: self.tools.users.choices(current, language))

    async def ac_entry(self, interaction: Interaction,
                       current: str) -> Choices:
        language = await answer_language(interaction)  # an entry's kind in the admin's language
        return await self._choices(interaction, lambda: self.tools.identity.choices(str(current), language))

    async def ac_fact(self, interaction: Interaction,
                      current: str) -> Choices:
        user = self._user_option(interaction)
        return await self._choices(interaction, lambda: self.tools.facts.choices(user, str(current)))

    async def ac_memory(self, interaction: Interaction,
                        current: str) -> Choices:
        user, language = self._user_option(interaction), await answer_language(interaction)
        return await self._choices(interaction,
                                   lambda: self.tools.memories.choices(user, str(current), language))

    async def ac_version(self, interaction: Interaction,
                         current: str) -> Choices:
        user, language = self._user_option(interaction), await answer_language(interaction)
        return await self._choices(interaction,
                                   lambda: self.tools.memories.version_choices(user, str(current), language))

    async def ac_key(self, interaction: Interaction,
                     current: str) -> Choices:
        return await self._choices(interaction, lambda: self.tools.state.choices(current))

    # -- /identity

    @identity.command(name="add", description="Add a trait, lore, fact or quirk to the character.")
    @app_commands.describe(kind="What kind of entry", text="The entry, as the character should read it")
    async def identity_add(self, interaction: Interaction, kind: Kind, text: str) -> None:
        await self.answer(interaction, lambda language: self.tools.identity.add(kind, text, language))

    @identity.command(name="list", description="List the character's identity entries with their ids.")
    @app_commands.describe(kind="Only this kind (default: all)")
    async def identity_list(self, interaction: Interaction, kind: Kind | None = None) -> None:
        await self.answer(interaction, lambda language: self.tools.identity.show(kind, language))

    @identity.command(name="edit", description="Rewrite one identity entry.")
    @app_commands.describe(entry="The entry to change", text="Its new text")
    @app_commands.autocomplete(entry=ac_entry)
    async def identity_edit(self, interaction: Interaction, entry: int, text: str) -> None:
        await self.answer(interaction, lambda language: self.tools.identity.edit(entry, text, language))

    @identity.command(name="delete", description="Delete one identity entry.")
    @app_commands.describe(entry="The entry to delete")
    @app_commands.autocomplete(entry=ac_entry)
    async def identity_delete(self, interaction: Interaction, entry: int) -> None:
        await self.answer(interaction, lambda language: self.tools.identity.delete(entry, language))

    # -- /facts

    @facts.command(name="add", description="Add a long-term fact about a user.")
    @app_commands.describe(user=USER_HELP, text="The fact", category="A category (default: general)",
                           pinned="Pinned facts are always kept")
    @app_commands.autocomplete(user=ac_user)
    async def facts_add(self, interaction: Interaction, user: str, text: str,
                        category: str = "general", pinned: bool = False) -> None:
        await self.answer(interaction, lambda language: self.tools.facts.add(user, text, category, pinned,
                                                                             language))

    @facts.command(name="list", description="List the long-term facts about a user.")
    @app_commands.describe(user=USER_HELP)
    @app_commands.autocomplete(user=ac_user)
    async def facts_list(self, interaction: Interaction, user: str) -> None:
        await self.answer(interaction, lambda language: self.tools.facts.show(user, language))

    @facts.command(name="edit", description="Change a fact's text and/or category.")
    @app_commands.describe(user=USER_HELP, fact="The fact to change", text="Its new text",
                           category="Its new category")
    @app_commands.autocomplete(user=ac_user, fact=ac_fact)
    async def facts_edit(self, interaction: Interaction, user: str, fact: int,
                         text: str | None = None, category: str | None = None) -> None:
        await self.answer(interaction, lambda language: self.tools.facts.edit(user, fact, text, category,
                                                                              language))

    @facts.command(name="delete", description="Delete a fact about a user.")
    @app_commands.describe(user=USER_HELP, fact="The fact to delete")
    @app_commands.autocomplete(user=ac_user, fact=ac_fact)
    async def facts_delete(self, interaction: Interaction, user: str, fact: int) -> None:
        await self.answer(interaction, lambda language: self.tools.facts.delete(user, fact, language))

    @facts.command(name="pin", description="Pin (or unpin) a fact about a user.")
    @app_commands.describe(user=USER_HELP, fact="The fact", pinned="True pins (default), false unpins")
    @app_commands.autocomplete(user=ac_user, fact=ac_fact)
    async def facts_pin(self, interaction: Interaction, user: str, fact: int,
                        pinned: bool = True) -> None:
        await self.answer(interaction, lambda language: self.tools.facts.pin(user, fact, pinned, language))

    # -- /memories

    @memories.command(name="list", description="A user's core memories with their ids.")
    @app_commands.describe(user=USER_HELP)
    @app_commands.autocomplete(user=ac_user)
    async def memories_list(self, interaction: Interaction, user: str) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.show(user, language))

    @memories.command(name="add", description="Add a core memory of a user.")
    @app_commands.describe(user=USER_HELP, text="What the character should always remember")
    @app_commands.autocomplete(user=ac_user)
    async def memories_add(self, interaction: Interaction, user: str, text: str) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.add(user, text, language))

    @memories.command(name="edit", description="Rewrite a core memory (the old version is archived).")
    @app_commands.describe(user=USER_HELP, memory="The memory to change", text="Its new text")
    @app_commands.autocomplete(user=ac_user, memory=ac_memory)
    async def memories_edit(self, interaction: Interaction, user: str, memory: int,
                            text: str) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.edit(user, memory, text,
                                                                                  language=language))

    @memories.command(name="delete", description="Delete a core memory (the old version is archived).")
    @app_commands.describe(user=USER_HELP, memory="The memory to delete")
    @app_commands.autocomplete(user=ac_user, memory=ac_memory)
    async def memories_delete(self, interaction: Interaction, user: str, memory: int) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.delete(user, memory, language))

    @memories.command(name="history", description="The archived versions of a user's core memories.")
    @app_commands.describe(user=USER_HELP)
    @app_commands.autocomplete(user=ac_user)
    async def memories_history(self, interaction: Interaction, user: str) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.history(user, language))

    @memories.command(name="restore", description="Bring back an archived version of a user's core memories.")
    @app_commands.describe(user=USER_HELP, version="The archived version to restore")
    @app_commands.autocomplete(user=ac_user, version=ac_version)
    async def memories_restore(self, interaction: Interaction, user: str, version: int) -> None:
        await self.answer(interaction, lambda language: self.tools.memories.restore(user, version, language))

    # -- /relationship

    @relationship.command(name="show", description="The relationship metrics and the tone they give replies.")
    @app_commands.describe(user=USER_HELP)
    @app_commands.autocomplete(user=ac_user)
    async def relationship_show(self, interaction: Interaction, user: str) -> None:
        await self.answer(interaction, lambda language: self.tools.relationship.show(user, language))

    @relationship.command(name="set",
                          description="Set relationship metrics (values outside a range are clamped).")
    @app_commands.describe(user=USER_HELP, anger="0..10", rapport="0..10", trust="0..10", formality="-5..+5")
    @app_commands.autocomplete(user=ac_user)
    async def relationship_set(self, interaction: Interaction, user: str,
                               anger: float | None = None,
                               rapport: float | None = None, trust: float | None = None,
                               formality: float | None = None) -> None:
        await self.answer(interaction, lambda language: self.tools.relationship.set(
            user, language, anger=anger, rapport=rapport, trust=trust, formality=formality))

    @relationship.command(name="reset", description="Forget the relationship (back to no tone guidance).")
    @app_commands.describe(user=USER_HELP)
    @app_commands.autocomplete(user=ac_user)
    async def relationship_reset(self, interaction: Interaction, user: str) -> None:
        await self.answer(interaction, lambda language: self.tools.relationship.reset(user, language))

    # -- /state

    @state.command(name="list", description="Every global state key and its value.")
    async def state_list(self, interaction: Interaction) -> None:
        await self.answer(interaction, lambda language: self.tools.state.show(language))

    @state.command(name="get", description="One global state value.")
    @app_commands.describe(key="The key")
    @app_commands.autocomplete(key=ac_key)
    async def state_get(self, interaction: Interaction, key: str) -> None:
        await self.answer(interaction, lambda language: self.tools.state.get(key, language))

    @state.command(name="set", description="Set a global state value (e.g. daily_mood, verbose).")
    @app_commands.describe(key="The key", value="Its new value")
    @app_commands.autocomplete(key=ac_key)
    async def state_set(self, interaction: Interaction, key: str, value: str) -> None:
        await self.answer(interaction, lambda language: self.tools.state.set(key, value, language))

    @state.command(name="delete", description="Delete a global state key.")
    @app_commands.describe(key="The key")
    @app_commands.autocomplete(key=ac_key)
    async def state_delete(self, interaction: Interaction, key: str) -> None:
        await self.answer(interaction, lambda language: self.tools.state.delete(key, language))


async def setup(bot: Kindred) -> None:
    await bot.add_cog(AdminSlash(bot))
