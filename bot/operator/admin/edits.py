"""Admin edits of the character's own data and of how it feels about people: identity entries (``/identity``),
relationship metrics (``/relationship``) and global state keys (``/state``). Every change is read by the very
next reply, since prompts are built from the database at every message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.core.i18n import N_, t
from bot.core.text import clip
from bot.operator.admin.language import (
    CHOICE_NAME,
    MAX_CHOICES,
    Choice,
    format_relationship,
    id_choices,
    metrics_line,
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
from memory.relationships import RELATIONSHIP_RANGES, clamp_metrics

MAX_TEXT = 2000  # longest identity entry, fact, memory or state value an admin may store
MAX_KEY = 100  # global_state.key is VARCHAR(100)

# An admin text's refusals, one whole line per kind of text (a language declines the noun its own way).
EMPTY = {
    "trait": N_("The trait cannot be empty."), "lore": N_("The lore cannot be empty."),
    "fact": N_("The fact cannot be empty."), "quirk": N_("The quirk cannot be empty."),
    "memory": N_("The memory cannot be empty."),
}
TOO_LONG = {
    "trait": N_("The trait is {length} characters long; the limit is {limit}."),
    "lore": N_("The lore is {length} characters long; the limit is {limit}."),
    "fact": N_("The fact is {length} characters long; the limit is {limit}."),
    "quirk": N_("The quirk is {length} characters long; the limit is {limit}."),
    "memory": N_("The memory is {length} characters long; the limit is {limit}."),
}
# The identity kinds as a reader of the answers sees them.
KIND_WORDS = {"trait": N_("trait"), "lore": N_("lore"), "fact": N_("fact"), "quirk": N_("quirk")}
# The relationship metrics' names in a clamped value's note.
METRIC_WORDS = {"anger": N_("anger"), "rapport": N_("rapport"), "trust": N_("trust"),
                "formality": N_("formality")}


def checked_text(text: str, what: str) -> str:
    """An admin's text, stripped; InvalidInput when empty or longer than MAX_TEXT."""
    text = text.strip()
    if not text:
        raise InvalidInput(EMPTY[what])
    if len(text) > MAX_TEXT:
        raise InvalidInput(TOO_LONG[what], length=len(text), limit=MAX_TEXT)
    return text


def _checked_kind(kind: str | None) -> None:
    if kind is not None and kind not in IDENTITY_KINDS:
        raise InvalidInput(N_("kind must be one of {kinds}."), kinds=", ".join(IDENTITY_KINDS))


def _kind(kind: str, language: str | None) -> str:
    return t(language, KIND_WORDS[kind]) if kind in KIND_WORDS else kind


class IdentityEdits:
    """``/identity``: the character's traits, lore, facts and quirks. Each answer is in ``language`` (the
    admin's on Discord; None: English, the dashboard's)."""

    def __init__(self, identity: Identity, character: str) -> None:
        self.identity = identity
        self.character = character

    async def _entry(self, raw: str | int) -> tuple[int, str, str]:
        entry_id = parse_id(raw, "identity entry")
        for entry in await self.identity.entries(self.character):
            if entry[0] == entry_id:
                return entry
        raise InvalidInput(N_("There is no identity entry #{id}."), id=entry_id)

    async def add(self, kind: str, text: str, language: str | None = None) -> str:
        _checked_kind(kind)
        entry_id = await self.identity.add(self.character, kind, checked_text(text, kind))
        return t(language, "Added {kind} #{id}: {text}", kind=_kind(kind, language), id=entry_id,
                 text=clip(text, 300))

    async def show(self, kind: str | None = None, language: str | None = None) -> str:
        _checked_kind(kind)
        entries = await self.identity.entries(self.character, kind)
        if not entries:
            return (t(language, "No {kind} entries yet.", kind=_kind(kind, language)) if kind
                    else t(language, "No identity entries yet."))
        heading = (t(language, "**Identity ({kind})**", kind=_kind(kind, language)) if kind
                   else t(language, "**Identity (all kinds)**"))
        return heading + "\n" + "\n".join(
            f"#{eid} {_kind(k, language)}: {clip(content, 300)}" for eid, k, content in entries)

    async def edit(self, raw: str | int, text: str, language: str | None = None) -> str:
        entry_id, kind, old = await self._entry(raw)
        new = checked_text(text, kind)
        await self.identity.update(entry_id, new)
        return t(language, "Changed {kind} #{id}\nwas: {old}\nnow: {new}", kind=_kind(kind, language),
                 id=entry_id, old=clip(old, 300), new=clip(new, 300))

    async def delete(self, raw: str | int, language: str | None = None) -> str:
        entry_id, kind, old = await self._entry(raw)
        await self.identity.delete(entry_id)
        return t(language, "Deleted {kind} #{id}: {text}", kind=_kind(kind, language), id=entry_id,
                 text=clip(old, 300))

    async def choices(self, current: str, language: str | None = None) -> list[Choice]:
        """The entries an admin may pick, their kinds in ``language``."""
        rows = await self.identity.entries(self.character)
        labels = ((eid, f"#{eid} {_kind(kind, language)}: {content}") for eid, kind, content in rows)
        return id_choices(labels, current)


