"""The repetition guard: the character's own recent turns in this conversation, read for the openers and the
phrases it keeps reusing ("Glub," at the start of every answer, the same catchphrase in each), so the reply
is asked, briefly, to vary them. Worked out from the history the prompt already holds: per conversation,
nothing stored, and silent while the character varies its words by itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

RECENT = 6  # own turns read
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
# Words too common to make a phrase someone notices on their own.
COMMON = frozenset(
    "a an the and or but so of to in on at for with from by is are was were be been am i you he she it we "
    "they me my your our their its this that there here what how do does did not no yes just".split())


def _words(text: str) -> list[str]:
    return [w.casefold() for w in _WORD.findall(text)]


def _opener(text: str) -> str:
    """A turn's first word, as written."""
    words = _WORD.findall(text)
    return words[0] if words else ""


def repeated(own: Sequence[str]) -> tuple[list[str], list[str]]:
    """(openers used in at least three of the last :data:`RECENT` turns, phrases of two to four words, two
    of them not :data:`COMMON`, in at least four): a habit, not a coincidence."""
    turns = [t for t in own if t.strip()][-RECENT:]
    openers = Counter(o.casefold() for o in (_opener(t) for t in turns) if o)
    shown = {o.casefold(): o for o in (_opener(t) for t in turns) if o}
    phrases: Counter[str] = Counter()
    for turn in turns:
        words = _words(turn)
        grams = {" ".join(words[i:i + n]) for n in (2, 3, 4) for i in range(len(words) - n + 1)}
        phrases.update(g for g in grams if sum(w not in COMMON for w in g.split()) >= 2)
    often = [p for p, c in phrases.most_common() if c >= 4]
    # a longer phrase covers the shorter ones inside it
    kept = [p for p in often if not any(p != q and p in q for q in often)][:2]
    return [shown[o] for o, c in openers.most_common() if c >= 3][:3], kept


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
