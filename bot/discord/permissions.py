"""Who may do what, and where. Admin powers need the right person (ADMIN_USER_IDS or the application owner)
and the right place: a server for admin slash commands, LOG_CHANNEL_ID for log-channel commands. Commands that
make the character speak also need a place where it is active (``/bot activate | deactivate``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

import discord
from discord import app_commands

from bot.core.config import Settings
from bot.core.config.holder import SettingsHolder
from bot.core.i18n import N_
from bot.core.reach import INACTIVE, NOT_ALLOWED, Way, Where
from bot.discord.language import answer_language

if TYPE_CHECKING:
    from bot.runtime.composition import Services

# An interaction as discord.py hands it: to the hooks it calls (a View's or a DynamicItem's callback,
# interaction_check, from_custom_id, an app-command check), typed for any client, so a hook must take any;
# and to the modules bot/discord/client.py imports, which cannot name its Kindred (an import cycle). Its
# client is
# always this bot.
HookInteraction = discord.Interaction[Any]

T = TypeVar("T")  # what an app-command check decorates (a command, or its callback)

class Kindred(Protocol):
    """What the checks read of the bot (client.py's; a protocol, so the bot's own module may use them)."""

    settings: Settings
    settings_holder: SettingsHolder  # what a reload writes into (``settings`` is its current)

    @property
    def services(self) -> Services: ...  # the access gate, the limits, the places among them

    @property
    def application(self) -> discord.AppInfo | None: ...

    async def application_info(self) -> discord.AppInfo: ...


class NotAdmin(app_commands.CheckFailure):
    """Raised by :func:`admin_only`; the error handler answers it with an ephemeral explanation."""

    def __init__(self) -> None:
        super().__init__(N_("Only the bot's admins can use this command."))


class Inactive(app_commands.CheckFailure):
    """The bot is switched off where the command was used; the message is the user's explanation."""

    def __init__(self) -> None:
        super().__init__(INACTIVE)


async def is_admin(bot: Kindred, user: discord.abc.User) -> bool:
    if user.id in bot.settings.admin_ids:
        return True
    app = bot.application
    if app is None:
        try:
            app = await bot.application_info()
        except discord.HTTPException:
            return False
    return owns(app, user.id)


def owns(app: discord.AppInfo, user_id: int) -> bool:
    """Whether ``user_id`` owns the application (see :func:`owner_ids`)."""
    return user_id in owner_ids(app)


def owner_ids(app: discord.AppInfo | None) -> frozenset[int]:
    """Who owns the application: its owner, or, for a team's, the team's owner and its admins who accepted
    (issue 49: developers and read-only members are not bot admins). None (not logged in): nobody. The
    bot's is known from login on and never fetched again: the access gate takes these once."""
    if app is None:
        return frozenset()
    team = app.team
    if team is None:
        return frozenset({app.owner.id}) if app.owner is not None else frozenset()
    ids = {m.id for m in team.members if m.role == discord.TeamMemberRole.admin
           and m.membership_state == discord.TeamMembershipState.accepted}
    if team.owner_id is not None:
        ids.add(team.owner_id)
    return frozenset(ids)


def in_log_channel(bot: Kindred, channel_id: int) -> bool:
    return bool(bot.settings.secrets.log_channel) and channel_id == bot.settings.secrets.log_channel


def admin_only() -> Callable[[T], T]:
    """App-command check: the caller must be a Kindred admin (on top of Discord's default permission)."""

    async def predicate(interaction: HookInteraction) -> bool:
        if await is_admin(interaction.client, interaction.user):
            return True
        raise NotAdmin()

    return app_commands.check(predicate)


def require_server(interaction: HookInteraction) -> None:
    """Raise :class:`~discord.app_commands.NoPrivateMessage` outside a server. Discord hides guild-only
    commands in DMs, but discord.py does not enforce ``guild_only`` for incoming interactions: a client may
    still send one, and it must be refused, not run."""
    if interaction.guild_id is None:
        raise app_commands.NoPrivateMessage()


def in_server() -> Callable[[T], T]:
    """App-command check: the command runs in a server (see :func:`require_server`)."""

    async def predicate(interaction: HookInteraction) -> bool:
        require_server(interaction)
        return True

    return app_commands.check(predicate)


