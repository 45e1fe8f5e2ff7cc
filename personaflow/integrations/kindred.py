"""Kindred ↔ PersonaFlow: character folders, Kindred's database as a store, and Claude as the summarizer.

Kindred's database layer and Claude client are async; PersonaFlow is synchronous. :class:`KindredStore` and
:class:`ClaudeSummarizer` therefore run them on a private event loop in a background thread (an anyio
blocking portal) and block until each call is done, so they work from plain synchronous code. Calling them
from that loop's own thread is refused rather than left to deadlock.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from anyio.from_thread import BlockingPortal, start_blocking_portal
from dotenv import dotenv_values

from bot.core.claude import ClaudeClient, Prompt
from bot.core.config import Settings
from bot.core.persona import load_persona
from database.personaflow import PersonaFlowCharacterRow, PersonaFlowMemoryRow
from database.store import Store
from personaflow.core.character import Character
from personaflow.core.memory import Memory, MemoryConfigLike
from personaflow.core.system import PersonaSystem


def folder_env(folder: Path) -> dict[str, str]:
    """The folder's character.env, keys lower-cased (empty when the file is absent)."""
    path = folder / "character.env"
    if not path.is_file():
        return {}
    return {k.strip().lower(): v for k, v in dotenv_values(path).items() if v is not None}


def load_character_folder(system: PersonaSystem, folder: Path, *, name: str | None = None,
                          memory_config: MemoryConfigLike | None = None) -> Character:
    """Load ``folder`` (any Kindred format) and create it in ``system`` under its persona name (or ``name``).

    The background carries the short description, the format, the folder and, when the folder has an
    ``identity.json``, its traits/lore/facts/quirks. A system with a store saves the character there.
    """
    persona = load_persona(folder, folder_env(folder))
    background: dict[str, Any] = {"description": persona.description, "source_format": persona.source_format,
                                  "folder": str(folder)}
    identity = folder / "identity.json"
    if identity.is_file():
        data = json.loads(identity.read_text(encoding="utf-8"))
        background.update({k: list(v) for k, v in data.items() if isinstance(v, list)})
    if persona.topic_interests:
        background["topic_interests"] = list(persona.topic_interests)
    return system.create_character(name or persona.name, persona.system_prompt, background, memory_config)


class _PortalUser:
    """Owns (or borrows) a blocking portal: a private event loop running in a daemon thread."""

    def __init__(self, portal: BlockingPortal | None, thread_name: str) -> None:
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        if portal is None:
            self._portal_cm = start_blocking_portal(name=thread_name)
            portal = self._portal_cm.__enter__()
        self.portal = portal
        self.closed = False

    def _stop_portal(self) -> None:
        if self._portal_cm is not None:
            self._portal_cm.__exit__(None, None, None)
            self._portal_cm = None

    def close(self) -> None:
        self.closed = True
        self._stop_portal()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class KindredStore(_PortalUser):
    """A PersonaSystem's characters and memories in Kindred's database (SQLite or PostgreSQL URL).

    Pass it as ``PersonaSystem(store=KindredStore(url))``: the characters saved there are loaded, new ones
    are saved, and every memory is written (committed) before ``add_memory`` returns, so a new process
    sees it. Opening runs Kindred's migrations, as the bot does at start-up.
    """

    def __init__(self, url: str) -> None:
        super().__init__(None, "personaflow-kindred-store")
        try:
            self.store: Store = self.portal.call(_open_store, url)
        except BaseException:
            self._stop_portal()
            raise

    def close(self) -> None:
        if not self.closed:
            self.portal.call(self.store.close)
        super().close()

    # -- MemoryStore

    def load(self, character_name: str) -> list[Memory]:
        rows = self.portal.call(self.store.personaflow.memories, character_name)
        return [Memory(r.timestamp, r.type, r.content, r.metadata, r.character) for r in rows]

    def append(self, memory: Memory) -> None:
        self.portal.call(self.store.personaflow.add_memories, [_row(memory)])

    def replace(self, memories: list[Memory]) -> None:
        by_character: dict[str, list[PersonaFlowMemoryRow]] = defaultdict(list)
        for memory in memories:
            by_character[memory.character_name].append(_row(memory))
        for name, rows in by_character.items():
            self.portal.call(self.store.personaflow.replace_memories, name, rows)

    def trim(self, character_name: str, keep: int) -> None:
        self.portal.call(self.store.personaflow.trim_memories, character_name, keep)

    # -- SystemStore

    def load_characters(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "prompt": c.prompt, "background": c.background, "memory_config": c.memory_config}
            for c in self.portal.call(self.store.personaflow.characters)
        ]

    def save_character(self, definition: Mapping[str, Any]) -> None:
        row = PersonaFlowCharacterRow(
            str(definition["name"]),
            str(definition["prompt"]),
            dict(definition.get("background") or {}),
            dict(definition.get("memory_config") or {}),
        )
        self.portal.call(self.store.personaflow.save_character, row)

    def delete_character(self, name: str) -> None:
        self.portal.call(self.store.personaflow.delete_character, name)


