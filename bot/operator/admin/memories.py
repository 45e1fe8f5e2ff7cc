"""Admin edits of what the character remembers about one person: long-term facts (``/facts``) and core
memories with their archived versions (``/memories``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.i18n import N_, t, tn
from bot.core.text import clip
from bot.operator.admin.edits import checked_text
from bot.operator.admin.language import (
    Choice,
    format_day,
    id_choices,
    memory_source,
    parse_id,
    parse_user_id,
    user_label,
    version_reason,
)
from bot.operator.admin.users import Users
from bot.operator.conversation_tools import InvalidInput
from database.facts import Facts
from database.memories import Memories
from database.records import CoreMemoryRow, FactRow, UserRecord
from memory.facts import time_label

Embed = Callable[[str], Awaitable[bytes]]  # one sentence's stored embedding (MemoryService.embed)

NOT_EMBEDDED = N_("Stored without an embedding: no memory engine is loaded to compute one, so similarity "
                   "recall cannot find this fact until it is embedded.")


def _not_embedded(language: str | None) -> str:
    return "\n-# " + t(language, NOT_EMBEDDED)


def _category(category: str) -> str:
    return category.strip()[:50] or "general"


class EditConflict(InvalidInput):
    """What was being edited changed since the editor read it; nothing was saved."""


class FactEdits:
    """``/facts``: a user's long-term facts. New and edited texts are embedded with ``embed`` (the memory
    engine's), so recall finds them at once; without one they are stored unembedded, and the answer says
    so."""

    def __init__(self, facts: Facts, users: Users, embed: Embed | None = None) -> None:
        self.facts = facts
        self.users = users
        self.embed = embed

    async def _embedding(self, text: str) -> bytes | None:
        return await self.embed(text) if self.embed is not None else None

    async def _fact(self, user: UserRecord, raw: str | int) -> FactRow:
        fact_id = parse_id(raw, "fact")
        row = await self.facts.get(user.id, fact_id)
        if row is None:
            raise InvalidInput(N_("{user} has no fact #{id}."), user=user_label(user), id=fact_id)
        return row

    async def add(self, user_arg: str, text: str, category: str = "general", pinned: bool = False,
                  language: str | None = None) -> str:
        """Each answer in ``language`` (the admin's on Discord; None: English)."""
        user = await self.users.known(user_arg)
        text = checked_text(text, "fact")
        category = _category(category or "general")
        embedding = await self._embedding(text)
        fact_id = await self.facts.add(user.id, text, category=category, pinned=pinned,
                                                    embedding=embedding)
        added = (t(language, "Added fact #{id} [{category}] (pinned) about {user}: {text}", id=fact_id,
                   category=category, user=user_label(user, language), text=clip(text, 300)) if pinned
                 else t(language, "Added fact #{id} [{category}] about {user}: {text}", id=fact_id,
                        category=category, user=user_label(user, language), text=clip(text, 300)))
        return added + (_not_embedded(language) if embedding is None else "")

    async def show(self, user_arg: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        rows = await self.facts.rows(user.id)
        if not rows:
            return t(language, "No long-term facts about {user}.", user=user_label(user, language))
        unembedded = " " + t(language, "(not embedded)")
        lines = [f"#{r.id} [{r.category}]{' 📌' if r.pinned else ''} {clip(r.fact, 300)} "
                 f"({time_label(r, language)})" + (unembedded if r.embedding is None else "") for r in rows]
        heading = t(language, "**Facts about {user}**", user=user_label(user, language))
        return heading + "\n" + "\n".join(lines)

    async def edit(self, user_arg: str, raw: str | int, text: str | None, category: str | None,
                   language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        row = await self._fact(user, raw)
        if text is None and category is None:
            raise InvalidInput(N_("Give a new text, a new category, or both."))
        new_text = checked_text(text, "fact") if text is not None else None
        new_category = _category(category) if category is not None else None
        embedding = await self._embedding(new_text) if new_text is not None else None
        await self.facts.edit(user.id, row.id, fact=new_text, category=new_category,
                                    embedding=embedding)
        note = _not_embedded(language) if new_text is not None and embedding is None else ""
        return t(language, "Changed fact #{id} about {user}\nwas: {old}\nnow: {new}", id=row.id,
                 user=user_label(user, language), old=f"[{row.category}] {clip(row.fact, 300)}",
                 new=f"[{new_category or row.category}] {clip(new_text or row.fact, 300)}") + note

    async def delete(self, user_arg: str, raw: str | int, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        row = await self._fact(user, raw)
        await self.facts.delete(user.id, row.id)
        return t(language, "Deleted fact #{id} about {user}: {text}", id=row.id,
                 user=user_label(user, language),
                 text=clip(row.fact, 300))

    async def pin(self, user_arg: str, raw: str | int, pinned: bool = True,
                  language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        row = await self._fact(user, raw)
        await self.facts.pin(user.id, row.id, pinned)
        done = (N_("Pinned fact #{id} about {user}: {text}") if pinned
                else N_("Unpinned fact #{id} about {user}: {text}"))
        return t(language, done, id=row.id, user=user_label(user, language), text=clip(row.fact, 300))

    async def choices(self, user_arg: str, current: str) -> list[Choice]:
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.facts.rows(user_id)
        labels = ((r.id, f"#{r.id} [{r.category}]{' 📌' if r.pinned else ''} {r.fact}") for r in rows)
        return id_choices(labels, current)


def _placed(memory: CoreMemoryRow, language: str | None = None) -> str:
    """Its source and where it is used (issue 49): DMs only, one server, or every place (an admin's)."""
    where = ("" if memory.private else " · " + t(language, "every place") if memory.guild_id is None
             else " · " + t(language, "server {server} only", server=memory.guild_id))
    return memory_source(memory.source, language) + where


class MemoryEdits:
    """``/memories``: a user's core memories; every change archives the previous version. Each answer is in
    ``language`` (the admin's on Discord; None: English, the dashboard's and the log channel's)."""

    def __init__(self, memories: Memories, character: str, users: Users) -> None:
        self.memories = memories
        self.character = character
        self.users = users

    async def _memory(self, user: UserRecord, raw: str | int) -> tuple[int, str, str]:
        memory_id = parse_id(raw, "memory")
        for memory in await self.memories.core_memories(self.character, user.id):
            if memory[0] == memory_id:
                return memory
        raise InvalidInput(N_("{user} has no core memory #{id}."), user=user_label(user), id=memory_id)

    async def show(self, user_arg: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        memories = await self.memories.placed_memories(self.character, user.id)
        if not memories:
            return t(language, "No core memories of {user}.", user=user_label(user, language))
        return t(language, "**Core memories of {user}**", user=user_label(user, language)) + "\n" + "\n".join(
            f"#{m.id} ({_placed(m, language)}) {clip(m.content, 400)}" for m in memories)

    async def add(self, user_arg: str, text: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        text = checked_text(text, "memory")
        memory_id = await self.memories.add_core_memory(self.character, user.id, text, source="admin")
        return t(language, "Added core memory #{id} of {user}: {text}", id=memory_id,
                 user=user_label(user, language),
                 text=clip(text, 300))

    async def edit(self, user_arg: str, raw: str | int, text: str, *, expected: str | None = None,
                   language: str | None = None) -> str:
        """``expected``: the text the editor started from (the dashboard); when the memory no longer reads
        so, someone else changed it meanwhile and nothing is saved (EditConflict)."""
        user = await self.users.known(user_arg)
        memory_id, old, _ = await self._memory(user, raw)
        new = checked_text(text, "memory")
        if (expected is not None and old != expected) or not await self.memories.update_core_memory(
                memory_id, new, expected=expected):
            raise EditConflict(N_("Core memory #{id} of {user} was changed by someone else after you opened "
                                  "it, so your edit was not saved; its current text is shown."),
                               id=memory_id, user=user_label(user))
        return t(language, "Changed core memory #{id} of {user} (the old version is archived)\nwas: {old}\n"
                           "now: {new}", id=memory_id, user=user_label(user, language), old=clip(old, 300),
                 new=clip(new, 300))

    async def delete(self, user_arg: str, raw: str | int, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        memory_id, old, _ = await self._memory(user, raw)
        await self.memories.delete_core_memory(memory_id)
        return t(language, "Deleted core memory #{id} of {user} (archived first): {text}", id=memory_id,
                 user=user_label(user, language), text=clip(old, 300))

    async def history(self, user_arg: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        versions = await self.memories.core_memory_versions(self.character, user.id)
        if not versions:
            return t(language, "No archived core-memory versions of {user}.", user=user_label(user, language))
        lines = []
        for vid, when, reason, items in versions:
            preview = ("; ".join(clip(i.get("content", ""), 60) for i in items[:3])
                       or t(language, "(empty)"))
            lines.append(f"#{vid} {format_day(when, language)} · {version_reason(reason, language)} · "
                         + tn(language, "{count} memory: {preview}", "{count} memories: {preview}",
                              len(items), preview=preview))
        heading = t(language, "**Archived core-memory versions of {user}** (newest first)",
                    user=user_label(user, language))
        return heading + "\n" + "\n".join(lines)

    async def restore(self, user_arg: str, raw: str | int, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        version_id = parse_id(raw, "version")
        versions = {v[0]: v for v in await self.memories.core_memory_versions(self.character, user.id)}
        if version_id not in versions:
            raise InvalidInput(N_("{user} has no archived version #{id}."), user=user_label(user, language),
                               id=version_id)
        await self.memories.restore_core_memory_version(version_id)
        count = len(versions[version_id][3])
        return tn(language, "Restored version #{id} of {user}'s core memories ({count} memory); the version "
                            "it replaced is archived too.",
                  "Restored version #{id} of {user}'s core memories ({count} memories); the version it "
                  "replaced is archived too.", count, id=version_id, user=user_label(user, language))

    async def choices(self, user_arg: str, current: str, language: str | None = None) -> list[Choice]:
        """The memories an admin may pick, labelled in ``language``."""
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.memories.core_memories(self.character, user_id)
        return id_choices(((mid, f"#{mid} ({memory_source(source, language)}) {content}")
                           for mid, content, source in rows), current)

    async def version_choices(self, user_arg: str, current: str, language: str | None = None) -> list[Choice]:
        """The archived versions an admin may restore, labelled in ``language``."""
        try:
            user_id = parse_user_id(user_arg)
        except InvalidInput:
            return []
        rows = await self.memories.core_memory_versions(self.character, user_id)
        return id_choices(((vid, f"#{vid} {format_day(when, language)} {version_reason(reason, language)} ("
                                 + tn(language, "{count} memory", "{count} memories", len(items)) + ")")
                           for vid, when, reason, items in rows), current)
