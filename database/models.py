"""SQLAlchemy 2.0 models: everything Kindred keeps. The schema itself is owned by Alembic migrations.

Discord ids are stored as BigInteger. ``character`` columns let one database (and one process) hold
several characters; a single-character bot uses its own name there.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


TZ = DateTime(timezone=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(100), default="")
    is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    premium: Mapped[bool] = mapped_column(Boolean, default=False)
    # None: never asked; True: opted in; False: opted out (only matters with memory_consent=opt_in).
    memory_consent: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=None)
    first_seen: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # The person's last exchange with a character (a reply to them): soft expiry of facts counts from it
    # (0012_fact_time_and_lasting). None: never answered yet.
    last_interaction: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # When some of their archive excerpts were last deleted (0014): with the newest excerpt's id, the stamp
    # that tells episodic recall's cache to re-read them, without counting 100,000 rows at each reply.
    excerpts_deleted: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # When some of their facts were last deleted (0028): the fact stamp's part that a deletion moves, so the
    # stamp is three index probes instead of a count of the person's facts.
    facts_deleted: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # When some of their excerpts last got vectors (0017): embedded after consolidation, in the background.
    excerpts_embedded: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # /memory servers all: facts learnt in one server's channels are recalled in the others too (0015).
    # No Python default: the hot path's upsert leaves it out (the server's default applies).
    memory_everywhere: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # (Their time zone, /timezone, is a person setting since 0044: database/person_settings.py.)


class Nickname(Base):
    """Every name a user was seen under, with when it was first and last seen."""

    __tablename__ = "nicknames"
    __table_args__ = (UniqueConstraint("user_id", "nickname"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    nickname: Mapped[str] = mapped_column(String(100))
    first_seen: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class ApiCall(Base):
    """One model call: tokens (cache reads and writes included) and cost, for a user when there is one."""

    __tablename__ = "api_calls"
    __table_args__ = tuple(Index(f"ix_api_calls_{'_'.join(c)}", *c) for c in (  # days: 0006, 0010
        ("created_at",), ("user_id", "created_at"), ("guild_id", "created_at")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # spent for this server (0010)
    purpose: Mapped[str] = mapped_column(String(32))  # reply, vote, summary, core_memory, consolidation, ...
    model: Mapped[str] = mapped_column(String(100))
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_creation_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    # Web searches the call made (billed per search; the day's caps count them, bot/features/websearch/; 0024)
    web_searches: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)
    ok: Mapped[bool] = mapped_column(Boolean, default=True)
    error: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class UsageDay(Base):
    """``api_calls`` of one UTC day and model, added up before the rows themselves go after
    ``usage_retention_days`` (0013_retention): the dashboard's cost history and /status's totals outlive
    them. No person in it."""

    __tablename__ = "api_usage_days"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC, YYYY-MM-DD
    model: Mapped[str] = mapped_column(String(100), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger, default=0)
    input_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    output_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_creation_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)


class Conversation(Base):
    """One user's conversation in one scope: a DM (``dm``) or a channel (``channel:<id>``)."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("character", "user_id", "scope"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    summary_since: Mapped[datetime | None] = mapped_column(TZ, nullable=True)  # its first message's time
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # Moved forward by a trigger (0004) whenever one of its history messages changes: the turn cache's truth.
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class HistoryMessage(Base):
    __tablename__ = "history_messages"
    # AUTOINCREMENT on SQLite (0029): an id is never handed out again after its row is deleted, so nothing
    # that names a turn by id (a reply's swipes) can come to name someone else's (PostgreSQL never reuses).
    __table_args__ = (Index("ix_history_conversation_id_id", "conversation_id", "id"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(Integer, ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    discord_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class CoreMemory(Base):
    """What the character holds true about a user; rewritten by summarization, added to by /remember."""

    __tablename__ = "core_memories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    content: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16), default="summary")  # summary | user | admin | *_dm
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # Where it may be used (0016, issue 49): a private source (records.PRIVATE_SOURCES) in DMs only; else the
    # server it was learnt in, recalled there only unless users.memory_everywhere; NULL (an admin's): all.
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    # A note made with "Remember this" (0032): the author of the words it quotes, whose /forget_me deletes it
    # and whose opt-out keeps it out of prompts. NULL for every other memory.
    quoted_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None, index=True)


class CoreMemoryVersion(Base):
    """Every earlier version of a user's core memories (replaces ClaudeMask's pickle dumps)."""

    __tablename__ = "core_memory_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    snapshot: Mapped[str] = mapped_column(Text)  # JSON list of {content, source, guild_id}
    reason: Mapped[str] = mapped_column(String(64), default="")  # an Archived code (database/records.py)
    reason_detail: Mapped[str] = mapped_column(String(120), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class IdentityEntry(Base):
    """The bot's self-identity: traits, lore, facts and quirks."""

    __tablename__ = "identity_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # trait | lore | fact | quirk
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    source: Mapped[str] = mapped_column(String(64), default="admin", server_default="admin")  # identity.py


class UserFact(Base):
    """A long-term fact about a user, with its sentence embedding for recall."""

    __tablename__ = "user_facts"
    # Recall's cache checks a user's newest change at every reply: answered from this index alone
    # (0002_memory).
    __table_args__ = (Index("ix_user_facts_user_id_updated_at", "user_id", "updated_at", "id"),
                      Index("ix_user_facts_doubts", "doubts"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    fact: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(50), default="general")
    first_mentioned: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    last_mentioned: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    reference_count: Mapped[int] = mapped_column(Integer, default=1)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float32 little-endian
    embedding_model: Mapped[str | None] = mapped_column(String(100), nullable=True)  # 0035; NULL: MiniLM
    # Learnt from direct messages: recalled only in DMs, never in a channel's prompt (0002_memory).
    private: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set on every insert and update (Core updates apply onupdate): recall's per-user cache compares it.
    updated_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=utcnow, onupdate=utcnow)
    # 0012_fact_time_and_lasting. Lasting: who they are, their people, life events, preferences, plans: never
    # expires. said_at: when they said it; happened_at: when what it tells happened, where they said so.
    lasting: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    said_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    happened_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    # The server whose public channels taught it (None: DM, private place, by hand): recalled there (0015).
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, default=None)
    # 0019_fact_history. A fact that stopped being true is closed, not overwritten: since when, by which fact,
    # and its past-tense wording (NULL: not told as history, e.g. only reworded). Open: all three NULL.
    valid_until: Mapped[datetime | None] = mapped_column(TZ, nullable=True, default=None)
    superseded_by: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)
    past: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    doubts: Mapped[int | None] = mapped_column(Integer, nullable=True, default=None)  # 0032: may replace it
    # 0034_fact_slots. The slot the extraction named (memory/slots.py) and its value; NULL: English cues.
    slot: Mapped[str | None] = mapped_column(String(80), nullable=True, default=None)
    slot_value: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # 0042_fact_gloss. The fact in English, where it is kept in another language (the extraction writes it):
    # what the English embedding model reads of it (memory/embeddings.py ``glossed``); never shown.
    gloss: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)


