"""Emote reactions instead of replies: when the vote says no but the message is warmly aimed at the
character (a warm or thankful sign, "<3", "🥰", "🙏", right after something it said), it reacts with an
emote, at most ``reaction_rate_limit`` times per channel per hour. No model reads an unanswered message, so
only the signals that mean the same in every language count (bot/alive/appraisal.py). Pure decisions; the
Discord side does the reacting."""

from __future__ import annotations

from collections import deque
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from bot.alive.appraisal import appraise
from bot.core.stages import Decision, Incoming
from database.records import SeenMessage

SWITCH = "reactions"  # the place switch (/bot reactions on|off)
WINDOW = timedelta(hours=1)
WARM = frozenset({"warmth", "praise"})


def may_react(msg: Incoming, decision: Decision) -> bool:
    """The cheap part: a server message from a person that a vote decided not to answer."""
    return not decision.reply and bool(decision.votes) and not msg.is_dm and not msg.author_is_bot


def warm_stimuli(text: str) -> tuple[str, ...]:
    """The message's stimuli when it is warm by its signs (else empty): not with a hostile one beside."""
    found = appraise(text)
    return found if WARM & set(found) and "conflict" not in found else ()


def aimed_at_me(previous: Iterable[SeenMessage], own_ids: Collection[int]) -> bool:
    """The message follows something the character said (the channel's message just before it)."""
    latest = max(previous, key=lambda m: m.message_id, default=None)
    return latest is not None and latest.author_id in own_ids


class ReactionGate:
    """At most ``per_hour`` reactions per channel in any hour."""

    def __init__(self, per_hour: int) -> None:
        self.per_hour = per_hour
        self._times: dict[int, deque[datetime]] = {}

    def allow(self, channel_id: int, now: datetime) -> bool:
        times = self._times.setdefault(channel_id, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) >= self.per_hour:
            return False
        times.append(now)
        return True
