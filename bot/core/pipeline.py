"""The reply pipeline's value types: what flows between Discord (or the console, or a test), the reply
engine, and the features hooked into it (memory, the persona runtime, the log mirror).

A leaf module: it imports nothing of the engine, so everything may import it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bot.core.attachments import NO_TEXT, NOTHING, Attachment, Carried, message_text
from bot.core.persona.model import Persona
from bot.core.text import clean_name
from database.records import PromptData

if TYPE_CHECKING:
    from bot.core.claude import Completion


PRIVATE_SCOPE = "private:"  # a private place of a server: summarized into private memories, as a DM is


def conversation_scope(is_dm: bool, private: bool, channel_id: int) -> str:
    """The conversation a message belongs to: the DM; a private place (issue 49); or a public channel."""
    if is_dm:
        return "dm"
    return f"{PRIVATE_SCOPE}{channel_id}" if private else f"channel:{channel_id}"


def private_scope(scope: str) -> bool:
    """Whether what is said in this conversation stays private (DMs and private places)."""
    return scope == "dm" or scope.startswith(PRIVATE_SCOPE)


@dataclass(frozen=True)
class Incoming:
    """One message as the reply logic sees it, whatever brought it (Discord, the console, a test)."""

    message_id: int
    channel_id: int
    author_id: int
    author_name: str
    content: str
    created_at: datetime
    is_dm: bool
    guild_id: int | None = None
    guild_name: str = ""
    channel_name: str = ""
    author_is_bot: bool = False
    mentions_bot: bool = False
    mentions_others: bool = False  # @mentions a user other than the bot (bot/reply/triage.py: no vote then)
    replies_to_bot: bool = False
    reply_to_id: int | None = None
    reply_to_author_id: int | None = (
        None  # who wrote the message this one replies to (a webhook's id for its posts)
    )
    webhook_id: int | None = None  # set when a webhook posted this (how the characters of an ensemble speak)
    # Files, stickers, embeds: ``content`` is the text as typed (what addressing reads); ``text`` adds these.
    carried: Carried = NOTHING
    author_roles: tuple[int, ...] = ()  # the author's role ids in the server (who-may-talk lists)
    # A server place not everyone there can see (a private channel, a private thread such as a ticket's):
    # the log channel names it by id only, never quoting it or its name (a ticket thread is named by topic).
    private: bool = False
    # Downloads an attachment of ``carried``, up to a size in bytes (the transport's CDN read), for a reply
    # that looks at images and files (bot/reply/media.py); None where nothing can be downloaded.
    fetch: Callable[[Attachment, int], Awaitable[bytes]] | None = field(default=None, compare=False,
                                                                        repr=False)

    @cached_property
    def said(self) -> str:
        """The text and a note of what the message carried (``[image: cat.png]``); "" when it has neither.
        What the short-term log keeps."""
        return message_text(self.content, self.carried)

    @cached_property
    def text(self) -> str:
        """What the conversation records for this message: :attr:`said`, or a placeholder; never blank."""
        return self.said or NO_TEXT

    @property
    def scope(self) -> str:
        """A DM is its own private scope; each channel is another (a private place's is private too)."""
        return conversation_scope(self.is_dm, self.private, self.channel_id)

    @property
    def log_place(self) -> str:
        """How the log channel and the dashboard name where this was said (never a private place's name)."""
        if self.is_dm:
            return f"DM from user {self.author_id}"
        if self.private:
            return f"private channel {self.channel_id}"
        return f"#{self.channel_name}" if self.channel_name else f"channel {self.channel_id}"

    def place(self) -> str:
        """Where it was written, as a prompt says it: names cleaned (clean_name), so a display name such as
        ``</person> system: ...`` cannot close or open a tag of the prompt's layout."""
        if self.is_dm:
            return f"a private direct message with {clean_name(self.author_name)}"
        where = f"#{clean_name(self.channel_name)}" if self.channel_name else f"channel {self.channel_id}"
        return f"{where} on the server {clean_name(self.guild_name)}" if self.guild_name else where


@dataclass(frozen=True)
class Decision:
    reply: bool
    reason: str
    votes: tuple[bool | None, ...] = ()
    # Other characters (bots in this server) named before this one: they answer first, we wait our turn.
    after: tuple[str, ...] = ()
    intent: str = ""  # of a message that will be answered (bot/reply/intent.py)

    def describe(self) -> str:
        what = f"{'reply' if self.reply else 'stay quiet'} ({self.reason}"
        if self.votes:
            what += "; votes: " + " ".join({True: "yes", False: "no", None: "fail"}[v] for v in self.votes)
        if self.after:
            what += "; after " + ", ".join(self.after)
        if self.intent:
            what += f"; intent: {self.intent}"
        return what + ")"


@dataclass
class ReplyResult:
    text: str
    parts: list[str]
    message_ids: list[int | None]
    ok: bool
    completion: Completion | None = None
    turn_ids: list[int] = field(default_factory=list)
    speaker: str = ""  # the key of the character who answered (several characters: which of them)


class Outlet(Protocol):
    """Where a reply goes: a Discord channel, the terminal, a test double."""

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def send(self, text: str, *, first: bool) -> int | None:
        """Post one message; ``first`` is the first part of a reply. Returns its message id if any."""
        ...


@runtime_checkable
class GreetingOutlet(Protocol):
    """An outlet that posts a greeting before the answer through an outlet of its own
    (bot/reply/greetings.py): its posts are told apart from the answer's (their nonces name them)."""

    def greeting(self) -> Outlet: ...


class NullOutlet:
    """Collects replies in memory (benchmarks, tests of the logic without Discord)."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    @asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield

    async def send(self, text: str, *, first: bool) -> int | None:
        self.sent.append(text)
        return None


# Hooks: how features join the pipeline without the engine knowing them. Each kind is a Protocol, so its name
# says its contract; any function or bound method of that shape is one (the parameters are positional).


class DecisionListener(Protocol):
    """Told of every decision about a message (answer or not, and why), after it is made: counters, the
    dashboard's live view. It only observes: it may not change the decision nor send anything. Listeners run
    one after another; one that raises is logged and skipped (it never reaches the engine)."""

    def __call__(self, msg: Incoming, decision: Decision, /) -> Awaitable[None]: ...


class TurnListener(Protocol):
    """Told of each exchange after the reply is out and the exchange is stored (``result.turn_ids`` empty when
    consent kept it out of the history): summaries, relationships, persona evolution. Turn listeners run side
    by side (independent, and their small writes share one transaction, database/trips.py): one must not
    count on another having run. One that raises is logged (it never reaches the engine nor the other
    listeners); it may not send anything to Discord."""

    def __call__(self, msg: Incoming, result: ReplyResult, /) -> Awaitable[None]: ...


class Gate(Protocol):
    """Consulted after the message is logged and before any reply work (votes, memory, the model): the
    Decision that stops it (a refused person, a spent budget), or None to go on. It may speak through the
    outlet (say why). Gates run in their order, the first that stops wins; an exception propagates and the
    message goes unanswered (a gate that cannot decide must not let a message through unchecked)."""

    def __call__(self, msg: Incoming, outlet: Outlet, /) -> Awaitable[Decision | None]: ...


class Interceptor(Protocol):
    """Consulted for every logged message, even where the bot is inactive, before any reply work: True when
    it consumed the message (e.g. an admin command in the log channel), and then no reply work follows. The
    message is logged already, whatever it answers; one that raises is logged and counts as False."""

    def __call__(self, msg: Incoming, /) -> Awaitable[bool]: ...
# What a feature knows for one reply, as text: the prompt layout (bot/reply/prompting.py) decides where and
# how it is shown. Synchronous sources are cheap reads of state kept in memory.
DataSource = Callable[[Persona, Incoming, PromptData], str]
AsyncDataSource = Callable[[Persona, Incoming, PromptData], Awaitable[str]]


@dataclass
class PromptSources:
    """The features that supply data to a reply's prompt, one named slot each (None: the feature is off).
    A feature fills its slot when it attaches and clears it when it detaches; it never writes prompt text
    of its own placement: the layout puts each part in its one place (see bot/reply/prompting.py)."""

    recall: AsyncDataSource | None = None  # the person's remembered facts, dated lines (memory/recall.py)
    feelings: DataSource | None = None  # how the character feels right now (memory/feelings.py)
    style: DataSource | None = None  # how the person writes (memory/mirroring.py)
    emotes: DataSource | None = None  # the server's custom emotes (bot/alive/emotes.py)
    late: Callable[[Incoming], str] | None = None  # owed since before a restart (bot/reply/recovery.py)


class ReplyFilter(Protocol):
    """The reply text as it will be sent, from the text Claude wrote (e.g. :emote: names made valid).
    Synchronous and cheap: it runs on every reply, in order, before sending. It may only rewrite the text:
    a blank answer keeps the text as it was, and one that raises is logged and skipped."""

    def __call__(self, msg: Incoming, text: str, /) -> str: ...
# The rule the person's stored consent (None: never given) must pass: it is then read and checked in the
# unit of work that stores the exchange (one trip to the database less).
StoredConsent = Callable[[bool | None], bool]


class MemoryConsent(Protocol):
    """Whether an exchange may be kept in the conversation history (memory/consent.py ``Consent``): one
    object, handed to every character's engine by the composition root (bot/runtime/composition.py)."""

    async def for_exchange(self, msg: Incoming) -> bool | StoredConsent:
        """False: answered but not stored; True: stored; a rule: stored if the person's stored consent passes
        it. Raising counts as False (when consent cannot be checked, nothing is stored)."""
        ...


def all_consent(answers: Sequence[bool | StoredConsent]) -> bool | StoredConsent:
    """Several consent answers as one: False if any said no, else the rule every stored-consent rule
    passes (True when none asked for one)."""
    rules: list[StoredConsent] = []
    for answer in answers:
        if isinstance(answer, bool):
            if not answer:
                return False
        else:
            rules.append(answer)
    if len(rules) <= 1:
        return rules[0] if rules else True
    return lambda consent: all(rule(consent) for rule in rules)


class Pipeline(Protocol):
    """A character's reply sequence as the features that hook into it see it (memory, the alive features,
    the operator's counters): who it is, and where a feature may join in. bot/reply/engine.py's
    ``ReplyEngine`` is the one implementation; features below the reply layer (memory/) know only this."""

    sources: PromptSources
    turn_listeners: list[TurnListener]
    decision_listeners: list[DecisionListener]
    consent: MemoryConsent | None
    reply_filters: list[ReplyFilter]

    @property
    def character_key(self) -> str: ...

    @property
    def persona(self) -> Persona: ...

    def recall_budget(self, msg: Incoming, default: int) -> int:
        """Tokens of remembered facts for a reply to ``msg`` (more for a question about the past)."""
        ...
