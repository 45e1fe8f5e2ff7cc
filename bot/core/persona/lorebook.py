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
``priority`` first. A book's keys are prepared once (:class:`KeyIndex`); a large book is matched in one pass
over the text, in a worker thread (:func:`needs_thread`).
"""

from __future__ import annotations

import json
import logging
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

# pyahocorasick (import ahocorasick): a large book's plain keys in one Aho-Corasick automaton, built and
# searched in C.
import ahocorasick

# `regex` (mrab's, a drop-in for re): its searches take a time limit and can release the GIL; the standard
# re module has neither, and a card's /regex/ key is a stranger's pattern run over what people write.
import regex

from bot.core.errors import ConfigError
from bot.core.persona.fields import kind_of
from bot.core.persona.model import Lorebook, LoreEntry, Persona
from bot.core.tokens import count_tokens
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)

# SillyTavern's selective logic codes (world-info ``selectiveLogic``).
AND_ANY, NOT_ALL, NOT_ANY, AND_ALL = 0, 1, 2, 3

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
    return Lorebook(entries=entries, scan_depth=scan_depth, token_budget=budget, name=name, extensions=ext)


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
        else Lorebook(book.entries, book.scan_depth, book.token_budget, path.stem, book.extensions)
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
        "recursive_scanning": False,
        "extensions": book.extensions,
        "entries": entries,
    }
    return out


# --------------------------------------------------------------------------- activation


# A /regex/ key's search may run this long (seconds) before the key is disabled. A key a card means well by
# takes microseconds on a few messages; catastrophic backtracking ("(a|aa)+$" on 33 letters: 0.9 s) takes
# hours on a long message, so the limit only ever stops those.
KEY_TIMEOUT_SECONDS = 0.05
# Keys (pattern, case-sensitive) that ran past the limit: never searched again in this process.
_disabled_keys: set[tuple[str, bool]] = set()


def is_regex_key(key: str) -> bool:
    return len(key) > 2 and key.startswith("/") and re.fullmatch(r"/.+/[imsx]*", key) is not None


def _regex_key(key: str, case_sensitive: bool) -> regex.Pattern[str] | None:
    """A ``/pattern/flags`` key compiled by ``regex`` (searched with a time limit); None when it is not one
    or does not compile (a broken regex never matches rather than breaking every reply)."""
    slash = re.fullmatch(r"/(.+)/([imsx]*)", key)
    if not slash:
        return None
    flags = 0 if case_sensitive else regex.IGNORECASE
    for f in slash.group(2):
        flags |= {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL, "x": regex.VERBOSE}[f]
    try:
        return regex.compile(slash.group(1), flags)
    except (regex.error, ValueError):
        return None


def _search_regex(pattern: regex.Pattern[str], key: str, entry: LoreEntry, text: str) -> bool:
    if (key, entry.case_sensitive) in _disabled_keys:
        return False
    try:
        # concurrent: the GIL is released while it runs, so the event loop's thread is never held by it
        return pattern.search(text, timeout=KEY_TIMEOUT_SECONDS, concurrent=True) is not None
    except TimeoutError:
        _disabled_keys.add((key, entry.case_sensitive))
        log.warning("lorebook key disabled: it ran past %.0f ms on %d characters of conversation "
                    "(a pattern that backtracks without end); %s, entry %r, key %r",
                    KEY_TIMEOUT_SECONDS * 1000, len(text), entry.origin or "the lorebook", entry.name, key)
        return False


def _whole_words(entry: LoreEntry) -> bool:
    return bool(entry.extensions.get("match_whole_words") or entry.extensions.get("matchWholeWords"))


# A plain key as it is looked for: (the text to find, case-sensitive, as a whole word).
Literal = tuple[str, bool, bool]
_WORD = re.compile(r"\w")  # what a whole-word key may not touch on either side: its (?<!\w) and (?!\w)

# Up to this many plain keys, each is searched alone (one compiled literal a key, at C speed); beyond it one
# pass over the text finds them all (an Aho-Corasick automaton), so a reply's matching grows with its text,
# not with the text times the keys, and the book's matching is done in a worker thread (see needs_thread).
EACH_KEY_LIMIT = 64


def _literal_pattern(text: str, case: bool, whole: bool) -> re.Pattern[str]:
    """A plain key searched alone: the literal, in a word of its own when ``whole``."""
    return re.compile(rf"(?<!\w){re.escape(text)}(?!\w)" if whole else re.escape(text),
                      0 if case else re.IGNORECASE)


def _automaton(needles: dict[str, list[int]]) -> ahocorasick.Automaton:
    """The needles (each text with the ids of the keys that look for it) in one automaton; a found text's
    value is (its length, those ids)."""
    automaton = ahocorasick.Automaton()
    for text, ids in needles.items():
        automaton.add_word(text, (len(text), tuple(ids)))
    automaton.make_automaton()
    return automaton


# A key of an entry as the index refers to it: a plain key's id, or a /regex/ key's (key, case-sensitive).
KeyRef = int | tuple[str, bool]


class KeyIndex:
    """A book's keys, prepared once: the plain ones compiled (or, past EACH_KEY_LIMIT, in automata), the
    ``/regex/`` ones compiled, each entry's keys by reference. :meth:`matcher` then reads one text."""

    def __init__(self, book: Lorebook) -> None:
        literals: dict[Literal, int] = {}
        self.regexes: dict[tuple[str, bool], regex.Pattern[str] | None] = {}

        def ref(key: str, entry: LoreEntry) -> KeyRef:
            case = entry.case_sensitive
            if is_regex_key(key):
                if (key, case) not in self.regexes:
                    self.regexes[key, case] = _regex_key(key, case)
                return key, case
            literal = (key.strip() if case else key.strip().lower(), case, _whole_words(entry))
            return literals.setdefault(literal, len(literals))

        # by entry, in the book's order: (its keys, its secondary keys)
        self.refs = [(tuple(ref(k, e) for k in e.keys), tuple(ref(k, e) for k in e.secondary_keys))
                     for e in book.entries]
        self.size = len(literals)
        self.whole = [whole for (_, _, whole) in literals]
        self.each: list[re.Pattern[str]] | None = None
        # pyahocorasick's automata (the case-sensitive keys', the others' lowered), made once: the one pass is
        # the C extension's
        self.automata: list[tuple[bool, ahocorasick.Automaton]] = []
        # by id, the keys no automaton can hold (an empty one, made by hand rather than read from a file):
        # searched alone, as a small book's are
        self.alone: list[tuple[int, re.Pattern[str]]] = []
        if len(literals) <= EACH_KEY_LIMIT:
            self.each = [_literal_pattern(*literal) for literal in literals]
            return
        for case in (True, False):
            needles: dict[str, list[int]] = {}
            for (text, c, whole), n in literals.items():
                if c is not case:
                    continue
                if text:
                    needles.setdefault(text, []).append(n)
                else:
                    self.alone.append((n, _literal_pattern(text, c, whole)))
            if needles:
                self.automata.append((case, _automaton(needles)))

    @property
    def large(self) -> bool:
        return self.each is None

    def found(self, text: str) -> list[bool]:
        """By plain key id: whether that key occurs in ``text``."""
        if self.each is not None:
            return [pattern.search(text) is not None for pattern in self.each]
        hits = [False] * self.size
        lowered = text.lower()
        for case, automaton in self.automata:
            scanned = text if case else lowered
            # each occurrence: the index of its last character, and (its length, the ids of its keys)
            for last, (length, ids) in automaton.iter(scanned):
                end = last + 1
                start = end - length
                for n in ids:
                    if hits[n]:
                        continue
                    if self.whole[n] and ((start > 0 and _WORD.match(scanned[start - 1])) or (
                            end < len(scanned) and _WORD.match(scanned[end]))):
                        continue
                    hits[n] = True
        for n, pattern in self.alone:
            hits[n] = pattern.search(text) is not None
        return hits


