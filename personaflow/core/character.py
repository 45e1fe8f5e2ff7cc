"""A character: a name, a prompt, background facts and its own memories."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from personaflow.core.memory import (
    Memory,
    MemoryConfigLike,
    MemoryContent,
    MemoryManager,
    MemoryStore,
    Summarizer,
)
from personaflow.utils.validators import check_character_name


class Character:
    def __init__(self, name: str, prompt: str, background: dict[str, Any] | None = None,
                 memory_config: MemoryConfigLike | None = None, *, summarizer: Summarizer | None = None,
                 store: MemoryStore | None = None) -> None:
        check_character_name(name)
        if not isinstance(prompt, str) or not prompt.strip():
            raise ValueError(f"character {name!r} needs a non-empty prompt")
        if background is not None and not isinstance(background, dict):
            raise ValueError(f"background of {name!r} must be a dict, got {type(background).__name__}")
        self.name = name
        self.prompt = prompt
        self.background: dict[str, Any] = dict(background or {})
        self.memory_manager = MemoryManager(name, memory_config, summarizer=summarizer, store=store)

    def __repr__(self) -> str:
        return f"Character(name={self.name!r}, memories={len(self.memory_manager.memories)})"

    def add_memory(self, content: MemoryContent, memory_type: str = "interaction",
                   metadata: dict[str, Any] | None = None) -> Memory:
        return self.memory_manager.add_memory(content, memory_type, metadata)

    def get_context(self, include_memories: bool = True, memory_limit: int | None = None,
                    memory_types: Iterable[str] | None = None) -> dict[str, Any]:
        """What a prompt needs: name, prompt, background and (optionally) memories, newest first, as dicts."""
        context: dict[str, Any] = {
            "name": self.name,
            "prompt": self.prompt,
            "background": dict(self.background),
        }
        if include_memories:
            memories = self.memory_manager.get_memories(limit=memory_limit, memory_types=memory_types)
            context["memories"] = [m.to_dict() for m in memories]
        return context

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prompt": self.prompt,
            "background": dict(self.background),
            "memory_config": self.memory_manager.config.to_dict(),
            "memories": [m.to_dict() for m in self.memory_manager.memories],
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        summarizer: Summarizer | None = None,
        store: MemoryStore | None = None,
    ) -> Character:
        for key in ("name", "prompt"):
            if key not in data:
                raise ValueError(f"character dict is missing {key!r}")
        character = cls(
            data["name"],
            data["prompt"],
            data.get("background"),
            data.get("memory_config"),
            summarizer=summarizer,
            store=store,
        )
        character.memory_manager.restore([Memory.from_dict(m) for m in data.get("memories") or []])
        return character
