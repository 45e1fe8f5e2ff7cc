"""SillyTavern macros in prompts and cards: ``{{char}}``, ``{{user}}``, ``{{date}}``, ``{{time}}``,
``{{weekday}}``, ``{{idle_duration}}``, ``{{isodate}}``, ``{{isotime}}``, ``{{time_UTC+2}}``
(case-insensitive, spaces inside the braces allowed, as in SillyTavern); ``{{// a comment}}`` and
``{{noop}}`` are removed, ``{{newline}}`` is a line break and ``{{trim}}`` removes itself with the line
breaks around it (after the rest, as SillyTavern does); ``{{lastMessage}}`` is the message answered (a
reference to it in the stable text); ``{{group}}`` and ``{{charIfNotGroup}}`` are the character's name (a
Kindred conversation has one character: SillyTavern's solo chat).

Prompt caching needs the system prompt to stay byte-identical from one reply to the next, yet ``{{time}}``
changes every minute. So the macros are rendered in two places:

* in the stable text (the character prompt, post-history instructions, lorebook entries, the greeting in a
  prompt), ``{{char}}`` and ``{{user}}`` become the names, and each time-varying macro becomes a fixed
  reference, ``[date]``, ``[time]``, ``[weekday]`` or ``[idle duration]``, the same at every reply;
* in the per-message part of the prompt (the last user turn, after the cached history), a ``[Now: ...]`` note
  states what each reference the character uses stands for at this reply (see :func:`now_note`).

Text shown to a person as it is (a greeting posted, the console's) is rendered with the values themselves, in
the language the text is written in (:attr:`Moment.language`: a German greeting's ``{{weekday}}`` is
"Sonntag", as Babel writes CLDR's); the model reads them as SillyTavern writes them, in English.

The chance macros ``{{random::a::b}}`` (or ``{{random:a,b}}``), ``{{pick::a::b}}`` and ``{{roll:2d6}}`` are
drawn from a seed: ``{{pick}}`` from the text and its place in it, so it stays the same wherever the text is
shown, as SillyTavern keeps a pick for the chat; ``{{random}}`` and ``{{roll}}`` from the message being
answered too (``seed``), so they change from reply to reply but never inside one request (a cached text
that changed at every read would never be read from the cache: without a seed they are drawn once, like a
pick).
"""

from __future__ import annotations

import random
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from babel.core import UnknownLocaleError
from babel.dates import format_date, format_time, format_timedelta

from bot.core.i18n import N_, t
from bot.core.locales import FALLBACK

TIME_MACROS = ("date", "time", "weekday", "idle_duration", "isodate", "isotime")
NEVER_SPOKE = N_("none: this is their first message here")  # {{idle_duration}} before they ever spoke
REFERENCES = {"date": "[date]", "time": "[time]", "weekday": "[weekday]", "idle_duration": "[idle duration]",
              "isodate": "[ISO date]", "isotime": "[24-hour time]"}
_MACRO = re.compile(r"\{\{\s*(char|user|user_line|date|time|weekday|idle_duration|isodate|isotime|lastmessage"
                    r"|group|charifnotgroup|newline|noop|time_utc[+-]\d{1,2})\s*\}\}", re.IGNORECASE)
_TIME_MACRO = re.compile(r"\{\{\s*(date|time|weekday|idle_duration|isodate|isotime|time_utc[+-]\d{1,2})"
                         r"\s*\}\}", re.IGNORECASE)
_COMMENT = re.compile(r"\{\{//.*?\}\}", re.DOTALL)
_TRIM = re.compile(r"(?:\r?\n)*\{\{\s*trim\s*\}\}(?:\r?\n)*", re.IGNORECASE)
LAST_MESSAGE = "[the message you are answering]"
# {{user}} where a prompt names no one (a channel's shared character block); an example dialogue's person
# (bot/core/persona/cards.py writes their lines as {{user_line}}) is then "someone"
NEUTRAL_USER = "the person you are answering"