async def require_active(bot: Kindred, interaction: HookInteraction) -> None:
    """Raise :class:`Inactive` when the bot is deactivated where ``interaction`` happens (DMs are always
    on)."""
    if interaction.guild_id is None:
        return
    if not await bot.services.tools.places.is_active(int(interaction.channel_id or 0), interaction.guild_id):
        raise Inactive()


def active_here() -> Callable[[T], T]:
    """App-command check for commands that produce character replies: refused where the bot is deactivated."""

    async def predicate(interaction: HookInteraction) -> bool:
        await require_active(interaction.client, interaction)
        return True

    return app_commands.check(predicate)


class NotAllowed(app_commands.CheckFailure):
    """Who-may-talk refused the caller, or they reached a spending limit; the message says which, in their
    language."""

    def __init__(self, message: str = NOT_ALLOWED) -> None:
        super().__init__(message)


async def require_may_talk(bot: Kindred, interaction: HookInteraction, way: Way = Way.ASK) -> None:
    """Raise :class:`NotAllowed` when the caller may not make the character speak by ``way`` here, by the one
    rule (bot/operator/reach.py): the place active, who may talk to it, what may be spent (said in
    character). A swipe or /reroll (``Way.NEW_ANSWER``) asks the model without a message, so it counts as one
    against the person's messages a minute."""
    user = interaction.user
    roles = [r.id for r in user.roles] if isinstance(user, discord.Member) else []
    where = Where(interaction.guild_id, int(interaction.channel_id or 0))
    refused = await bot.services.reach.refusal(way, user.id, where, roles)
    if refused is not None:  # a limit's said in character, the operator's own line as written
        raise NotAllowed(refused.said(await answer_language(interaction)))


def may_talk(way: Way = Way.ASK) -> Callable[[T], T]:
    """App-command check for commands that make the character speak (see :func:`require_may_talk`)."""

    async def predicate(interaction: HookInteraction) -> bool:
        await require_may_talk(interaction.client, interaction, way)
        return True

    return app_commands.check(predicate)


class NotServerAdmin(app_commands.CheckFailure):
    """Raised by :func:`server_admin_only`; answered with an ephemeral explanation."""

    def __init__(self) -> None:
        super().__init__(N_("Only this server's admins (the Manage Server permission) can use this command."))


async def is_server_admin(bot: Kindred, interaction: HookInteraction) -> bool:
    """Who may change a server's own settings: someone with Manage Server there (Discord's administrators
    have it), or one of the bot's admins."""
    perms = interaction.permissions
    if interaction.guild_id is not None and (perms.manage_guild or perms.administrator):
        return True
    return await is_admin(bot, interaction.user)


def server_admin_only() -> Callable[[T], T]:
    """App-command check: in a server, by one of its admins (see :func:`is_server_admin`)."""

    async def predicate(interaction: HookInteraction) -> bool:
        require_server(interaction)
        if await is_server_admin(interaction.client, interaction):
            return True
        raise NotServerAdmin()

    return app_commands.check(predicate)


# What every reply needs wherever it is said (README "Discord set-up"): reading and talking, with embeds and
# files, in threads too. The invite link asks for these and for what each loaded cog asks for its feature
# (``AsksPermissions``): a cog not loaded is not asked for.
TALKING = discord.Permissions(view_channel=True, send_messages=True, send_messages_in_threads=True,
                              embed_links=True, attach_files=True, read_message_history=True)
INVITE_SCOPES = ("bot", "applications.commands")


@runtime_checkable
class AsksPermissions(Protocol):
    """A cog whose feature uses Discord permissions beyond talking: the invite link asks for them."""

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        """The permissions its feature uses as the settings stand, and why a setting adds some, said beside
        the invite link ("" when none does)."""
        ...


def invite_permissions(cogs: Iterable[object]) -> tuple[discord.Permissions, list[str]]:
    """What the invite link asks for with ``cogs`` loaded (``bot.cogs.values()``): talking, and what each
    of them asks; and the notes of the settings that add some."""
    permissions, notes = TALKING, []
    for cog in cogs:
        if isinstance(cog, AsksPermissions):
            asked, note = cog.permissions_asked()
            permissions = permissions | asked  # a new value: ``|=`` would change TALKING itself
            if note:
                notes.append(note)
    return permissions, notes
