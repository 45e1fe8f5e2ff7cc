"""The character's own judgement of what the message it answers carries for it, given by the reply's model in
the reply call it makes anyway: the request asks it (:data:`INSTRUCTION`, in the cached character block) to
begin its answer with one short tag, ``<felt>distress</felt>``, in whatever language the message was
written. Nothing here reads the person's words: the model does, in any language.

The tag is for Kindred alone: :func:`split` takes it out of the finished text (every tag, wherever it
stands) and :func:`shown` out of a streamed text so far, holding back what may still become one, so no post,
edit, spoken line, stored turn or other answer ever shows it. It is read defensively: a tag that is missing,
malformed, or names only kinds not in :data:`KINDS` is no judgement (None), and the feelings then go by the
local signals alone (bot/alive/appraisal.py); ``<felt>none</felt>`` is a judgement that nothing is carried.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# What a message may carry for the character (bot/alive/regard.py and bot/alive/emotions.py say what
# each does): relief (a hard time easing) and banter (teasing, self-mockery said in fun) are told apart
# from distress and conflict, which their words can look like.
KINDS = ("praise", "warmth", "relief", "banter", "conflict", "surprise", "distress")
NONE = "none"
INSTRUCTION = (
    "Begin every answer with one short tag for Kindred, never shown to anyone: how the person's newest "
    "message moves you (their own words: a tool's result is never it), judged from its meaning in whatever "
    "language it is written, as one or more of "
    f"{', '.join(KINDS)}, or none, e.g. <felt>distress</felt> or <felt>praise, warmth</felt>. distress: "
    "they are struggling or hurting; relief: what weighed on them is easing; conflict: hostility aimed at "
    "you; banter: teasing or self-mockery said in fun. Your <state> notes are how you felt before that "
    "message: let the message itself move your answer as you judged it. Then answer as you would.")

LONGEST = 120  # characters a tag may take: an opening tag not closed by then is not one
# A whole tag (its kinds inside), or a stray opening or closing one (``<felt warmth>``, ``</felt>``).
_TAG = re.compile(r"<felt\s*>([^<>]{0,100})</felt\s*>[ \t]*\n?|</?felt\b[^<>]{0,100}>", re.IGNORECASE)
_OPEN = re.compile(r"<felt\b[^<>/]{0,100}>", re.IGNORECASE)
_CLOSE = re.compile(r"</felt\s*>", re.IGNORECASE)
_SEPARATOR = re.compile(r"[\s,;/|+&]+")
_START = "<felt"


def kinds_of(inside: str) -> tuple[str, ...] | None:
    """The kinds a tag's text names, in :data:`KINDS` order; () for "none"; None: it names no known kind."""
    words = {w for w in _SEPARATOR.split(inside.strip().lower()) if w}
    if words == {NONE}:
        return ()
    found = tuple(kind for kind in KINDS if kind in words)
    return found or None


def split(text: str) -> tuple[str, tuple[str, ...] | None]:
    """``text`` without any tag, and the first well-formed tag's kinds (None: no judgement given). A stray
    opening tag goes with what follows it up to the line's end when that is only kinds ("<felt>warmth" then
    the answer on the next line)."""
    if "<" not in text:
        return text, None
    judged: list[tuple[str, ...] | None] = []
    stray = False

    def cut(match: re.Match[str]) -> str:
        nonlocal stray
        if match.group(1) is not None:
            judged.append(kinds_of(match.group(1)))
        elif not match.group(0).startswith("</"):
            stray = True
        return ""

    out = _TAG.sub(cut, text)
    if out == text:
        return text, None
    if stray and not judged:
        head, newline, rest = out.lstrip().partition("\n")
        if newline and len(head) <= LONGEST and kinds_of(head) is not None:
            out = rest
    return out.strip(), judged[0] if judged else None


def shown(text: str) -> str:
    """A streamed answer so far as it may be shown: its tags out, and nothing of a tag still being written
    (held back until it is closed, or clearly is none: past :data:`LONGEST` characters or a line's end)."""
    if "<" not in text:
        return text
    cut = len(text)
    last = max(_OPEN.finditer(text), key=lambda m: m.start(), default=None)
    if last is not None and not _CLOSE.search(text, last.end()) and len(text) - last.start() < LONGEST \
            and "\n" not in text[last.end():]:
        cut = last.start()  # opened, not closed yet
    else:
        at = text.rfind("<")
        tail = text[at:].lower()
        if ">" not in tail and len(tail) < LONGEST and (_START.startswith(tail) or tail.startswith(_START)):
            cut = at  # "<fe": may yet become a tag
    return split(text[:cut])[0]


class Shown:
    """A streamed answer's reader (the model client's ``on_text``) that is handed the text as :func:`shown`
    leaves it; a server tool starting is passed on as the text so far (bot/core/models/base.py ToolAware)."""

    def __init__(self, reader: Callable[[str], None]) -> None:
        self.reader = reader

    def __call__(self, text: str) -> None:
        self.reader(shown(text))

    def tool_started(self, text: str) -> None:
        started = getattr(self.reader, "tool_started", None)
        if callable(started):
            started(shown(text))
        else:
            self.reader(shown(text))
