"""The repetition guard: the character's own recent turns in this conversation, read for the openers and the
phrases it keeps reusing ("Glub," at the start of every answer, the same catchphrase in each), so the reply is
asked, briefly, to vary them. Worked out from the history the prompt already holds: per conversation, nothing
stored, and silent while the character varies its words by itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

OWN_TURNS_READ = 6
_GUARD_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Words too common to make a phrase someone notices on their own.
COMMON_WORDS = frozenset(
    "a an the and or but so of to in on at for with from by is are was were be been am i you he she it we "
    "they me my your our their its this that there here what how do does did not no yes just".split())


@lru_cache(maxsize=512)
def _marks(text: str) -> tuple[str, tuple[str, ...]]:
    """A turn's first word, as written, and its phrases of two to four words, two of them not
    :data:`COMMON_WORDS`. Kept per text: each reply reads the same last turns but one, and a long one has
    hundreds of phrases."""
    found = _GUARD_WORD.findall(text)
    words = [w.casefold() for w in found]
    rare = [w not in COMMON_WORDS for w in words]
    grams = dict.fromkeys(" ".join(words[i:i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)
                          if sum(rare[i:i + n]) >= 2)  # each once, in a fixed order (ties stay put)
    return (found[0] if found else ""), tuple(grams)


def repeated(own: Sequence[str]) -> tuple[list[str], list[str]]:
    """(openers used in at least three of the last :data:`OWN_TURNS_READ` turns, phrases of two to four
    words, two of them not :data:`COMMON_WORDS`, in at least four): a habit, not a coincidence."""
    turns = [_marks(t) for t in _last_said(own)]
    openers = Counter(o.casefold() for o, _ in turns if o)
    shown = {o.casefold(): o for o, _ in turns if o}
    phrases: Counter[str] = Counter()
    for _, grams in turns:
        phrases.update(grams)
    often = [p for p, c in phrases.most_common() if c >= 4]
    # a longer phrase covers the shorter ones inside it
    kept = [p for p in often if not any(p != q and p in q for q in often)][:2]
    return [shown[o] for o, c in openers.most_common() if c >= 3][:3], kept


def _last_said(own: Sequence[str]) -> list[str]:
    """The last :data:`OWN_TURNS_READ` of ``own`` that are not blank, read from the end (a history is
    long)."""
    out: list[str] = []
    for text in reversed(own):
        if text.strip():
            out.append(text)
            if len(out) == OWN_TURNS_READ:
                break
    return out[::-1]


def variety_note(own: Sequence[str]) -> str:
    """The instruction to vary them ("" when nothing repeats)."""
    openers, phrases = repeated(own)
    if not openers and not phrases:
        return ""
    said = []
    if openers:
        said.append("opened with " + ", ".join(f'"{o}"' for o in openers))
    if phrases:
        said.append("kept saying " + ", ".join(f'"{p}"' for p in phrases))
    return (f"[Your recent replies here {' and '.join(said)}: vary your wording, open differently this time, "
            "and use a habit of speech only where it truly fits.]")
