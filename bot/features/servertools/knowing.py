"""Knowing the server while replying: client tools the model may use in a server (bot/reply/generation.py
runs them; their results go back fenced as data), lent to each reply by :class:`ServerTools` (the main
character's ``Features.tools``).

* ``member_info``: who a member of this server is (display name, username, roles, when they joined), found
  among the people the character has seen talk, and only when Discord says they are a member here.
* ``scheduled_events``: the server's scheduled events, their times as Discord timestamps.
* ``recent_messages``: what was said in this channel lately, from the bot's own log (never another place).
* ``react``: an emoji reaction to the message answered, chosen from the operator's allow-list (an enum in
  its schema: the model cannot ask for another).

Privacy, as everywhere else: a person forgotten (/forget_me) or not remembered here (memory_consent) does not
exist for these tools; an event held in a private place is never named in a public one; no tool reads
anyone's memories. In DMs only ``react`` is offered (a DM has no server to speak of). Each declaration is
the same bytes for every reply under the same settings: the tools come first in the cached prefix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from bot.core.models.tools import Lent, ToolOutput, client_tool, read_back
from bot.core.stages import Incoming
from bot.core.text import clean_name
from bot.features.servertools.config import ServerToolSettings
from bot.operator.registration import PlaceSwitch
from database.boundary import JsonObject
from database.people import People
from database.records import SeenMessage
from database.visibility import Origin, line_origin, may_enter

# How the character speaks of the tools (their families' sentences in the system prompt, ``Lent.voice``).
PLACE_VOICE = (
    "You can look up this server's members, its scheduled events and what was said here lately when "
    "someone asks; speak of what you found as something you know of the place, in your own voice."
)
REACT_VOICE = "You can react to the message with an emoji (react) when a reaction says it as you would."
MAX_NAME = 100  # a Discord name is at most this long; longer input is no name
MAX_EVENTS = 10
LOOKUP_SECONDS = 8.0  # a member lookup's Discord reads, all of them (up to CANDIDATES)
MAX_LINE = 500  # characters of one message recent_messages quotes
CANDIDATES = 5  # known people a name may stand for, asked of Discord in turn


@dataclass(frozen=True)
class MemberCard:
    """A member as Discord knows them in one server."""

    user_id: int
    display_name: str
    username: str
    roles: tuple[str, ...]  # highest first, @everyone left out
    joined_at: datetime | None
    bot: bool = False


@dataclass(frozen=True)
class EventCard:
    """A scheduled event of a server (one that is scheduled or under way)."""

    name: str
    start: datetime
    end: datetime | None
    where: str  # the location of an external event, or "#channel"
    description: str
    private: bool = False  # held in a place not everyone in the server can see
    channel_id: int | None = None  # where it is held (a stage or voice channel), None for an external one

    def origin(self, guild_id: int) -> Origin:
        """Where the event comes from: a private place's own, or the server's."""
        if self.private:
            return Origin.private_place(guild_id, self.channel_id)
        return Origin.public(guild_id, self.channel_id)


@runtime_checkable  # the edge hands it to the feature among its sides (registration.py ``Parts``)
class ServerView(Protocol):
    """What the tools need of Discord (bot/discord/serverview.py); each call is one read or one reaction."""

    async def member(self, guild_id: int, user_id: int) -> MemberCard | None:
        """The member (None: not a member of that server, or the server is not ours to see)."""
        ...

    async def events(self, guild_id: int) -> Sequence[EventCard]: ...

    async def react(self, channel_id: int, message_id: int, emoji: str) -> str | None:
        """None when the reaction was added, else why not (a short line for the model)."""
        ...


class Remembered(Protocol):
    """Who may be remembered (memory/consent.py ``Consent``)."""

    def allows(self, consent: bool | None, mode: str | None = None) -> bool: ...
    async def mode_for(self, guild_id: int | None) -> str: ...
    async def consents(self) -> dict[int, bool]: ...


class Log(Protocol):
    """The short-term log's read of a channel (database/log.py ``MessageLog``)."""

    async def recent_messages(self, channel_id: int, *, limit: int,
                              before_id: int | None = None) -> list[SeenMessage]: ...


def stamp(moment: datetime, style: str = "F") -> str:
    """A Discord timestamp (each reader sees their own local time) with the UTC time the model can read."""
    moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return f"<t:{int(moment.timestamp())}:{style}> ({moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC)"