# The index of each book in use, by its identity (a book's fields are not hashable); dropped with the book.
_indexes: dict[int, tuple[weakref.ref[Lorebook], KeyIndex]] = {}


def key_index(book: Lorebook) -> KeyIndex:
    """The book's :class:`KeyIndex`, made on first use (a large book's: in a worker thread, needs_thread)."""
    key = id(book)
    kept = _indexes.get(key)
    if kept is not None and kept[0]() is book:
        return kept[1]
    index = KeyIndex(book)
    _indexes[key] = (weakref.ref(book, lambda _: _indexes.pop(key, None)), index)
    return index


def needs_thread(book: Lorebook) -> bool:
    """Whether matching ``book`` belongs off the event loop: a card's own patterns, a book past
    EACH_KEY_LIMIT plain keys (each reply, every key the pass finds is checked in Python, and there can be
    thousands), or a book not prepared yet (its index is made first)."""
    kept = _indexes.get(id(book))
    if kept is None or kept[0]() is not book:
        return True
    return kept[1].large or bool(kept[1].regexes)


class _Matcher:
    """One reply's matching: the plain keys found in one pass, the regex keys searched when asked."""

    def __init__(self, index: KeyIndex, text: str) -> None:
        self.index = index
        self.text = text
        self.hits = index.found(text)

    def _hits(self, refs: Sequence[KeyRef], entry: LoreEntry) -> list[bool]:
        out = []
        for ref in refs:
            if isinstance(ref, int):
                out.append(self.hits[ref])
            else:
                pattern = self.index.regexes[ref]
                out.append(pattern is not None and _search_regex(pattern, ref[0], entry, self.text))
        return out

    def triggered(self, position: int, entry: LoreEntry) -> bool:
        keys, secondary = self.index.refs[position]
        if not any(self._hits(keys, entry)):
            return False
        if not entry.selective or not secondary:
            return True
        second = self._hits(secondary, entry)
        logic = entry.extensions.get("selectiveLogic", entry.extensions.get("selective_logic", AND_ANY))
        if logic == NOT_ALL:
            return not all(second)
        if logic == NOT_ANY:
            return not any(second)
        if logic == AND_ALL:
            return all(second)
        return any(second)


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
    chosen: list[tuple[int, LoreEntry]] = []
    matcher = _Matcher(key_index(lorebook), text) if text else None
    for index, entry in enumerate(lorebook.entries):
        if not entry.enabled or not entry.content.strip():
            continue
        if entry.constant or (matcher is not None and matcher.triggered(index, entry)):
            chosen.append((index, entry))
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


def persona_lore(
    persona: Persona, recent_messages: Sequence[str], user_name: str = "User", token_budget: int | None = None
) -> str:
    """The triggered entries placed beside the character (see :func:`placed_lore`), macros resolved
    ("" without a lorebook)."""
    return placed_lore(persona, recent_messages, user_name, token_budget).beside_char


def merge_lorebooks(books: Sequence[Lorebook | None]) -> Lorebook | None:
    """One lorebook from several (the first one's settings win); None when there are none."""
    present = [b for b in books if b is not None]
    if not present:
        return None
    first = present[0]
    entries = tuple(e for b in present for e in b.entries)
    return Lorebook(entries, first.scan_depth, first.token_budget, first.name, first.extensions)
