"""The Discord UI pieces every cog shares: ephemeral answers (:func:`tell`, :func:`send_long`), buttons that
belong to whoever ran the command (:class:`OwnedView`) and pages of lines under them (:class:`PagedView`),
page arithmetic (:func:`page_of`), :func:`clip` for previews, the ``/help`` lines read from the command tree
(:func:`help_lines`), and the two handlers the bot installs itself
(bot/discord/client.py) so they work whatever cogs are loaded: the tree-wide slash-command error handler
(:func:`on_app_command_error`) and the answer to a click on buttons whose view is gone
(:func:`answer_expired_click`).
"""

from __future__ import annotations

import logging
import math
import secrets
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import discord
from discord import app_commands

from bot.core.i18n import N_, listed, t, tn
from bot.core.numbers import number
from bot.core.permission_names import permission_name
from bot.core.text import Page, clip, page_of
from bot.discord.language import answer_language
from bot.discord.permissions import HookInteraction, NotAdmin
from bot.reply.splitting import split_message

log = logging.getLogger(__name__)

# Every button an OwnedView makes has a custom id "kindred-ui:<token>:<action>"; the token names one live
# view, so a click on a button whose view is gone (timed out, restarted bot) can be answered.
PREFIX = "kindred-ui:"
EXPIRED_TEXT = N_("These buttons have expired. Run the command again.")
APOLOGY = N_("Sorry, something went wrong on my side. It has been logged; please try again in a moment.")
NOTHING = N_("(nothing)")  # an answer or a page with nothing to show
NO_PINGS = discord.AllowedMentions.none()
MESSAGE_LIMIT = 2000  # Discord's longest message

# Views with buttons, by token: OwnedView here, and the paged panels (bot/discord/panels.py).
_live_views: weakref.WeakValueDictionary[str, discord.ui.view.BaseView] = weakref.WeakValueDictionary()
Callback = Callable[[HookInteraction], Awaitable[None]]  # a button's


# --------------------------------------------------------------------------- answers


async def tell(interaction: HookInteraction, text: str = "", **kwargs: Any) -> None:
    """Answer ephemerally whether or not the interaction was already responded to."""
    if interaction.response.is_done():
        await interaction.followup.send(text, ephemeral=True, **kwargs)
    else:
        await interaction.response.send_message(text, ephemeral=True, **kwargs)


async def send_long(interaction: HookInteraction, text: str, *, deferred: bool = False,
                    language: str | None = None) -> None:
    """An ephemeral answer, split over follow-ups when longer than one message. After a defer, the first
    part replaces the "thinking…" placeholder. An empty answer says so in ``language`` (the reader's; the
    one :func:`answer_language` finds when not given)."""
    parts = split_message(text, MESSAGE_LIMIT) or [t(language or await answer_language(interaction), NOTHING)]
    for i, part in enumerate(parts):
        if i == 0 and deferred:
            await interaction.edit_original_response(content=part, allowed_mentions=NO_PINGS)
        elif i == 0 and not interaction.response.is_done():
            await interaction.response.send_message(part, ephemeral=True, allowed_mentions=NO_PINGS)
        else:
            await interaction.followup.send(part, ephemeral=True, allowed_mentions=NO_PINGS)


def keep_live(token: str, view: discord.ui.view.BaseView) -> None:
    """Note a view whose buttons answer clicks while it lives (see :func:`answer_expired_click`)."""
    _live_views[token] = view


def confirm_timeout(interaction: HookInteraction) -> float | None:
    """How long confirmation buttons stay usable (``confirm_timeout_seconds``; 0 means no limit)."""
    return float(interaction.client.settings.discord.confirm_timeout_seconds) or None


# --------------------------------------------------------------------------- views


async def owner_pressed(owner_id: int, interaction: HookInteraction) -> bool:
    """Whether the one who ran the command pressed; anyone else is told whose buttons they are."""
    if interaction.user.id == owner_id:
        return True
    await interaction.response.send_message(t(
        await answer_language(interaction),
        "These buttons belong to whoever ran the command; run it yourself to get your own."), ephemeral=True)
    return False