def allowed_emojis(text: str) -> tuple[str, ...]:
    """The ``react_emojis`` setting as the react tool's enum: in order, once each."""
    out: list[str] = []
    for part in text.split(","):
        emoji = part.strip()
        if emoji and emoji not in out:
            out.append(emoji)
    return tuple(out)


class MemberInfo:
    name = "member_info"
    DECLARED = client_tool(
        name, "Who a member of this server is: display name, username, roles and when they joined. Only "
        "people of this server you have seen talk can be found.",
        {"name": {"type": "string", "description": "Their name as people here write it (display name or "
                                                   "username, without the @)."}}, ("name",))

    def __init__(self, msg: Incoming, people: People, remembered: Remembered, view: ServerView,
                 own: Collection[int], bound: float = LOOKUP_SECONDS) -> None:
        self.msg, self.people, self.remembered, self.view, self.own = msg, people, remembered, view, own
        self.bound = bound  # the whole lookup: a reply waits on it

    async def run(self, arguments: JsonObject) -> ToolOutput:
        asked = str(arguments.get("name") or "").strip().removeprefix("@").strip()
        guild_id = self.msg.guild_id
        if not asked or len(asked) > MAX_NAME or guild_id is None:
            return ToolOutput("No member's name was given.", error=True)
        mode = await self.remembered.mode_for(guild_id)
        wanted = asked.casefold()
        known = [u for u in await self.people.search_users(asked, limit=25)
                 if u.name and u.id not in self.own and self.remembered.allows(u.memory_consent, mode)]
        # the name as written first, then names it begins, then names it is part of
        known.sort(key=lambda u: (u.name.casefold() != wanted, not u.name.casefold().startswith(wanted)))
        try:
            async with asyncio.timeout(self.bound):
                for user in known[:CANDIDATES]:
                    card = await self.view.member(guild_id, user.id)
                    if card is not None:
                        return ToolOutput(describe_member(card))
        except TimeoutError:
            return ToolOutput(f"Discord did not answer in time about {clean_name(asked)}: ask again later.",
                              error=True)
        return ToolOutput(f"There is no member called {clean_name(asked)} in this server.")


def describe_member(card: MemberCard) -> str:
    lines = [f"display name: {clean_name(card.display_name)}", f"username: {clean_name(card.username)}",
             f"roles: {', '.join(clean_name(r) for r in card.roles) if card.roles else 'none'}"]
    if card.joined_at is not None:
        lines.append(f"joined this server: {stamp(card.joined_at, 'D')}")
    if card.bot:
        lines.append("a bot account")
    return "\n".join(lines)


class ScheduledEvents:
    name = "scheduled_events"
    DECLARED = client_tool(
        name, "This server's scheduled events (upcoming and under way): name, start and end, where, what "
        "it is about. Times are Discord timestamps: copy them as written, each reader sees their own "
        "local time.", {}, ())

    def __init__(self, msg: Incoming, view: ServerView) -> None:
        self.msg, self.view = msg, view

    async def run(self, arguments: JsonObject) -> ToolOutput:
        if self.msg.guild_id is None:
            return ToolOutput("There is no server here.", error=True)
        audience = self.msg.audience()
        events = [e for e in await self.view.events(self.msg.guild_id)
                  if may_enter(e.origin(self.msg.guild_id), audience)]
        if not events:
            return ToolOutput("No scheduled events.")
        return ToolOutput("\n".join(describe_event(e) for e in sorted(events, key=lambda e: e.start)
                                    [:MAX_EVENTS]))


def describe_event(event: EventCard) -> str:
    parts = [f"- {clean_name(event.name)}: starts {stamp(event.start)}"]
    if event.end is not None:
        parts.append(f"ends {stamp(event.end)}")
    if event.where:
        parts.append(f"where: {clean_name(event.where)}")
    text = " ".join(event.description.split())
    if text:
        parts.append(f"about: {text[:300]}")
    return "; ".join(parts)