def reference(name: str) -> str:
    """The stable stand-in for a time macro (``time_utc+2``: "[time at UTC+2]")."""
    if name.startswith("time_utc"):
        return f"[time at UTC{name[8:]}]"
    return REFERENCES[name]


@dataclass(frozen=True)
class Moment:
    """The values of the time-varying macros at one reply."""

    now: datetime  # aware, in the character's time zone
    idle: timedelta | None = None  # since the person last spoke; None when they never did before
    # The language of a text posted as it is (a greeting in the person's language): its date, weekday, time
    # and idle duration as that language writes them; None (or English): as SillyTavern writes them.
    language: str | None = None

    def value(self, name: str) -> str:
        if name.startswith("time_utc"):  # {{time_UTC+2}}: the time at that offset from UTC
            hours = int(name[8:])
            if not -14 <= hours <= 14:
                return reference(name)
            at = self.now.astimezone(timezone(timedelta(hours=hours)))
            return Moment(at, self.idle, self.language).value("time")
        if self.language not in (None, FALLBACK) and (written := self._written(name)) is not None:
            return written
        if name == "isodate":
            return f"{self.now:%Y-%m-%d}"
        if name == "isotime":
            return f"{self.now:%H:%M}"
        if name == "date":
            return f"{self.now:%B} {self.now.day}, {self.now.year}"  # SillyTavern's "LL": November 23, 2026
        if name == "time":
            hour = self.now.hour % 12 or 12
            return f"{hour}:{self.now.minute:02d} {'AM' if self.now.hour < 12 else 'PM'}"  # "LT": 2:05 PM
        if name == "weekday":
            return f"{self.now:%A}"
        return humanize(self.idle) if self.idle is not None else NEVER_SPOKE

    def _written(self, name: str) -> str | None:
        """``name``'s value as :attr:`language` writes it (None: a macro it does not change, or a language
        Babel does not know)."""
        language = str(self.language)
        locale = language.replace("-", "_")
        try:
            if name == "date":  # the long date, as SillyTavern's "LL" is in English
                return str(format_date(self.now, "long", locale=locale))
            if name == "weekday":
                return str(format_date(self.now, "EEEE", locale=locale))
            if name == "time":
                return str(format_time(self.now, "short", locale=locale))
            if name == "idle_duration":
                return (str(format_timedelta(self.idle, locale=locale)) if self.idle is not None
                        else t(language, NEVER_SPOKE))
        except (UnknownLocaleError, ValueError):
            return None
        return None


_CHANCE = re.compile(r"\{\{\s*(random|pick|roll)\s*(::|:)(.*?)\}\}", re.IGNORECASE | re.DOTALL)
_DICE = re.compile(r"\s*(\d*)\s*d\s*(\d+)\s*([+-]\s*\d+)?\s*", re.IGNORECASE)


def chance_macros(text: str, seed: int | None = None) -> str:
    """``{{random}}``, ``{{pick}}`` and ``{{roll}}`` drawn (see the module docstring); anything malformed
    is left as written."""
    if "{{" not in text:
        return text

    def sub(match: re.Match[str]) -> str:
        kind, separator, body = match.group(1).lower(), match.group(2), match.group(3)
        base = zlib.crc32(f"{text}\x00{match.start()}".encode())
        rng = random.Random(base if kind == "pick" or seed is None else base ^ (seed * 2654435761))
        if kind == "roll":
            dice = _DICE.fullmatch(body)
            if dice is None:
                return match.group(0)
            count, sides = int(dice.group(1) or 1), int(dice.group(2))
            if not (1 <= count <= 100 and 1 <= sides <= 10_000):
                return match.group(0)
            bonus = int(dice.group(3).replace(" ", "")) if dice.group(3) else 0
            return str(sum(rng.randint(1, sides) for _ in range(count)) + bonus)
        options = [o.strip() for o in (body.split("::") if separator == "::" else body.split(","))]
        return rng.choice(options) if any(options) else match.group(0)

    return _CHANCE.sub(sub, text)


