"""The words of the one rule of whom the character may speak to or listen to (its implementation, asked by
every way: bot/operator/reach.py): the ways, the places, a refusal, and the permit without which the
character's own initiative reaches nobody. Here, low in the layers, so that every layer that speaks can name
them."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from bot.core.i18n import N_, t
from bot.core.lines import Line

NOT_ALLOWED = N_("I'm not taking requests from you here.")
INACTIVE = N_("I'm switched off in this channel (an admin used `/bot deactivate`), so I don't write replies "
              "here.")


class Way(StrEnum):
    """Every way the character speaks to someone or listens to them."""

    MESSAGE = "message"  # a message (text, voice message, a call's utterance): replies, votes, greetings
    HEAR = "hear"  # a person's audio, before it is sent to speech-to-text
    ASK = "ask"  # /ask and the message menus
    NEW_ANSWER = "new answer"  # another answer to a message already answered (a feature's button, a command)
    CALL = "call"  # /voice join, /voice leave
    CHECKIN = "checkin"
    REMINDER = "reminder"
    PROACTIVE = "proactive"
    TASK = "task"  # a place task an admin set (bot/features/reminders/tasks.py): said to a channel
    CORRECTION = "correction"  # an answer of its own to a correction reaction (bot/features/corrections/)


UNPROMPTED = frozenset({Way.CHECKIN, Way.REMINDER, Way.PROACTIVE, Way.TASK, Way.CORRECTION})
# a new answer asked for: one of the person's messages a minute
COUNTED = frozenset({Way.MESSAGE, Way.NEW_ANSWER})


@dataclass(frozen=True)
class Where:
    """A place: a server's channel (a thread's own id in a thread, a voice channel's for a call), or a DM
    (``guild_id`` None; the channel is the DM's, 0 when not known yet)."""

    guild_id: int | None
    channel_id: int = 0

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    @classmethod
    def dm(cls, channel_id: int = 0) -> Where:
        return cls(None, channel_id)


@dataclass(frozen=True)
class Refusal:
    """Why a way is closed: ``kind`` place | access | limit; ``reason`` for the log (never what anyone
    said); ``tell``: what the person is told where they asked (its English: :meth:`said` in theirs)."""

    kind: str
    reason: Line
    tell: str
    reached: object | None = None  # the limit reached (bot/operator/limits.py Reached), for a limit
    # the limit's line in a language (the operator's own as written), for a limit
    saying: Callable[[str | None], str] | None = field(default=None, compare=False, repr=False)

    def said(self, language: str | None) -> str:
        """What the person is told, in ``language``."""
        return self.saying(language) if self.saying is not None else t(language, self.tell)


_ISSUER = object()  # only issue() holds it


class Permit:
    """Leave, given by the rule, for one unprompted way to speak to ``user_id`` (None: to a channel) in
    ``where``. Discord's side opens a DM or a channel for the character's own initiative only against one."""

    __slots__ = ("user_id", "way", "where")

    def __init__(self, way: Way, user_id: int | None, where: Where, *, issuer: object) -> None:
        if issuer is not _ISSUER:
            raise TypeError("a Permit is given by the rule (Reach.permit), never made")
        self.way = way
        self.user_id = user_id
        self.where = where

    def __repr__(self) -> str:
        return f"Permit({self.way}, user={self.user_id}, {self.where})"


def issue(way: Way, user_id: int | None, where: Where) -> Permit:
    """A permit: for the rule's implementation alone (bot/operator/reach.py ``Reach.permit``), once it has
    said yes; tests/test_architecture.py checks that nothing else calls it."""
    return Permit(way, user_id, where, issuer=_ISSUER)


class Rule(Protocol):
    """The rule as the ways that speak ask it (bot/operator/reach.py ``Reach``)."""

    async def refusal(self, way: Way, user_id: int | None, where: Where, roles: Collection[int] = (), *,
                      counted: bool | None = None) -> Refusal | None: ...

    async def closed(self, way: Way, user_id: int | None, where: Where,
                     roles: Collection[int] = ()) -> Refusal | None: ...

    async def over_limit(self, way: Way, user_id: int | None, where: Where, *,
                         counted: bool = False) -> Refusal | None: ...

    async def permit(self, way: Way, user_id: int | None, where: Where, roles: Collection[int] = (), *,
                     spends: bool = True) -> Permit | Refusal: ...