class RecentMessages:
    name = "recent_messages"
    DECLARED = client_tool(
        name, "What was said in this channel lately, oldest first: the latest messages before the one you "
        "are answering (this channel only).",
        {"count": {"type": "integer", "description": "How many messages (a few dozen at most)."}}, ("count",))

    def __init__(self, msg: Incoming, log: Log, remembered: Remembered, most: int, own: Collection[int],
                 name: str) -> None:
        self.msg, self.log, self.remembered, self.most = msg, log, remembered, most
        self.own, self.name_of_own = own, name  # the character's own lines under its name, not the account's

    async def run(self, arguments: JsonObject) -> ToolOutput:
        count = arguments.get("count")
        wanted = count if isinstance(count, int) and not isinstance(count, bool) else self.most
        wanted = max(1, min(wanted, self.most))
        msg = self.msg
        lines = await self.log.recent_messages(msg.channel_id, limit=wanted, before_id=msg.message_id)
        mode = await self.remembered.mode_for(self.msg.guild_id)
        answers = await self.remembered.consents()
        audience = msg.audience()
        kept = [m for m in lines if m.channel_id == self.msg.channel_id  # this channel's own lines only
                and may_enter(line_origin(m), audience)
                and self.remembered.allows(answers.get(m.author_id), mode)]
        if not kept:
            return ToolOutput("Nothing was said here lately.")
        return ToolOutput("\n".join(
            f"[{m.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC] "
            f"{clean_name(self.name_of_own if m.author_id in self.own else m.author_name)}: "
            f"{' '.join(read_back(m).split())[:MAX_LINE]}" for m in kept))


class React:
    name = "react"

    def __init__(self, msg: Incoming, view: ServerView, emojis: tuple[str, ...]) -> None:
        self.msg, self.view, self.emojis = msg, view, emojis

    @staticmethod
    def declared(emojis: Sequence[str]) -> JsonObject:
        return client_tool(
            React.name, "React with an emoji to the message you are answering (shown on that message; "
            "your reply still follows).", {"emoji": {"type": "string", "enum": list(emojis)}}, ("emoji",))

    async def run(self, arguments: JsonObject) -> ToolOutput:
        emoji = arguments.get("emoji")
        if not isinstance(emoji, str) or emoji not in self.emojis:  # strict decoding keeps to the enum
            return ToolOutput(f"Not one of the emojis offered: {' '.join(self.emojis)}.", error=True)
        refused = await self.view.react(self.msg.channel_id, self.msg.message_id, emoji)
        return ToolOutput(f"Could not react: {refused}", error=True) if refused else ToolOutput(
            f"Reacted {emoji}.")


class ServerTools:
    """The tools of one reply (bot/core/stages.py ``ReplyTools``), from the ``server_tools`` settings (read
    at each message: a reload applies) and the place's switch (``/bot server-tools``, read only where the
    setting is on). What they read of Discord (a ``ServerView``) is connected by the server tools' cog as it
    loads (cogs/info.py); none is lent before."""

    def __init__(self, settings: ServerToolSettings, people: People, log: Log, switched_on: PlaceSwitch,
                 remembered: Remembered, own: Collection[int], character: Callable[[], str],
                 view: ServerView | None = None) -> None:
        """``switched_on``: /bot server-tools (the server_tools setting its master switch); ``own``: the
        character's own accounts; ``character``: its name now."""
        self.settings, self.people, self.log, self.switched_on = settings, people, log, switched_on
        self.remembered, self.view, self.own, self.character = remembered, view, own, character
        self._react: tuple[str, JsonObject | None] = ("", None)  # the allow-list's declaration, kept

    def connect(self, view: ServerView | None) -> None:
        """What the tools read of Discord (None: the cog unloaded, no tool lent)."""
        self.view = view

    def _react_declared(self) -> tuple[tuple[str, ...], JsonObject | None]:
        text = self.settings.react_emojis
        emojis = allowed_emojis(text)
        if self._react[0] != text:
            self._react = (text, React.declared(emojis) if emojis else None)
        return emojis, self._react[1]

    async def __call__(self, msg: Incoming) -> Sequence[Lent]:
        # in a DM no place setting applies: the operator's setting (the switch's master) decides
        view = self.view
        if view is None or msg.author_is_bot or not (self.settings.server_tools if msg.guild_id is None
                                                     else await self.switched_on.on(msg.place)):
            return ()
        lent: list[Lent] = []
        if msg.guild_id is not None and not msg.is_dm:  # an /ask in a server answers in private: no place
            member = MemberInfo(msg, self.people, self.remembered, view, self.own)
            recent_lines = self.settings.server_tools_recent_lines
            lent += [Lent(MemberInfo.DECLARED, member, voice=PLACE_VOICE),
                     Lent(ScheduledEvents.DECLARED, ScheduledEvents(msg, view), voice=PLACE_VOICE),
                     Lent(RecentMessages.DECLARED, RecentMessages(msg, self.log, self.remembered,
                                                                  recent_lines, self.own,
                                                                  self.character()), voice=PLACE_VOICE)]
        emojis, declared = self._react_declared()
        if declared is not None:
            lent.append(Lent(declared, React(msg, view, emojis), voice=REACT_VOICE))
        return lent
