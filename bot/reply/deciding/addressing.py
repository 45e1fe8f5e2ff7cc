"""Entity detection: which characters a message speaks to, and in what order.

Used twice: by a bot process that shares a server with other character bots (a character named second
waits for the first one's answer), and by the ensemble router of a bot that plays several characters.
Name matching is cheap and decides whenever a name appears; only an unaddressed message goes to the
voting model.

A name counts when it is not part of a longer word of the same script, which is decided per script, not by
spaces (Japanese and Chinese put none between words, Korean and Japanese glue particles to a name):

* both the text and the names are compared folded (:func:`fold`: NFKC, so full-width ``Ｍｉｒａ`` and
  half-width ``ﾐﾗ`` are Mira and ミラ, Latin accents folded, so ``nina`` is Niña, then case folding, Turkish
  ``İ``/``ı`` as ``i``);
* a name's edge touching a letter of another script, punctuation, a space or a symbol is a word's edge:
  "Miraさん", "Mira様", "Mira씨", "@mira", "Mira-san" and "こんにちはMira" all name Mira;
* touching a letter of its own script, it is part of a longer word ("Miranda", "ミラノ",
  "キミラ", "미라클"), except where that script glues grammar to a name: a Korean name followed by
  a particle or honorific (미라씨, 미라님, 미라야, 미라는...), a hiragana name followed by a particle or
  honorific;
* Han characters (Chinese, Japanese kanji) are written without word boundaries at all: a Han name of two
  or more characters counts wherever it appears ("芬恩你好"); a katakana, hiragana or one-character Han
  name followed by a Han character counts only when that begins an honorific ("ミラ様", "ミラ先生",
  not "ミラ語").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping

from bot.core.persona.model import Persona
from bot.core.scripts import HAN, HANGUL, HIRAGANA, KATAKANA
from bot.core.stages import Incoming
from bot.core.text import unaccented


def name_variants(name: str) -> set[str]:
    """The ways people write a character's name: the full name, and its first word when distinctive."""
    name = name.strip()
    if not name:
        return set()
    variants = {name}
    first = name.split()[0]
    if len(first) >= 3:
        variants.add(first)
    return variants


def fold(text: str) -> str:
    """Text as names are compared in it: NFKC (full- and half-width forms as the usual ones), Latin accents
    folded (``nina`` names Niña, ``zoe`` Zoë: people type names without them), the Turkish dotless ``ı`` as
    ``i`` (case folding keeps it apart from ``i``), then case-folded."""
    # case-folded before the accents go, so a letter and its other case lose the same accent (Ɓ and ɓ)
    return unaccented(unicodedata.normalize("NFKC", text).replace("ı", "i").casefold())


# What may follow a name glued to it in the same script: honorifics and particles (scripts whose grammar
# attaches to the word before). Folded already (NFKC leaves these as they are).
_JAPANESE_GLUED = ("さん", "くん", "ちゃん", "さま", "どの", "たん", "は", "が", "を", "に", "の", "へ", "と",
                   "も", "で", "や", "か", "よ", "ね", "な", "って", "っ")
_KOREAN_GLUED = ("씨", "님", "군", "양", "아", "야", "이", "가", "은", "는", "을", "를", "의", "에", "께",
                 "한테", "도", "만", "와", "과", "랑", "하고", "로", "으로", "여", "요")
_HAN_HONORIFICS = ("様", "殿", "氏", "君", "先生", "先輩", "老师", "老師", "同学", "哥", "姐")

_HIRAGANA, _KATAKANA, _HANGUL, _HAN, _WORD = "hiragana", "katakana", "hangul", "han", "word"
_SCRIPTS = tuple((re.compile(f"[{letters}]"), script) for letters, script in (
    (HIRAGANA, _HIRAGANA), (KATAKANA, _KATAKANA), (HANGUL, _HANGUL), (HAN, _HAN)))


def _script(char: str) -> str:
    """The script class of one character, for word edges: "" for what is no letter (space, punctuation,
    symbols, emoji), "word" for the letters and digits of the scripts written with spaces (Latin, Cyrillic,
    Greek...)."""
    for letters, script in _SCRIPTS:
        if letters.match(char):
            return script
    if char.isalnum() or char == "_" or unicodedata.category(char).startswith("M"):
        return _WORD
    return ""


def _unbounded(name: str) -> bool:
    """A Han name of two characters or more: Chinese marks no word boundaries, so it counts anywhere."""
    return len(name) >= 2 and all(_script(c) == _HAN for c in name)


def _starts_ok(text: str, start: int, name: str) -> bool:
    if start == 0:
        return True
    before, first = _script(text[start - 1]), _script(name[0])
    return not before or before != first or (first == _HAN and _unbounded(name))


def _ends_ok(text: str, end: int, name: str) -> bool:
    if end >= len(text):
        return True
    after, last, rest = _script(text[end]), _script(name[-1]), text[end:]
    if not after or not last:
        return True
    if after == _HAN and last in (_HAN, _KATAKANA, _HIRAGANA):
        return (last == _HAN and _unbounded(name)) or rest.startswith(_HAN_HONORIFICS)
    if after != last:
        return True  # another script begins: "Miraさん", "ミラは", "Mira씨"
    if last == _HANGUL:
        return rest.startswith(_KOREAN_GLUED)
    if last == _HIRAGANA:
        return rest.startswith(_JAPANESE_GLUED)
    return False  # the same word goes on: "Miranda", "ミラノ"


