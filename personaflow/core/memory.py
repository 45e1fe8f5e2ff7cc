"""Memories: what a character has experienced, with trimming, auto-summaries and pluggable storage.

``MemoryManager.memories`` is chronological (oldest first); :meth:`MemoryManager.get_memories` returns
newest first. When the memories added since the last summary reach ``summary_threshold``, a ``summary``
memory is appended: written by the configured ``summarizer`` callable (Kindred passes one that asks
Claude) or, without one (or when it fails), by a deterministic extractive summary.

Storage is pluggable: any object with ``load(character_name) -> list[Memory]`` (oldest first),
``append(memory)`` and ``replace(memories)`` (the character's complete, non-empty new list) will do;
the default keeps memories in process memory. A store may also offer ``trim(character_name, keep)``
(drop all but the newest ``keep``), which trimming then uses instead of rewriting the whole list.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from personaflow.utils.validators import check_memory_config, check_memory_content

log = logging.getLogger(__name__)

SUMMARY_TYPE = "summary"
MemoryContent = str | dict[str, Any]
Summarizer = Callable[[list["Memory"]], str]


def _now() -> datetime:
    return datetime.now(UTC)


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"memory timestamp must be an ISO date string, a number or a datetime, got {value!r}")


@dataclass
class Memory:
    """One remembered thing. ``content`` is text or a dict (e.g. ``{"user": ..., "response": ...}``)."""

    timestamp: datetime
    type: str
    content: MemoryContent
    metadata: dict[str, Any] = field(default_factory=dict)
    character_name: str = ""

    def text(self) -> str:
        """The content as one line of text (dict contents read as ``key: value`` pairs)."""
        if isinstance(self.content, dict):
            return "\n".join(f"{k}: {v}" for k, v in self.content.items())
        return str(self.content)

    def to_dict(self) -> dict[str, Any]:
        return {"timestamp": self.timestamp.isoformat(), "type": self.type, "content": self.content,
                "metadata": dict(self.metadata), "character_name": self.character_name}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Memory:
        for key in ("timestamp", "type", "content"):
            if key not in data:
                raise ValueError(f"memory dict is missing {key!r}")
        return cls(
            timestamp=_parse_time(data["timestamp"]),
            type=str(data["type"]),
            content=data["content"],
            metadata=dict(data.get("metadata") or {}),
            character_name=str(data.get("character_name") or ""),
        )


@dataclass
class MemoryConfig:
    max_memories: int = 1000
    summary_threshold: int = 10
    auto_summarize: bool = True

    def __post_init__(self) -> None:
        check_memory_config(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_memories": self.max_memories,
            "summary_threshold": self.summary_threshold,
            "auto_summarize": self.auto_summarize,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MemoryConfig:
        """Missing fields take their defaults; an unknown key is a ValueError."""
        check_memory_config(data)
        return cls(**data)

    @classmethod
    def coerce(cls, config: MemoryConfig | Mapping[str, Any] | None) -> MemoryConfig:
        """PersonaFlow's documented usage passes a plain dict wherever a config is taken."""
        if config is None:
            return cls()
        if isinstance(config, MemoryConfig):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        raise ValueError(f"memory_config must be a MemoryConfig or a dict, got {type(config).__name__}")


MemoryConfigLike = MemoryConfig | Mapping[str, Any]


class MemoryStore(Protocol):
    def load(self, character_name: str) -> list[Memory]: ...

    def append(self, memory: Memory) -> None: ...

    def replace(self, memories: list[Memory]) -> None: ...


class InMemoryStore:
    """The default store: a dict of lists, keyed by character name."""

    def __init__(self) -> None:
        self._by_character: dict[str, list[Memory]] = {}

    def load(self, character_name: str) -> list[Memory]:
        return list(self._by_character.get(character_name, []))

    def append(self, memory: Memory) -> None:
        self._by_character.setdefault(memory.character_name, []).append(memory)

    def replace(self, memories: list[Memory]) -> None:
        for name in {m.character_name for m in memories}:
            self._by_character[name] = [m for m in memories if m.character_name == name]