class Relationship(Base):
    """How the character feels about a user. anger/rapport/trust 0..10, formality -5..+5."""

    __tablename__ = "relationships"
    __table_args__ = (UniqueConstraint("character", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    anger: Mapped[float] = mapped_column(Float, default=0.0)
    rapport: Mapped[float] = mapped_column(Float, default=5.0)
    trust: Mapped[float] = mapped_column(Float, default=5.0)
    formality: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # How much the daily consolidation moved each metric on ``consolidated_day`` (UTC date): the daily bound
    # holds across several runs (and a re-run after a crash) on the same day (0002_memory).
    consolidated_day: Mapped[str] = mapped_column(String(10), default="")
    consolidated_change: Mapped[str] = mapped_column(Text, default="{}")  # JSON {metric: summed delta}
    felt_since: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON, see database/person_read.py


class GlobalState(Base):
    """Key-value state shared by the whole bot (daily mood, verbose flag, last consolidation, ...)."""

    __tablename__ = "global_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class ScopedSetting(Base):
    """One registered setting's value at one scope (0043_scoped_settings; database/place_config.py): a
    server's or a channel's activation, switches and /settings, a row per value an admin set; a person's
    own settings (0044), a row per value they set."""

    __tablename__ = "scoped_settings"
    __table_args__ = (UniqueConstraint("scope", "scope_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # server | channel | person
    scope_id: Mapped[int] = mapped_column(BigInteger)  # the server's, channel's or person's id
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[str] = mapped_column(Text)  # JSON
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class _MessageColumns:
    """Columns shared by the short-term log and the permanent archive."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    author_id: Mapped[int] = mapped_column(BigInteger, index=True)
    author_name: Mapped[str] = mapped_column(String(100), default="")
    author_is_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    is_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text, default="")
    reply_to_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    # Said in a private place of a server (a private channel or thread, a ticket's): kept like a DM's (0015).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class LoggedMessage(_MessageColumns, Base):
    """Short-term log: every message the bot sees, until the daily consolidation archives it."""

    __tablename__ = "message_log"
    __table_args__ = (Index("ix_message_log_channel_id_id", "channel_id", "id"),)


class ArchivedMessage(_MessageColumns, Base):
    __tablename__ = "message_archive"
    __table_args__ = (Index("ix_message_archive_channel_id_id", "channel_id", "id"),
                      Index("ix_message_archive_created_at", "created_at"))  # the retention job's (0013)

    archived_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class ArchiveExcerpt(Base):
    """One archived message in a person's past conversations, for episodic recall (0014_archive_excerpts):
    their own words, and the character's lines beside them, copied with the place and time so that the
    person's rows are theirs alone (/forget_me deletes them by ``user_id``)."""

    __tablename__ = "archive_excerpts"
    __table_args__ = (UniqueConstraint("user_id", "message_id"),
                      Index("ix_archive_excerpts_user_id_id", "user_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(BigInteger)
    channel_id: Mapped[int] = mapped_column(BigInteger)
    guild_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    is_dm: Mapped[bool] = mapped_column(Boolean, default=False)
    speaker: Mapped[str] = mapped_column(String(100), default="")
    own: Mapped[bool] = mapped_column(Boolean, default=True)  # the person's words (else the character's)
    content: Mapped[str] = mapped_column(Text, default="")
    said_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)  # float32 little-endian
    embedding_model: Mapped[str | None] = mapped_column(String(100), nullable=True)  # as UserFact's


class PostedFor(Base):
    """A post of the bot's made on a person's behalf, quoting them (their poll, its results, their ticket's
    opening): in the log and the archive it is theirs, and /forget_me deletes it (0015)."""

    __tablename__ = "posted_for"

    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class CharacterState(Base):
    """Per-character growth: interaction count and unlocked evolution stage."""

    __tablename__ = "character_state"

    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    interaction_count: Mapped[int] = mapped_column(Integer, default=0)
    stage: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class CharacterAffinity(Base):
    """How two characters of one bot feel about each other, -10..10."""

    __tablename__ = "character_affinity"
    __table_args__ = (UniqueConstraint("character_a", "character_b"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character_a: Mapped[str] = mapped_column(String(100))
    character_b: Mapped[str] = mapped_column(String(100))
    value: Mapped[float] = mapped_column(Float, default=0.0)
    exchanges: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class DailyCount(Base):
    """Per-day counters of the reply pipeline that no other table holds: messages considered, answered, put
    to the vote, votes cast, fallbacks sent (0006_dashboard_stats). Nothing in it is about a person."""

    __tablename__ = "daily_counts"

    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # UTC, YYYY-MM-DD
    character: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # seen | answered | voted | votes | ...
    value: Mapped[int] = mapped_column(BigInteger, default=0)
