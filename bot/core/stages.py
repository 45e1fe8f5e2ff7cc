"""The reply pipeline's value types: what flows between Discord (or the console, or a test), the reply
sequence, and the features plugged into its stages (memory, the alive features, the log mirror): see
:class:`Features`.

A leaf module: it imports nothing of the pipeline, so everything may import it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import KW_ONLY, dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from bot.core.attachments import NO_TEXT, NOTHING, Attachment, Carried, message_text
from bot.core.i18n import N_
from bot.core.lines import Line, Spaced
from bot.core.models.tools import Lent
from bot.core.persona.model import Persona
from bot.core.place import Place
from bot.core.text import clean_name
from database.records import PromptData
from database.visibility import Audience, Kind

if TYPE_CHECKING:
    from bot.core.claude import Completion
    from database.log import MessageLog


PRIVATE_SCOPE = "private:"  # a private place of a server: summarized into private memories, as a DM is
CHANNEL_SCOPE = "channel:"


def conversation_scope(is_dm: bool, private: bool, channel_id: int) -> str:
    """The conversation a message belongs to: the DM; a private place (issue 49); or a public channel."""
    if is_dm:
        return "dm"
    return f"{PRIVATE_SCOPE}{channel_id}" if private else f"{CHANNEL_SCOPE}{channel_id}"


def scope_channel(scope: str) -> int | None:
    """The public channel a conversation's scope names; None for a DM, a private place or no scope."""
    channel = scope.removeprefix(CHANNEL_SCOPE)
    return int(channel) if channel != scope and channel.isdigit() else None


def private_scope(scope: str) -> bool:
    """Whether what is said in this conversation stays private (DMs and private places)."""
    return scope == "dm" or scope.startswith(PRIVATE_SCOPE)


