"""Which of a lorebook's keys a conversation's text holds: plain keys (case, whole words) and ``/regex/``
keys run with a time limit. A book's keys are prepared once (:class:`KeyIndex`); a large book is matched in
one pass over the text, in a worker thread (:func:`needs_thread`). :func:`bot.core.persona.lorebook.activate`
turns the matches into the entries a reply shows.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Sequence

# pyahocorasick (import ahocorasick): a large book's plain keys in one Aho-Corasick automaton, built and
# searched in C.
import ahocorasick

# `regex` (mrab's, a drop-in for re): its searches take a time limit and can release the GIL; the standard
# re module has neither, and a card's /regex/ key is a stranger's pattern run over what people write.
import regex

from bot.core.persona.model import Lorebook, LoreEntry

log = logging.getLogger(__name__)

# SillyTavern's selective logic codes (world-info ``selectiveLogic``).
AND_ANY, NOT_ALL, NOT_ANY, AND_ALL = 0, 1, 2, 3


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


class Matcher:
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


