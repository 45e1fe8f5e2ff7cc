"""Who may do what. Admin powers need the right person (ADMIN_USER_IDS or the application owner)
and, for log-channel commands, the right place (LOG_CHANNEL_ID)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import discord
from discord import app_commands

if TYPE_CHECKING:
    from bot.client import Kindred

T = TypeVar("T")


class NotAdmin(app_commands.CheckFailure):
    """Raised by :func:`admin_only`; the error handler answers it with an ephemeral explanation."""

    def __init__(self) -> None:
        super().__init__("Only the bot's admins can use this command.")


async def is_admin(bot: Kindred, user: discord.abc.User) -> bool:
    if user.id in bot.settings.admin_ids:
        return True
    app = bot.application
    if app is None:
        try:
            app = await bot.application_info()
        except discord.HTTPException:
            return False
    if app.owner and app.owner.id == user.id:
        return True
    team = getattr(app, "team", None)
    return bool(team and any(m.id == user.id for m in team.members))


def in_log_channel(bot: Kindred, channel_id: int) -> bool:
    return bool(bot.settings.log_channel) and channel_id == bot.settings.log_channel


def admin_only() -> Any:
    """App-command check: the caller must be a Kindred admin (on top of Discord's default permission)."""

    async def predicate(interaction: discord.Interaction[Any]) -> bool:
        if await is_admin(interaction.client, interaction.user):  # type: ignore[arg-type]
            return True
        raise NotAdmin()

    return app_commands.check(predicate)
