"""Fewer votes, same judgement: what an unaddressed channel message goes through before any vote.

1. :func:`skip_reason`, the priority filter: a message obviously not for the character gets no vote (a bare
   acknowledgement or reaction, a message that @mentions or replies to someone else, another bot's prefix
   command, a post of a webhook we do not know). Addressed messages never come here.
2. burst coalescing (bot/reply/deciding/voting.py's BurstWindow): what is left is voted on, a burst at a time.

Plain Python (no Discord, no database): the reply pipeline calls it from its decide step.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Collection, Sequence

from bot.core.i18n import N_
from bot.core.lines import Line
from bot.core.scripts import HAN, KANA
from bot.core.stages import Incoming
from bot.core.text import is_question

log = logging.getLogger(__name__)

# Bare acknowledgements and reactions, recognised by their shape in any language, never by a list of words:
# emoji and punctuation only; laughter (a syllable said over and over: "jajaja", "hahaha", "rsrs", "kkkk",
# "ㅋㅋㅋ", "хахаха", "wwww", "555"); one word said again and again ("ok ok ok"); or one short word
# with no question and none of the card's words ("genau", "gracias", "草", "ありがとう").
# Read character by character in Python, never by one pattern with a repeated group: overlapping
# alternatives inside a repetition backtrack exponentially on a message such as "ok ok ok ... x" (issue 43),
# and this runs on every unaddressed channel message.
_ACK_MAX_CHARS = 64  # longer is something to read (and is never scanned)
# One word, of at most _SHORT_CHARS letters, is chatter; two are already a greeting or a remark ("Evening,
# all.", "still here") that a vote should read.
_SHORT_WORDS = 1
_SHORT_CHARS = 12
_HAN_PER_WORD = 5  # Chinese and Japanese write no spaces: a run of this many characters counts as a word
_HAN_LETTERS = 2  # and each of their characters as this many letters
_ACK_SEPARATORS = re.compile(r"[\s,.!?~、。，！？…;:()\[\]\"“”«»¡¿]+")
_CUSTOM_EMOJI = re.compile(r"<a?:\w{1,32}:\d{5,25}>")
_SHORTCODE = re.compile(r":[\w+-]{1,32}:")  # :thumbsup: as some clients send it


def is_laughter(word: str) -> bool:
    """A syllable of one to three characters said over and over, perhaps cut short at the end: "jajaja",
    "hahah", "rsrs", "kkkk", "ㅋㅋㅋ", "хахаха", "wwww", "555", "hehe", "ahahah". Linear in the word."""
    word = word.lower()
    if len(set(word)) > 3:
        return False  # a syllable of three characters at most, said over, has no more than three
    for size in (1, 2, 3):
        if len(word) < max(3, 2 * size):
            continue
        unit = word[:size]
        if len(set(unit)) < size:
            continue  # "aab" is not a syllable said over: a run of one letter is size 1's
        if (unit * (len(word) // size + 1))[:len(word)] == word:  # (compared in C: this runs per message)
            return True
    return False


# Kana and Han: Chinese and Japanese, written without spaces (a character class: linear, no backtracking)
_HAN = re.compile(f"[{KANA}{HAN}]")
_NOT_ALNUM = re.compile(r"[\W_]+")  # what str.isalnum() refuses (\w is it and the underscore)
_ALNUM = re.compile(r"[^\W_]")
_ALPHA = re.compile(r"[^\W\d_]")


def _words_in(word: str) -> int:
    """How many words ``word`` (no spaces in it) is: Chinese and Japanese write a sentence without spaces,
    counted :data:`_HAN_PER_WORD` characters a word."""
    return max(1, -(-len(_HAN.findall(word)) // _HAN_PER_WORD))


def _letters(word: str) -> int:
    """A word's length as chatter reads it: a Chinese or Japanese character says as much as a short word."""
    return len(word) + (_HAN_LETTERS - 1) * len(_HAN.findall(word))


def is_acknowledgement(text: str, card_word: Callable[[str], bool] | None = None) -> bool:
    """"lol", "ok", "jajaja", "genau", "草", "ㅋㅋㅋ", "👍", "<:pog:123>" and the like: a reaction, not
    something to answer, recognised by its shape in any language. ``card_word``: whether a short message
    says one of the character's card's words ("kelp" alone is the character's topic, not a reaction).

    Linear in the length of ``text`` whatever it holds."""
    stripped = text.strip()
    if not stripped:
        return False
    rest = _SHORTCODE.sub(" ", _CUSTOM_EMOJI.sub(" ", stripped)).strip()
    if not rest:
        return True
    if not _ALNUM.search(rest):
        return True  # emoji, punctuation, kaomoji pieces: nothing a vote can read
    if len(rest) > _ACK_MAX_CHARS or is_question(rest):
        return False
    words = [w for w in (_NOT_ALNUM.sub("", w) for w in _ACK_SEPARATORS.split(rest.lower())) if w]
    if all(is_laughter(w) for w in words) or (len(words) > 2 and len(set(words)) == 1):
        return True  # laughter, or one word said again and again ("ok ok ok", "no no no")
    if not _HAN.search(rest):  # no Chinese or Japanese: a word is a word, a letter a letter
        if len(words) > _SHORT_WORDS or sum(map(len, words)) > _SHORT_CHARS:
            return False
    elif sum(map(_words_in, words)) > _SHORT_WORDS or sum(map(_letters, words)) > _SHORT_CHARS:
        return False
    if not all(_ALPHA.search(w) for w in words):
        return False  # a number ("5", "2 pm") answers something
    return card_word is None or not card_word(rest)


@functools.lru_cache(maxsize=8)
def parse_prefixes(value: str) -> tuple[str, ...]:
    """``other_bot_prefixes`` as a tuple, longest first (so ``;;`` is tried before ``;``); cached: the
    engine asks at every message with the setting's current value."""
    return tuple(sorted({p.strip() for p in value.split(",") if p.strip()}, key=len, reverse=True))


def bot_command(text: str, prefixes: Sequence[str]) -> str | None:
    """The prefix when ``text`` is another bot's command: a prefix then at once a letter (``!play``,
    ``?rank``); "!!!", "$5" and "? what" are people talking."""
    stripped = text.lstrip()
    for prefix in prefixes:
        if stripped.startswith(prefix):
            after = stripped[len(prefix):len(prefix) + 1]
            if after.isascii() and after.isalpha():
                return prefix
    return None


def skip_reason(msg: Incoming, *, prefixes: Sequence[str], own_ids: Collection[int],
                card_word: Callable[[str], bool] | None = None) -> Line | None:
    """Why an unaddressed channel message gets no vote; None when it should be judged.

    ``own_ids``: our account and our own webhooks (a reply to them is not "to someone else", a post by
    them is not an unknown webhook's); ``card_word``: whether a text says one of the card's words (a short
    message that does is not chatter)."""
    if msg.webhook_id is not None and msg.webhook_id not in own_ids and msg.author_id not in own_ids:
        return Line(N_("filtered: a webhook I do not know"))
    if msg.reply_to_author_id is not None and msg.reply_to_author_id not in own_ids:
        return Line(N_("filtered: a reply to someone else"))
    if msg.mentions_others:
        return Line(N_("filtered: @mentions someone else"))
    prefix = bot_command(msg.content, prefixes)
    if prefix is not None:
        return Line(N_("filtered: another bot's command ({prefix})"), prefix=prefix)
    if not msg.carried.attachments and is_acknowledgement(msg.content, card_word):
        return Line(N_("filtered: a bare acknowledgement"))
    return None
