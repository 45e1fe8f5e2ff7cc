"""Entity detection: which characters a message speaks to, and in what order.

Used twice: by a bot process that shares a server with other character bots (a character named second
waits for the first one's answer), and by the ensemble router of a bot that plays several characters.
Name matching is cheap and decides whenever a name appears; only an unaddressed message goes to the
voting model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache

from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming


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


def _word(name: str) -> str:
    # "@Finn", "Finn," and "finn?" all count; "Finnish" does not.
    return rf"(?<!\w){re.escape(name)}(?!\w)"


@lru_cache(maxsize=512)
def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(_word(name), re.IGNORECASE)


def fold(text: str) -> str:
    """Text as NameMatcher's quick test compares it: case-folded, and the dotless ı as i (the one pair of
    letters re's IGNORECASE matches that case folding keeps apart; checked over all of Unicode)."""
    return text.casefold().replace("ı", "i")


class NameMatcher:
    """Whether a text names any of ``names`` as a word (as :func:`first_position` finds them), asked of
    every message. Most chatter holds no name at all, and a substring test of the folded text says so ten
    times faster than the pattern, which then runs only when a name's letters are there."""

    def __init__(self, names: Iterable[str]) -> None:
        ordered = sorted({n for n in names if n}, key=len, reverse=True)  # a stable pattern for one set
        self._folded = tuple(fold(n) for n in ordered)
        self._pattern = re.compile("|".join(map(_word, ordered)), re.IGNORECASE) if ordered else None

    def __call__(self, text: str) -> bool:
        if self._pattern is None:
            return False
        folded = fold(text)
        return any(name in folded for name in self._folded) and self._pattern.search(text) is not None


class CharacterNames:
    """One character's names: its persona's (read live, the files may be edited), the first word of it when
    distinctive, and ``extra`` ones (the bot account's own username); one matcher for them all, rebuilt only
    when the persona or the extra names change."""

    def __init__(self, persona: Callable[[], Persona], extra: set[str]) -> None:
        self.persona = persona
        self.extra = extra  # the engine's set, filled once connected
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
    """Where the earliest of ``names`` appears in ``text`` as a word (None when none does)."""
    best: int | None = None
    for name in names:
        if not name:
            continue
        match = _pattern(name).search(text)
        if match and (best is None or match.start() < best):
            best = match.start()
    return best


def addressed_order(text: str, characters: Mapping[str, Iterable[str]]) -> list[str]:
    """The keys of ``characters`` (key → names) whose names appear in ``text``, in order of appearance."""
    found: list[tuple[int, str]] = []
    for key, names in characters.items():
        position = first_position(text, names)
        if position is not None:
            found.append((position, key))
    return [key for _, key in sorted(found)]
