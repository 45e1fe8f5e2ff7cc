"""PersonaSystem: several characters, one of them active, sharing broadcast events."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from personaflow.core.character import Character
from personaflow.core.memory import Memory, MemoryConfigLike, MemoryContent, MemoryStore, Summarizer


class SystemStore(MemoryStore, Protocol):
    """Storage for a whole system: the characters themselves as well as their memories."""

    def load_characters(self) -> list[dict[str, Any]]:
        """Saved definitions (``name``, ``prompt``, ``background``, ``memory_config``) in creation order."""
        ...

    def save_character(self, definition: Mapping[str, Any]) -> None: ...

    def delete_character(self, name: str) -> None:
        """Forget the character and its memories."""
        ...


def _definition(character: Character) -> dict[str, Any]:
    return {"name": character.name, "prompt": character.prompt, "background": dict(character.background),
            "memory_config": character.memory_manager.config.to_dict()}


class PersonaSystem:
    def __init__(self, *, summarizer: Summarizer | None = None,
                 store_factory: Callable[[str], MemoryStore] | None = None,
                 store: SystemStore | None = None) -> None:
        """``summarizer`` and ``store_factory(character_name)`` are handed to every character created here.

        ``store`` persists the characters as well as their memories: the characters it already holds are
        loaded now, and every character created here is saved to it.
        """
        if store is not None and store_factory is not None:
            raise ValueError("pass either store or store_factory, not both")
        self.characters: dict[str, Character] = {}
        self.active_character: str | None = None
        self.summarizer = summarizer
        self.store = store
        self.store_factory = store_factory
        if store is not None:
            for saved in store.load_characters():
                self.characters[saved["name"]] = Character(
                    saved["name"], saved["prompt"], saved.get("background"), saved.get("memory_config"),
                    summarizer=summarizer, store=store)

    def _store(self, name: str) -> MemoryStore | None:
        if self.store is not None:
            return self.store
        return self.store_factory(name) if self.store_factory is not None else None

    def _add(self, character: Character) -> Character:
        if self.store is not None:
            self.store.save_character(_definition(character))
        self.characters[character.name] = character
        return character

    def create_character(self, name: str, prompt: str, background: dict[str, Any] | None = None,
                         memory_config: MemoryConfigLike | None = None) -> Character:
        if name in self.characters:
            raise ValueError(f"a character named {name!r} already exists")
        return self._add(Character(name, prompt, background, memory_config, summarizer=self.summarizer,
                                   store=self._store(name)))

    def get_character(self, name: str) -> Character:
        try:
            return self.characters[name]
        except KeyError:
            raise KeyError(
                f"unknown character {name!r}; known: {', '.join(sorted(self.characters)) or 'none'}"
            ) from None

    def remove_character(self, name: str) -> None:
        self.get_character(name)
        if self.store is not None:
            self.store.delete_character(name)
        del self.characters[name]
        if self.active_character == name:
            self.active_character = None

    def switch_active_character(self, name: str) -> Character:
        character = self.get_character(name)
        self.active_character = name
        return character

    def get_active_character(self) -> Character | None:
        return self.characters.get(self.active_character) if self.active_character else None

    def add_interaction(
        self,
        character_name: str,
        content: MemoryContent,
        memory_type: str = "interaction",
        metadata: dict[str, Any] | None = None,
    ) -> Memory:
        return self.get_character(character_name).add_memory(content, memory_type, metadata)

    def broadcast_interaction(
        self,
        content: MemoryContent,
        memory_type: str = "broadcast",
        metadata: dict[str, Any] | None = None,
        character_names: Iterable[str] | None = None,
    ) -> list[Memory]:
        """Give every character (or the named ones) the same memory; unknown names fail before any is
        added."""
        names = list(self.characters) if character_names is None else list(character_names)
        targets = [self.get_character(n) for n in names]
        return [c.add_memory(content, memory_type, dict(metadata or {})) for c in targets]

    def to_dict(self) -> dict[str, Any]:
        return {
            "characters": {name: c.to_dict() for name, c in self.characters.items()},
            "active_character": self.active_character,
        }

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        *,
        summarizer: Summarizer | None = None,
        store_factory: Callable[[str], MemoryStore] | None = None,
        store: SystemStore | None = None,
    ) -> PersonaSystem:
        system = cls(summarizer=summarizer, store_factory=store_factory, store=store)
        for name, raw in (data.get("characters") or {}).items():
            system._add(Character.from_dict(raw, summarizer=summarizer, store=system._store(name)))
        active = data.get("active_character")
        if active is not None:
            system.switch_active_character(active)
        return system
