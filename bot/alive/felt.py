"""Reactions as input: a person's reaction on one of the character's messages is an event of that person in
that place, felt like their words (bot/alive/feelings.py) but never a model call, and never answered on its
own unless a place asks for an answer to a correction (bot/features/corrections/answering.py).

* What an emoji means is read from the emoji itself (:func:`stimuli`): an emoji is the same in every
  language, so no words are read; a custom emoji, or one not listed, moves nothing.
* A correction emoji (``correction_reactions``, 👎 by default) on a reply is a cue the next reply to that
  person in that place is told of (:func:`cue_line`), once.
* Reactions are coalesced before anything is kept (:class:`ReactionInbox`): per person and message, a few
  emoji each, the oldest entries dropped past a bound, and written in one pass a moment later, so a flood
  (many people, many emoji) costs a bounded map and a write per person, never a model call. A reaction
  taken back before that pass leaves nothing; after it, a taken-back correction withdraws its cue, and a
  feeling already moved is left to fade as words' do.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.alive.appraisal import appraise
from database.visibility import Audience, Kind, Origin, may_enter

# What an emoji on the character's message says, as the stimuli of bot/alive/regard.py's STIMULI (where the
# signals read in messages say nothing of it).
_GROUPS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("warmth",): ("❤", "♥", "💕", "💖", "💗", "💓", "💞", "💘", "💝", "🥰", "😍", "😊", "🤗", "😘",
                  "☺", "🫶", "💜", "💙", "💚", "💛", "🧡", "🤍", "🩷", "🫂"),
    ("praise",): ("👍", "👏", "🙏", "🙌", "💯", "🔥", "⭐", "🌟", "✨", "🏆", "✅", "🎉", "🥳",
                  "😂", "🤣", "😆", "😄", "😁", "😀", "😹"),
    ("surprise",): ("😮", "😲", "🤯", "😱", "👀", "😳"),
    ("distress",): ("😢", "😭", "😞", "😔", "💔", "🥺", "😿"),
    ("conflict",): ("😡", "🤬", "🖕", "💩", "🤮", "😠", "🙄"),
}
MEANING: dict[str, tuple[str, ...]] = {e: kinds for kinds, emoji in _GROUPS.items() for e in emoji}
# Variation selectors, the zero-width joiner's trailing parts and skin tones do not change the meaning.
_MODIFIERS = frozenset({"\ufe0e", "\ufe0f", *(chr(c) for c in range(0x1F3FB, 0x1F400))})
DEFAULT_CORRECTIONS = "👎"
PENDING_LIMIT = 2048  # (person, message) entries waiting for the next pass, at most
EMOJI_PER_ENTRY = 8  # emoji kept per entry: more on one message from one person says nothing more
CUES_KEPT = 8  # reactions kept per person (the newest), with the feeling toward them
FLUSH_SECONDS = 1.0  # how long reactions gather before one pass keeps them
KEPT_FOR = timedelta(days=7)  # a kept reaction older than this is let go when its person's row is next read


def base(emoji: str) -> str:
    """The emoji without what does not change its meaning (a variation selector, a skin tone)."""
    return "".join(ch for ch in emoji if ch not in _MODIFIERS)


def stimuli(emoji: str) -> tuple[str, ...]:
    """What a reaction carries (empty for a custom emoji or one not listed): the language-neutral signals
    read in messages (bot/alive/appraisal.py), else what it says as a reaction on the character's message
    (:data:`MEANING`: a laugh is praise there, an angry face is aimed at the character)."""
    shape = base(emoji)
    return appraise(shape) or MEANING.get(shape, ())


def corrections(setting: str) -> frozenset[str]:
    """The operator's correction set, from a comma-separated setting (unicode emoji, or custom names)."""
    return frozenset(base(part.strip()) for part in setting.split(",") if part.strip())


def is_correction(reaction: Reaction, emoji: str, chosen: frozenset[str]) -> bool:
    """Whether ``emoji`` (as :func:`shown` names it) on ``reaction``'s message is a correction: one of the
    operator's set, on the character's own message."""
    return reaction.own and (emoji.strip(":") in chosen or emoji in chosen)


def shown(emoji: str, custom: bool) -> str:
    """How an emoji may be named in a prompt: a unicode one as itself, a custom one by a safe name."""
    if not custom:
        return base(emoji)[:8]
    safe = "".join(ch for ch in emoji if ch.isascii() and (ch.isalnum() or ch == "_"))[:32]
    return f":{safe}:" if safe else ":emoji:"


@dataclass(frozen=True)
class Reaction:
    """One reaction event from Discord, as the character reads it."""

    user_id: int
    message_id: int
    channel_id: int
    guild_id: int | None
    private: bool  # a server place not everyone there can see
    emoji: str  # shown(...): a unicode emoji, or :name: for a custom one
    added: bool  # False: taken back
    at: datetime
    own: bool = True  # on the character's own message (else on one it was asked about: no correction)

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None


