"""Style mirroring: how a person writes (length, capitals, punctuation, emoji, language), learnt
incrementally from their messages, and one line of guidance for the character to mirror it.

The profile is pure: a profile goes in with a message and a new profile comes out (:func:`learn`, a running
mean for the first messages, then an exponential average so it follows a person who changes). The guidance is
made of coarse buckets with hysteresis (:func:`settle`: a bucket is left only once the value is well past its
edge, the buckets shown are kept in the profile), so a person writing near an edge does not make the line
flicker from one message to the next.

Every trait here is read from the shape of the text, so it holds in any language. Register (tu or usted, du
or Sie, です or だ, slang or prose) is not: no word list tells it in every language, and the model that writes
the reply reads the person's own messages in the request, in whatever language they are. So the system
prompt asks it to match their register from those (bot/reply/prompting.py ``STATE_RULE``); nothing here
guesses it.

At run time (:class:`StyleMirror`) each remembered person's profile becomes that line of the stable prompt,
and is learnt from their messages after each exchange. The profile is read with the rest of the prompt data
(no trip of its own); consent is checked against the answer read there too. Learning runs after the reply, in
one transaction with the consent check (database/style.py): someone not remembered gets no profile, and an
opt-out drops theirs. Whether someone may have a profile at all is consent's (memory/consent.py).
"""

from __future__ import annotations

import json
import logging
import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

from bot.core.language import NAMES, chinese_script, detect
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, ReplyResult
from database.records import PromptData
from database.style import StyleProfiles
from memory.consent import Consent

log = logging.getLogger(__name__)

MIN_MESSAGES = 3  # no guidance before this many messages
MIN_WEIGHT = 0.1  # the newest message's weight once the running mean has become an average

_WORD = re.compile(r"\w+", re.UNICODE)
# Final punctuation in any script: Latin, CJK full-width, Arabic, Devanagari, Armenian, Ethiopic.
_ENDS = (".", "!", "?", "…", "。", "！", "？", "｡", "؟", "।", "։", "።")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF]|<a?:\\w+:\\d+>")
# The language is bot/core/language.py's: a message that does not tell ("ok", "lol", an emoji) counts for
# none, so the line never names a language the person does not write in.
LANGUAGES = NAMES


@dataclass(slots=True)  # not frozen: a frozen dataclass is built field by field, slowly (every message)
class StyleProfile:
    messages: int = 0
    words: float = 0.0  # words per message
    lowercase: float = 0.0  # share of messages without a capital letter (of those with letters)
    shouting: float = 0.0  # share of messages mostly in capitals
    end_punct: float = 0.0  # share ending in . ! ? or …
    exclaim: float = 0.0  # share with an exclamation mark
    emoji: float = 0.0  # emoji per message
    languages: dict[str, float] = field(default_factory=dict)  # smoothed share of each language seen
    # smoothed share of their Chinese messages whose characters tell the script that are in Traditional ones:
    # the lines Kindred writes them are then Traditional (bot/core/i18n.py language_written)
    traditional: float = 0.0
    shown: dict[str, str] = field(default_factory=dict)  # the bucket of each trait the guidance says (settle)

    def to_json(self) -> str:
        data: dict[str, object] = {}
        for key in _FIELDS:
            value = getattr(self, key)
            data[key] = round(value, 4) if isinstance(value, float) else value
        data["languages"] = {k: round(v, 4) for k, v in self.languages.items()}
        data["shown"] = dict(self.shown)
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> StyleProfile:
        data = json.loads(raw)
        # A profile stored before a trait was dropped (formality) keeps the rest.
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


_FIELDS = tuple(f.name for f in fields(StyleProfile))


def language_of(text: str) -> str | None:
    """The language ``text`` is written in, or None when it does not tell."""
    return detect(text)


def _mix(old: float, new: float, weight: float) -> float:
    return old + (new - old) * weight


