"""The repetition guard: the character's own recent turns in this conversation, read for the openers and the
phrases it keeps reusing ("Glub," at the start of every answer, the same catchphrase in each), so the reply is
asked, briefly, to vary them. Worked out from the history the prompt already holds: per conversation, nothing
stored, and silent while the character varies its words by itself.

A phrase is a habit only when at least two of its words are the phrase's own. Which words are free words of
the language is read from the conversation itself, in any language, with no word list: a word of its grammar
("the", "das", "que", "は", "的") also stands, elsewhere in the recent turns (the character's and the
others'), beside many different words; a habit's word ("tide", "Gezeiten", "潮") stands, away from the
phrase, beside few or none (:meth:`_Context.is_free`), so "das ist" or "de la" in four turns out of six is
not a habit. Japanese is cut where its script changes (memory/lexical.py), into its words and the grammar
between them; Chinese, with no such marks, a character at a time, two of a phrase's own characters making a
word ("卡罗琳" said again and again is a name, not a phrase).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache
from itertools import accumulate

from bot.core.scripts import HAN, KANA
from memory.lexical import is_grammar, pieces

OWN_TURNS_READ = 6
# The turns, the character's and the others' (as many of each), whose words tell the language's free words
# from a phrase's own: about what a reply's history holds.
CONTEXT_TURNS_READ = 24
# Different neighbours a word has away from a phrase that make it a free word of the language, not the
# phrase's own: a word ("the", "das", "que"), a Chinese character (in many words: 的, 是, but 心 too), a
# hiragana piece of Japanese (its grammar: は, ている). Tuned on LoCoMo's tuning conversations in five
# languages (benchmarks/bench_guard.py). A short history shows fewer: two, and one more for each
# CONTEXT_UNITS_PER_NEIGHBOUR words it holds, up to these.
FREE_NEIGHBOURS = 7
FREE_NEIGHBOURS_OF_CHARACTER = 9
FREE_NEIGHBOURS_OF_KANA = 2
CONTEXT_UNITS_PER_NEIGHBOUR = 100
# Bounds on the work of one reply, far above what real turns need (LoCoMo's Chinese: at most 68 repeated
# phrases in a window, a median of 9), reached only by a turn said over and over: the repeated phrases
# weighed (the most repeated and longest first), and a word's places read to find its neighbours.
MOST_WEIGHED = 96
MOST_PLACES = 128
_GUARD_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_SENTENCE_END = re.compile(r"[.!?。！？\n]+")
# Han (with 々), and Japanese kana: a text with kana is Japanese, one with Han alone Chinese, read a
# character at a time.
_HAN = re.compile(f"[{HAN}]")
_KANA = re.compile(f"[{KANA}]")
PHRASE_WORDS = 4  # words of a phrase at most
PHRASE_CHARACTERS = 8  # Chinese characters of a phrase at most
OPENER_CHARACTERS = 4  # of a Chinese opener at most

Gram = tuple[str, ...]


@lru_cache(maxsize=1024)
def _units(text: str) -> tuple[tuple[str, ...], ...]:
    """A turn's sentences (a phrase does not run over a sentence's end), each as its words, case-folded:
    Japanese cut where its script changes (memory/lexical.py ``pieces``: "潮|は|やさしい"), Chinese (Han
    without kana) a character at a time, Korean by its spaced words. Kept per text: each reply reads the
    same turns but one."""
    by_character = not _KANA.search(text)
    out: list[tuple[str, ...]] = []
    for sentence in _SENTENCE_END.split(text):
        units: list[str] = []
        for word in _GUARD_WORD.findall(sentence):
            for piece in pieces(word):
                units.extend(piece if by_character and _HAN.match(piece) else (piece.casefold(),))
        if units:
            out.append(tuple(units))
    return tuple(out)


@lru_cache(maxsize=512)
def _marks(text: str) -> tuple[tuple[str, ...], tuple[Gram, ...]]:
    """A turn's possible openers (its first word as written; of Chinese, its first one to
    :data:`OPENER_CHARACTERS` characters) and its phrases: two to :data:`PHRASE_WORDS` words, or up to
    :data:`PHRASE_CHARACTERS` characters of Chinese. Kept per text: a long turn has hundreds."""
    sentences = _units(text)
    first = _GUARD_WORD.search(text)
    openers: tuple[str, ...] = ()
    if first:
        lead = pieces(first.group())[0]
        # Chinese runs on without a break: its opener is a short start that other turns share ("哎呀")
        openers = (tuple(lead[:n] for n in range(1, min(len(lead), OPENER_CHARACTERS) + 1))
                   if _HAN.match(lead) and not _KANA.search(text) else (lead,))
    grams: dict[Gram, None] = {}
    # characters before each place of each sentence: a phrase past PHRASE_WORDS long must hold some
    before = [[0, *accumulate(map(_is_character, units))] for units in sentences]
    longest = PHRASE_CHARACTERS if any(b[-1] for b in before) else PHRASE_WORDS
    for n in range(2, longest + 1):
        for units, chars in zip(sentences, before, strict=True):
            for i in range(len(units) - n + 1):
                if n <= PHRASE_WORDS or chars[i + n] > chars[i]:
                    grams.setdefault(units[i:i + n])  # each once, in a fixed order (ties stay put)
    return openers, tuple(grams)


@lru_cache(maxsize=1024)
def _where(text: str) -> dict[str, tuple[tuple[int, int], ...]]:
    """Where each word of a turn stands (sentence, place). Kept per text, as its words are."""
    at: dict[str, list[tuple[int, int]]] = {}
    for s, units in enumerate(_units(text)):
        for i, unit in enumerate(units):
            at.setdefault(unit, []).append((s, i))
    return {unit: tuple(places) for unit, places in at.items()}


class _Context:
    """Where each word stands in the turns read for context, to tell a free word from a phrase's own."""

    def __init__(self, texts: Sequence[str]) -> None:
        self.texts = [(_units(t), _where(t)) for t in texts]
        words = sum(len(units) for sentences, _ in self.texts for units in sentences)
        self.most = 2 + words // CONTEXT_UNITS_PER_NEIGHBOUR

    def is_free(self, gram: Gram, j: int) -> bool:
        """Whether the ``j``-th word of ``gram`` stands, away from the phrase, beside enough different words
        (:data:`FREE_NEIGHBOURS`) to be a free word of the language."""
        unit = gram[j]
        enough = min(self.most, FREE_NEIGHBOURS_OF_CHARACTER if _is_character(unit) else
                     FREE_NEIGHBOURS_OF_KANA if is_grammar(unit) else FREE_NEIGHBOURS)
        seen: set[str] = set()
        n = len(gram)
        read = 0
        for sentences, where in self.texts:
            for s, i in where.get(unit, ()):
                units = sentences[s]
                read += 1
                if read > MOST_PLACES:
                    return False
                if i >= j and units[i - j:i - j + n] == gram:
                    continue  # inside the phrase
                seen.update(units[at] for at in (i - 1, i + 1) if 0 <= at < len(units))
                if len(seen) >= enough:
                    return True
        return False