@dataclass(frozen=True)
class Incoming:
    """One message as the reply logic sees it, whatever brought it (Discord, the console, a test)."""

    message_id: int
    author_id: int
    author_name: str
    content: str
    created_at: datetime
    _: KW_ONLY
    # Where it was said (bot/core/place.py): derived from the Discord message, interaction or channel it
    # came from (bot/discord/places.py ``place_of``), never left out: what the reply may read, lend and say
    # is decided from it.
    place: Place
    author_is_bot: bool = False
    mentions_bot: bool = False
    mentions_others: bool = False  # @mentions a user other than the bot (bot/reply/deciding/triage.py: no
    # vote then)
    replies_to_bot: bool = False
    reply_to_id: int | None = None
    reply_to_author_id: int | None = (
        None  # who wrote the message this one replies to (a webhook's id for its posts)
    )
    webhook_id: int | None = None  # set when a webhook posted this (how the characters of an ensemble speak)
    # Files, stickers, embeds: ``content`` is the text as typed (what addressing reads); ``text`` adds these.
    carried: Carried = NOTHING
    author_roles: tuple[int, ...] = ()  # the author's role ids in the server (who-may-talk lists)
    # The way a message came other than posted ("" for a posted one): a feature's own word for its live
    # place, set where the feature makes the message and read by that feature's prompt parts.
    via: str = ""
    # Downloads an attachment of ``carried``, up to a size in bytes (the transport's CDN read), for a reply
    # that looks at images and files (bot/reply/media.py); None where nothing can be downloaded.
    fetch: Callable[[Attachment, int], Awaitable[bytes]] | None = field(default=None, compare=False,
                                                                        repr=False)

    # The place's, read where the message is (see :class:`~bot.core.place.Place`).
    @property
    def channel_id(self) -> int:
        return self.place.channel_id  # a thread's own id in a thread

    @property
    def is_dm(self) -> bool:
        return self.place.is_dm

    @property
    def guild_id(self) -> int | None:
        return self.place.guild_id

    @property
    def guild_name(self) -> str:
        return self.place.guild_name

    @property
    def channel_name(self) -> str:
        return self.place.channel_name

    @property
    def private(self) -> bool:
        """A server place not everyone there can see: the log channel names it by id only."""
        return self.place.private

    @property
    def age_restricted(self) -> bool:
        """Where a mature character speaks in full (bot/core/persona/register.py). Never a DM."""
        return self.place.age_restricted

    @property
    def parent_id(self) -> int | None:
        return self.place.parent_id

    @property
    def cannot_post(self) -> str:
        """The permission the bot lacks to post here: such a message is logged, never answered."""
        return self.place.cannot_post

    @cached_property
    def said(self) -> str:
        """The text and a note of what the message carried (``[image: cat.png]``); "" when it has neither.
        What the short-term log keeps."""
        return message_text(self.content, self.carried)

    @cached_property
    def text(self) -> str:
        """What the conversation records for this message: :attr:`said`, or a placeholder; never blank."""
        return self.said or NO_TEXT

    def audience(self, *, everywhere: bool = False) -> Audience:
        """Who reads the reply to this message (database/visibility.py); ``everywhere``: its author lets
        what they said in one server come up in the others."""
        if self.is_dm:
            return Audience.dm(self.author_id)
        return Audience.place(private=self.private, guild=self.guild_id, channel=self.channel_id,
                              person=self.author_id, parent=self.parent_id, everywhere=everywhere)

    def private_memories(self, quoting: frozenset[int]) -> frozenset[int]:
        """Whose private memory the reply's request carries: in a DM, the person's (what only their DMs may
        see, database/visibility.py) and that of anyone their notes quote (``quoting``); elsewhere no one's,
        as the readers keep it out of any place."""
        if self.audience().kind is not Kind.DM:
            return frozenset()
        return frozenset({self.author_id}) | quoting

    @property
    def scope(self) -> str:
        """A DM is its own private scope; each channel is another (a private place's is private too)."""
        return conversation_scope(self.is_dm, self.private, self.channel_id)

    @property
    def log_place(self) -> Line | str:
        """How the log channel and the dashboard name where this was said (never a private place's name), a
        line rendered in the reader's language (a channel's own name as it is)."""
        if self.is_dm:
            return Line(N_("DM from user {user}"), user=self.author_id)
        if self.private:
            return Line(N_("private channel {channel}"), channel=self.channel_id)
        return f"#{self.channel_name}" if self.channel_name else Line(N_("channel {channel}"),
                                                                       channel=self.channel_id)

    def where(self) -> str:
        """Where it was written, as a prompt says it: names cleaned (clean_name), so a display name such as
        ``</person> system: ...`` cannot close or open a tag of the prompt's layout."""
        if self.is_dm:
            return f"a private direct message with {clean_name(self.author_name)}"
        where = f"#{clean_name(self.channel_name)}" if self.channel_name else f"channel {self.channel_id}"
        return f"{where} on the server {clean_name(self.guild_name)}" if self.guild_name else where


# What decided a message, as a bounded word: set where each decision is made, so what counts decisions
# (bot/core/metrics.py) labels them by it, never by the reason, whose values name people and ids.
DecisionKind = Literal[
    # the decider (bot/reply/deciding/)
    "direct_message", "mentioned", "reply_to_me", "name_mentioned", "empty", "own_thread",
    "addressed_to_others", "filtered", "addressed_only_mode", "owed", "first_look_uninteresting",
    "first_look_budget", "vote", "coalesced", "bot_threshold", "bot_cooldown",
    # admission, the one rule's gates (bot/reply/admission.py, bot/operator/)
    "inactive", "not_allowed", "limit", "no_permission", "consumed", "not_admitted", "own_message",
    # several characters (bot/reply/ensemble.py)
    "addressed", "unrouted", "ensemble_answer", "ensemble_spoke", "ensemble_quiet", "ensemble_turns",
]