# --------------------------------------------------------------------------- extractive summary

# Any language, no word list. Sentences end at a stop followed by a space, at a full-width stop (Japanese
# and Chinese put none after it) or at a line break. Words are runs of letters and digits; scripts written
# without spaces between words (Chinese, Japanese, Thai; Korean's particles fused to its words) are read
# as overlapping character pairs, the usual stand-in for their words. Japanese hiragana is left out: it
# writes the grammar (particles, endings), not the things a sentence is about.
# (A full-width stop followed by another, or by a closing quote or bracket, ends the sentence after those.)
_SENTENCE_END = re.compile(r"(?<=[.!?\u2026])\s+|(?<=[\u3002\uff01\uff1f\u061f\u0964])"
                           r"(?![\u3002\uff01\uff1f!?\u300d\u300f\uff09)\]\"'\u201d\u2019])\s*|\n+")
_FULL_STOP = ("\u3002", "\uff01", "\uff1f", "\u300d", "\u300f", "\uff09")  # what no space follows
_UNSPACED = ("\u0e00-\u0e7f\u3005\u30a1-\u30fa\u30fc-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af"
             "\uff66-\uff9f")
_HIRAGANA = "\u3041-\u309f"
_WORD = re.compile(rf"([{_UNSPACED}]+)|[{_HIRAGANA}]+|([^\W_{_UNSPACED}{_HIRAGANA}]+(?:['\u2019][^\W_]+)*)")


def _sentences(text: str) -> list[str]:
    return [p.strip() for p in _SENTENCE_END.split(text) if len(p.strip()) > 1]


def _words(text: str) -> list[str]:
    words: list[str] = []
    for unspaced, spaced in _WORD.findall(text.casefold()):
        if unspaced:
            pairs = [unspaced[i:i + 2] for i in range(len(unspaced) - 1)]
            words += pairs or [unspaced]
        elif len(spaced) > 1:  # a letter alone ("a", "y", "à") says nothing in any language
            words.append(spaced)
    return words


