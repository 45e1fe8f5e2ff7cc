"""Panels: what the bot shows as a panel rather than says (/status, /reminders), laid out with Discord's
Components V2 (a :class:`discord.ui.LayoutView`: one container holding a title, a separator and one text
display per named figure, or per list without a name). Replies stay plain text like a person's; only panels
use this.

A V2 message carries no ``content`` and no ``embeds`` (discord.py sets the flag from the view), at most 40
components counting nested ones and at most 4,000 characters of text in all. :func:`panel` keeps within
those: figures past the component budget are left out, and values are clipped to what text is left, so a
panel is never refused for its size.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence

import discord
from discord import ui

from bot.core.i18n import t
from bot.core.text import Page, clip, page_of
from bot.discord.language import answer_language
from bot.discord.permissions import HookInteraction
from bot.discord.ui import APOLOGY, EXPIRED_TEXT, NOTHING, PREFIX, keep_live, owner_pressed, tell

log = logging.getLogger(__name__)

MAX_COMPONENTS = 40  # in one V2 message, nested ones counted
MAX_TEXT = 4000  # characters across all of a V2 message's text displays
_FRAME = 3  # the container, the title and the separator under it


def _fit(value: str, room: int) -> str:
    """``value`` within ``room`` characters: whole lines while they fit (a list stays a list of whole
    entries); a first line longer than the room is cut with an ellipsis."""
    if len(value) <= room:
        return value
    kept: list[str] = []
    used = 0
    for line in value.splitlines():
        cost = len(line) + (1 if kept else 0)
        if used + cost > room:
            if not kept:
                kept.append(clip(line, room))
            break
        kept.append(line)
        used += cost
    return "\n".join(kept)


def panel(title: str, fields: Sequence[tuple[str, str]], *,
          accent: discord.Colour | None = None) -> ui.LayoutView:
    """A panel of ``fields`` (name, value) under ``title``, within Components V2's limits."""
    heading = f"### {clip(title, 200)}"
    budget = MAX_TEXT - len(heading)
    displays: list[ui.TextDisplay[ui.LayoutView]] = []
    for name, value in fields[:MAX_COMPONENTS - _FRAME]:
        label = f"**{clip(name, 200)}**\n" if name else ""  # a nameless figure is its value alone
        room = budget - len(label)
        if room < 2:  # no room for a value worth showing: the rest stays out
            break
        text = label + _fit(value, room)
        budget -= len(text)
        displays.append(ui.TextDisplay(text))
    view = ui.LayoutView(timeout=None)
    view.add_item(ui.Container(ui.TextDisplay(heading), ui.Separator(), *displays, accent_colour=accent))
    return view


async def show_panel(interaction: HookInteraction, view: ui.LayoutView,
                     files: Sequence[discord.File] = ()) -> None:
    """Answer with ``view`` ephemerally, whether or not the interaction was already responded to (no text
    beside it: a V2 message has none). ``files``: attachments the view shows through its file or media
    components (a V2 message shows them no other way)."""
    if interaction.response.is_done() and files:
        await interaction.followup.send(view=view, ephemeral=True, files=list(files))
    elif interaction.response.is_done():
        await interaction.followup.send(view=view, ephemeral=True)
    elif files:
        await interaction.response.send_message(view=view, ephemeral=True, files=list(files))
    else:
        await interaction.response.send_message(view=view, ephemeral=True)


class PagedPanel(ui.LayoutView):
    """Lines shown ``size`` per page under a heading, in a panel with Previous / Next buttons that only the
    person who ran the command may press (the V2 form of bot/discord/ui.py's PagedView: /memory list). On
    timeout the buttons are disabled and the panel says so. Its own words are in ``language``, the owner's
    (bot/discord/language.py's ``answer_language``, found by the command that makes the panel): theirs alone
    to read."""

    def __init__(self, origin: HookInteraction, lines: Sequence[str], heading: Callable[[Page], str], *,
                 size: int, timeout: float | None, language: str) -> None:
        super().__init__(timeout=timeout)
        self.owner_id = origin.user.id
        self.last_interaction = origin  # the owner's newest interaction here: its token can edit the message
        self.lines = list(lines)
        self.heading = heading
        self.page = page_of(len(self.lines), 0, size)
        self.token = secrets.token_hex(6)
        self.language = language
        self.prev_button: ui.Button[PagedPanel] = self._button(t(language, "◀ Previous"), "prev", -1)
        self.next_button: ui.Button[PagedPanel] = self._button(t(language, "Next ▶"), "next", +1)
        self.note = ""
        keep_live(self.token, self)
        self.render()

    def _button(self, label: str, action: str, step: int) -> ui.Button[PagedPanel]:
        item: ui.Button[PagedPanel] = ui.Button(label=label, style=discord.ButtonStyle.secondary,
                                                custom_id=f"{PREFIX}{self.token}:{action}")

        async def turn(interaction: HookInteraction) -> None:
            self.page = page_of(self.page.total, self.page.number + step, self.page.size)
            self.render()
            await interaction.response.edit_message(view=self)

        # discord.py's way to give one button its own callback (a method it expects subclasses to override)
        item.callback = turn  # type: ignore[method-assign]
        return item

    def render(self) -> None:
        page = self.page
        shown = "\n".join(self.lines[page.offset:page.offset + page.size]) or t(self.language, NOTHING)
        heading = clip(self.heading(page), 1000)
        self.prev_button.disabled = self.note != "" or not page.has_prev
        self.next_button.disabled = self.note != "" or not page.has_next
        self.clear_items()
        body: list[ui.Item[PagedPanel]] = [ui.TextDisplay(heading), ui.Separator(),
                                           ui.TextDisplay(_fit(shown, MAX_TEXT - len(heading) - 100))]
        if self.note:
            body.append(ui.TextDisplay(f"-# {self.note}"))
        self.add_item(ui.Container(*body, ui.ActionRow(self.prev_button, self.next_button)))

    async def interaction_check(self, interaction: HookInteraction) -> bool:
        if not await owner_pressed(self.owner_id, interaction):
            return False
        self.last_interaction = interaction
        return True

    async def on_timeout(self) -> None:
        self.note = t(self.language, EXPIRED_TEXT)
        self.render()
        try:
            await self.last_interaction.edit_original_response(view=self)
        except discord.HTTPException as exc:  # the message may be gone or its token too old
            log.debug("could not mark panel %s expired: %s", self.token, exc)

    async def on_error(self, interaction: HookInteraction, error: Exception,
                       item: ui.Item[PagedPanel]) -> None:
        log.error("button %s failed", getattr(item, "custom_id", item), exc_info=error)
        try:
            await tell(interaction, t(await answer_language(interaction), APOLOGY))
        except discord.HTTPException:
            log.exception("could not apologise for a failed button")