@dataclass(frozen=True)
class Decision:
    reply: bool
    # For the log and the log channel: a line (its names, message ids and figures values), rendered in the
    # language it is read in; a model's own words or an error's message are a value of it, never its msgid.
    reason: Line
    votes: tuple[bool | None, ...] = ()
    # Other characters (bots in this server) named before this one: they answer first, we wait our turn.
    after: tuple[str, ...] = ()
    intent: str = ""  # of a message that will be answered (bot/reply/deciding/intent.py)
    kind: DecisionKind = field(kw_only=True)  # what decided it (DecisionKind), given where it is made

    def describe(self) -> Line:
        """The decision and why, as one line ("reply (mentioned; after Finn)"): ``.english()`` for the
        operator's own log, rendered in the log channel's language there."""
        why: list[Line] = [self.reason]
        if self.votes:
            why.append(Line(N_("votes: {votes}"), votes=Spaced(tuple(VOTE_WORDS[v] for v in self.votes))))
        if self.after:
            why.append(Line(N_("after {names}"), names=", ".join(self.after)))
        if self.intent:
            why.append(Line(N_("intent: {intent}"), intent=self.intent))  # a code name, as logged
        if self.reply:
            return Line(N_("reply ({why})"), why=tuple(why))
        return Line(N_("stay quiet ({why})"), why=tuple(why))


# Each vote as the decision line shows it: a vote that failed (the model call) is neither.
VOTE_WORDS = {True: Line(N_("yes")), False: Line(N_("no")), None: Line(N_("fail"))}


@dataclass
class ReplyResult:
    text: str
    parts: list[str]
    message_ids: list[int | None]
    ok: bool
    completion: Completion | None = None
    turn_ids: list[int] = field(default_factory=list)
    speaker: str = ""  # the key of the character who answered (several characters: which of them)
    channel_id: int = 0  # where it was posted: the message's channel, or the thread opened from it
    # What the reply's model judged the message carries for the character (bot/reply/felt.py KINDS; None:
    # no judgement given, the feelings then go by local signals alone)
    felt: tuple[str, ...] | None = None


class Outlet(Protocol):
    """Where a reply goes: a Discord channel, the terminal, a test double."""

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def send(self, text: str, *, first: bool) -> int | None:
        """Post one message; ``first`` is the first part of a reply. Returns its message id if any."""
        ...

    def resume_at(self, part: int) -> None:
        """The next part sent is part ``part`` of the reply (one a crash cut short, resumed): where posts
        carry a nonce per part, its is that part's, so a part that reached Discord is not posted twice.
        Nothing to do where posts carry none."""
        ...


@runtime_checkable
class GreetingOutlet(Protocol):
    """An outlet that posts a greeting before the answer through an outlet of its own
    (bot/reply/greetings.py): its posts are told apart from the answer's (their nonces name them)."""

    def greeting(self) -> Outlet: ...


class ThreadRefused(Exception):
    """Discord will not open a thread from the message (a permission missing, one there already): the answer
    stays where the message is."""


@runtime_checkable
class ThreadOpener(Protocol):
    """The outlets of a message (one per character) that can open a thread from it and speak there
    (a :class:`ThreadTalk`'s)."""

    def __call__(self, key: str, /) -> Outlet: ...

    async def open_thread(self, name: str, *, again: bool = False) -> tuple[int, Callable[[str], Outlet]]:
        """Open a public thread named ``name`` from the message: its id, and the outlets speaking in it;
        ``again``: the thread the character began from this message before a restart, found rather than
        opened. Raises :class:`ThreadRefused`."""
        ...


class ThreadTalk(Protocol):
    """The conversation threads the character opens (a feature's: bot/features/threads/), as the reply path
    asks them: where an answer goes, and whether a message in one is answered by right. ``messages``: the
    log its threads' talk is read from."""

    messages: MessageLog

    async def move(self, msg: Incoming, outlets: Callable[[str], Outlet]
                   ) -> tuple[Incoming, Callable[[str], Outlet]] | None:
        """The message and outlets in a thread opened from ``msg`` (to be answered); None: answered where
        it is."""
        ...

    async def answers_all(self, msg: Incoming, own_ids: Collection[int]) -> bool:
        """Whether ``msg`` is in one of its threads and for the character (not people among themselves)."""
        ...

    async def forget(self, thread_id: int) -> None:
        """Discord deleted the thread."""
        ...


async def safely(awaitable: Awaitable[None], log: logging.Logger, what: str = "listener") -> None:
    """Await a listener's work; its failure is logged (on ``log``, its caller's) and goes no further: one
    observer failing stops neither the reply nor the others."""
    try:
        await awaitable
    except Exception:
        log.exception("%s failed", what)


