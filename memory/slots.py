"""One truth per fact: which single place of a person's life a fact fills (its *slot*: where they live, their
work, their partner, a pet's name, the day of one event), so that a new fact in a slot closes the old one.

The slot vocabulary is small and says only which slot a fact is in and whose it is ("Alice's brother lives
in Paris" is the brother's home, not Alice's); whether a new fact and a known one are near at all is asked
of their embeddings (memory/reconcile.py). A plain statement ("lives in", "works as") is *sure*; a hedged
or passing one ("is staying in", "has an interview at") is not: it never closes anything, it only raises a
doubt that is shown to the model as such.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Slot:
    name: str  # home, work, partner, pet, event
    key: str  # whose or which: "" (the person's own), "brother", "dog", "brother/dog", "wedding"
    sure: bool  # a plain statement; an unsure one only raises a doubt


_RELATIONS = re.compile(
    r"\b(brother|sister|mum|mom|mother|dad|father|son|daughter|friend|boss|cousin|aunt|uncle|grandma|"
    r"grandmother|grandpa|grandfather|niece|nephew|roommate|flatmate|colleague|neighbou?r|kid|child|"
    r"parents?|sibling)s?\b")
_PETS = {"puppy": "dog", "kitten": "cat", "bunny": "rabbit"}
_PET = re.compile(r"\b(cat|dog|puppy|kitten|hamster|rabbit|bunny|parrot|bird|tortoise|turtle|horse|snake|"
                  r"ferret|fish|pet)(?:'s)?\b[^.]{0,30}?\b(?:named|called|name is)\b")
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*"
# events that happen once, so a new day is a change of plan (an exam or an appointment may be several)
_EVENT = re.compile(r"\b(wedding|surgery|operation|graduation|due date)\b[^.]{0,40}?"
                    r"(?:\d{4}-\d\d-\d\d|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?" + _MONTH + r"\b|\b"
                    + _MONTH + r"\s+\d{1,2}\b)")
# (slot, sure, cue): the first cue found decides
_CUES: tuple[tuple[str, bool, re.Pattern[str]], ...] = (
    ("home", True, re.compile(r"\b(?:lives?|living|moved|moving|relocated|relocating|resides?|settled)\s+"
                              r"(?:back\s+)?(?:in|to|into|near)\b|\b(?:home|address)\s+is\s+(?:in|now)\b")),
    ("home", False, re.compile(r"\b(?:staying|stays|renting|rents|crashing)\s+(?:\w+\s+)?(?:in|at|near)\b|"
                               r"\bhas an? (?:flat|house|place|room|apartment) in\b|"
                               r"\b(?:thinking of|might be|may be|planning to|plans to|wants to)\s+mov")),
    ("work", True, re.compile(r"\b(?:works?|working|employed|hired)\s+(?:as|at|for|by)\b|"
                              r"\b(?:new\s+)?job\s+(?:is|as|at)\b|\bgot a (?:new\s+)?job\b")),
    ("work", False, re.compile(r"\b(?:interview(?:ed|ing|s)?|applied|applying)\s+(?:at|for|to)\b|"
                               r"\b(?:training|studying)\s+to\s+be(?:come)?\b|\bintern(?:ing|ship)?\s+at\b")),
    ("partner", True, re.compile(r"\b(?:girlfriend|boyfriend|wife|husband|partner|fianc[eé]e?|spouse)\s+"
                                 r"(?:is|was)\b|\b(?:married|engaged)\s+to\b|\bis\s+dating\b")),
    ("partner", False, re.compile(r"\b(?:seeing someone|going out with|crush on|went on a date with)\b")),
)


@lru_cache(maxsize=8192)  # a batch's every new fact is weighed against the same known facts
def slot_of(fact: str) -> Slot | None:
    """The slot a fact fills, or None (most facts: a liking, an event, a thing they have)."""
    text = fact.casefold()
    for pattern, name in ((_EVENT, "event"), (_PET, "pet")):
        found = pattern.search(text)
        if found:
            thing = _PETS.get(found[1], found[1])
            return Slot(name, _whose(text[:found.start()], thing), True)
    for name, sure, cue in _CUES:
        found = cue.search(text)
        if found:
            return Slot(name, _whose(text[:found.start()], ""), sure)
    return None


def _whose(before: str, thing: str) -> str:
    """The slot's key: the relation it is about ("Alice's brother ..."), and the pet or event."""
    relations = _RELATIONS.findall(before)
    whose = relations[-1] if relations else ""
    return "/".join(part for part in (whose, thing) if part)


_PAST = {"lives": "lived", "live": "lived", "is": "was", "are": "were", "works": "worked", "has": "had",
         "owns": "owned", "stays": "stayed", "rents": "rented", "resides": "resided"}
_VERB = re.compile(r"\b(lives|live|is|are|works|has|owns|stays|rents|resides)\b")


def past_tense(fact: str) -> str:
    """A closed fact told as history: its first verb in the past ("Alice lives in Leeds" -> "Alice lived in
    Leeds"); a sentence already in the past stays as it is ("Alice moved to York")."""
    return _VERB.sub(lambda m: _PAST[m[1]], fact, count=1)
