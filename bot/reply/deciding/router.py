"""Who among several characters takes a message nobody addressed, and how two characters feel about each
other. Plain Python (no Discord, no database): :mod:`bot.reply.ensemble` drives it, with its cast (any
:class:`Member`: a key and a reply pipeline that knows its persona).

:meth:`CharacterRouter.route`, in order:

1. the global response chance (``global_response_chance``): a message not drawn is left to the people;
2. a character is out for this message when it avoids one of the message's topics, joined in unaddressed
   less than ``follow_up_cooldown`` seconds ago in this channel, or has ``router_weight`` 0;
3. of the rest: the one whose topic interests the message touches most (hits x weight), then the one who
   spoke last in the channel (for ``router_sticky_seconds``), then, when any character has a
   ``router_weight``, one drawn by weight (acore_bot's PERSONA_WEIGHTS), else the main character.

Affinity (-10..10) scales banter; :func:`decayed_affinity` fades it toward neutral with the days since the
pair last talked (``affinity_decay_days`` is its half-life).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from bot.core.topics import topic_hits


class Speaking(Protocol):
    @property
    def persona(self) -> Persona: ...


class Member(Protocol):
    """One character of the cast (bot/reply/ensemble.py ``CastMember``): its key, name and reply pipeline."""

    @property
    def key(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def pipeline(self) -> Speaking: ...


class CharacterRouter:
    """Picks the character for a message nobody addressed by name."""

    def __init__(self, sticky_seconds: float, clock: Callable[[], float] = time.monotonic, *,
                 response_chance: float = 1.0, follow_up_cooldown: float = 0.0,
                 rng: random.Random | None = None) -> None:
        self.sticky_seconds = sticky_seconds
        self.clock = clock
        self.response_chance = response_chance
        self.follow_up_cooldown = follow_up_cooldown
        self.rng = rng or random.Random()
        self._last: dict[int, tuple[str, float]] = {}
        self._joined: dict[tuple[int, str], float] = {}  # (channel, character) -> when it last joined in

    def spoke(self, channel_id: int, key: str) -> None:
        self._last[channel_id] = (key, self.clock())

    def joined_in(self, channel_id: int, key: str) -> None:
        """``key`` answered unaddressed in the channel: its follow-up cooldown starts."""
        self._joined[(channel_id, key)] = self.clock()

    def cooldown_left(self, channel_id: int, key: str) -> float:
        at = self._joined.get((channel_id, key))
        return 0.0 if at is None else max(0.0, self.follow_up_cooldown - (self.clock() - at))

    def last_speaker(self, channel_id: int) -> str | None:
        entry = self._last.get(channel_id)
        if entry is None or self.clock() - entry[1] > self.sticky_seconds:
            return None
        return entry[0]

    def route(self, msg: Incoming, cast: Sequence[Member]) -> tuple[str | None, Line]:
        """``(key, reason)``; ``(None, reason)`` when nobody should take the message."""
        if self.response_chance < 1.0 and self.rng.random() >= self.response_chance:
            return None, Line(N_("global response chance {chance} not drawn"),
                              chance=Figure(self.response_chance, share=True))
        free: list[tuple[Member, float | None]] = []
        held: list[Line] = []
        for member in cast:
            persona = member.pipeline.persona
            avoided = topic_hits(msg.content, persona.topic_avoidances)
            wait = self.cooldown_left(msg.channel_id, member.key)
            if avoided:
                held.append(Line(N_("{name} avoids {topic}"), name=member.name, topic=avoided[0]))
            elif wait > 0:
                held.append(Line(N_("{name} joined in lately (cooldown {seconds}s)"), name=member.name,
                                 seconds=Figure(wait, 0)))
            elif persona.router_weight == 0:
                held.append(Line(N_("{name} has router_weight 0"), name=member.name))
            else:
                free.append((member, persona.router_weight))
        if not free:
            return None, Line(N_("nobody free to join in: {held}"), held=tuple(held))
        best: tuple[float, str, str] | None = None
        for member, weight in free:
            hits = topic_hits(msg.content, member.pipeline.persona.topic_interests)
            score = len(hits) * (1.0 if weight is None else weight)
            if hits and (best is None or score > best[0]):
                best = (score, member.key, hits[0])
        if best is not None:
            return best[1], Line(N_("topic interest: {topic}"), topic=best[2])
        last = self.last_speaker(msg.channel_id)
        if last is not None and any(m.key == last for m, _ in free):
            return last, Line(N_("spoke last here"))
        if any(m.pipeline.persona.router_weight is not None for m in cast):
            weights = [1.0 if w is None else w for _, w in free]
            [(member, weight)] = self.rng.choices(free, weights=weights)
            share = (1.0 if weight is None else weight) / sum(weights)
            return member.key, Line(N_("drawn by router_weight ({share})"), share=Figure(share, share=True))
        if free[0][0].key == cast[0].key:
            return cast[0].key, Line(N_("main character"))
        return free[0][0].key, Line(N_("first character free to join in ({held})"), held=tuple(held))


def banter_probability(base: float, affinity: float) -> float:
    """Affinity -10 silences banter, 0 keeps the base chance, +10 doubles it (capped at certainty)."""
    return min(1.0, max(0.0, base * (1.0 + affinity / 10.0)))


def decayed_affinity(
    value: float, updated_at: datetime | None, now: datetime, half_life_days: float
) -> float:
    """``value`` faded toward 0 with the days since ``updated_at``: halved every ``half_life_days``."""
    if half_life_days <= 0 or updated_at is None:
        return value
    if updated_at.tzinfo is None:  # SQLite hands timestamps back without their zone; they are UTC
        updated_at = updated_at.replace(tzinfo=UTC)
    days = max(0.0, (now - updated_at).total_seconds() / 86400)
    decay: float = 0.5 ** (days / half_life_days)  # a positive base: never complex
    return value * decay


# What the answering character's own judgement of the words it answered (bot/reply/felt.py KINDS, made by its
# reply's model from their meaning, in whatever language the pair talk in) does to the pair's affinity.
WARMING = frozenset({"praise", "warmth", "banter"})
COOLING = frozenset({"conflict"})


def exchange_delta(felt: tuple[str, ...] | None) -> float:
    """How one exchange moves a pair's affinity: familiarity warms a little; how the answering character
    took the other's words more (``felt``: its reply's judgement; None where it gave none, or the feelings
    are off: familiarity alone)."""
    kinds = felt or ()
    warm, cold = len(WARMING.intersection(kinds)), len(COOLING.intersection(kinds))
    return max(-2.0, min(2.0, 0.25 + 0.5 * warm - 1.0 * cold))