def learn(profile: StyleProfile | None, text: str) -> StyleProfile:
    """The profile after one more message (a message with no words or emoji changes nothing)."""
    p = profile or StyleProfile()
    text = text.strip()
    lowered = text.lower()
    words = _WORD.findall(lowered)
    emoji = len(_EMOJI.findall(text))
    if not words and not emoji:
        return p
    weight = max(1.0 / (p.messages + 1), MIN_WEIGHT)
    lowercase, shouting = p.lowercase, p.shouting
    if lowered != text.upper():  # it has letters with a case (string methods: no loop in Python)
        lowercase = _mix(p.lowercase, 1.0 if text == lowered else 0.0, weight)
        shouting = _mix(p.shouting, 1.0 if text.isupper() and len(words) >= 2 else 0.0, weight)
    languages = dict(p.languages)
    language = language_of(text) if words else None
    if language is not None:
        for code in list(languages):
            languages[code] *= 1 - weight
        languages[language] = languages.get(language, 0.0) + weight
        languages = {k: v for k, v in languages.items() if v >= 0.02}  # a stray word fades out
    traditional = p.traditional
    if language == "zh" and (script := chinese_script(text)) is not None:
        traditional = _mix(p.traditional, 1.0 if script == "Hant" else 0.0, weight)
    new = StyleProfile(
        messages=p.messages + 1, words=_mix(p.words, len(words), weight), lowercase=lowercase,
        shouting=shouting, end_punct=_mix(p.end_punct, 1.0 if text.endswith(_ENDS) else 0.0, weight),
        exclaim=_mix(p.exclaim, 1.0 if "!" in text else 0.0, weight), emoji=_mix(p.emoji, emoji, weight),
        languages=languages, traditional=traditional, shown=p.shown)
    new.shown = settle(new)
    return new


SLACK = 0.2  # how far past a bucket's edge (a share of the edge) a value must go to leave the bucket shown
LENGTHS = ((6, 15, 40), ("very short messages", "short messages", "medium-length messages", "long messages"))
EMOJI = ((0.05, 0.3, 1.0), ("no emoji", "the odd emoji", "some emoji", "lots of emoji"))
# A trait shown from the first figure on, hidden again only below the second (one figure is 1 - another
# share: "mostly without final punctuation" is a share of messages ending in none).
FLAGS = {"capitals": (0.5, 0.35), "lowercase": (0.7, 0.55), "unpunctuated": (0.7, 0.55),
         "exclaim": (0.5, 0.35), "language": (0.6, 0.45)}


def _banded(value: float, edges: tuple[float, ...], labels: tuple[str, ...], was: str | None, *,
            upper: bool = True) -> str:
    """The bucket of ``value`` (``upper``: an edge value belongs to the bucket below), or ``was`` while the
    value stays within :data:`SLACK` of its bucket's edges."""
    if was in labels:
        j = labels.index(was)
        low = edges[j - 1] * (1 - SLACK) if j else -math.inf
        high = edges[j] * (1 + SLACK) if j < len(edges) else math.inf
        if low <= value <= high:
            return was
    return labels[(bisect_left if upper else bisect_right)(edges, value)]


def _held(name: str, value: float, shown: dict[str, str]) -> bool:
    enter, leave = FLAGS[name]
    return value >= (leave if shown.get(name) else enter)


def settle(p: StyleProfile) -> dict[str, str]:
    """The bucket of each trait to show ("" for a trait not shown), from the figures and the buckets shown
    until now (``p.shown``): a bucket changes only once its figure is clearly past the edge."""
    was = p.shown
    out = {"length": _banded(p.words, *LENGTHS, was.get("length")),
           "emoji": _banded(p.emoji, *EMOJI, was.get("emoji"), upper=False)}
    capitals = _held("capitals", p.shouting, was)
    out["capitals"] = "often in capitals" if capitals else ""
    out["lowercase"] = "all in lowercase" if not capitals and _held("lowercase", p.lowercase, was) else ""
    out["unpunctuated"] = ("mostly without final punctuation"
                           if _held("unpunctuated", 1 - p.end_punct, was) else "")
    out["exclaim"] = "lots of exclamation marks" if _held("exclaim", p.exclaim, was) else ""
    language = ""
    if p.languages:
        enter, leave = FLAGS["language"]
        previous = was.get("language", "")
        code, share = max(p.languages.items(), key=lambda kv: kv[1])
        if previous and p.languages.get(_CODES.get(previous, ""), 0.0) >= leave:
            language = previous  # the language shown until now still holds its own
        elif share >= enter:
            language = LANGUAGES.get(code, "")
    out["language"] = language
    return out


_CODES = {name: code for code, name in LANGUAGES.items()}
TRAIT_ORDER = ("length", "capitals", "lowercase", "unpunctuated", "exclaim", "emoji")


# Buckets that say only that a habit is absent: left unsaid, as the line is paid for at every reply.
UNSAID = frozenset({EMOJI[1][0]})


def traits(p: StyleProfile, shown: dict[str, str] | None = None) -> list[str]:
    """The profile in coarse words (what the guidance says); ``shown``: its :func:`settle`, if known."""
    shown = shown or settle(p)
    return [shown[k] for k in TRAIT_ORDER if shown[k] and shown[k] not in UNSAID]