# What features plug into a reply's stages, without the pipeline knowing them (declared in :class:`Features`).
# Each kind is a Protocol, so its name says its contract; any function or bound method of that shape is one
# (the parameters are positional).


class DecisionListener(Protocol):
    """Told of every decision about a message (answer or not, and why), after it is made: counters, the
    dashboard's live view. It only observes: it may not change the decision nor send anything. Listeners run
    one after another; one that raises is logged and skipped (it never reaches the pipeline)."""

    def __call__(self, msg: Incoming, decision: Decision, /) -> Awaitable[None]: ...


class TurnListener(Protocol):
    """Told of each exchange after the reply is out and the exchange is stored (``result.turn_ids`` empty when
    consent kept it out of the history): summaries, relationships, persona evolution. Turn listeners run side
    by side (independent, and their small writes share one transaction, database/trips.py): one must not
    count on another having run. One that raises is logged (it never reaches the pipeline nor the other
    listeners); it may not send anything to Discord."""

    def __call__(self, msg: Incoming, result: ReplyResult, /) -> Awaitable[None]: ...


class Gate(Protocol):
    """Consulted after the message is logged and before any reply work (votes, memory, the model): the
    Decision that stops it (a refused person, a spent budget), or None to go on. It may speak through the
    outlet (say why). Gates run in their order, the first that stops wins; an exception propagates and the
    message goes unanswered (a gate that cannot decide must not let a message through unchecked)."""

    def __call__(self, msg: Incoming, outlet: Outlet, /) -> Awaitable[Decision | None]: ...


class Interceptor(Protocol):
    """Consulted for every message in the admins' log channel (``log_channel``; no other message enters it),
    even where the bot is inactive, before any reply work: True when it consumed the message (an admin
    command), and then no reply work follows. The message is logged already, whatever it answers; one that
    raises is logged and counts as False."""

    def __call__(self, msg: Incoming, /) -> Awaitable[bool]: ...


class PromptPart(Protocol):
    """What one feature knows for one reply, as text, and the layout's slot it fills (one of
    :data:`PROMPT_SLOTS`): the layout (bot/reply/prompting.py) decides where and how it is shown, never the
    feature. Given the prompt data read for this reply, so it needs no trip of its own to the database;
    "" when it has nothing to say. ``in_dms``: whether it can have anything to say in a DM (a server's
    language or custom emotes cannot): the composer does not ask a part where it has nothing to say."""

    @property
    def slot(self) -> str: ...

    @property
    def in_dms(self) -> bool: ...

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData, /) -> str: ...


# The layout's named places for what features supply: remembered facts (memory/recall.py), the person's open
# threads (memory/threads.py), how the character
# feels (bot/alive/feelings.py), how the model is to tag what the message moves in it (bot/reply/felt.py,
# stable: in the cached character block), how the person writes (bot/alive/style.py), the server's custom
# emotes (bot/alive/emotes.py), and instructions (one more line each, e.g. a late reply's,
# bot/reply/recovery.py).
PROMPT_SLOTS = ("recall", "threads", "feelings", "felt", "style", "emotes", "instructions")


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
    object, handed to every character's pipeline by the composition root (bot/runtime/composition.py)."""

    async def for_exchange(self, msg: Incoming) -> bool | StoredConsent:
        """False: answered but not stored; True: stored; a rule: stored if the person's stored consent passes
        it. Raising counts as False (when consent cannot be checked, nothing is stored)."""
        ...


class ReplyTools(Protocol):
    """The tools a feature lends one reply (the web search, bot/features/websearch/; reminders; the server's,
    bot/features/servertools/knowing.py): each tool's declaration with the tool, bound to the message answered
    (:class:`~bot.core.models.tools.Lent`). The declarations come first in the request's cached prefix, so
    they must be the same bytes for every reply in the same place under the same settings. It may read the
    database and settings; it never calls the model nor posts anything."""

    async def __call__(self, msg: Incoming, /) -> Sequence[Lent]: ...