@dataclass
class Pending:
    """What one person did on one message since the last pass: emoji -> added (True) or taken back."""

    first: Reaction
    emoji: dict[str, bool] = field(default_factory=dict)


class ReactionInbox:
    """Reactions gathered between passes, coalesced per (person, message), bounded."""

    def __init__(self, limit: int = PENDING_LIMIT, per_entry: int = EMOJI_PER_ENTRY) -> None:
        self.limit = limit
        self.per_entry = per_entry
        self._pending: OrderedDict[tuple[int, int], Pending] = OrderedDict()
        self.received = 0  # events seen (tests wait on it)
        self.dropped = 0  # entries let go at the bound

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, reaction: Reaction) -> None:
        self.received += 1
        key = (reaction.user_id, reaction.message_id)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = Pending(reaction)
            while len(self._pending) > self.limit:
                self._pending.popitem(last=False)
                self.dropped += 1
        if not reaction.added and entry.emoji.get(reaction.emoji):
            del entry.emoji[reaction.emoji]  # added and taken back within one pass: nothing happened
        elif reaction.emoji in entry.emoji or len(entry.emoji) < self.per_entry:
            entry.emoji[reaction.emoji] = reaction.added

    def take(self) -> dict[int, list[Pending]]:
        """Everything gathered, per person (entries left empty dropped), and an empty inbox."""
        out: dict[int, list[Pending]] = {}
        for (user, _), entry in self._pending.items():
            if entry.emoji:
                out.setdefault(user, []).append(entry)
        self._pending.clear()
        return out


@dataclass(frozen=True)
class Reacted:
    """A reaction kept with the feeling toward its person (bot/alive/regard.py): where (``kind``, a
    :class:`Kind` value, ``guild``, ``channel``), on which message, when; ``cue``: a correction the next reply
    to them there is still to be told of."""

    message: int
    channel: int
    guild: int
    kind: int
    emoji: str
    at: datetime
    cue: bool = False

    @classmethod
    def of(cls, reaction: Reaction, emoji: str, cue: bool) -> Reacted:
        kind = Kind.DM if reaction.is_dm else Kind.PRIVATE if reaction.private else Kind.PUBLIC
        return cls(reaction.message_id, reaction.channel_id, reaction.guild_id or 0, int(kind), emoji,
                   reaction.at, cue)

    def origin(self, person: int) -> Origin:
        if self.kind == Kind.DM:
            return Origin.dm(person)
        if self.kind == Kind.PRIVATE:
            return Origin.private_place(self.guild, self.channel, person)
        return Origin.public(self.guild, self.channel, person)

    def here(self, person: int, audience: Audience) -> bool:
        """Whether a request read by ``audience`` is in the very place this was (a DM's only in that DM,
        a channel's only in that channel or its threads): a reaction never crosses to another place."""
        if not may_enter(self.origin(person), audience):
            return False
        return audience.kind is Kind.DM if self.kind == Kind.DM else (
            audience.kind is not Kind.DM and audience.here(self.channel))

    def to_obj(self) -> dict[str, Any]:
        out: dict[str, Any] = {"m": self.message, "c": self.channel, "g": self.guild, "k": self.kind,
                               "e": self.emoji, "at": self.at.isoformat()}
        if self.cue:
            out["cue"] = True
        return out

    @classmethod
    def from_obj(cls, raw: Any) -> Reacted | None:
        try:
            at = datetime.fromisoformat(str(raw["at"]))
            kind = int(raw["k"])
            if at.tzinfo is None or kind not in (Kind.DM, Kind.PRIVATE, Kind.PUBLIC):
                return None
            return cls(int(raw["m"]), int(raw["c"]), int(raw["g"]), kind, str(raw["e"])[:40], at,
                       bool(raw.get("cue", False)))
        except (KeyError, TypeError, ValueError):
            return None


def kept(reacted: list[Any] | None, now: datetime) -> tuple[Reacted, ...]:
    """The kept reactions of a stored row, those past :data:`KEPT_FOR` let go, the newest
    :data:`CUES_KEPT`."""
    if not isinstance(reacted, list):
        return ()
    out = [r for raw in reacted if (r := Reacted.from_obj(raw)) is not None and now - r.at < KEPT_FOR]
    return tuple(out[-CUES_KEPT:])


def cue_line(name: str, reacted: tuple[Reacted, ...], person: int, audience: Audience) -> str:
    """The line a reply is told when the person marked one of its replies here with a correction emoji
    ("" when none is waiting)."""
    cues = [r for r in reacted if r.cue and r.here(person, audience)]
    if not cues:
        return ""
    emoji = cues[-1].emoji
    return (f"{name} reacted {emoji} to a reply of yours here: take it that the reply missed for them. "
            "Acknowledge it briefly in this reply and set it right if you can; do not dwell on it.")
