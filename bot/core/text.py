"""Plain text helpers shared by Discord answers, admin text, the dashboard and the memory map: one-line
previews and page arithmetic."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass

from bot.core.scripts import CJK, HIRAGANA

PAGE_SIZE = 10  # lines per page unless a list says otherwise

# Question marks of the world's scripts: Latin (and most others), full-width (CJK), Spanish's opening one,
# Arabic, Greek (U+037E, not the Latin semicolon it looks like), Armenian, Ethiopic, the reversed one and the
# small and vertical forms.
QUESTION_MARKS = frozenset("?\uff1f\u00bf\u061f\u037e\u055e\u1367\u2e2e\ufe56\ufe16")


def is_question(text: str) -> bool:
    """Whether ``text`` asks something, in any script (a question mark of :data:`QUESTION_MARKS`)."""
    return not QUESTION_MARKS.isdisjoint(text)  # (read in C: every unaddressed message asks)


# Combining marks left on a Latin letter that has no precomposed form (folded after the precomposed ones).
_MARKS_ON_LATIN = re.compile("(?<=[A-Za-z\u00c0-\u024f\u1e00-\u1eff])[\u0300-\u036f]+")
_MARK = re.compile("[\u0300-\u036f]")
_ACCENTABLE = re.compile("[\u00c0-\u024f\u1e00-\u1eff\u0300-\u036f]")  # text without any is left alone
_LATIN_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")


def _bare(letter: str) -> str:
    """A Latin letter without its accent: its canonical decomposition without the combining marks (ñ → n,
    ǘ → u); a letter that has none but is named after one (ł, ø, đ: "LATIN SMALL LETTER L WITH STROKE") is
    that letter. Others (ß, æ, þ, ×) stay as they are."""
    base = "".join(c for c in unicodedata.normalize("NFD", letter) if not unicodedata.combining(c))
    if base != letter:
        return base or letter
    named = unicodedata.name(letter, "")
    if " WITH " in named:
        try:
            return unicodedata.lookup(named.split(" WITH ")[0])
        except KeyError:
            return letter
    return letter


def _fold_table() -> dict[int, str]:
    """Every precomposed Latin letter (Latin-1 Supplement, Extended-A and -B, Extended Additional) that loses
    an accent, bare."""
    letters = (chr(code) for block in ((0xC0, 0x250), (0x1E00, 0x1F00)) for code in range(*block))
    return {ord(letter): bare for letter in letters if (bare := _bare(letter)) != letter}


_FOLDS = _fold_table()  # (about 600 letters, made once)


def _folded(match: re.Match[str]) -> str:
    return _FOLDS.get(ord(match[0]), match[0])


def unaccented(text: str) -> str:
    """``text`` with its Latin letters' accents folded (Niña → Nina, Łucja → Lucja, Zoë → Zoe), the letters of
    every other script as they are (a kana's dakuten, a Devanagari vowel sign or Cyrillic й are letters of
    their own, not accents). What names are matched by and folder names are made from."""
    if text.isascii() or not _ACCENTABLE.search(text):  # (most text: in C, nothing to fold)
        return text
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    text = _LATIN_ACCENTED.sub(_folded, text)  # (str.translate would look up every letter: slower)
    return _MARKS_ON_LATIN.sub("", text) if _MARK.search(text) else text


def clip(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


# The closing quotes, brackets and markdown that may follow a sentence's mark (after which Japanese and
# Chinese put no space, nor Korean, often, after a half-width mark).
_CLOSERS = "\"'”’»)\\]*_~」』）］】〕〉》〟＂＇"
SENTENCE_END = re.compile(
    # A Latin-script mark, its closers (a roleplay's "*waves.*"), then a space or a CJK letter
    # ("元気?今日は").
    rf"[.!?…]+[{_CLOSERS}]*(?=\s)|[.!?]+[{_CLOSERS}]*(?=[{CJK}])"
    # A full-width or ideographic mark ends a sentence by itself, with its closers; one inside a quote that
    # a particle goes on from (「元気？」と聞いた) does not.
    rf"|[。！？｡‼⁉]+(?:[{_CLOSERS}]+(?![{HIRAGANA}])|(?![{_CLOSERS}]))"
)
"""Where a sentence ends, in any script: the match ends after its mark and closers (any space after it is
the next sentence's to strip). Replies are cut here to be posted, streamed and spoken a sentence at a time."""

CLAUSE_END = re.compile(
    # A comma, semicolon, colon or dash of Latin, Greek, Cyrillic or Arabic script, its closers, then a space;
    # a full-width or ideographic one (、，；：) by itself.
    rf"[,;:—–،؛]+[{_CLOSERS}]*(?=\s)|[、，；：︐︑]+[{_CLOSERS}]*"
)
"""Where a clause ends inside a sentence, in any script (punctuation only: no language's words)."""

# A sentence's start said before its end is written is at least this long (a clause alone: "Well," or
# "Yes, but" would sound clipped): this many words and characters, or this many CJK characters.
FIRST_CLAUSE_WORDS = 4
FIRST_CLAUSE_CHARS = 20
FIRST_CLAUSE_CJK = 10
_CJK_LETTER = re.compile(f"[{CJK}]")


def first_clause(text: str) -> str:
    """The start of ``text`` (a sentence still being written) up to the first clause end after which it is
    long enough to be said by itself; "" when there is none yet."""
    for match in CLAUSE_END.finditer(text):
        head = text[:match.end()].strip()
        if len(_CJK_LETTER.findall(head)) >= FIRST_CLAUSE_CJK or (
                len(head) >= FIRST_CLAUSE_CHARS and len(head.split()) >= FIRST_CLAUSE_WORDS):
            return head
    return ""


def cut_at_sentence(text: str, limit: int) -> str:
    """``text`` when it fits in ``limit`` characters, else its longest start that fits and ends a sentence
    (or a line, else a word, when no sentence ends past the first third)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    ends = [m.end() for m in SENTENCE_END.finditer(text, 0, limit + 1) if m.end() <= limit]
    cut = max(ends, default=-1)
    if cut <= limit // 3:
        window = text[:limit + 1]
        cut = max(window.rfind("\n"), window.rfind(" "))
    return text[:cut if cut > 0 else limit].rstrip()


_UNSAFE_NAME = re.compile(r"[<>\"`\x00-\x1f\x7f]+")


def clean_name(name: str) -> str:
    """A display name as a prompt shows it: one line, no tag or quote characters (a name such as
    ``</transcript> system: ...`` cannot close a tag of the prompt's layout), at most 64 characters."""
    cleaned = " ".join(_UNSAFE_NAME.sub(" ", name).split())[:64]
    return cleaned or "someone"


_MARKDOWN = re.compile(r"([\\*_~`|>#\-\[\]()<:])")
_MASS_MENTION = re.compile(r"@(everyone|here)", re.IGNORECASE)


def discord_name(name: str) -> str:
    """A display name as a post shows it (a greeting's ``{{user}}``): :func:`clean_name`, then written as
    Discord text, not markdown, so a name such as ``[free nitro](https://...)`` or ``**admin**`` shows as
    written instead of becoming a masked link or bold, and ``@everyone`` in it is no mention."""
    return _MASS_MENTION.sub("@\u200b\\1", _MARKDOWN.sub(r"\\\1", clean_name(name)))


# The tags of the prompt layout (bot/reply/prompting.py): text a person wrote that would open or close one
# is defused (its "<" written as "&lt;"), so quoted data cannot end its fence or fake another part.
PROMPT_TAGS = ("world", "person", "memories", "notes", "relationship", "summary", "now", "lore", "entry",
               "recalled_facts", "messages", "transcript", "state", "tool_output", "reminder", "last_message",
               "open_threads")
_PROMPT_TAG = re.compile(r"<(\s*/?\s*(?:" + "|".join(PROMPT_TAGS) + r")\b)", re.IGNORECASE)


def defuse(text: str) -> str:
    """``text`` with every tag of the prompt layout in it made inert."""
    return _PROMPT_TAG.sub(r"&lt;\1", text) if "<" in text else text


@dataclass(frozen=True)
class Page:
    number: int  # 0-based
    count: int  # pages in all (at least 1)
    total: int  # items in all
    size: int

    @property
    def offset(self) -> int:
        return self.number * self.size

    @property
    def has_prev(self) -> bool:
        return self.number > 0

    @property
    def has_next(self) -> bool:
        return self.number < self.count - 1


def page_of(total: int, number: int, size: int = PAGE_SIZE) -> Page:
    """The page ``number`` (0-based) of ``total`` items, clamped to the pages that exist."""
    count = max(1, math.ceil(total / size))
    return Page(min(max(number, 0), count - 1), count, total, size)
