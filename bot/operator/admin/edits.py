"""Admin edits of the character's own data and of how it feels about people: identity entries (``/identity``),
relationship metrics (``/relationship``) and global state keys (``/state``). Every change is read by the very
next reply, since prompts are built from the database at every message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.core.text import clip
from bot.operator.admin.language import (
    CHOICE_NAME,
    MAX_CHOICES,
    Choice,
    format_relationship,
    id_choices,
    parse_id,
    user_label,
)
from bot.operator.admin.users import Users
from bot.operator.conversation_tools import InvalidInput
from bot.operator.logmirror import STATE_KEY as VERBOSE_KEY
from bot.operator.logmirror import parse_switch
from database.identity import Identity
from database.people import People
from database.records import RelationshipRecord
from database.state import State
from memory.identity import IDENTITY_KINDS
from memory.relationships import clamp_metrics

MAX_TEXT = 2000  # longest identity entry, fact, memory or state value an admin may store
MAX_KEY = 100  # global_state.key is VARCHAR(100)


def checked_text(text: str, what: str) -> str:
    """An admin's text, stripped; InvalidInput when empty or longer than MAX_TEXT."""
    text = text.strip()
    if not text:
        raise InvalidInput(f"The {what} cannot be empty.")
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"The {what} is {len(text)} characters long; the limit is {MAX_TEXT}.")
    return text


def _checked_kind(kind: str | None) -> None:
    if kind is not None and kind not in IDENTITY_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(IDENTITY_KINDS)}.")


class IdentityEdits:
    """``/identity``: the character's traits, lore, facts and quirks."""

    def __init__(self, identity: Identity, character: str) -> None:
        self.identity = identity
        self.character = character

    async def _entry(self, raw: str | int) -> tuple[int, str, str]:
        entry_id = parse_id(raw, "identity entry")
        for entry in await self.identity.entries(self.character):
            if entry[0] == entry_id:
                return entry
        raise InvalidInput(f"There is no identity entry #{entry_id}.")

    async def add(self, kind: str, text: str) -> str:
        _checked_kind(kind)
        entry_id = await self.identity.add(self.character, kind, checked_text(text, kind))
        return f"Added {kind} #{entry_id}: {clip(text, 300)}"

    async def show(self, kind: str | None = None) -> str:
        _checked_kind(kind)
        entries = await self.identity.entries(self.character, kind)
        if not entries:
            return f"No {kind or 'identity'} entries yet."
        return f"**Identity ({kind or 'all kinds'})**\n" + "\n".join(
            f"#{eid} {k}: {clip(content, 300)}" for eid, k, content in entries)

    async def edit(self, raw: str | int, text: str) -> str:
        entry_id, kind, old = await self._entry(raw)
        new = checked_text(text, kind)
        await self.identity.update(entry_id, new)
        return f"Changed {kind} #{entry_id}\nwas: {clip(old, 300)}\nnow: {clip(new, 300)}"

    async def delete(self, raw: str | int) -> str:
        entry_id, kind, old = await self._entry(raw)
        await self.identity.delete(entry_id)
        return f"Deleted {kind} #{entry_id}: {clip(old, 300)}"

    async def choices(self, current: str) -> list[Choice]:
        rows = await self.identity.entries(self.character)
        return id_choices(((eid, f"#{eid} {kind}: {content}") for eid, kind, content in rows), current)


class RelationshipEdits:
    """``/relationship``: anger, rapport, trust and formality toward one user."""

    def __init__(self, people: People, character: str, users: Users) -> None:
        self.people = people
        self.character = character
        self.users = users

    async def show(self, user_arg: str) -> str:
        user = await self.users.known(user_arg)
        rel = await self.people.relationship(self.character, user.id)
        return f"**Relationship with {user_label(user)}**\n" + format_relationship(rel, user)

    async def set(self, user_arg: str, **values: float | None) -> str:
        user = await self.users.known(user_arg)
        try:
            clamped, notes = clamp_metrics(values)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        if not clamped:
            raise InvalidInput("Give at least one of anger, rapport, trust (0..10) or formality (-5..+5).")
        rel = await self.people.set_relationship(self.character, user.id, **clamped)
        head = "\n".join(f"⚠️ {n}" for n in notes)
        body = f"**Relationship with {user_label(user)} updated**\n" + format_relationship(rel, user)
        return f"{head}\n{body}" if head else body

    async def reset(self, user_arg: str) -> str:
        user = await self.users.known(user_arg)
        existed = await self.people.delete_relationship(self.character, user.id)
        if not existed:
            return f"The relationship with {user_label(user)} was already at its defaults."
        return (f"Reset the relationship with {user_label(user)}: no tone guidance until it grows again "
                f"(defaults: {format_relationship(RelationshipRecord(), user).splitlines()[0]}).")


class StateEdits:
    """``/state``: global state keys. ``reload_verbose`` puts a changed ``verbose`` key into effect at
    once."""

    def __init__(self, state: State, reload_verbose: Callable[[], Awaitable[bool]],
                 changed: Sequence[Callable[[str], Awaitable[str]]] = ()) -> None:
        """``changed``: told of every /state set or delete (key) -> a note for the answer, e.g. feelings
        reloaded."""
        self.state = state
        self.reload_verbose = reload_verbose
        self._changed_told = tuple(changed)

    @staticmethod
    def _key(key: str) -> str:
        key = key.strip()
        if not key:
            raise InvalidInput("The key cannot be empty.")
        if len(key) > MAX_KEY:
            raise InvalidInput(f"Keys are at most {MAX_KEY} characters long.")
        return key

    async def _changed(self, key: str) -> str:
        """Keys with a live meaning take effect at once."""
        if key == VERBOSE_KEY:
            on = await self.reload_verbose()
            return f"\n-# Verbose mode is now {'on' if on else 'off'}."
        return "".join([await told(key) for told in self._changed_told])

    async def show(self) -> str:
        items = await self.state.all()
        if not items:
            return "The global state is empty."
        return "**Global state**\n" + "\n".join(f"`{k}` = {clip(v, 120) or '(empty)'}" for k, v in items)

    async def get(self, key: str) -> str:
        key = self._key(key)
        items = dict(await self.state.all())
        if key not in items:
            raise InvalidInput(f"There is no state key `{clip(key, 60)}`.")
        return f"`{key}` = {items[key] or '(empty)'}"

    async def set(self, key: str, value: str) -> str:
        key = self._key(key)
        if len(value) > MAX_TEXT:
            raise InvalidInput(f"The value is {len(value)} characters long; the limit is {MAX_TEXT}.")
        if key == VERBOSE_KEY and parse_switch(value) is None:
            raise InvalidInput("`verbose` takes on or off.")
        old = await self.state.get(key, "")
        await self.state.set(key, value)
        was = f" (was: {clip(old, 200)})" if old else ""
        return f"Set `{key}` = {clip(value, 300) or '(empty)'}{was}" + await self._changed(key)

    async def delete(self, key: str) -> str:
        key = self._key(key)
        if not await self.state.delete(key):
            raise InvalidInput(f"There is no state key `{clip(key, 60)}`.")
        return f"Deleted `{key}`." + await self._changed(key)

    async def choices(self, current: str) -> list[Choice]:
        needle = current.strip().lower()
        found: list[Choice] = [(clip(f"{k} = {v}", CHOICE_NAME), k) for k, v in await self.state.all()
                               if needle in k.lower()]
        return found[:MAX_CHOICES]