class OwnedView(discord.ui.View):
    """Buttons only their owner may press; on timeout they are disabled and say so."""

    def __init__(self, owner_id: int, origin: HookInteraction, *, timeout: float | None) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = owner_id
        self.token = secrets.token_hex(6)
        self.content = ""
        # The newest interaction of the owner on this message: its token can still edit the message.
        self.last_interaction = origin
        _live_views[self.token] = self

    def cid(self, action: str) -> str:
        return f"{PREFIX}{self.token}:{action}"

    def button(self, label: str, action: str, callback: Callback, *,
               style: discord.ButtonStyle = discord.ButtonStyle.secondary, disabled: bool = False,
               row: int | None = None) -> discord.ui.Button[discord.ui.View]:
        item: discord.ui.Button[discord.ui.View] = discord.ui.Button(
            label=label, style=style, custom_id=self.cid(action), disabled=disabled, row=row)
        # discord.py's way to give one button its own callback (a method it expects subclasses to override)
        item.callback = callback  # type: ignore[method-assign,assignment]
        self.add_item(item)
        return item

    async def interaction_check(self, interaction: HookInteraction) -> bool:
        if not await owner_pressed(self.owner_id, interaction):
            return False
        self.last_interaction = interaction
        return True

    async def on_timeout(self) -> None:
        for item in self.children:
            if isinstance(item, discord.ui.Button | discord.ui.Select):
                item.disabled = True
        try:
            expired = t(await answer_language(self.last_interaction), EXPIRED_TEXT)
            await self.last_interaction.edit_original_response(content=f"{self.content}\n\n-# {expired}",
                                                               view=self)
        except discord.HTTPException as exc:  # the message may be gone or its token too old
            log.debug("could not mark view %s expired: %s", self.token, exc)

    async def on_error(self, interaction: HookInteraction, error: Exception,
                       item: discord.ui.Item[discord.ui.View]) -> None:
        log.error("button %s failed", getattr(item, "custom_id", item), exc_info=error)
        try:
            await tell(interaction, t(await answer_language(interaction), APOLOGY))
        except discord.HTTPException:
            log.exception("could not apologise for a failed button")

    async def finish(self, interaction: HookInteraction, content: str) -> None:
        """Show the outcome and retire the buttons (the interaction was deferred or not yet answered)."""
        self.stop()
        self.content = content
        if interaction.response.is_done():
            await interaction.edit_original_response(content=content, view=None)
        else:
            await interaction.response.edit_message(content=content, view=None)


class PagedView(OwnedView):
    """Lines shown ``size`` per page under a heading, with Previous / Next buttons (in ``language``, the
    owner's: :func:`answer_language`'s, found by the command that makes the view)."""

    def __init__(self, origin: HookInteraction, lines: Sequence[str],
                 heading: Callable[[Page], str], *, size: int, timeout: float | None, language: str) -> None:
        super().__init__(origin.user.id, origin, timeout=timeout)
        self.language = language
        self.lines = list(lines)
        self.heading = heading
        self.page = page_of(len(self.lines), 0, size)
        self.render()

    def render(self) -> None:
        self.clear_items()
        page = self.page
        shown = self.lines[page.offset:page.offset + page.size]
        self.content = self.heading(page) + "\n" + "\n".join(shown)
        self.button(t(self.language, "◀ Previous"), "prev", self.prev, disabled=not page.has_prev)
        self.button(t(self.language, "Next ▶"), "next", self.next, disabled=not page.has_next)

    async def turn(self, interaction: HookInteraction, step: int) -> None:
        self.page = page_of(self.page.total, self.page.number + step, self.page.size)
        self.render()
        await interaction.response.edit_message(content=self.content, view=self)

    async def prev(self, interaction: HookInteraction) -> None:
        await self.turn(interaction, -1)

    async def next(self, interaction: HookInteraction) -> None:
        await self.turn(interaction, +1)


async def answer_expired_click(interaction: HookInteraction) -> None:
    """Answer clicks on our buttons whose view is gone, instead of letting Discord show a failure
    (an ``on_interaction`` listener of the bot)."""
    if interaction.type is not discord.InteractionType.component:
        return
    custom_id = str(dict(interaction.data or {}).get("custom_id", ""))
    if not custom_id.startswith(PREFIX):
        return
    view = _live_views.get(custom_id[len(PREFIX):].split(":", 1)[0])
    if view is not None and not view.is_finished():
        return  # the view itself handles it
    if not interaction.response.is_done():
        try:
            await interaction.response.send_message(t(await answer_language(interaction), EXPIRED_TEXT),
                                                    ephemeral=True)
        except discord.HTTPException as exc:
            log.debug("could not answer an expired button: %s", exc)


# --------------------------------------------------------------------------- /help, from the tree itself


# Any command of the tree: discord.py's Command is generic in its group and its callback's result, which
# differ from command to command.
AnyCommand = app_commands.Command[Any, ..., Any] | app_commands.Group | app_commands.ContextMenu


def is_admin_command(command: AnyCommand) -> bool:
    """Admin commands carry a default permission (set on the top-level command or group) or
    extras["admin"]."""
    node: AnyCommand | None = command
    while node is not None:
        if getattr(node, "extras", {}).get("admin"):
            return True
        if node.default_permissions is not None and node.default_permissions.value:
            return True
        node = getattr(node, "parent", None)
    return False


async def said_as(tree: app_commands.CommandTree[discord.Client], locale: discord.Locale | None,
                  string: app_commands.locale_str | str | None,
                  where: app_commands.TranslationContextLocation, data: Any) -> str:
    """``string`` (a command's name or description) as Discord shows it to a client of ``locale``: the tree's
    own translator's (bot/discord/command_locales.py's commands.po), else the English."""
    if string is None:
        return ""
    if isinstance(string, str):
        string = app_commands.locale_str(string)
    translator = tree.translator
    if translator is None or locale is None:
        return string.message
    # the overloads pair each location with its data's type, which the caller keeps together
    context = app_commands.TranslationContext(where, data)  # type: ignore[call-overload]
    try:
        found = await translator.translate(string, locale, context)
    except Exception as exc:  # a line of /help is not worth failing it over
        log.debug("no translation of %r for %s: %s", string.message, locale, exc)
        found = None
    return found or string.message


