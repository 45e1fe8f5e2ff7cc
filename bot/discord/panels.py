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

from collections.abc import Sequence

import discord
from discord import ui

from bot.core.text import clip
from bot.discord.permissions import HookInteraction

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


async def show_panel(interaction: HookInteraction, view: ui.LayoutView) -> None:
    """Answer with ``view`` ephemerally, whether or not the interaction was already responded to (no text
    beside it: a V2 message has none)."""
    if interaction.response.is_done():
        await interaction.followup.send(view=view, ephemeral=True)
    else:
        await interaction.response.send_message(view=view, ephemeral=True)