async def _open_store(url: str) -> Store:
    return await Store(url).open()


def _row(memory: Memory) -> PersonaFlowMemoryRow:
    return PersonaFlowMemoryRow(
        memory.character_name, memory.type, memory.content, dict(memory.metadata), memory.timestamp
    )


SUMMARY_INSTRUCTIONS = (
    "You keep the memory of a character in a story or chat. Summarize the memories you are given in a few "
    "sentences, in the third person: keep names, facts, preferences, promises and open questions the "
    "character will need later; leave out greetings and small talk. Answer with the summary only."
)


def summary_prompt(memories: list[Memory]) -> Prompt:
    """The request a summary is written from: the instructions, then the memories oldest first."""
    name = next((m.character_name for m in memories if m.character_name), "the character")
    lines = [
        f"- [{m.timestamp.isoformat(timespec='seconds')}, {m.type}] {m.text()}".replace("\n", "; ")
        for m in memories
    ]
    text = f"Memories of {name}, oldest first:\n" + "\n".join(lines)
    return Prompt(
        system=[{"type": "text", "text": SUMMARY_INSTRUCTIONS}],
        messages=[{"role": "user", "content": [{"type": "text", "text": text}]}],
    )


class ClaudeSummarizer(_PortalUser):
    """A PersonaFlow summarizer (``PersonaSystem(summarizer=...)``) that asks Claude through Kindred's
    ClaudeClient, with its retries, deadline (``summarize_timeout``) and model (``default_model``).

    With a :class:`KindredStore`, it shares that store's loop and records each call's usage in Kindred's
    database. A failed call raises, and the memory manager falls back to its extractive summary.
    """

    PURPOSE = "personaflow_summary"

    def __init__(
        self,
        settings: Settings,
        *,
        store: KindredStore | None = None,
        user_id: int | None = None,
        max_tokens: int = 500,
    ) -> None:
        super().__init__(store.portal if store is not None else None, "personaflow-claude")
        self.client = ClaudeClient(settings, store.store.usage if store is not None else None)
        self.user_id = user_id
        self.max_tokens = max_tokens

    def __call__(self, memories: list[Memory]) -> str:
        call = partial(
            self.client.summarize,
            summary_prompt(memories),
            user_id=self.user_id,
            guild_id=None,  # a personaflow session belongs to no server: its spend is the bot's
            purpose=self.PURPOSE,
            max_tokens=self.max_tokens,
        )
        return self.portal.call(call).text

    def close(self) -> None:
        if not self.closed:
            try:
                self.portal.call(self.client.close)
            except RuntimeError:
                # A borrowed loop (the store's) is gone if the store was closed first, and the client's
                # connections went with it: nothing is left to close.
                if self._portal_cm is not None:
                    raise
        super().close()