def extractive_summary(memories: Iterable[Memory], max_sentences: int | None = None) -> str:
    """The most informative sentences (by summed frequency of their content words), in original order.

    Deterministic: ties go to the earlier sentence. Picks about a third of the sentences, 1 to 5. In any
    language: a text's function words are the words in more than half of its sentences (at least two of
    them), so none are counted, with no list of any language's.
    """
    sentences: list[str] = []
    for memory in memories:
        for sentence in _sentences(memory.text()):
            if sentence not in sentences:
                sentences.append(sentence)
    if not sentences:
        return ""
    words = [_words(s) for s in sentences]
    in_sentences = Counter(w for ws in words for w in set(ws))
    common = max(2, len(sentences) // 2)
    freq = Counter(w for ws in words for w in ws if in_sentences[w] <= common)
    top = max(freq.values(), default=1)

    def score(i: int) -> float:
        counted = [w for w in words[i] if w in freq]
        if not counted:
            return 0.0
        # Normalised frequency, damped by length so one long rambling sentence does not win by size.
        return sum(freq[w] / top for w in counted) / math.sqrt(len(counted))

    count = max_sentences or min(5, max(1, math.ceil(len(sentences) / 3)))
    ranked = sorted(range(len(sentences)), key=lambda i: (-score(i), i))[:count]
    summary = ""
    for i in sorted(ranked):  # no space after a full-width stop, as those languages write
        summary += sentences[i] if not summary or summary.endswith(_FULL_STOP) else " " + sentences[i]
    return summary


# --------------------------------------------------------------------------- manager


class MemoryManager:
    def __init__(
        self,
        character_name: str,
        config: MemoryConfigLike | None = None,
        *,
        summarizer: Summarizer | None = None,
        store: MemoryStore | None = None,
    ) -> None:
        self.character_name = character_name
        self.config = MemoryConfig.coerce(config)
        self.summarizer = summarizer
        self.store: MemoryStore = store if store is not None else InMemoryStore()
        self.memories: list[Memory] = self.store.load(character_name)

    def add_memory(
        self, content: MemoryContent, memory_type: str = "interaction", metadata: dict[str, Any] | None = None
    ) -> Memory:
        """Record a memory; may trim the oldest and append an automatic summary."""
        check_memory_content(content)
        if not isinstance(memory_type, str) or not memory_type.strip():
            raise ValueError("memory_type must be a non-empty string")
        memory = Memory(_now(), memory_type, content, dict(metadata or {}), self.character_name)
        self._append(memory)
        if self.config.auto_summarize and memory_type != SUMMARY_TYPE:
            pending = self.unsummarized()
            if len(pending) >= self.config.summary_threshold:
                self._append(self.summarize(pending))
        return memory

    def _append(self, memory: Memory) -> None:
        self.memories.append(memory)
        self.store.append(memory)
        keep = self.config.max_memories
        if len(self.memories) > keep:
            self.memories = self.memories[-keep:]  # keep the newest
            trim = getattr(self.store, "trim", None)
            if trim is not None:
                trim(self.character_name, keep)
            else:
                self.store.replace(list(self.memories))

    def unsummarized(self) -> list[Memory]:
        """Non-summary memories added after the latest summary (chronological)."""
        last = max((i for i, m in enumerate(self.memories) if m.type == SUMMARY_TYPE), default=-1)
        return [m for m in self.memories[last + 1 :] if m.type != SUMMARY_TYPE]

    def summarize(self, memories: list[Memory]) -> Memory:
        """A summary memory of ``memories`` (not stored; :meth:`add_memory` appends it)."""
        method = "extractive"
        text = ""
        if self.summarizer is not None:
            try:
                text = str(self.summarizer(list(memories)) or "").strip()
                method = "summarizer"
            except Exception:  # a failing model call must not lose the interaction being recorded
                log.exception("summarizer failed for %s; using the extractive summary", self.character_name)
        if not text:
            text, method = extractive_summary(memories), "extractive"
        metadata = {
            "summarized_count": len(memories),
            "method": method,
            "first": memories[0].timestamp.isoformat() if memories else None,
            "last": memories[-1].timestamp.isoformat() if memories else None,
        }
        return Memory(_now(), SUMMARY_TYPE, text, metadata, self.character_name)

    def get_memories(
        self, limit: int | None = None, memory_types: Iterable[str] | None = None
    ) -> list[Memory]:
        """Newest first, optionally only some types, at most ``limit``."""
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 0):
            raise ValueError(f"limit must be a non-negative integer or None, got {limit!r}")
        types = set(memory_types) if memory_types is not None else None
        found = [m for m in reversed(self.memories) if types is None or m.type in types]
        return found if limit is None else found[:limit]

    def to_dict(self) -> dict[str, Any]:
        return {
            "character_name": self.character_name,
            "config": self.config.to_dict(),
            "memories": [m.to_dict() for m in self.memories],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        summarizer: Summarizer | None = None,
        store: MemoryStore | None = None,
    ) -> MemoryManager:
        manager = cls(str(data["character_name"]), data.get("config"), summarizer=summarizer, store=store)
        manager.restore([Memory.from_dict(m) for m in data.get("memories") or []])
        return manager

    def restore(self, memories: list[Memory]) -> None:
        """Make ``memories`` (chronological) this character's whole memory; nothing happens when it is
        empty."""
        if not memories:
            return
        # They are this character's now, whatever name a hand-written dict gave them (or left out).
        self.memories = [replace(m, character_name=self.character_name) for m in memories]
        self.store.replace(list(self.memories))