class RelationshipEdits:
    """``/relationship``: anger, rapport, trust and formality toward one user, each answer in ``language``."""

    def __init__(self, people: People, character: str, users: Users) -> None:
        self.people = people
        self.character = character
        self.users = users

    async def show(self, user_arg: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        rel = await self.people.relationship(self.character, user.id)
        return (t(language, "**Relationship with {user}**", user=user_label(user, language)) + "\n"
                + format_relationship(rel, user, language))

    async def set(self, user_arg: str, language: str | None = None, **values: float | None) -> str:
        user = await self.users.known(user_arg)
        try:
            clamped, _ = clamp_metrics(values)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        if not clamped:
            raise InvalidInput(N_("Give at least one of anger, rapport, trust (0..10) or formality "
                                  "(-5..+5)."))
        rel = await self.people.set_relationship(self.character, user.id, **clamped)
        head = "\n".join(
            "⚠️ " + t(language, "{metric} must be within {low}..{high}; set to {value}",
                      metric=t(language, METRIC_WORDS[key]), low=f"{RELATIONSHIP_RANGES[key][0]:g}",
                      high=f"{RELATIONSHIP_RANGES[key][1]:g}", value=f"{clamped[key]:g}")
            for key, value in values.items() if value is not None and clamped[key] != value)
        body = (t(language, "**Relationship with {user} updated**", user=user_label(user, language)) + "\n"
                + format_relationship(rel, user, language))
        return f"{head}\n{body}" if head else body

    async def reset(self, user_arg: str, language: str | None = None) -> str:
        user = await self.users.known(user_arg)
        existed = await self.people.delete_relationship(self.character, user.id)
        if not existed:
            return t(language, "The relationship with {user} was already at its defaults.",
                     user=user_label(user, language))
        return t(language, "Reset the relationship with {user}: no tone guidance until it grows again "
                           "(defaults: {defaults}).", user=user_label(user, language),
                 defaults=metrics_line(RelationshipRecord(), language))


class StateEdits:
    """``/state``: global state keys, each answer in ``language``. ``reload_verbose`` puts a changed
    ``verbose`` key into effect at once."""

    def __init__(self, state: State, reload_verbose: Callable[[], Awaitable[bool]],
                 changed: Sequence[Callable[[str, str | None], Awaitable[str]]] = ()) -> None:
        """``changed``: told of every /state set or delete (key, the answer's language) -> a note for the
        answer, e.g. feelings reloaded."""
        self.state = state
        self.reload_verbose = reload_verbose
        self._changed_told = tuple(changed)

    @staticmethod
    def _key(key: str) -> str:
        key = key.strip()
        if not key:
            raise InvalidInput(N_("The key cannot be empty."))
        if len(key) > MAX_KEY:
            raise InvalidInput(N_("Keys are at most {limit} characters long."), limit=MAX_KEY)
        return key

    async def _changed(self, key: str, language: str | None) -> str:
        """Keys with a live meaning take effect at once."""
        if key == VERBOSE_KEY:
            on = await self.reload_verbose()
            return "\n-# " + (t(language, "Verbose mode is now on.") if on
                              else t(language, "Verbose mode is now off."))
        return "".join([await told(key, language) for told in self._changed_told])

    async def show(self, language: str | None = None) -> str:
        items = await self.state.all()
        if not items:
            return t(language, "The global state is empty.")
        empty = t(language, "(empty)")
        return t(language, "**Global state**") + "\n" + "\n".join(
            f"`{k}` = {clip(v, 120) or empty}" for k, v in items)

    async def get(self, key: str, language: str | None = None) -> str:
        key = self._key(key)
        items = dict(await self.state.all())
        if key not in items:
            raise InvalidInput(N_("There is no state key `{key}`."), key=clip(key, 60))
        return f"`{key}` = {items[key] or t(language, '(empty)')}"

    async def set(self, key: str, value: str, language: str | None = None) -> str:
        key = self._key(key)
        if len(value) > MAX_TEXT:
            raise InvalidInput(N_("The value is {length} characters long; the limit is {limit}."),
                               length=len(value), limit=MAX_TEXT)
        if key == VERBOSE_KEY and parse_switch(value) is None:
            raise InvalidInput(N_("`verbose` takes on or off."))
        old = await self.state.get(key, "")
        await self.state.set(key, value)
        shown = clip(value, 300) or t(language, "(empty)")
        said = (t(language, "Set `{key}` = {value} (was: {old})", key=key, value=shown, old=clip(old, 200))
                if old else t(language, "Set `{key}` = {value}", key=key, value=shown))
        return said + await self._changed(key, language)

    async def delete(self, key: str, language: str | None = None) -> str:
        key = self._key(key)
        if not await self.state.delete(key):
            raise InvalidInput(N_("There is no state key `{key}`."), key=clip(key, 60))
        return t(language, "Deleted `{key}`.", key=key) + await self._changed(key, language)

    async def choices(self, current: str) -> list[Choice]:
        needle = current.strip().lower()
        found: list[Choice] = [(clip(f"{k} = {v}", CHOICE_NAME), k) for k, v in await self.state.all()
                               if needle in k.lower()]
        return found[:MAX_CHOICES]
