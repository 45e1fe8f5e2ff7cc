"""Moderation: ``/kick``, ``/ban``, ``/unban``, ``/timeout``, ``/untimeout``, ``/purge``, ``/warn``,
``/warnings``. Every command checks both sides first (bot/features/servertools/moderation.py ``refusal``): the
caller's Discord permission (the command's default permission hides it from others; this runtime check covers
the rest), the bot's own permission, and the role hierarchy. A refusal is one ephemeral line naming the rule.
The reason goes into Discord's audit log; the person may get a short DM notice; every action is written to the
moderation log (database) and posted in the server's log channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.core.durations import BadInput, describe_duration, parse_duration
from bot.core.i18n import N_, sentences, t, tn
from bot.core.text import clip
from bot.discord.language import answer_language
from bot.discord.line_language import person_language, place_language
from bot.discord.permissions import require_server
from bot.discord.serverlog import post_notice
from bot.discord.ui import tell
from bot.features.servertools.moderation import (
    ACTIONS,
    MAX_TIMEOUT,
    PURGE_MAX,
    Candidate,
    Party,
    audit_reason,
    clean_reason,
    confirmation,
    log_line,
    notice,
    plan_purge,
    refusal,
    warning_detail,
)
from database.moderation import Moderation

if TYPE_CHECKING:
    from bot.discord.client import Interaction, Kindred

log = logging.getLogger(__name__)

SCAN_MAX = 1000  # messages looked through for a /purge with a user filter
REASON = "Why (goes into Discord's audit log and the moderation log)"
NOTIFY = "Send them a short DM saying what happened and why (default: yes)"


def party_of(user: discord.abc.User, permissions: discord.Permissions | None = None) -> Party:
    """A person as the rules see them; ``permissions`` overrides what the member's roles give."""
    perms = permissions if permissions is not None else getattr(user, "guild_permissions", None)
    names = frozenset(name for name, on in perms if on) if perms is not None else frozenset()
    top = user.top_role.position if isinstance(user, discord.Member) else -1  # not a member: no hierarchy
    return Party(user.id, user.display_name, top, names)


Detail = Callable[[str], str]  # an action's detail in a language ("2 hours"): the log's, each reader's


def plain(text: str) -> Detail:
    """A detail that is the same in every language."""
    return lambda _language: text


NONE = plain("")


class Refused(Exception):
    """A rule said no; the message is the caller's one line."""


