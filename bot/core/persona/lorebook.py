"""Lorebooks: keyword-triggered background knowledge injected only when the conversation touches it.

Two JSON shapes are read into the same :class:`~bot.core.persona.model.Lorebook`:

* a card's ``character_book`` (Character Card V2/V3): ``entries`` is a list of objects with ``keys``,
  ``secondary_keys``, ``content``, ``enabled``, ``insertion_order``, ``priority``, ``case_sensitive``,
  ``selective``, ``constant``, ``name``/``comment`` and ``extensions``;
* a standalone SillyTavern world-info file: ``entries`` is a dict (or list) of objects with ``key``,
  ``keysecondary``, ``content``, ``disable``, ``order``, ``comment``, ``caseSensitive``, ``matchWholeWords``,
  ``selectiveLogic``... Fields Kindred does not model are kept in the entry's ``extensions``.

Placement (SillyTavern's ``position``; world-info's number, or a card entry's ``position`` text or its
``extensions.position`` number, ``extensions.depth``, ``extensions.role``): see :data:`POSITIONS`. The prompt
layout (bot/reply/prompting.py) decides where each place is shown; :class:`PlacedLore` hands it over.

Activation rules (see :func:`activate`): a key must appear in the last ``scan_depth`` messages
(case-insensitive unless ``case_sensitive``; ``/regex/flags`` keys are regular expressions); ``selective``
entries also need a secondary key; ``constant`` entries always activate; disabled entries never do; the
result is ordered by ``insertion_order`` and fits the token budget by dropping whole entries, lowest
``priority`` first. Which keys a text holds is bot/core/persona/lorekeys.py's; recursion and the timed
effects (sticky, cooldown, delay) are bot/core/persona/loretimed.py's.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.core.errors import ConfigError
from bot.core.persona.fields import kind_of
from bot.core.persona.lorekeys import Matcher, key_index
from bot.core.persona.loretimed import recurse, timed, timed_active
from bot.core.persona.model import Lorebook, LoreEntry, Persona
from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)


# Keys consumed from a character_book entry; everything else a card carries outside ``extensions`` is
# spec metadata (id, comment, position) that export re-creates from the original card.
_BOOK_ENTRY_FIELDS = {"keys", "secondary_keys", "content", "enabled", "insertion_order", "priority",
                      "case_sensitive", "selective", "constant", "name", "extensions"}
# World-info entry fields that map onto LoreEntry; the rest are kept in ``extensions``.
_WORLD_INFO_FIELDS = {
    "key",
    "keys",
    "keysecondary",
    "secondary_keys",
    "content",
    "disable",
    "enabled",
    "order",
    "insertion_order",
    "priority",
    "caseSensitive",
    "case_sensitive",
    "selective",
    "constant",
    "comment",
    "name",
    "extensions",
}


# SillyTavern's world-info positions, by their number: 0 before the character's description, 1 after it,
# 2/3 the top/bottom of the author's note, 4 at a depth of the chat (with a role), 5/6 the top/bottom of the
# example messages.
POSITIONS = ("before_char", "after_char", "an_top", "an_bottom", "at_depth", "em_top", "em_bottom")
ROLES = ("system", "user", "assistant")  # an at-depth entry's role, by its number
DEFAULT_DEPTH = 4


# --------------------------------------------------------------------------- parsing


def _placement(raw: JsonObject, ext: JsonObject) -> tuple[str, int, str]:
    """(position, depth, role) of an entry; a value SillyTavern would not write falls back to its default
    (a card's odd field never stops it loading)."""
    position = "before_char"
    for value in (ext.get("position"), raw.get("position")):
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(POSITIONS):
            position = POSITIONS[value]
            break
        if isinstance(value, str) and value.strip().lower() in POSITIONS:
            position = value.strip().lower()
            break
    depth = ext.get("depth", raw.get("depth"))
    depth = int(depth) if isinstance(depth, int | float) and not isinstance(depth, bool) and depth >= 0 \
        else DEFAULT_DEPTH
    role = ext.get("role", raw.get("role"))
    if isinstance(role, int) and not isinstance(role, bool) and 0 <= role < len(ROLES):
        role = ROLES[role]
    role = role.strip().lower() if isinstance(role, str) and role.strip().lower() in ROLES else "system"
    return position, depth, role


def _keys(value: Json, file: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):  # some editors store "a, b" instead of a list
        return tuple(k.strip() for k in value.split(",") if k.strip())
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise ConfigError(file, key, f"expected a list of text keys, got {kind_of(value)}")
    return tuple(k for k in value if k.strip())


def _bool(value: Json, default: bool, file: str, key: str) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ConfigError(file, key, f"expected true or false, got {kind_of(value)}")
    return value


def _int(value: Json, default: int, file: str, key: str) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ConfigError(file, key, f"expected a whole number, got {value!r}")
    return int(value)


def _entry(raw: Json, file: str, where: str, *, world_info: bool) -> LoreEntry:
    if not isinstance(raw, dict):
        raise ConfigError(file, where, f"expected an object, got {kind_of(raw)}")
    content = raw.get("content")
    if not isinstance(content, str):
        raise ConfigError(
            file,
            f"{where}.content",
            "missing: every entry needs its text in content"
            if content is None
            else f"expected text, got {kind_of(content)}",
        )
    ext = raw.get("extensions", {})
    if ext is None:
        ext = {}
    if not isinstance(ext, dict):
        raise ConfigError(file, f"{where}.extensions", f"expected an object, got {kind_of(ext)}")
    if world_info:
        key_field = "key" if "key" in raw else "keys"
        second_field = "keysecondary" if "keysecondary" in raw else "secondary_keys"
        enabled = (
            not _bool(raw.get("disable"), False, file, f"{where}.disable")
            if "disable" in raw
            else _bool(raw.get("enabled"), True, file, f"{where}.enabled")
        )
        order_field = "order" if "order" in raw else "insertion_order"
        case_field = "caseSensitive" if "caseSensitive" in raw else "case_sensitive"
        name = raw.get("comment") or raw.get("name") or ""
        # Unmodelled world-info fields (uid, depth, probability, ...) survive in extensions.
        extensions = {**{k: v for k, v in raw.items() if k not in _WORLD_INFO_FIELDS}, **ext}
    else:
        key_field, second_field, order_field, case_field = (
            "keys",
            "secondary_keys",
            "insertion_order",
            "case_sensitive",
        )
        enabled = _bool(raw.get("enabled"), True, file, f"{where}.enabled")
        name = raw.get("name") or raw.get("comment") or ""
        extensions = ext
    if not isinstance(name, str):
        raise ConfigError(file, f"{where}.name", f"expected text, got {kind_of(name)}")
    keys = _keys(raw.get(key_field), file, f"{where}.{key_field}")
    if _bool(raw.get("use_regex"), False, file, f"{where}.use_regex"):
        # V3 regex entries: written as /pattern/ so matching treats them like SillyTavern's regex keys.
        keys = tuple(k if re.fullmatch(r"/.+/[imsx]*", k) else f"/{k}/" for k in keys)
    position, depth, role = _placement(raw, extensions)
    return LoreEntry(
        position=position,
        depth=depth,
        role=role,
        keys=keys,
        content=content,
        secondary_keys=_keys(raw.get(second_field), file, f"{where}.{second_field}"),
        selective=_bool(raw.get("selective"), False, file, f"{where}.selective"),
        constant=_bool(raw.get("constant"), False, file, f"{where}.constant"),
        enabled=enabled,
        case_sensitive=_bool(raw.get(case_field), False, file, f"{where}.{case_field}"),
        insertion_order=_int(raw.get(order_field), 100, file, f"{where}.{order_field}"),
        priority=_int(raw.get("priority"), 10, file, f"{where}.priority"),
        name=name,
        extensions=extensions,
        origin=f"{file}: {where}",
    )


def lorebook_from_dict(data: Json, file: str, prefix: str = "") -> Lorebook:
    """Parse a ``character_book`` or world-info object; errors name ``file`` and the field path."""

    def at(key: str) -> str:
        return f"{prefix}.{key}" if prefix else key

    if not isinstance(data, dict):
        raise ConfigError(file, prefix or "lorebook", f"expected an object, got {kind_of(data)}")
    raw_entries = data.get("entries")
    if raw_entries is None:
        raise ConfigError(file, at("entries"), "missing: a lorebook needs an entries list")
    # A dict of entries (keyed by uid) is the world-info shape; a list with world-info field names is too.
    if isinstance(raw_entries, dict):
        items = [(f"{at('entries')}.{k}", v) for k, v in raw_entries.items()]
        world_info = True
    elif isinstance(raw_entries, list):
        items = [(f"{at('entries')}[{i}]", v) for i, v in enumerate(raw_entries)]
        world_info = any(
            isinstance(v, dict) and ("key" in v or "disable" in v or "order" in v) for v in raw_entries
        )
    else:
        raise ConfigError(file, at("entries"), f"expected a list or an object, got {kind_of(raw_entries)}")
    entries = tuple(_entry(v, file, where, world_info=world_info) for where, v in items)
    ext = data.get("extensions") or {}
    if not isinstance(ext, dict):
        raise ConfigError(file, at("extensions"), f"expected an object, got {kind_of(ext)}")
    name = data.get("name") or ""
    if not isinstance(name, str):
        raise ConfigError(file, at("name"), f"expected text, got {kind_of(name)}")
    scan_depth = _int(data.get("scan_depth"), 4, file, at("scan_depth"))
    # 0 is how several editors write "not set"; a zero budget would silently disable the whole book.
    budget = _int(data.get("token_budget"), 1024, file, at("token_budget")) or 1024
    if scan_depth < 0:
        raise ConfigError(file, at("scan_depth"), f"must not be negative, got {scan_depth}")
    if budget < 0:
        raise ConfigError(file, at("token_budget"), f"must not be negative, got {budget}")
    return Lorebook(entries=entries, scan_depth=scan_depth, token_budget=budget, name=name, extensions=ext,
                    recursive=data.get("recursive_scanning") is not False)


def load_lorebook(path: Path) -> Lorebook:
    """Read a standalone lorebook / world-info JSON file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(path), "lorebook", "no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(str(path), "lorebook", f"not valid JSON: {exc}") from None
    book = lorebook_from_dict(data, str(path))
    return (
        book
        if book.name
        else Lorebook(book.entries, book.scan_depth, book.token_budget, path.stem, book.extensions,
                      book.recursive)
    )


def _placed_extensions(e: LoreEntry) -> JsonObject:
    """An entry's extensions with its placement as SillyTavern's numbers (only when it is not the default,
    so a card without them exports as it came)."""
    if (e.position, e.depth, e.role) == ("before_char", DEFAULT_DEPTH, "system"):
        return e.extensions
    return {**e.extensions, "position": POSITIONS.index(e.position), "depth": e.depth,
            "role": ROLES.index(e.role)}


def lorebook_to_dict(book: Lorebook) -> JsonObject:
    """The ``character_book`` form of a lorebook (for card export)."""
    entries = []
    for i, e in enumerate(book.entries):
        entries.append(
            {
                "keys": list(e.keys),
                "content": e.content,
                "extensions": _placed_extensions(e),
                "enabled": e.enabled,
                "insertion_order": e.insertion_order,
                "case_sensitive": e.case_sensitive,
                "name": e.name,
                "priority": e.priority,
                "id": i,
                "comment": e.name,
                "selective": e.selective,
                "secondary_keys": list(e.secondary_keys),
                "constant": e.constant,
                # the card spec knows two places; the others are in extensions, as SillyTavern writes them
                "position": "after_char" if e.position in ("after_char", "em_bottom") else "before_char",
            }
        )
    out: JsonObject = {
        "name": book.name,
        "scan_depth": book.scan_depth,
        "token_budget": book.token_budget,
        "recursive_scanning": book.recursive,
        "extensions": book.extensions,
        "entries": entries,
    }
    return out


# --------------------------------------------------------------------------- activation


def activate(
    lorebook: Lorebook, recent_messages: Sequence[str], token_budget: int | None = None
) -> list[LoreEntry]:
    """The entries the last ``scan_depth`` messages trigger, in insertion order, within the token budget.

    ``token_budget`` (else the lorebook's own) caps the summed tokens of the entries' content; when they
    do not all fit, entries are kept by descending ``priority`` (then insertion order) and any that would
    overflow are dropped whole, so the lowest priorities go first and no entry is ever cut short.
    """
    depth = lorebook.scan_depth
    window = list(recent_messages)[-depth:] if depth > 0 else []
    # Messages are joined with a newline so a key never matches across two messages.
    text = "\n".join(window)
    matcher = Matcher(key_index(lorebook), text) if text else None

    def usable(index: int, entry: LoreEntry) -> bool:
        return entry.enabled and bool(entry.content.strip())

    found = {index: entry for index, entry in enumerate(lorebook.entries) if usable(index, entry)
             and (entry.constant or (matcher is not None and matcher.triggered(index, entry)))}
    recurse(lorebook, found, usable)  # what the activated entries' own text triggers
    # sticky, cooldown and delay: replayed over the last messages (bot/core/persona/loretimed.py)
    for index, entry in enumerate(lorebook.entries):
        if usable(index, entry) and not entry.constant and timed(entry):
            if timed_active(lorebook, index, entry, list(recent_messages), index in found):
                found[index] = entry
            else:
                found.pop(index, None)
    chosen = sorted(found.items())
    budget = lorebook.token_budget if token_budget is None else token_budget
    if budget is not None and budget >= 0:
        kept: set[int] = set()
        used = 0
        for index, entry in sorted(chosen, key=lambda p: (-p[1].priority, p[1].insertion_order, p[0])):
            cost = count_tokens(entry.content)
            if used + cost <= budget:
                kept.add(index)
                used += cost
        chosen = [p for p in chosen if p[0] in kept]
    chosen.sort(key=lambda p: (p[1].insertion_order, p[0]))
    return [entry for _, entry in chosen]


def format_lore(entries: Sequence[LoreEntry]) -> str:
    """Entries as one text, a paragraph each ("" when none): data, which the prompt layout fences."""
    return "\n\n".join(e.content.strip() for e in entries)


BEFORE_CHAR = ("before_char", "em_top")  # the example messages are part of the character's prompt
AFTER_CHAR = ("after_char", "em_bottom")
BESIDE_CHAR = BEFORE_CHAR + AFTER_CHAR


def persona_world(persona: Persona, user_name: str, *, after: bool | None = False) -> str:
    """The always-on (``constant``) entries placed beside the character, macros resolved: the same at every
    reply, so the layout shows them with the character, in the cached prefix ("" without any). ``after``:
    those placed after it (False: before it; None: both)."""
    if persona.lorebook is None:
        return ""
    places = BESIDE_CHAR if after is None else AFTER_CHAR if after else BEFORE_CHAR
    entries = sorted((e for e in persona.lorebook.entries
                      if e.enabled and e.constant and e.content.strip() and e.position in places),
                     key=lambda e: e.insertion_order)
    return persona.render(format_lore(entries), user_name)


@dataclass(frozen=True)
class DepthLore:
    """Entries placed at one depth of the chat (0: after the last message) in one role, as one text."""

    depth: int
    role: str
    text: str


@dataclass(frozen=True)
class PlacedLore:
    """The lore of one reply by where SillyTavern places it (the layout decides how that is shown)."""

    beside_char: str = ""  # triggered entries before/after the character (the constant ones: the world)
    notes_top: str = ""  # the author's note's top and bottom
    notes_bottom: str = ""
    at_depth: tuple[DepthLore, ...] = ()  # deepest first


NO_LORE = PlacedLore()


def placed_lore(persona: Persona, recent_messages: Sequence[str], user_name: str = "User",
                token_budget: int | None = None) -> PlacedLore:
    """The lore of a reply: the entries these messages trigger, and the constant ones placed away from the
    character (the constant ones beside it are :func:`persona_world`'s), macros resolved."""
    if persona.lorebook is None:
        return NO_LORE
    active = [e for e in activate(persona.lorebook, recent_messages, token_budget)
              if not (e.constant and e.position in BESIDE_CHAR)]

    def text(entries: Iterable[LoreEntry]) -> str:
        return persona.render(format_lore(list(entries)), user_name)

    depths = sorted({(e.depth, e.role) for e in active if e.position == "at_depth"},
                    key=lambda p: (-p[0], ROLES.index(p[1])))
    return PlacedLore(
        beside_char=text(e for e in active if e.position in BESIDE_CHAR),
        notes_top=text(e for e in active if e.position == "an_top"),
        notes_bottom=text(e for e in active if e.position == "an_bottom"),
        at_depth=tuple(DepthLore(d, r, text(e for e in active if e.position == "at_depth" and e.depth == d
                                            and e.role == r)) for d, r in depths))


def merge_lorebooks(books: Sequence[Lorebook | None]) -> Lorebook | None:
    """One lorebook from several (the first one's settings win); None when there are none."""
    present = [b for b in books if b is not None]
    if not present:
        return None
    first = present[0]
    entries = tuple(e for b in present for e in b.entries)
    return Lorebook(entries, first.scan_depth, first.token_budget, first.name, first.extensions,
                    first.recursive)