def _is_phrase(gram: Gram, context: _Context) -> bool:
    """Whether two of the words of ``gram`` are its own (not free); of Chinese, two of its characters make
    a word (most of its words are two)."""
    chinese = any(_is_character(a) and _is_character(b) for a, b in zip(gram, gram[1:], strict=False))
    words = characters = 0
    for j, unit in enumerate(gram):
        if not context.is_free(gram, j):
            if chinese and _is_character(unit):
                characters += 1
            else:
                words += 1
    return words + characters // 2 >= 2


def _is_character(unit: str) -> bool:
    return len(unit) == 1 and bool(_HAN.match(unit))


def _within(short: Gram, long: Gram) -> bool:
    return len(short) < len(long) and any(long[i:i + len(short)] == short
                                          for i in range(len(long) - len(short) + 1))


def _shown(gram: Gram) -> str:
    out = gram[0]
    for before, unit in zip(gram, gram[1:], strict=False):
        out += unit if _HAN.match(before[-1]) or _KANA.match(before[-1]) or _HAN.match(unit) or _KANA.match(
            unit) else " " + unit
    return out


def repeated(own: Sequence[str], heard: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """(openers used in at least three of the last :data:`OWN_TURNS_READ` turns, phrases in at least four,
    two of whose words are their own, not free words of the language: a habit, not a coincidence). Which
    words are free is read from the last :data:`CONTEXT_TURNS_READ` of ``own`` and of ``heard`` (the others'
    turns)."""
    turns = [_marks(t) for t in _last_said(own, OWN_TURNS_READ)]
    openers: Counter[str] = Counter()
    shown: dict[str, str] = {}
    grams: Counter[Gram] = Counter()
    for heads, said in turns:
        openers.update({h.casefold() for h in heads})
        shown.update((h.casefold(), h) for h in heads)
        grams.update(said)
    often_openers = [o for o, c in openers.most_common() if c >= 3]
    # of openers written without spaces, the longest shared ("哎呀", not "哎" too)
    firsts = [o for o in often_openers if not (_HAN.match(o) and any(
        p != o and p.startswith(o) for p in often_openers))][:3]
    often = sorted((g for g, c in grams.items() if c >= 4), key=lambda g: (grams[g], len(g)),
                   reverse=True)[:MOST_WEIGHED]
    if not often:
        return [shown[o] for o in firsts], []
    context = _Context(_last_said(own, CONTEXT_TURNS_READ) + _last_said(heard, CONTEXT_TURNS_READ))
    phrases = [g for g in often if _is_phrase(g, context)]
    # a longer phrase covers the shorter ones inside it
    kept = [g for g in phrases if not any(_within(g, q) for q in phrases)][:2]
    return [shown[o] for o in firsts], [_shown(g) for g in kept]


def _last_said(said: Sequence[str], count: int) -> list[str]:
    """The last ``count`` of ``said`` that are not blank, read from the end (a history is long)."""
    out: list[str] = []
    for text in reversed(said):
        if text.strip():
            out.append(text)
            if len(out) == count:
                break
    return out[::-1]


def variety_note(own: Sequence[str], heard: Sequence[str] = ()) -> str:
    """The instruction to vary them ("" when nothing repeats); ``heard``: the others' recent turns."""
    openers, phrases = repeated(own, heard)
    if not openers and not phrases:
        return ""
    said = []
    if openers:
        said.append("opened with " + ", ".join(f'"{o}"' for o in openers))
    if phrases:
        said.append("kept saying " + ", ".join(f'"{p}"' for p in phrases))
    return (f"[Your recent replies here {' and '.join(said)}: vary your wording, open differently this time, "
            "and use a habit of speech only where it truly fits.]")
