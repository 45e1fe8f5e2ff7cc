"""Moderation rules without Discord: who may act on whom, what a purge may delete, and the words (a
timeout's duration: bot/core/durations.py).

The cog (cogs/moderation.py) turns Discord objects into :class:`Party` values and asks :func:`refusal`
before doing anything; Discord enforces the same rules again on its side (tests/fakes does too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.core.i18n import N_, t, tn

MAX_TIMEOUT = timedelta(days=28)  # Discord's limit for communication_disabled_until
BULK_DELETE_MAX_AGE = timedelta(days=14)  # Discord refuses to bulk-delete older messages (50034)
BULK_DELETE_MARGIN = timedelta(minutes=1)  # a message 13d23h59m old must not turn 14 days on its way
BULK_MAX = 100
PURGE_MAX = 500
REASON_MAX = 400  # Discord's audit-log reason limit is 512 characters


@dataclass(frozen=True)
class Action:
    name: str  # kick, ban, ...
    permission: str  # discord.Permissions attribute
    label: str  # how Discord's settings name that permission
    verb: str  # "kick", "time out" ... (translated as the action's name: see :func:`refusal`)


ACTIONS = {
    a.name: a
    for a in (
        Action("kick", "kick_members", "Kick Members", N_("kick")),
        Action("ban", "ban_members", "Ban Members", N_("ban")),
        Action("unban", "ban_members", "Ban Members", N_("unban")),
        Action("timeout", "moderate_members", "Timeout Members", N_("time out")),
        Action("untimeout", "moderate_members", "Timeout Members", N_("lift the timeout of")),
        Action("purge", "manage_messages", "Manage Messages", N_("delete messages of")),
        Action("warn", "moderate_members", "Timeout Members", N_("warn")),
        Action("warnings", "moderate_members", "Timeout Members", N_("read the warnings of")),
    )
}


@dataclass(frozen=True)
class Party:
    """Someone in a moderation decision: their id, highest role position and permission names."""

    id: int
    name: str = ""
    top_role: int = 0
    permissions: frozenset[str] = frozenset()

    def may(self, permission: str) -> bool:
        return "administrator" in self.permissions or permission in self.permissions


def refusal(
    action: Action, caller: Party, bot: Party, target: Party | None, owner_id: int | None,
    language: str = "en",
) -> str | None:
    """The one line (in ``language``) saying which rule forbids ``action``, or None when every rule allows it.

    Both sides are checked: the caller's permission and the bot's, then (for an action on a member) nobody
    acts on themselves, on the bot, or on the owner, and the target's highest role must be below both the
    caller's (unless the caller owns the server) and the bot's, as Discord's role hierarchy requires.
    The action's verb is translated on its own, so each language's sentences name it as a noun."""
    verb = t(language, action.verb)
    if caller.id != owner_id and not caller.may(action.permission):
        return t(language, "You need the {permission} permission to {verb} people here.",
                 permission=action.label, verb=verb)
    if not bot.may(action.permission):
        return t(language, "I need the {permission} permission here to {verb} people.",
                 permission=action.label, verb=verb)
    if target is None:
        return None
    if target.id == caller.id:
        return t(language, "You can't {verb} yourself.", verb=verb)
    if target.id == bot.id:
        return t(language, "I won't {verb} myself.", verb=verb)
    if target.id == owner_id:
        return t(language, "Nobody can {verb} the server owner.", verb=verb)
    if caller.id != owner_id and target.top_role >= caller.top_role:
        if target.name:
            return t(language, "{who}'s highest role is at or above yours, so you can't {verb} them.",
                     who=target.name, verb=verb)
        return t(language, "Their highest role is at or above yours, so you can't {verb} them.", verb=verb)
    if target.top_role >= bot.top_role:
        if target.name:
            return t(language, "{who}'s highest role is at or above mine, so I can't {verb} them.",
                     who=target.name, verb=verb)
        return t(language, "Their highest role is at or above mine, so I can't {verb} them.", verb=verb)
    if action.name == "timeout" and "administrator" in target.permissions:
        if target.name:
            return t(language, "Discord doesn't let anyone time out an administrator like {who}.",
                     who=target.name)
        return t(language, "Discord doesn't let anyone time out an administrator.")
    return None


@dataclass(frozen=True)
class Candidate:
    id: int
    author_id: int
    created_at: datetime


@dataclass(frozen=True)
class PurgePlan:
    ids: list[int]  # newest first, all young enough for a bulk delete
    too_old: int  # matching messages left alone because they are 14 days old or older

    def chunks(self) -> list[list[int]]:
        return [self.ids[i : i + BULK_MAX] for i in range(0, len(self.ids), BULK_MAX)]


def plan_purge(
    messages: Sequence[Candidate],
    count: int,
    now: datetime,
    *,
    author_id: int | None = None,
    skip: frozenset[int] = frozenset(),
) -> PurgePlan:
    """The newest ``count`` messages (of ``author_id`` when given) that Discord lets a bot bulk-delete.

    ``messages`` come newest first; older than 14 days (less a margin) they are counted, never deleted."""
    limit = now - BULK_DELETE_MAX_AGE + BULK_DELETE_MARGIN
    ids: list[int] = []
    too_old = 0
    for message in messages:
        if len(ids) + too_old >= count:
            break
        if message.id in skip or (author_id is not None and message.author_id != author_id):
            continue
        if message.created_at <= limit:
            too_old += 1
        else:
            ids.append(message.id)
    return PurgePlan(ids, too_old)


def clean_reason(reason: str | None) -> str:
    return " ".join((reason or "").split())[:REASON_MAX]


def audit_reason(moderator: str, moderator_id: int, reason: str) -> str:
    """What goes into Discord's audit log (X-Audit-Log-Reason): who asked, through the bot, and why (English:
    the audit log is the server's record, read by its staff in Discord's own settings)."""
    return f"{moderator} ({moderator_id}): {reason or 'no reason given'}"[:512]


# -- words: in the character's voice where a person reads them, plain facts in the moderation log

DONE = {
    "kick": N_("*{name} opens the door.* {target} has been kicked."),
    "ban": N_("*{name} bars the door.* {target} has been banned."),
    "unban": N_("*{name} unlocks the door again.* {target} has been unbanned."),
    "timeout": N_("*{name} raises a hand.* {target} is timed out for {detail}."),
    "untimeout": N_("*{name} lowers the hand.* {target} can talk again."),
    "purge": N_("*{name} sweeps up.* {detail} deleted."),
    "warn": N_("*{name} makes a note.* {target} has been warned ({detail})."),
}

NOTICE = {
    "kick": N_("You were kicked from **{guild}**."),
    "ban": N_("You were banned from **{guild}**."),
    "timeout": N_("You are timed out in **{guild}** for {detail}."),
    "untimeout": N_("Your timeout in **{guild}** was lifted."),
    "warn": N_("You received a warning in **{guild}**."),
}


def confirmation(character: str, action: str, target: str, detail: str = "", language: str = "en") -> str:
    return t(language, DONE[action], name=character, target=target, detail=detail)


def notice(character: str, action: str, guild: str, reason: str, detail: str = "",
           language: str = "en") -> str:
    """The direct message to the person acted on: short, in the character's voice, with the reason."""
    text = t(language, NOTICE[action], guild=guild, detail=detail)
    if reason:
        return t(language, "{name} here. {notice} Reason: {reason}.", name=character, notice=text,
                 reason=reason)
    return t(language, "{name} here. {notice} Reason: none given.", name=character, notice=text)


def log_line(
    action: str,
    moderator: str,
    moderator_id: int,
    *,
    target: str = "",
    target_id: int | None = None,
    reason: str = "",
    detail: str = "",
    channel_id: int | None = None,
    language: str = "en",
) -> str:
    """One plain line for the server's log channel (its labels in ``language``; the action is the command's
    name)."""
    parts = [f"**{action}**"]
    if target_id is not None:
        parts.append(t(language, "target: {who}", who=f"{target} ({target_id})"))
    parts.append(t(language, "by: {who}", who=f"{moderator} ({moderator_id})"))
    if channel_id is not None:
        parts.append(t(language, "channel: {channel}", channel=f"<#{channel_id}>"))
    if detail:
        parts.append(detail)
    parts.append(t(language, "reason: {reason}", reason=reason) if reason
                 else t(language, "reason: none given"))
    return " · ".join(parts)


def warning_detail(warning_id: int, total: int, language: str = "en") -> str:
    """A warning's number and the person's count ("warning #3, 2 in total")."""
    return tn(language, "warning #{number}, {count} in total", "warning #{number}, {count} in total", total,
              number=warning_id)
