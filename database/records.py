"""The value classes the data layer hands out and takes in: plain, frozen, free of SQLAlchemy. Every
repository in this package returns these; the rest of Kindred imports them from here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple

from database.profiles import NO_PROFILE, Profile
from database.stamps import ExcerptStamp, FactStamp

PRIVATE_SOURCE = "summary_dm"  # core memories drawn from DMs: never in a channel's prompt
PRIVATE_NOTE_SOURCE = "user_dm"  # /remember in a DM: private, in their words (no pass rewrites it)
NOTE_SOURCES = ("user", PRIVATE_NOTE_SOURCE)  # what a person asked to be remembered (/remember): their words
PRIVATE_SOURCES = (PRIVATE_SOURCE, PRIVATE_NOTE_SOURCE)
# What a memory of unknown origin becomes (0016): private, as the privacy-safe reading (issue 49).
PRIVATE_OF = {"summary": PRIVATE_SOURCE, "user": PRIVATE_NOTE_SOURCE}


class CoreMemoryRow(NamedTuple):
    """One core memory and where it belongs: ``private`` (its source: DMs and private places), else the
    server it was learnt in (``guild_id``), or every place (None: an admin's)."""

    id: int
    content: str
    source: str
    guild_id: int | None

    @property
    def private(self) -> bool:
        return self.source in PRIVATE_SOURCES


class Archived(StrEnum):
    """What was about to change a person's core memories when their set was kept as a version."""

    ADDED = "added"  # a memory added (detail: its source)
    EDITED = "edited"
    DELETED = "deleted"
    RESTORED = "restored"  # an earlier version brought back (detail: its id)
    SUMMARIZED = "summarized"  # a conversation summarized (detail: its scope)
    FACTS_CHANGED = "facts_changed"  # the facts they were drawn from changed


class VersionReason(NamedTuple):
    """Why a version was kept: an :class:`Archived` code and its detail, stored as they are, so each reader
    says them in their own language (bot/operator/admin/language.py). A code this release does not know
    (a newer one's) is shown as stored."""

    code: str
    detail: str = ""


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything in Kindred compares aware UTC times."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class SeenMessage(NamedTuple):
    """A message the bot saw, as written to the short-term log. A tuple, not a frozen dataclass: every reply
    and vote round reads the channel's last 75 (five times cheaper to make, issue 30)."""

    message_id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    author_is_bot: bool
    is_dm: bool
    content: str
    created_at: datetime
    reply_to_id: int | None = None
    private: bool = False  # said in a private place of a server: kept like a DM (issue 49)


class Turn(NamedTuple):
    """One history message. A tuple, not a dataclass: every reply reads hundreds of them."""

    role: str
    content: str
    id: int = 0
    discord_message_id: int | None = None
    tokens: int = 0


@dataclass(frozen=True)
class History:
    conversation_id: int | None
    summary: str
    turns: list[Turn]
    summary_since: datetime | None = None  # the summary tells what was said from then (None: all before)


@dataclass(frozen=True)
class UserRecord:
    id: int
    name: str
    is_bot: bool
    premium: bool
    memory_consent: bool | None
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Usage:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0  # the web searches' fees included
    # Searches billed per search on top of the tokens (in cost); 0 where not counted (/status, per person)
    web_searches: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens


@dataclass(frozen=True)
class UserSummary:
    """The figures an admin may see about a user: never message text."""

    user: UserRecord
    usage: Usage
    history_messages: int
    history_tokens: int
    core_memories: int


@dataclass(frozen=True)
class RelationshipRecord:
    anger: float = 0.0
    rapport: float = 5.0
    trust: float = 5.0
    formality: float = 0.0


@dataclass(frozen=True)
class ThreadRow:
    """A stored open thread (database/threads.py)."""

    id: int
    thread: str
    due_at: datetime | None
    said_at: datetime
    private: bool
    guild_id: int | None


@dataclass(frozen=True)
class PromptData:
    """Everything about the character and the user that a reply's prompt needs, read in one go."""

    identity: dict[str, list[str]]
    core_memories: list[str]
    relationship: RelationshipRecord | None
    mood: str
    premium: bool
    history: History
    recent: list[SeenMessage]
    # Read in the same go so that nothing else on the reply path needs a trip to the database.
    memory_consent: bool | None = None  # the user's /memory opt-in (True) / opt-out (False); None: never said
    interactions: int = 0  # the character's interaction count (evolution stages)
    stage: str = ""  # the character's stored evolution stage
    fact_stamp: FactStamp | None = None
    excerpt_stamp: ExcerptStamp | None = None  # the person's archived excerpts' (episodic recall)
    style_profile: str | None = None  # the user's writing profile as stored (bot/alive/style.py), if any
    last_interaction: datetime | None = None  # the user's previous exchange with a character (fact expiry)
    memory_everywhere: bool = False  # /memory servers all: one server's facts recalled in the others
    person_zone: str = ""  # the IANA time zone the person gave (/memory timezone), "" when none
    notes: list[str] = field(default_factory=list)  # the person's /remember notes, in their own words
    threads: tuple[ThreadRow, ...] = ()  # their open threads this place may show, whatever their time
    # Whose words the notes shown quote ("Remember this"): their private memory rides along (``memories_of``).
    quoting: frozenset[int] = frozenset()
    feelings: tuple[str, str] = ("", "")  # toward them and in the channel ("" in a DM), as stored
    relationship_since: tuple[datetime | None, datetime | None] = (None, None)  # person_read.py felt_since
    profile: Profile = NO_PROFILE  # what they said of themselves with /me (database/profiles.py)


@dataclass(frozen=True)
class PromptRequest:
    """What a reply's prompt read is about: whose conversation, where, and how much channel context."""

    character: str
    user_id: int
    scope: str
    channel_id: int
    recent_limit: int
    before_id: int | None
    private: bool  # a DM: may see memories drawn from DMs; a channel prompt never does
    # A server's place: its memories, those of no server, the person's others if shared everywhere (issue 49).
    guild_id: int | None = None


# -- long-term memory


@dataclass(frozen=True)
class FactRow:
    """One long-term fact as memory/ works with it (``embedding``: float32 little-endian bytes or None)."""

    id: int
    fact: str
    category: str
    pinned: bool
    private: bool
    reference_count: int
    first_mentioned: datetime
    last_mentioned: datetime
    embedding: bytes | None
    lasting: bool = False  # never expires (who they are, their people, life events, preferences, plans)
    said_at: datetime | None = None  # when the person said it
    happened_at: datetime | None = None  # when it happened, where they said so
    guild_id: int | None = None  # learnt in this server's public channels (None: anywhere, or private)
    valid_until: datetime | None = None  # closed: no longer true since then (None: current)
    superseded_by: int | None = None  # the fact that replaced it
    past: str | None = None  # a closed fact told as history ("Alice lived in Leeds"); None: never recalled
    doubt: str | None = None  # the words of a current fact it may replace or be replaced by (facts.py _DOUBT)
    slot: str | None = None  # as the extraction named it (memory/slots.py: "?home"; "" none; None: by cues)
    slot_value: str | None = None  # the value it gives its slot ("York")
    gloss: str | None = None  # the fact in English, where it is kept in another language

    @property
    def told(self) -> datetime:
        return self.said_at or self.first_mentioned


@dataclass(frozen=True)
class NewFact:
    fact: str
    category: str
    embedding: bytes | None
    private: bool = False
    lasting: bool = False
    said_at: datetime | None = None  # default: the batch's time
    happened_at: datetime | None = None
    guild_id: int | None = None  # the server whose public channels it was learnt in
    replaces: int | None = None  # the known fact it updates: closed, with ``past`` as its history wording
    past: str | None = None
    closes: tuple[tuple[int, str], ...] = ()  # (id, past) of known facts of its slot (memory/slots.py)
    doubts: int | None = None  # a known fact it may take the place of: both kept, the doubt shown
    slot: str | None = None  # FactRow's, and slot_value
    slot_value: str | None = None
    gloss: str | None = None  # FactRow's


@dataclass(frozen=True)
class NewExcerpt:
    """An archived message indexed for a person's episodic recall (memory/episodes.py)."""

    message_id: int
    channel_id: int
    guild_id: int | None
    is_dm: bool
    speaker: str
    own: bool
    content: str
    said_at: datetime
    embedding: bytes | None = None


@dataclass(frozen=True)
class ExcerptRow:
    id: int
    message_id: int
    channel_id: int
    guild_id: int | None
    is_dm: bool
    speaker: str
    own: bool
    content: str
    said_at: datetime
    embedding: bytes | None


Metrics = dict[str, float]  # then: (values, used today) -> (new values, used today, what they say changed)
RelationshipUpdate = Callable[[Metrics, Metrics], tuple[Metrics, Metrics, bool]]  # memory/relationships.py


@dataclass(frozen=True)
class ConsolidationBatch:
    """What one batch (one user's messages) wrote, applied atomically by commit_consolidation: ``mentioned``:
    (fact id, said in a channel) of known facts said again; ``relationship_update``: the judged change,
    applied to the relationship as it stands in the transaction (bounded); ``day``: the UTC day it counts."""

    character: str
    user_id: int
    log_ids: tuple[int, ...]
    new_facts: tuple[NewFact, ...] = ()
    mentioned: tuple[tuple[int, bool], ...] = ()
    relationship_update: RelationshipUpdate | None = None
    day: str = ""
    at: datetime | None = None
    lasting: frozenset[int] = frozenset()  # ids of mentioned facts now said as lasting
    excerpts: tuple[NewExcerpt, ...] = ()  # the batch's messages indexed for episodic recall
    guild_id: int | None = None  # the server of the batch's public channels (None: a DM or private place)
    retired: tuple[tuple[int, str | None], ...] = ()  # (fact id, past wording: closed; None: deleted)


# -- server tools (database/servers.py, moderation.py, tickets.py; a poll's: bot/features/polls/rows.py)


@dataclass(frozen=True)
class ServerConfig:
    """A server's own settings as stored; None: not set there (the global setting applies)."""

    guild_id: int
    reply_mode: str | None = None
    vote_count: int | None = None
    proactive: bool | None = None
    memory_consent: str | None = None
    log_channel_id: int | None = None
    language: str | None = None
    allowed_users: str | None = None  # access lists: comma-separated ids ("" = an empty list here)
    blocked_users: str | None = None
    allowed_roles: str | None = None
    blocked_roles: str | None = None


@dataclass(frozen=True)
class WarningRecord:
    id: int
    guild_id: int
    target_id: int
    moderator_id: int
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class ModerationRecord:
    id: int
    guild_id: int
    action: str
    target_id: int | None
    moderator_id: int
    channel_id: int | None
    reason: str
    detail: str
    created_at: datetime


@dataclass(frozen=True)
class TicketRecord:
    id: int
    guild_id: int
    channel_id: int
    thread_id: int | None
    opener_id: int
    topic: str
    status: str
    opened_at: datetime
    closed_at: datetime | None = None
    closed_by: int | None = None


@dataclass(frozen=True)
class TranscriptLine:
    message_id: int
    author_id: int
    author_name: str
    content: str
    created_at: datetime


# -- the operator's dashboard


@dataclass(frozen=True)
class DailyUsage:
    """One UTC day of Claude calls (``failures``: calls that ended in an error)."""

    day: str  # YYYY-MM-DD
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0
    failures: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens

    @property
    def cache_read_share(self) -> float:
        """The share of prompt tokens read from the prompt cache (0..1; 0 on a day without calls)."""
        prompt = self.input_tokens + self.cache_creation_tokens + self.cache_read_tokens
        return self.cache_read_tokens / prompt if prompt else 0.0


# -- alive between messages


@dataclass(frozen=True)
class CheckInDue:
    """Someone who asked for check-ins and is silent: name, last seen, and last check-in (None: never)."""

    user_id: int
    name: str
    last_seen: datetime
    sent_at: datetime | None
