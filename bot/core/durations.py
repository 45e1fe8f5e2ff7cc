"""A duration a person typed (``10m``, ``2h``, ``1h30m``) read and said back, and the refusal of what they
typed that cannot be used (:class:`BadInput`): shared by the features whose slash commands take one (a
timeout's, a poll's)."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.core.i18n import N_, t, tn

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d{1,7})([smhdw])")


class BadInput(ValueError):
    """Input a person typed that cannot be used; the message is the one line they are shown."""


# Each refusal of a duration, for a timeout's and a poll's (whole sentences: a language words them apart).
_UNCLEAR = {
    "duration": N_("I don't understand the duration {text}: use a number and a unit, like 10m, 2h or 7d."),
    "poll duration": N_("I don't understand the poll duration {text}: use a number and a unit, like 10m, 2h "
                        "or 7d."),
}
_ZERO = {"duration": N_("The duration must be longer than zero."),
         "poll duration": N_("The poll duration must be longer than zero.")}
_LONG = {"duration": N_("The duration {text} is too long: at most {maximum}."),
         "poll duration": N_("The poll duration {text} is too long: at most {maximum}.")}


def parse_duration(text: str, *, maximum: timedelta, what: str = "duration",
                   language: str = "en") -> timedelta:
    """``10m``, ``2h``, ``7d``, ``1h30m``, ``2w`` (s, m, h, d, w) as a timedelta within ``maximum``;
    ``what``: "duration" or "poll duration", as the refusal (in ``language``) names it."""
    raw = re.sub(r"\s+", "", text.strip().lower())
    if not raw or _DURATION.sub("", raw) != "":
        raise BadInput(t(language, _UNCLEAR[what], text=repr(text.strip()[:40])))
    seconds = sum(int(n) * UNITS[u] for n, u in _DURATION.findall(raw))
    if seconds <= 0:
        raise BadInput(t(language, _ZERO[what]))
    value = timedelta(seconds=seconds)
    if value > maximum:
        longest = describe_duration(maximum, language)
        raise BadInput(t(language, _LONG[what], text=text.strip(), maximum=longest))
    return value


def _unit(language: str, unit: str, n: int) -> str:
    if unit == "d":
        return tn(language, "{count} day", "{count} days", n)
    if unit == "h":
        return tn(language, "{count} hour", "{count} hours", n)
    if unit == "m":
        return tn(language, "{count} minute", "{count} minutes", n)
    return tn(language, "{count} second", "{count} seconds", n)


def describe_duration(value: timedelta, language: str = "en") -> str:
    """``timedelta(hours=2)`` -> "2 hours"; the two largest units at most ("1 day 2 hours")."""
    seconds = int(value.total_seconds())
    parts = []
    for unit in ("d", "h", "m", "s"):
        n, seconds = divmod(seconds, UNITS[unit])
        if n:
            parts.append(_unit(language, unit, n))
    return " ".join(parts[:2]) or _unit(language, "s", 0)
