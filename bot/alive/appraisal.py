"""What a message means for the character's feelings, judged in its context: a small rule-based reader, no
model call (it runs on every exchange, in microseconds).

The text is cut into clauses (at sentence ends, commas, semicolons and "but"); in each clause a signal word
counts unless a negation stands in the three words before it ("I'm not angry", "you're not stupid"), and a
harsh word is judged by whom the clause is about:

* aimed at the character (second person: "you", "your", "u", or the character's name) it is ``conflict``
  ("you're stupid", "finn you idiot");
* about the speaker or the world (first person, or nobody: "I feel so stupid", "work is the worst") it is
  ``distress``: the person is having a hard time, which calls for concern, not defence.

Insults said as orders ("shut up", "go away") are always aimed at the listener. Warmth and praise count
whoever they are about, unless negated.

Known limits, by design (cheap and offline): sarcasm ("great, just great") reads as praise; reported speech
("she said you're stupid") as conflict; "you" meant for someone else in a channel as aimed at the
character; a negation further than three words back, or in another clause, is missed; English only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Clauses: sentence ends, commas, semicolons, dashes and "but" separate what each part is about.
_CLAUSES = re.compile(r"[.!?;,\n]+|\s[-–—]\s|\bbut\b")
_WORD = re.compile(r"[a-z']+")

SECOND_PERSON = frozenset("you you're youre your yours yourself u ur ya you've you'll you'd".split())
FIRST_PERSON = frozenset("i i'm im me my myself i've i'd i'll mine".split())
NEGATORS = frozenset("not no never don't dont isn't isnt aren't arent wasn't wasnt weren't ain't doesn't "
                     "doesnt didn't didnt won't wont can't cant nothing hardly nor neither".split())
NEGATION_REACH = 3  # words before a signal that a negation may stand in

# Harsh words: conflict when aimed at the character, the person's distress otherwise.
HARSH = frozenset("hate stupid idiot dumb annoying useless worst wtf angry pathetic liar awful terrible "
                  "horrible trash garbage sucks suck loser moron".split())
# The person's own low state (said of someone else, "you seem sad", they are not the person's distress).
DISTRESS = frozenset("sad upset stressed depressed anxious lonely crying cry cried exhausted miserable "
                     "scared afraid worried hurt heartbroken overwhelmed failed fired awful terrible "
                     "yelled shouted screamed humiliated embarrassed ashamed bullied".split())
WORDS: dict[str, frozenset[str]] = {
    "praise": frozenset("thanks thank thx ty great awesome amazing brilliant perfect clever genius nice "
                        "wonderful fantastic impressive smart".split()),
    "warmth": frozenset("love hug hugs sweet friend glad welcome dear cute happy cozy cosy adorable".split()),
    "surprise": frozenset("wow whoa omg unbelievable suddenly".split()),
}
PHRASES: dict[str, tuple[str, ...]] = {
    "praise": ("well done", "good job", "the best", "good bot", "good fish", "👍", "👏", "🙏"),
    "warmth": ("miss you", "missed you", "<3", "❤", "♥", "💕", "💖", "🥰", "😊", "🤗", ":)", "(:"),
    "surprise": ("no way", "😮", "😲", "🤯", "😱"),
    "distress": ("messed up", "screwed up", "bad day", "rough day", "hard day", "feel like crap",
                 "can't cope", "😢", "😭", "😞", "😔", ":("),
}
ORDERS = ("shut up", "go away", "screw you", "get lost", "leave me alone")  # said to the listener
ANGRY_FACES = ("😡", "🤬", "🙄")  # judged by the clause's target, like a harsh word
ASTONISHED = ("?!", "!?")  # made of what separates clauses: looked for in the whole text

KINDS = ("praise", "warmth", "conflict", "surprise", "distress")
# Each signal word's kinds of WORDS, and every word a negation can matter to: the others are passed over.
_KINDS_OF: dict[str, tuple[str, ...]] = {
    w: tuple(kind for kind, words in WORDS.items() if w in words) for w in set().union(*WORDS.values())}
_SIGNALS = HARSH | DISTRESS | frozenset(_KINDS_OF)


def _negated(words: list[str], i: int) -> bool:
    return any(w in NEGATORS or w.endswith("n't") for w in words[max(0, i - NEGATION_REACH):i])


def _phrase_negated(clause: str, at: int) -> bool:
    before = _WORD.findall(clause[:at])
    return _negated(before, len(before))


def appraise(text: str, names: Iterable[str] = ()) -> tuple[str, ...]:
    """The stimuli ``text`` carries, in :data:`KINDS` order; ``names``: what the character is called (a
    clause naming it is aimed at it)."""
    called = {n.lower() for n in names if n}
    lowered = text.lower()
    found = {"surprise"} if any(p in lowered for p in ASTONISHED) else set()
    # What the whole text holds of each list, looked for clause by clause only then (most hold none). It
    # runs for every exchange: a signal word alone is checked for a negation before it.
    phrased = [(kind, present) for kind, phrases in PHRASES.items()
               if (present := [p for p in phrases if p in lowered])]
    orders = any(p in lowered for p in ORDERS)
    faces = any(p in lowered for p in ANGRY_FACES)
    for clause in _CLAUSES.split(lowered):
        if not clause.strip():
            continue
        words = _WORD.findall(clause)
        aimed = any(w in SECOND_PERSON or w in called for w in words)
        about_self = any(w in FIRST_PERSON for w in words)
        for i, w in enumerate(words):
            if w not in _SIGNALS or _negated(words, i):
                continue
            if w in HARSH:
                found.add("conflict" if aimed else "distress")
            if w in DISTRESS and not (aimed and not about_self):
                found.add("distress")
            found.update(_KINDS_OF.get(w, ()))
        for kind, phrases in phrased:
            if any((at := clause.find(p)) >= 0 and not _phrase_negated(clause, at) for p in phrases):
                found.add(kind)
        if orders and any(p in clause for p in ORDERS):
            found.add("conflict")
        if faces and any(p in clause for p in ANGRY_FACES):
            found.add("distress" if about_self and not aimed else "conflict")
    return tuple(kind for kind in KINDS if kind in found)