def render_macros(text: str, *, char: str, user: str, moment: Moment | None = None,
                  seed: int | None = None, last_message: str | None = None) -> str:
    """``{{char}}``/``{{user}}`` as the names; the time macros as their values at ``moment``, or without a
    moment as the stable references the per-message ``[Now: ...]`` note explains; the chance macros drawn
    (``seed``: the message answered, for those that change per reply); ``{{lastMessage}}`` as
    ``last_message`` (None: a reference to it); comments, ``{{newline}}`` and ``{{trim}}`` as SillyTavern
    renders them."""
    if "{{" not in text:
        return text
    text = chance_macros(_COMMENT.sub("", text), seed)

    def sub(match: re.Match[str]) -> str:
        key = match.group(1).lower()
        if key in ("char", "group", "charifnotgroup"):
            return char
        if key == "user":  # the stand-in opening a sentence opens it with a capital, as a name would
            return user[:1].upper() + user[1:] if user == NEUTRAL_USER and opens_sentence(
                match.string, match.start()) else user
        if key == "user_line":
            return "someone" if user == NEUTRAL_USER else user
        if key == "newline":
            return "\n"
        if key == "noop":
            return ""
        if key == "lastmessage":
            return last_message if last_message is not None else LAST_MESSAGE
        return moment.value(key) if moment is not None else reference(key)

    return _TRIM.sub("", _MACRO.sub(sub, text))


# What ends a sentence (in the scripts that mark it), and what may stand between that and the next word.
SENTENCE_ENDS = ".!?。！？\n"
SENTENCE_OPENERS = " \t*_\"'“‘«(「"


def opens_sentence(text: str, at: int) -> bool:
    """Whether position ``at`` of ``text`` starts a sentence: nothing but spaces, quotes and emphasis since
    the text's start or the end of the sentence before it."""
    before = text[:at].rstrip(SENTENCE_OPENERS)
    return not before or before[-1] in SENTENCE_ENDS


def time_macros_in(texts: Iterable[str]) -> list[str]:
    """The time-varying macros ``texts`` use, in :data:`TIME_MACROS` order (then the UTC offsets)."""
    found = {m.group(1).lower() for text in texts for m in _TIME_MACRO.finditer(text)}
    return [name for name in TIME_MACROS if name in found] + sorted(n for n in found if n not in TIME_MACROS)


def now_note(names: Iterable[str], moment: Moment, user: str) -> str:
    """The per-message statement of what the references stand for at this reply ("" for no names)."""
    names = list(names)
    parts = [f"{reference(n)} = {moment.value(n)}" + (f" (since {user} last wrote)"
                                                       if n == "idle_duration" and moment.idle is not None
                                                       else "")
             for n in names]
    return f"[Now, for {', '.join(reference(n) for n in names)} in your instructions: {'; '.join(parts)}]" \
        if parts else ""


def humanize(delta: timedelta) -> str:
    """A duration as SillyTavern's ``{{idle_duration}}`` words it (moment.js ``humanize``)."""
    seconds = max(0.0, delta.total_seconds())
    minutes, hours, days = seconds / 60, seconds / 3600, seconds / 86400
    if seconds < 45:
        return "a few seconds"
    if seconds < 90:
        return "a minute"
    if minutes < 45:
        return f"{round(minutes)} minutes"
    if minutes < 90:
        return "an hour"
    if hours < 22:
        return f"{round(hours)} hours"
    if hours < 36:
        return "a day"
    if days < 26:
        return f"{round(days)} days"
    if days < 45:
        return "a month"
    if days < 320:
        return f"{round(days / 30.4)} months"
    if days < 548:
        return "a year"
    return f"{round(days / 365.25)} years"