class ModerationCog(commands.Cog, name="Moderation"):
    def __init__(self, bot: Kindred) -> None:
        self.bot = bot
        self.moderation = bot.services.part(Moderation)

    def permissions_asked(self) -> tuple[discord.Permissions, str]:
        return discord.Permissions(kick_members=True, ban_members=True, moderate_members=True,
                                   manage_messages=True), ""  # /kick, /ban, /timeout, /purge

    @property
    def character(self) -> str:
        return self.bot.services.pipeline.persona.name

    # -- the shared steps

    def check(
        self,
        interaction: Interaction,
        action: str,
        target: discord.abc.User | None,
        *,
        member_required: bool,
        language: str = "en",
    ) -> discord.Guild:
        """Raise :class:`Refused` (its line in ``language``) unless every rule allows ``action`` on
        ``target``."""
        require_server(interaction)
        guild = interaction.guild
        if guild is None:
            raise Refused(t(language, "I can't see this server right now; try again in a moment."))
        if member_required and target is not None and not isinstance(target, discord.Member):
            raise Refused(t(language, "{name} is not a member of this server.", name=target.display_name))
        caller = party_of(interaction.user, interaction.permissions)
        bot = party_of(guild.me, interaction.app_permissions)
        text = refusal(
            ACTIONS[action], caller, bot, party_of(target) if target is not None else None, guild.owner_id,
            language,
        )
        if text:
            raise Refused(text)
        return guild

    async def notify(
        self, user: discord.abc.User, action: str, guild: discord.Guild, reason: str, detail: Detail = NONE
    ) -> bool:
        """DM the person a notice, in their language (else the server's); False when their DMs are closed."""
        language = (await person_language(self.bot, user.id) or await place_language(self.bot, guild.id)
                    or "en")
        try:
            # the commands' users and members are all Messageable; the abc.User protocol does not say so
            await user.send(notice(self.character, action, guild.name, reason, detail(language), language))  # type: ignore[attr-defined]
        except discord.HTTPException as exc:
            log.info("could not DM user %s about a %s: %s", user.id, action, exc)
            return False
        return True

    async def record(
        self,
        interaction: Interaction,
        action: str,
        *,
        target: discord.abc.User | None = None,
        reason: str = "",
        detail: Detail = NONE,
        channel_id: int | None = None,
    ) -> None:
        """The moderation log: a database row (its detail in English) and a plain line in the server's log
        channel (in the server's ``/settings language``, else English)."""
        guild_id = int(interaction.guild_id or 0)
        moderator = interaction.user
        await self.moderation.record(
            guild_id,
            action,
            moderator.id,
            target_id=target.id if target else None,
            channel_id=channel_id,
            reason=reason,
            detail=detail("en"),
        )
        log.info(
            "moderation in %s: %s of %s by %s (%s)",
            guild_id,
            action,
            target.id if target else "-",
            moderator.id,
            detail("en"),
        )
        language = await place_language(self.bot, guild_id) or "en"
        await post_notice(
            self.bot,
            guild_id,
            log_line(
                action,
                moderator.display_name,
                moderator.id,
                target=target.display_name if target else "",
                target_id=target.id if target else None,
                reason=reason,
                detail=detail(language),
                channel_id=channel_id,
                language=language,
            ),
        )

    @staticmethod
    def discord_refused(exc: discord.HTTPException, verb: str, language: str = "en") -> str:
        if isinstance(exc, discord.Forbidden):
            return t(language, "Discord refused to let me {verb} them (Missing Permissions: check my role "
                               "and permissions).", verb=t(language, verb))
        if isinstance(exc, discord.NotFound):
            return t(language, "Discord says they are not there any more.")
        return t(language, "Discord refused that: {error}", error=clip(exc.text or str(exc), 150))

    async def run(
        self,
        interaction: Interaction,
        action: str,
        target: discord.abc.User,
        reason: str | None,
        notify: bool,
        *,
        member_required: bool,
        detail: Detail = NONE,
        perform: Callable[[discord.Guild, str], Awaitable[object]],
        dm_first: bool = False,
    ) -> None:
        """Check, (notify,) act, log, confirm: the steps every single-person action shares. The moderator
        reads their answers in their language; the log keeps the detail in English."""
        language = await answer_language(interaction)
        try:
            guild = self.check(interaction, action, target, member_required=member_required,
                               language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        why = clean_reason(reason)
        audit = audit_reason(interaction.user.display_name, interaction.user.id, why)
        closed = t(language, "(their DMs are closed)")
        dm_note = ""
        if notify and dm_first:  # after a kick or ban the bot shares no server with them: DM first
            dm_note = "" if await self.notify(target, action, guild, why, detail) else closed
        try:
            await perform(guild, audit)
        except discord.HTTPException as exc:
            await tell(interaction, self.discord_refused(exc, ACTIONS[action].verb, language))
            return
        if notify and not dm_first:
            dm_note = "" if await self.notify(target, action, guild, why, detail) else closed
        await self.record(interaction, action, target=target, reason=why, detail=detail)
        done = confirmation(self.character, action, target.display_name, detail(language), language)
        await tell(interaction, sentences(done, dm_note))

    # -- commands

    @app_commands.command(name="kick", description="Remove a member from the server (they may rejoin).")
    @app_commands.default_permissions(kick_members=True)
    @app_commands.guild_only()
    @app_commands.describe(member="Who to kick", reason=REASON, notify=NOTIFY)
    async def kick(
        self,
        interaction: Interaction,
        member: discord.User,
        reason: str | None = None,
        notify: bool = True,
    ) -> None:
        async def perform(guild: discord.Guild, audit: str) -> None:
            await guild.kick(member, reason=audit)

        await self.run(
            interaction, "kick", member, reason, notify, member_required=True, perform=perform, dm_first=True
        )

    @app_commands.command(
        name="ban", description="Ban someone from the server, optionally deleting their recent messages."
    )
    @app_commands.default_permissions(ban_members=True)
    @app_commands.guild_only()
    @app_commands.describe(
        user="Who to ban (they need not be in the server)",
        reason=REASON,
        notify=NOTIFY,
        delete_days="Delete their messages from the last 0-7 days (default 0)",
    )
    async def ban(
        self,
        interaction: Interaction,
        user: discord.User,
        reason: str | None = None,
        delete_days: app_commands.Range[int, 0, 7] = 0,
        notify: bool = True,
    ) -> None:
        async def perform(guild: discord.Guild, audit: str) -> None:
            await guild.ban(user, reason=audit, delete_message_seconds=int(delete_days) * 86400)

        def detail(language: str) -> str:
            return tn(language, "messages of the last {count} day deleted",
                      "messages of the last {count} days deleted", int(delete_days)) if delete_days else ""

        await self.run(
            interaction,
            "ban",
            user,
            reason,
            notify and isinstance(user, discord.Member),
            member_required=False,
            detail=detail,
            perform=perform,
            dm_first=True,
        )

    @app_commands.command(name="unban", description="Lift a ban.")
    @app_commands.default_permissions(ban_members=True)
    @app_commands.guild_only()
    @app_commands.describe(user="The banned person's user id (or @mention)", reason=REASON)
    async def unban(
        self, interaction: Interaction, user: str, reason: str | None = None
    ) -> None:
        language = await answer_language(interaction)
        match = re.fullmatch(r"<@!?(\d+)>|(\d{5,25})", user.strip())
        if match is None:
            await tell(interaction, t(language, "{text} is not a user id; paste the banned person's id.",
                                      text=repr(clip(user, 40))))
            return
        uid = int(match.group(1) or match.group(2))
        try:
            guild = self.check(interaction, "unban", None, member_required=False, language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        why = clean_reason(reason)
        try:
            await guild.unban(
                discord.Object(uid),
                reason=audit_reason(interaction.user.display_name, interaction.user.id, why),
            )
        except discord.NotFound:
            await tell(interaction, t(language, "User {id} is not banned here.", id=uid))
            return
        except discord.HTTPException as exc:
            await tell(interaction, self.discord_refused(exc, "unban", language))
            return
        name = t(language, "user {id}", id=uid)
        try:  # a banned person is rarely in the cache any more: ask Discord who they are
            name = (self.bot.get_user(uid) or await self.bot.fetch_user(uid)).display_name
        except discord.HTTPException:
            pass
        await self.moderation.record(
            guild.id, "unban", interaction.user.id, target_id=uid, reason=why
        )
        await post_notice(
            self.bot,
            guild.id,
            log_line(
                "unban",
                interaction.user.display_name,
                interaction.user.id,
                target=name,
                target_id=uid,
                reason=why,
                language=await place_language(self.bot, guild.id) or "en",
            ),
        )
        await tell(interaction, confirmation(self.character, "unban", name, language=language))

    @app_commands.command(name="timeout", description="Time a member out (they can read but not talk).")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    @app_commands.describe(
        member="Who to time out",
        duration="How long: 10m, 2h, 7d ... (at most 28 days)",
        reason=REASON,
        notify=NOTIFY,
    )
    async def timeout(
        self,
        interaction: Interaction,
        member: discord.User,
        duration: str,
        reason: str | None = None,
        notify: bool = True,
    ) -> None:
        try:
            span = parse_duration(duration, maximum=MAX_TIMEOUT, language=await answer_language(interaction))
        except BadInput as exc:
            await tell(interaction, str(exc))
            return

        async def perform(guild: discord.Guild, audit: str) -> None:
            assert isinstance(member, discord.Member)
            await member.timeout(span, reason=audit)

        await self.run(
            interaction,
            "timeout",
            member,
            reason,
            notify,
            member_required=True,
            detail=lambda language: describe_duration(span, language),
            perform=perform,
        )

    @app_commands.command(name="untimeout", description="Lift a member's timeout.")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    @app_commands.describe(member="Whose timeout to lift", reason=REASON, notify=NOTIFY)
    async def untimeout(
        self,
        interaction: Interaction,
        member: discord.User,
        reason: str | None = None,
        notify: bool = True,
    ) -> None:
        language = await answer_language(interaction)
        try:  # the rules first: whether someone is timed out is for moderators to learn
            self.check(interaction, "untimeout", member, member_required=True, language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        if isinstance(member, discord.Member) and not member.is_timed_out():
            await tell(interaction, t(language, "{name} is not timed out.", name=member.display_name))
            return

        async def perform(guild: discord.Guild, audit: str) -> None:
            assert isinstance(member, discord.Member)
            await member.timeout(None, reason=audit)

        await self.run(
            interaction, "untimeout", member, reason, notify, member_required=True, perform=perform
        )

    @app_commands.command(name="warn", description="Give a member a recorded warning.")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    @app_commands.describe(member="Who to warn", reason="What the warning is for", notify=NOTIFY)
    async def warn(
        self, interaction: Interaction, member: discord.User, reason: str, notify: bool = True
    ) -> None:
        language = await answer_language(interaction)
        try:
            guild = self.check(interaction, "warn", member, member_required=True, language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        why = clean_reason(reason)
        if not why:
            await tell(interaction, t(language, "A warning needs a reason."))
            return
        number, total = await self.moderation.warn(guild.id, member.id, interaction.user.id, why)
        logged = await place_language(self.bot, guild.id) or "en"
        dm_note = ""
        if notify and not await self.notify(member, "warn", guild, why):
            dm_note = t(language, "(their DMs are closed)")
        await post_notice(
            self.bot,
            guild.id,
            log_line(
                "warn",
                interaction.user.display_name,
                interaction.user.id,
                target=member.display_name,
                target_id=member.id,
                reason=why,
                detail=warning_detail(number, total, logged),
                language=logged,
            ),
        )
        await tell(interaction, sentences(confirmation(self.character, "warn", member.display_name,
                                                       warning_detail(number, total, language), language),
                                          dm_note))

    @app_commands.command(name="warnings", description="A member's warnings in this server.")
    @app_commands.default_permissions(moderate_members=True)
    @app_commands.guild_only()
    @app_commands.describe(member="Whose warnings to list")
    async def warnings(self, interaction: Interaction, member: discord.User) -> None:
        language = await answer_language(interaction)
        try:
            guild = self.check(interaction, "warnings", None, member_required=False, language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        rows = await self.moderation.warnings(guild.id, member.id)
        if not rows:
            await tell(interaction, t(language, "{name} has no warnings here.", name=member.display_name))
            return
        lines = [
            t(language, "**#{number}** {day} by {moderator}: {reason}", number=w.id,
              day=f"<t:{int(w.created_at.timestamp())}:d>", moderator=f"<@{w.moderator_id}>",
              reason=clip(w.reason, 150))
            for w in rows[-20:]
        ]
        head = (tn(language, "{name} has {count} warning here (newest 20):",
                   "{name} has {count} warnings here (newest 20):", len(rows), name=member.display_name)
                if len(rows) > 20 else
                tn(language, "{name} has {count} warning here:", "{name} has {count} warnings here:",
                   len(rows), name=member.display_name))
        await tell(
            interaction, head + "\n" + "\n".join(lines), allowed_mentions=discord.AllowedMentions.none()
        )

    @app_commands.command(
        name="purge",
        description="Delete recent messages here (only those younger than 14 days, as Discord allows).",
    )
    @app_commands.default_permissions(manage_messages=True)
    @app_commands.guild_only()
    @app_commands.describe(
        count=f"How many messages (1-{PURGE_MAX})", user="Only this person's messages", reason=REASON
    )
    async def purge(
        self,
        interaction: Interaction,
        count: app_commands.Range[int, 1, PURGE_MAX],
        user: discord.User | None = None,
        reason: str | None = None,
    ) -> None:
        language = await answer_language(interaction)
        try:
            self.check(interaction, "purge", None, member_required=False, language=language)
        except Refused as exc:
            await tell(interaction, str(exc))
            return
        channel = interaction.channel
        if not isinstance(channel, discord.TextChannel | discord.Thread | discord.VoiceChannel):
            await tell(interaction, t(language, "I can only purge messages in a text channel or thread."))
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        why = clean_reason(reason)
        now = discord.utils.utcnow()
        candidates: list[Candidate] = []
        scan = SCAN_MAX if user is not None else min(SCAN_MAX, count + 1)
        async for message in channel.history(limit=scan):
            candidates.append(Candidate(message.id, message.author.id, message.created_at))
            if now - message.created_at > timedelta(days=14):
                break  # everything further back is older still: nothing more Discord would let go
        plan = plan_purge(candidates, count, now, author_id=user.id if user is not None else None)
        deleted = 0
        error = ""
        audit = audit_reason(interaction.user.display_name, interaction.user.id, why)
        try:
            for chunk in plan.chunks():
                await channel.delete_messages([discord.Object(i) for i in chunk], reason=audit)
                deleted += len(chunk)
        except discord.HTTPException as exc:
            error = self.discord_refused(exc, N_("delete messages for"), language)
        old = tn(language, "{count} message older than 14 days stayed: Discord doesn't let bots bulk-delete "
                           "messages that old.",
                 "{count} messages older than 14 days stayed: Discord doesn't let bots bulk-delete messages "
                 "that old.", plan.too_old) if plan.too_old else ""
        if not deleted:
            await interaction.edit_original_response(
                content=sentences(error or t(language, "There was nothing here I could delete."), old)
            )
            return

        def detail(language: str) -> str:
            return tn(language, "{count} message", "{count} messages", deleted)

        await self.record(interaction, "purge", target=user, reason=why, detail=detail, channel_id=channel.id)
        await interaction.edit_original_response(
            content=sentences(confirmation(self.character, "purge", "", detail(language), language), old,
                              error)
        )


async def setup(bot: Kindred) -> None:
    await bot.add_cog(ModerationCog(bot))
