"""The tables of what runs beside the characters: the ``personaflow`` library's characters and memories
(0003_personaflow), the processes of a cluster, and the first look's renderings of cards' words. Kept
beside models.py (same ``Base``) so each file stays readable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from database.boundary import Json, JsonObject
from database.models import TZ, Base, utcnow


class PersonaFlowCharacter(Base):
    """A character of the ``personaflow`` library, when a program persists it here (0003_personaflow)."""

    __tablename__ = "personaflow_characters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # creation order
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prompt: Mapped[str] = mapped_column(Text)
    background: Mapped[JsonObject] = mapped_column(JSON)
    memory_config: Mapped[JsonObject] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class PersonaFlowMemory(Base):
    """One memory of a ``personaflow`` character; ``id`` keeps their order."""

    __tablename__ = "personaflow_memories"
    __table_args__ = (Index("ix_personaflow_memories_character_id", "character", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    character: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    content: Mapped[Json] = mapped_column(JSON)  # text, or a dict such as {"user": ..., "response": ...}
    # "metadata" is taken on declarative classes, hence the attribute name.
    meta: Mapped[JsonObject] = mapped_column("metadata", JSON)
    created_at: Mapped[datetime] = mapped_column(TZ)  # the memory's own timestamp


class ClusterNode(Base):
    """One Kindred process of a cluster on a shared PostgreSQL: its shards and its latest heartbeat
    (bot/runtime/cluster.py; `main.py cluster status` reads them)."""

    __tablename__ = "cluster_nodes"

    node_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    character: Mapped[str] = mapped_column(String(100), index=True)
    host: Mapped[str] = mapped_column(String(255), default="")
    pid: Mapped[int] = mapped_column(Integer, default=0)
    shards: Mapped[str] = mapped_column(String(200), default="")
    shard_count: Mapped[int] = mapped_column(Integer, default=1)
    leader: Mapped[bool] = mapped_column(Boolean, default=False)
    started_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(TZ, default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(TZ, nullable=True)


class CardWordsRow(Base):
    """A card's interest vocabulary rendered in one language, for the first look's reading of messages in
    that language (bot/reply/deciding/cardwords.py; 0036_card_words). ``card_key``: a hash of the card's
    text, so an edited card is rendered anew."""

    __tablename__ = "card_words"

    card_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    words: Mapped[JsonObject] = mapped_column(JSON)  # {"interests": [...], "prose": [...]} as the model gave
    model: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(TZ, default=utcnow)


class SharedCount(Base):
    """A count every process of a cluster adds to, in a window of time (0045_shared_counts): the REST
    requests of the current second, the invalid requests of the current ten minutes (database/cluster.py)."""

    __tablename__ = "shared_counts"

    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    period: Mapped[int] = mapped_column(BigInteger)  # the window's number: the database's epoch / its length
    used: Mapped[int] = mapped_column(Integer)