class Reader(Protocol):
    """Before the reply: a message whose words are in a file it carries (a recording), turned into text (a
    feature's, lent through its registration; bot/reply/pipeline.py ``read_first`` runs it). Until read the
    message stands as ``placeholder()`` (what the log keeps of one never read); one that cannot be read is
    answered, where the answer is certain, with ``unread_line(msg)`` (``{name}``: the character's name), in
    the person's language."""

    def takes(self, carried: Carried, /) -> bool:
        """Whether ``carried`` holds what this reads (no I/O)."""
        ...

    def placeholder(self) -> str: ...

    def can_read(self) -> bool:
        """Whether it can read at all now (False: every such message is answered as unread)."""
        ...

    async def unread_line(self, msg: Incoming, /) -> str: ...

    async def read(self, msg: Incoming, carried: Carried, /) -> str | None:
        """The words ``msg`` stands for, read from ``carried`` (what it carried before it was held); None
        when they could not be read."""
        ...


@dataclass(frozen=True)
class Features:
    """What the features add to one character's replies, stage by stage, declared once by the composition
    root (bot/runtime/composition.py ``compose``) when it builds the pipeline; nothing is added later. Each
    stage runs its entries in the order given:

    read (``readers``, asked by the transport first) → admit (``interceptors``, then ``access``, then
    ``gates``, then in a server ``place_gates``) → decide (``decision_observers``) → compose the prompt
    (``prompt_parts``) → generate (``tools``) and deliver (``reply_filters``) → keep (``turn_observers``)."""

    interceptors: tuple[Interceptor, ...] = ()  # a log-channel command consumed (in that channel only)
    # who may talk to it: these say nothing and count nothing, so a message a reader turns into text is
    # asked them before it is read (a refused person's is not)
    access: tuple[Gate, ...] = ()
    gates: tuple[Gate, ...] = ()  # what it may spend
    place_gates: tuple[Gate, ...] = ()  # asked after the gates, in a server only: a place's own switches
    decision_observers: tuple[DecisionListener, ...] = ()  # counters, the mirror, reactions, the dashboard
    prompt_parts: tuple[PromptPart, ...] = ()  # recall, feelings, style, emotes, a late reply's note
    reply_filters: tuple[ReplyFilter, ...] = ()  # emote names made valid
    turn_observers: tuple[TurnListener, ...] = ()  # summaries, feelings, style, counters, the cluster
    tools: tuple[ReplyTools, ...] = ()  # what the model may use while writing: web search, reminders, ...
    readers: tuple[Reader, ...] = ()  # before all of it: a message's recording turned into its words

    def __post_init__(self) -> None:
        for part in self.prompt_parts:
            if part.slot not in PROMPT_SLOTS:  # else the layout would leave it out, silently
                raise ValueError(f"a prompt part fills {part.slot!r}, not one of {PROMPT_SLOTS}")


NO_FEATURES = Features()  # a pipeline nothing is added to (a test's, the console's without gates)


class OwnAccounts:
    """The accounts a character's own posts come from: never another character's, never a person's. The bot
    user (known once logged in: the Discord edge hands it to the composition root) and the webhooks an
    ensemble speaks through (registered as they are made, shared by every character of the cast)."""

    def __init__(self, user_id: int | None = None, webhooks: set[int] | None = None) -> None:
        self.user_id = user_id
        self._webhooks: set[int] = webhooks if webhooks is not None else set()

    def sharing_webhooks(self) -> OwnAccounts:
        """Another character's accounts: the same webhooks, not the bot user (which speaks as the main
        character: to the others, it is another character)."""
        return OwnAccounts(None, self._webhooks)

    def register_webhook(self, webhook_id: int) -> None:
        self._webhooks.add(webhook_id)

    def __contains__(self, author_id: object) -> bool:
        return author_id == self.user_id or author_id in self._webhooks

    def __iter__(self) -> Iterator[int]:
        if self.user_id is not None:
            yield self.user_id
        yield from self._webhooks

    def __len__(self) -> int:
        return (self.user_id is not None) + len(self._webhooks - {self.user_id})
