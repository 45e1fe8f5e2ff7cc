"""Fewer votes, same judgement: what an unaddressed channel message goes through before any vote.

1. :func:`skip_reason`, the priority filter: a message obviously not for the character gets no vote (a bare
   acknowledgement or reaction, a message that @mentions or replies to someone else, another bot's prefix
   command, a post of a webhook we do not know). Addressed messages never come here.
2. burst coalescing (bot/reply/deciding/voting.py's BurstWindow): what is left is voted on, a burst at a time.

Plain Python (no Discord, no database): the reply engine calls it from its decide step.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Collection, Sequence

from bot.core.pipeline import Incoming

log = logging.getLogger(__name__)

# Bare acknowledgements and reactions: the whole message is these words (case and repeats ignored), emoji and
# punctuation. Looked up word by word in sets, never by one pattern with a repeated group: overlapping
# alternatives inside a repetition ("ok" is both ok(ay)? and o?k+) backtrack exponentially on a message
# such as "ok ok ok ... x" (issue 43), and this runs on every unaddressed channel message.
_ACK_WORDS = frozenset((
    "rofl", "kek", "hah", "heh", "okay", "ya", "yep", "yup", "yeah", "yes", "ye", "no", "nah", "nope", "ty",
    "thx", "thanks", "np", "gg", "wp", "ggwp", "nice", "cool", "true", "same", "fr", "real", "based", "oof",
    "rip", "f", "idk", "ikr", "wow", "damn", "bruh", "smh", "w", "l", "+1", "-1", "this", "mood", "lmk",
    "brb", "gn", "gm",
))
# Words people stretch ("loool", "lmaooo", "hahaha", "kkk", "hmmm"): compared after :func:`_fold`.
_STRETCHED_ACKS = frozenset((
    "lol", "lolz", "lmao", "lmfao", "haha", "hahah", "hehe", "ok", "k", "mhm", "hm", "y", "xd", "ah", "oh",
    "^",
))
# A bare acknowledgement is a few words: anything longer is something to read (and is never scanned).
_ACK_MAX_CHARS = 64
_ACK_SEPARATORS = re.compile(r"[\s,.!?~]+")
_CUSTOM_EMOJI = re.compile(r"<a?:\w{1,32}:\d{5,25}>")
_SHORTCODE = re.compile(r":[\w+-]{1,32}:")  # :thumbsup: as some clients send it


def _fold(word: str) -> str:
    """``word`` with its stretching undone: runs of one letter made one ("loool" -> "lol"), and a syllable
    said over and over kept twice ("hahahah" -> "hahah")."""
    out: list[str] = []
    for char in word:
        if not out or out[-1] != char:
            out.append(char)
    folded = "".join(out)
    if len(folded) > 4 and folded[:2] * (len(folded) // 2) == folded[: len(folded) // 2 * 2]:
        folded = folded[:4] + folded[len(folded) // 2 * 2:]  # "haha" plus the odd "h", if any
    return folded


def _is_ack_word(word: str) -> bool:
    if word in _ACK_WORDS or _fold(word) in _STRETCHED_ACKS:
        return True
    bare = "".join(c for c in word if c.isalnum())
    # Pure symbols (emoji, ":)", "-_-") say nothing; a word in brackets or with a smiley stuck to it is that
    # word.
    return not bare or (bare != word and (bare in _ACK_WORDS or _fold(bare) in _STRETCHED_ACKS))


# A hello and nothing else ("hi", "hey there!", "good morning 👋"): a person's first DM that says only this is
# answered by the character's greeting alone (bot/reply/engine.py).
_HELLO_WORDS = frozenset((
    "hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "hallo", "hola", "greetings", "gm", "morning",
    "evening", "afternoon", "good", "there", "hellooo", "o/", "wave",
))
_HELLO_CORE = frozenset(("hi", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "hallo", "hola",
                         "greetings", "gm", "morning", "evening", "afternoon"))


def is_hello(text: str, names: Collection[str] = ()) -> bool:
    """"hi", "hello there!", "heyyy 👋", "good morning", "hey Finn" (``names``: the character's): a greeting
    and nothing to answer beyond it."""
    named = {w for n in names for w in n.lower().split()}
    stripped = text.strip().lower()
    if not stripped or len(stripped) > _ACK_MAX_CHARS:
        return False
    words = [w for w in _ACK_SEPARATORS.split(stripped) if w]
    seen_core = False
    for word in words:
        bare = "".join(c for c in word if c.isalnum())
        if not bare:
            continue  # an emoji, a wave
        folded = _fold(bare)
        if bare in _HELLO_CORE or folded in _HELLO_CORE:
            seen_core = True
        elif bare not in _HELLO_WORDS and folded not in _HELLO_WORDS and bare not in named:
            return False
    return seen_core


def is_acknowledgement(text: str) -> bool:
    """"lol", "ok", "k", "haha", "👍", "<:pog:123>" and the like: a reaction, not something to answer.

    Linear in the length of ``text`` whatever it holds."""
    stripped = text.strip()
    if not stripped:
        return False
    rest = _SHORTCODE.sub(" ", _CUSTOM_EMOJI.sub(" ", stripped)).strip()
    if not rest:
        return True
    if not any(c.isalnum() for c in rest):
        return True  # emoji, punctuation, kaomoji pieces: nothing a vote can read
    if len(rest) > _ACK_MAX_CHARS:
        return False
    return all(_is_ack_word(word) for word in _ACK_SEPARATORS.split(rest.lower()) if word)


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


def skip_reason(msg: Incoming, *, prefixes: Sequence[str], own_ids: Collection[int]) -> str | None:
    """Why an unaddressed channel message gets no vote; None when it should be judged.

    ``own_ids``: our account and our own webhooks (a reply to them is not "to someone else", a post by
    them is not an unknown webhook's)."""
    if msg.webhook_id is not None and msg.webhook_id not in own_ids and msg.author_id not in own_ids:
        return "filtered: a webhook I do not know"
    if msg.reply_to_author_id is not None and msg.reply_to_author_id not in own_ids:
        return "filtered: a reply to someone else"
    if msg.mentions_others:
        return "filtered: @mentions someone else"
    prefix = bot_command(msg.content, prefixes)
    if prefix is not None:
        return f"filtered: another bot's command ({prefix})"
    if is_acknowledgement(msg.content) and not msg.carried.attachments:
        return "filtered: a bare acknowledgement"
    return None