def _find(folded_text: str, folded_name: str) -> int | None:
    """Where ``folded_name`` first names someone in ``folded_text`` (both :func:`fold`-ed), else None."""
    start = folded_text.find(folded_name)
    while start >= 0:
        if (_starts_ok(folded_text, start, folded_name)
                and _ends_ok(folded_text, start + len(folded_name), folded_name)):
            return start
        start = folded_text.find(folded_name, start + 1)
    return None


class NameMatcher:
    """Whether a text names any of ``names`` as a word (as :func:`first_position` finds them), asked of
    every message. Most chatter holds no name at all: a substring test of the folded text says so, and the
    word edges are looked at only where a name's letters are there."""

    def __init__(self, names: Iterable[str]) -> None:
        folded = {fold(n.strip()) for n in names if n and n.strip()}
        self._folded = tuple(sorted(folded, key=len, reverse=True))

    def __call__(self, text: str) -> bool:
        if not self._folded:
            return False
        folded = fold(text)
        return any(name in folded and _find(folded, name) is not None for name in self._folded)


class CharacterNames:
    """One character's names: its persona's (read live, the files may be edited), the first word of it when
    distinctive, its aliases (``names=`` in character.env), and ``extra`` ones (the bot account's own
    username); one matcher for them all, rebuilt only when the persona or the extra names change."""

    def __init__(self, persona: Callable[[], Persona], extra: set[str]) -> None:
        self.persona = persona
        self.extra = extra  # the pipeline's set, filled once connected
        self._key: tuple[Persona, frozenset[str]] | None = None
        self._matcher = NameMatcher(())

    def __call__(self) -> set[str]:
        persona = self.persona()
        names = {persona.name, *self.extra}
        first = persona.name.split()[0] if persona.name.split() else ""
        if len(first) >= 3:
            names.add(first)
        # A V3 card's nickname is what the card calls the character ({{char}}): people call it that too.
        # One or two letters ("Q") would match stray words, so those stay a card-text name only.
        if len(persona.nickname.strip()) >= 3:
            names.add(persona.nickname.strip())
        # The operator's other names for it (character.env ``names``), often in other scripts ("ミラ, 미라,
        # 芬恩"): taken at any length, as the operator chose them.
        names.update(persona.aliases)
        return {n for n in names if n}

    def matcher(self) -> NameMatcher:
        persona, kept = self.persona(), self._key
        if kept is None or kept[0] is not persona or kept[1] != self.extra:
            self._matcher = NameMatcher(self())
            self._key = (persona, frozenset(self.extra))
        return self._matcher

    def name(self) -> str:
        """The character's name as its files say it now."""
        return self.persona().name


class Addressee:
    """Whether a message certainly asks this character for an answer, without asking anyone: a person's DM,
    @mention, reply, or the character's name. Asked when the message is logged (its reply then is owed from
    that write), by the spending limits (who is told a budget is spent) and when deciding; the name check
    runs once per message (a voice message asks again once heard, with its new text)."""

    KEPT = 1024  # messages whose name check is kept (far more than are between logging and deciding)

    def __init__(self, names: CharacterNames) -> None:
        self.names = names
        # name_mentioned() of the messages in flight, by id: (the text asked about, the answer). A busy
        # server's messages interleave between their logging and their decision, so more than one is kept.
        self._named: dict[int, tuple[str, bool]] = {}

    def names_me(self, msg: Incoming) -> bool:
        known = self._named.get(msg.message_id)
        if known is not None and known[0] == msg.content:
            return known[1]
        named = self.names.matcher()(msg.content)
        if len(self._named) >= self.KEPT:
            del self._named[next(iter(self._named))]  # the oldest: long decided
        self._named[msg.message_id] = (msg.content, named)
        return named

    def reply_certain(self, msg: Incoming) -> bool:
        if msg.author_is_bot:
            return False  # the bot-to-bot throttle may still say no
        return msg.is_dm or msg.mentions_bot or msg.replies_to_bot or self.names_me(msg)


def first_position(text: str, names: Iterable[str]) -> int | None:
    """Where the earliest of ``names`` appears in ``text`` as a word (None when none does), counted in the
    folded text: positions compare between names of one text, which is all they are for."""
    folded = fold(text)
    found = [_find(folded, fold(n.strip())) for n in names if n and n.strip()]
    return min((p for p in found if p is not None), default=None)


def addressed_order(text: str, characters: Mapping[str, Iterable[str]]) -> list[str]:
    """The keys of ``characters`` (key → names) whose names appear in ``text``, in order of appearance."""
    found: list[tuple[int, str]] = []
    for key, names in characters.items():
        position = first_position(text, names)
        if position is not None:
            found.append((position, key))
    return [key for _, key in sorted(found)]