def guidance(p: StyleProfile | None, name: str) -> str:
    """One line for the prompt ("" until the profile has MIN_MESSAGES messages)."""
    if p is None or p.messages < MIN_MESSAGES:
        return ""
    shown = settle(p)
    where = f"; in {shown['language']}" if shown["language"] else ""
    # Shown after the history at every reply (bot/reply/prompting.py ``<state>``): short, it is paid for
    # uncached; what to do with it ("mirror it loosely") the system prompt says once, cached.
    said = ", ".join(traits(p, shown))
    return f"## How {name} writes\n{name} writes {said}{where}."


# -- what the character says unprompted (a check-in, a reminder, a proactive line, a place task)

# What a reply's system prompt says once of register (bot/reply/prompting.py ``STATE_RULE``), said in the line
# itself where there is no conversation in the request to read it from: only the person's last words.
REGISTER = ("address {name} as formally or as familiarly as {name} addresses you (their own words show it, "
            "in their language's terms)")


def profile_of(raw: str | None) -> StyleProfile | None:
    """A stored profile, parsed (None for none, or one that cannot be read)."""
    if not raw:
        return None
    try:
        return StyleProfile.from_json(raw)
    except (ValueError, TypeError):
        return None


def spoken_language(p: StyleProfile | None, said: str = "") -> str:
    """The language a person writes in, by name ("" when nothing tells): their profile's (the language the
    style line names, else the one most of their messages were in), else that of ``said`` (their words)."""
    if p is not None and p.languages:
        shown = settle(p)["language"] if p.messages >= MIN_MESSAGES else ""
        if shown:
            return shown
        code, share = max(p.languages.items(), key=lambda kv: kv[1])
        if share >= FLAGS["language"][0]:
            return LANGUAGES.get(code, "")
    return LANGUAGES.get(language_of(said) or "", "") if said.strip() else ""


def unprompted_line(p: StyleProfile | None, name: str, said: str = "") -> str:
    """The line a reply to ``name`` carries (:func:`guidance`), for what the character says to them
    unprompted, with the language and register said outright: "Write to Jonas in German; address Jonas as
    formally ...". ``said``: their latest words in the request (their last message, a reminder's text), for
    the language where the profile does not tell it. "" when neither tells anything."""
    line = guidance(p, name)
    language = spoken_language(p, said)
    if not line and not language:
        return ""
    head = line or f"## How {name} writes"
    write = f"Write to {name} in {language}; " if language else "Write to them as they write; "
    return f"{head}\n{write}{REGISTER.format(name=name)}."


def place_line(texts: Sequence[str]) -> str:
    """For a line said to a place (a proactive line, a place task): the language most of ``texts`` (what
    people wrote there, a task's words) are in, as an instruction ("" when none tells)."""
    found = [code for code in (language_of(t) for t in texts if t.strip()) if code]
    if not found:
        return ""
    code = max(set(found), key=found.count)
    language = LANGUAGES.get(code, "")
    return f"[Language: people here write in {language}: write in {language}.]" if language else ""


# -- at run time

PARSED_CACHE = 2_000  # profiles kept parsed, by their stored text
_MENTION = re.compile(r"(?<!\w)[@#][^\s@#]+")


class StyleMirror:
    def __init__(self, profiles: StyleProfiles, consent: Consent) -> None:
        self.profiles = profiles
        self.consent = consent
        self._parsed: dict[str, StyleProfile] = {}

    def parse(self, raw: str | None) -> StyleProfile | None:
        if not raw:
            return None
        profile = self._parsed.get(raw)
        if profile is None:
            try:
                profile = StyleProfile.from_json(raw)
            except (ValueError, TypeError):
                log.warning("an unreadable style profile is ignored")
                return None
            if len(self._parsed) >= PARSED_CACHE:
                self._parsed.clear()
            self._parsed[raw] = profile
        return profile

    def system_part(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        if msg.author_is_bot or not self.consent.allows(data.memory_consent):
            return ""
        return guidance(self.parse(data.style_profile), msg.author_name)

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        text = _MENTION.sub("", msg.content).strip()  # "@Finn" is Discord's doing, not the person's style
        if not msg.author_is_bot and text:
            await self.learn(msg.author_id, text)

    def learnt(self, old: str | None, text: str) -> str:
        """The stored form of the profile after ``text``; kept parsed, for the next reply's prompt."""
        profile = learn(self.parse(old), text)
        raw = profile.to_json()
        if len(self._parsed) >= PARSED_CACHE:
            self._parsed.clear()
        self._parsed[raw] = profile
        return raw

    async def learn(self, user_id: int, text: str) -> StyleProfile | None:
        def update(old: str | None, consent: bool | None) -> str | None:
            if not self.consent.allows(consent):
                return None  # not remembered: no profile (and any old one goes)
            return self.learnt(old, text)

        return self.parse(await self.profiles.learn(user_id, update))
