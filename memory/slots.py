"""One truth per fact: which single place of a person's life a fact fills (its *slot*: where they live, their
work, their partner, a pet's name, the day of one event), so that a new fact in a slot closes the old one.

The extraction model names each fact's slot itself, in any language the person writes in: a key of
:data:`SLOTS` (or "none"), with whose or which it is where that matters ("home:brother", "pet_name:cat",
"event_day:wedding"), a leading "?" when the fact is hedged or passing ("?home": staying somewhere for the
winter), and the slot's value ("York"). That is stored with the fact (``user_facts.slot``/``slot_value``):
:func:`parse_slot` reads it, :func:`slot_for` a stored fact's. A plain slot is *sure*; an unsure one never
closes anything, it only raises a doubt that is shown to the model as such.

Facts stored before the model named slots (their slot NULL) fall back to :func:`slot_of`, the small English
cue vocabulary they were written with ("lives in", "works as"); a fact whose slot the model gave is never
read by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Slot:
    name: str  # one of SLOTS: home, work, partner, pet_name, event_day...
    key: str  # whose or which: "" (the person's own), "brother", "dog", "brother/dog", "wedding"
    sure: bool  # a plain statement; an unsure one only raises a doubt

    @property
    def stored(self) -> str:
        """How ``user_facts.slot`` keeps it (and the model writes it): "?home:brother"."""
        return ("" if self.sure else "?") + self.name + (f":{self.key}" if self.key else "")


# The slots the extraction names (each holds one truth per person, or per whose/which): a language-neutral
# key, never the person's words.
SLOTS = ("home", "work", "school", "partner", "pet_name", "birthday", "age", "diet", "event_day")
NO_SLOT = "none"
_KEY_PART = re.compile(r"[^\w]+")


def parse_slot(raw: object) -> Slot | None:
    """The model's slot ("home", "?home", "pet_name:cat", "home:brother"); None for "none", an empty one or
    a key not in SLOTS (a slot it made up is no slot: it must never close a fact)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip().casefold()
    sure = not text.startswith("?")
    name, _, key = text.lstrip("?").strip().partition(":")
    name = name.strip().replace(" ", "_")
    if name not in SLOTS:
        return None
    key = "/".join(part for part in _KEY_PART.split(key) if part)[:60]
    return Slot(name, key, sure)


def slot_for(fact: str, stored: str | None) -> Slot | None:
    """A known fact's slot: the model's, as stored ("" for none), else (a fact stored before the model named
    slots: NULL) what the English cues of :func:`slot_of` say."""
    return slot_of(fact) if stored is None else parse_slot(stored)


def same_value(value: str | None, old_value: str | None, old_fact: str) -> bool | None:
    """Whether a new fact's slot value is the known fact's (its stored value, else found in its words);
    None when the new fact gave no value."""
    new = _plain(value)
    if not new:
        return None
    if old_value is not None and _plain(old_value):
        return new == _plain(old_value)
    return new in _plain(old_fact)


def _plain(text: str | None) -> str:
    return " ".join(_KEY_PART.split(text.casefold())).strip() if text else ""


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
    """The slot an English fact stored before the model named slots fills, by its cues, or None (most facts:
    a liking, an event, a thing they have). Named as :data:`SLOTS` names them."""
    text = fact.casefold()
    for pattern, name in ((_EVENT, "event_day"), (_PET, "pet_name")):
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
