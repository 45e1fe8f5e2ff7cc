"""Moderation rules without Discord: durations, who may act on whom, what a purge may delete, and the words.

The cog (cogs/moderation.py) turns Discord objects into :class:`Party` values and asks :func:`refusal`
before doing anything; Discord enforces the same rules again on its side (tests/fakes does too).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from database.moderation import Moderation
from database.records import WarningRecord

MAX_TIMEOUT = timedelta(days=28)  # Discord's limit for communication_disabled_until
BULK_DELETE_MAX_AGE = timedelta(days=14)  # Discord refuses to bulk-delete older messages (50034)
BULK_DELETE_MARGIN = timedelta(minutes=1)  # a message 13d23h59m old must not turn 14 days on its way
BULK_MAX = 100
PURGE_MAX = 500
REASON_MAX = 400  # Discord's audit-log reason limit is 512 characters
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
UNIT_NAMES = {"d": "day", "h": "hour", "m": "minute", "s": "second"}
_DURATION = re.compile(r"(\d{1,7})([smhdw])")


class BadInput(ValueError):
    """Input a person typed that cannot be used; the message is the one line they are shown."""


def parse_duration(text: str, *, maximum: timedelta, what: str = "duration") -> timedelta:
    """``10m``, ``2h``, ``7d``, ``1h30m``, ``2w`` (s, m, h, d, w) as a timedelta within ``maximum``."""
    raw = re.sub(r"\s+", "", text.strip().lower())
    if not raw or _DURATION.sub("", raw) != "":
        raise BadInput(
            f"I don't understand the {what} {text.strip()[:40]!r}: use a number and a unit, "
            "like 10m, 2h or 7d."
        )
    seconds = sum(int(n) * UNITS[u] for n, u in _DURATION.findall(raw))
    if seconds <= 0:
        raise BadInput(f"The {what} must be longer than zero.")
    value = timedelta(seconds=seconds)
    if value > maximum:
        raise BadInput(f"The {what} {text.strip()} is too long: at most {describe_duration(maximum)}.")
    return value


def describe_duration(value: timedelta) -> str:
    """``timedelta(hours=2)`` -> "2 hours"; the two largest units at most ("1 day 2 hours")."""
    seconds = int(value.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, UNITS[unit])
        if n:
            parts.append(f"{n} {UNIT_NAMES[unit]}{'s' if n != 1 else ''}")
    return " ".join(parts[:2]) or "0 seconds"


@dataclass(frozen=True)
class Action:
    name: str  # kick, ban, ...
    permission: str  # discord.Permissions attribute
    label: str  # how Discord's settings name that permission
    verb: str  # "kick", "time out" ...


ACTIONS = {
    a.name: a
    for a in (
        Action("kick", "kick_members", "Kick Members", "kick"),
        Action("ban", "ban_members", "Ban Members", "ban"),
        Action("unban", "ban_members", "Ban Members", "unban"),
        Action("timeout", "moderate_members", "Timeout Members", "time out"),
        Action("untimeout", "moderate_members", "Timeout Members", "lift the timeout of"),
        Action("purge", "manage_messages", "Manage Messages", "delete messages of"),
        Action("warn", "moderate_members", "Timeout Members", "warn"),
        Action("warnings", "moderate_members", "Timeout Members", "read the warnings of"),
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
    action: Action, caller: Party, bot: Party, target: Party | None, owner_id: int | None
) -> str | None:
    """The one line saying which rule forbids ``action``, or None when every rule allows it.

    Both sides are checked: the caller's permission and the bot's, then (for an action on a member) nobody
    acts on themselves, on the bot, or on the owner, and the target's highest role must be below both the
    caller's (unless the caller owns the server) and the bot's, as Discord's role hierarchy requires."""
    if caller.id != owner_id and not caller.may(action.permission):
        return f"You need the {action.label} permission to {action.verb} people here."
    if not bot.may(action.permission):
        return f"I need the {action.label} permission here to {action.verb} people."
    if target is None:
        return None
    if target.id == caller.id:
        return f"You can't {action.verb} yourself."
    if target.id == bot.id:
        return f"I won't {action.verb} myself."
    if target.id == owner_id:
        return f"Nobody can {action.verb} the server owner."
    who = target.name or "They"
    if caller.id != owner_id and target.top_role >= caller.top_role:
        return f"{who}'s highest role is at or above yours, so you can't {action.verb} them."
    if target.top_role >= bot.top_role:
        return f"{who}'s highest role is at or above mine, so I can't {action.verb} them."
    if action.name == "timeout" and "administrator" in target.permissions:
        return f"Discord doesn't let anyone time out an administrator like {who}."
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
    """What goes into Discord's audit log (X-Audit-Log-Reason): who asked, through the bot, and why."""
    return f"{moderator} ({moderator_id}): {reason or 'no reason given'}"[:512]


# -- words: in the character's voice where a person reads them, plain facts in the moderation log

DONE = {
    "kick": "*{name} opens the door.* {target} has been kicked.",
    "ban": "*{name} bars the door.* {target} has been banned.",
    "unban": "*{name} unlocks the door again.* {target} has been unbanned.",
    "timeout": "*{name} raises a hand.* {target} is timed out for {detail}.",
    "untimeout": "*{name} lowers the hand.* {target} can talk again.",
    "purge": "*{name} sweeps up.* {detail} deleted.",
    "warn": "*{name} makes a note.* {target} has been warned ({detail}).",
}

NOTICE = {
    "kick": "You were kicked from **{guild}**.",
    "ban": "You were banned from **{guild}**.",
    "timeout": "You are timed out in **{guild}** for {detail}.",
    "untimeout": "Your timeout in **{guild}** was lifted.",
    "warn": "You received a warning in **{guild}**.",
}


def confirmation(character: str, action: str, target: str, detail: str = "") -> str:
    return DONE[action].format(name=character, target=target, detail=detail)


def notice(character: str, action: str, guild: str, reason: str, detail: str = "") -> str:
    """The direct message to the person acted on: short, in the character's voice, with the reason."""
    text = NOTICE[action].format(guild=guild, detail=detail)
    return f"{character} here. {text} Reason: {reason or 'none given'}."


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
) -> str:
    """One plain line for the server's log channel."""
    parts = [f"**{action}**"]
    if target_id is not None:
        parts.append(f"target: {target} ({target_id})")
    parts.append(f"by: {moderator} ({moderator_id})")
    if channel_id is not None:
        parts.append(f"channel: <#{channel_id}>")
    if detail:
        parts.append(detail)
    parts.append(f"reason: {reason or 'none given'}")
    return " · ".join(parts)


class ModerationLog:
    """The server's moderation record: every action and warning kept in the database (the cog also posts a
    line to the server's log channel)."""

    def __init__(self, moderation: Moderation) -> None:
        self.moderation = moderation

    async def record(
        self,
        guild_id: int,
        action: str,
        moderator_id: int,
        *,
        target_id: int | None = None,
        channel_id: int | None = None,
        reason: str = "",
        detail: str = "",
    ) -> int:
        return await self.moderation.record(
            guild_id, action, moderator_id, target_id=target_id, channel_id=channel_id, reason=reason,
            detail=detail,
        )

    async def warn(self, guild_id: int, target_id: int, moderator_id: int, reason: str) -> str:
        """Warn someone; the detail for the log line ("warning #3, 2 in total")."""
        wid, total = await self.moderation.warn(guild_id, target_id, moderator_id, reason)
        return f"warning #{wid}, {total} in total"

    async def warnings(self, guild_id: int, target_id: int) -> list[WarningRecord]:
        return await self.moderation.warnings(guild_id, target_id)