async def usage_of(tree: app_commands.CommandTree[discord.Client],
                   command: app_commands.Command[Any, ..., Any], locale: discord.Locale | None = None) -> str:
    """``/name sub <option> [option]`` as a client of ``locale`` types it."""
    Where = app_commands.TranslationContextLocation
    names = []
    node: Any = command
    while node is not None:
        where = Where.command_name if isinstance(node, app_commands.Command) else Where.group_name
        name = getattr(node, "_locale_name", None) or node.name
        names.append(await said_as(tree, locale, name, where, node))
        node = node.parent
    params = []
    for p in command.parameters:
        name = await said_as(tree, locale, p.locale_name or p.display_name, Where.parameter_name, p)
        params.append(f"<{name}>" if p.required else f"[{name}]")
    return "/" + " ".join(reversed(names)) + (" " + " ".join(params) if params else "")


async def help_lines(tree: app_commands.CommandTree[discord.Client], guild: discord.abc.Snowflake | None,
                     locale: discord.Locale | None = None, language: str = "en") -> list[str]:
    """One line per command, from the tree itself (subcommands and context menus included), with the names
    and descriptions a client of ``locale`` sees (the tree's translator's) and the rest in ``language``."""
    Where = app_commands.TranslationContextLocation
    commands_: list[AnyCommand] = list(tree.get_commands())
    if guild is not None:
        commands_ += tree.get_commands(guild=guild)
    lines: list[str] = []
    for top in sorted(commands_, key=lambda c: c.name):
        entries: list[tuple[str, str, AnyCommand]]  # a command, a subcommand or a context menu
        if isinstance(top, app_commands.ContextMenu):
            name = await said_as(tree, locale, getattr(top, "_locale_name", None) or top.name,
                                 Where.command_name, top)
            target = (t(language, "right-click a message") if top.type is discord.AppCommandType.message
                      else t(language, "right-click a user"))
            entries = [(t(language, "Apps ▸ {name}", name=name), target, top)]
        else:
            found = ([c for c in top.walk_commands() if isinstance(c, app_commands.Command)]
                     if isinstance(top, app_commands.Group) else [top])
            entries = [(await usage_of(tree, c, locale),
                        await said_as(tree, locale, getattr(c, "_locale_description", None) or c.description,
                                      Where.command_description, c), c) for c in found]
        for usage, description, command in entries:
            mark = " " + t(language, "*(admin)*") if is_admin_command(command) else ""
            lines.append(f"`{usage}`{mark} — {description}")
    return lines


# --------------------------------------------------------------------------- slash-command errors


def describe_error(error: app_commands.AppCommandError, language: str = "en") -> str | None:
    """The one-line ephemeral explanation for an expected failure, in ``language``; None for an unexpected
    one. A check's own message is translated when it is one of the catalogs' lines (an operator's line, such
    as a limit's, stays as they wrote it)."""
    if isinstance(error, NotAdmin):
        return t(language, str(error))
    if isinstance(error, app_commands.NoPrivateMessage):
        return t(language, "This command only works in a server channel, not in direct messages.")
    if isinstance(error, app_commands.MissingPermissions | app_commands.MissingRole
                  | app_commands.MissingAnyRole):
        return t(language, "You don't have the permissions this command needs.")
    if isinstance(error, app_commands.BotMissingPermissions):
        return t(language, "I am missing permissions here: {permissions}.",
                 permissions=listed(language, [permission_name(p) for p in error.missing_permissions]))
    if isinstance(error, app_commands.CommandOnCooldown):
        wait = max(1, math.ceil(error.retry_after))  # rounded up: a retry at the rounded-down second fails
        return tn(language, "Slow down a little: try again in {seconds} second.",
                  "Slow down a little: try again in {seconds} seconds.", wait, seconds=number(wait, language))
    if isinstance(error, app_commands.TransformerError):
        return t(language, "I couldn't use {value} for that option; check the value and try again.",
                 value=repr(clip(str(error.value), 80)))
    if isinstance(error, app_commands.CheckFailure):
        return t(language, str(error)) if str(error) and "check functions" not in str(error) else \
            t(language, "You can't use this command here.")
    if isinstance(error, app_commands.CommandNotFound):
        return t(language, "I don't know that command any more; Discord may still be updating the command "
                           "list.")
    return None


async def on_app_command_error(interaction: HookInteraction,
                               error: app_commands.AppCommandError) -> None:
    """Tree-wide handler: expected failures get their explanation, anything else an apology and a
    traceback."""
    language = await answer_language(interaction)
    text = describe_error(error, language)
    name = interaction.command.qualified_name if interaction.command else "?"
    if text is None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        log.error("/%s failed for user %s", name, interaction.user.id, exc_info=original)
        text = t(language, APOLOGY)
    else:
        log.info("/%s refused for user %s: %s", name, interaction.user.id, type(error).__name__)
    try:
        await tell(interaction, text)
    except discord.HTTPException:
        log.exception("could not answer /%s's error", name)
