"""How the character feels toward one person, or in one channel (the room's mood), and the one state line
a reply is told.

A :class:`Regard` is four feelings, each 0..1: ``warmth``, ``delight``, ``hurt`` and ``concern``. Each
exchange moves them by what it carries (as the reply's model judged it, bot/reply/felt.py, else its local
signals, bot/alive/appraisal.py): an insult aimed at the character hurts, the person's own distress makes
it concerned, their relief eases that concern, warmth and praise warm it, banter amuses it. Between
exchanges each halves toward nothing every half-life, so a quarrel fades in hours and fondness in a day or
so. A person's regard moves only with that person's messages (kept with the relationship,
database/feelings.py); a channel's only with what is said there. Pure and deterministic: every function
takes the time it works at.

:func:`state_line` puts the feeling toward the person, how it has come to feel about them over the days
(the relationship, memory/relationships.py), the room's mood, the day's mood and the time of night into one
line in a fixed order of precedence, so its parts cannot pull against each other: the recent feeling toward
the person leads, with since when and what it came from, and the lasting one tempers it in the same
sentence, as one instruction (:func:`reconciled`: a recent gladness from someone long resented is "warmer
than usual, though ... stay guarded", never "upbeat and playful" beside "angry"); the lasting one leads
when nothing recent is felt, with since when it says what it says (a public place is told only when public
talk changed it). The person's distress in the message being answered (a sign of it, before the reply's
model has judged it) leads over everything (concern, not banter), whatever the relationship's register;
the room colours the line only when the person leaves no feeling; the day's mood colours a light lead and
steps back behind a heavy one (hurt, concern); the night makes the character a little tired, except that
it stays attentive to someone having a hard time.

A reply's line already holds the local signals of the message it answers (bot/alive/feelings.py), applied
to what is shown before the reply is composed, while the stored feeling is moved once, after it, by what the
reply's model judged that message carries;
``through`` (the newest message a stored regard holds) keeps a reply to a message already kept (a swipe)
from counting it twice.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from bot.alive.felt import CUES_KEPT, Reacted, kept
from database.visibility import Audience, Origin, may_enter
from memory.relationships import PLAYFUL, Lasting

FEELINGS = ("warmth", "delight", "hurt", "concern")
HALF_LIFE_HOURS = {"warmth": 12.0, "delight": 3.0, "hurt": 6.0, "concern": 8.0}
# What each stimulus does: a positive number adds that share of the room left (saturating), a negative
# one takes that share of the level away.
STIMULI: dict[str, dict[str, float]] = {
    # a warm or glad message from someone the character worried about says they are doing better
    "warmth": {"warmth": 0.35, "hurt": -0.3, "concern": -0.5},
    "praise": {"delight": 0.35, "warmth": 0.1, "hurt": -0.2, "concern": -0.6},
    "surprise": {"delight": 0.15},
    "conflict": {"hurt": 0.4, "warmth": -0.2, "delight": -0.5},
    "distress": {"concern": 0.45, "delight": -0.3},
    # a hard time easing: nothing left to worry about (the concern is cleared, not only eased), and glad of it
    "relief": {"concern": -1.0, "delight": 0.25, "warmth": 0.1},
    # teasing or self-mockery said in fun: it amuses, it neither hurts nor worries
    "banter": {"delight": 0.25, "warmth": 0.1},
}
FELT = 0.2  # below this a feeling does not lead
STRONG = 0.45  # from this on it is said without "a little"
HEAVY = frozenset({"hurt", "concern"})  # leads that the day's mood and the night step back behind

# The lead toward a person: (how it is said, how to let it show).
TOWARD = {
    "warmth": ("fond", "warm and familiar with them"),
    "delight": ("pleased", "upbeat and playful with them"),
    "hurt": ("stung", "a little guarded and dry with them, never cruel"),
    "concern": ("concerned", "they are having a hard time: be gentle, listen first, nothing defensive"),
}
# The room's mood, in a channel: (what it is, how it colours the reply).
ROOM = {
    "warmth": "warm", "delight": "lively", "hurt": "tense", "concern": "subdued",
}
# What a lead toward a person came from, said after since when (concern's guidance says it already). Never
# the person's own words: the state is the character's notes, not quoted data.
AFTER = {"warmth": "after their warmth", "delight": "after their kind words",
         "hurt": "after what they said to you", "concern": ""}


# The newest judged message's lead, by what it carried (bot/reply/felt.py KINDS): (the feeling it moves
# most, how it is said, how to let it show, what it came from). Relief, surprise and banter have no
# lasting feeling of their own, but the line says them while they are the newest thing judged.
JUDGED = {
    "distress": ("concern", *TOWARD["concern"], AFTER["concern"]),
    "conflict": ("hurt", *TOWARD["hurt"], AFTER["hurt"]),
    "relief": ("delight", "relieved for them",
               "their hard time is easing: share their relief warmly and stop worrying over them",
               "after their good news"),
    "surprise": ("delight", "surprised", "caught up in their news: curious, ask about it",
                 "after their news"),
    "banter": ("delight", "amused", "playful: tease back lightly, all in fun", "after their teasing"),
    "praise": ("delight", *TOWARD["delight"], AFTER["delight"]),
    "warmth": ("warmth", *TOWARD["warmth"], AFTER["warmth"]),
}
# When one message carried several, the one said: what asks most of the character first.
JUDGED_ORDER = ("distress", "conflict", "relief", "surprise", "banter", "warmth", "praise")


@dataclass(frozen=True)
class Lead:
    """What leads the line toward a person: ``feeling`` (one of FEELINGS: it decides how the relationship
    tempers it), its ``level``, how it is said (``word``, ``guidance``), what it came from (``after``) and
    since when (``began``: None when not known)."""

    feeling: str
    level: float
    word: str
    guidance: str
    after: str
    began: datetime | None

    @classmethod
    def of(cls, feeling: str, level: float, began: datetime | None) -> Lead:
        """A lead from a kept feeling, said as the feeling is."""
        return cls(feeling, level, _word(feeling, level), TOWARD[feeling][1], AFTER[feeling], began)


@dataclass
class Regard:
    """The four feelings as of ``at`` (aware UTC). A person's regard keeps two tracks: ``levels``, moved by
    every exchange, and ``public``, moved only by what they said in a server's public channels: a feeling
    that came from their DMs or a private place is theirs, and a public reply sees only the public track
    (:meth:`seen_by` asks database/visibility.py). A channel's regard has no second track (None). Each
    track keeps since when each of its feelings is felt (``since``, ``public_since``): the time it last
    rose from below :data:`FELT`. ``through``: the id of the newest message whose effect it holds (0: none
    known). ``last``: what the newest message that moved it carried, and ``last_at`` when (``public_last``,
    ``public_last_at``: the same of the public track): the line leads with it while it is recent, so it
    follows what was judged last rather than the strongest feeling kept. ``reacted``: the person's newest
    reactions on the character's messages (bot/alive/felt.py), each with where it was, so it is seen only
    there."""

    levels: dict[str, float]
    at: datetime
    label: str = field(default="")
    public: dict[str, float] | None = None
    since: dict[str, datetime] = field(default_factory=dict)
    public_since: dict[str, datetime] = field(default_factory=dict)
    through: int = 0
    reacted: tuple[Reacted, ...] = ()
    last: tuple[str, ...] = ()
    last_at: datetime | None = None
    public_last: tuple[str, ...] = ()
    public_last_at: datetime | None = None

    @classmethod
    def calm(cls, now: datetime) -> Regard:
        return cls(dict.fromkeys(FEELINGS, 0.0), now)

    def to_json(self) -> str:
        data: dict[str, object] = {"levels": {k: round(v, 4) for k, v in self.levels.items()},
                                   "at": self.at.isoformat()}
        if self.since:
            data["since"] = {k: v.isoformat() for k, v in self.since.items()}
        if self.through:
            data["through"] = self.through
        if self.reacted:
            data["reacted"] = [r.to_obj() for r in self.reacted]
        if self.last and self.last_at is not None:
            data["last"] = [list(self.last), self.last_at.isoformat()]
        if self.public is not None:
            data["public"] = {k: round(v, 4) for k, v in self.public.items()}
            if self.public_since:
                data["public_since"] = {k: v.isoformat() for k, v in self.public_since.items()}
            if self.public_last and self.public_last_at is not None:
                data["public_last"] = [list(self.public_last), self.public_last_at.isoformat()]
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str, now: datetime) -> Regard:
        """The stored regard; a calm one at ``now`` when none is stored or it is unreadable."""
        try:
            data = json.loads(raw)
            levels = {k: _clamp(float(data["levels"].get(k, 0.0))) for k in FEELINGS}
            at = datetime.fromisoformat(data["at"])
            shown = data.get("public")
            public = None if shown is None else {k: _clamp(float(shown.get(k, 0.0))) for k in FEELINGS}
            since, public_since = _times(data.get("since")), _times(data.get("public_since"))
            through = int(data.get("through", 0))
            reacted = kept(data.get("reacted"), now)
            last, last_at = _last(data.get("last"))
            public_last, public_last_at = _last(data.get("public_last"))
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls.calm(now)
        if at.tzinfo is None:
            return cls.calm(now)
        return cls(levels, at, public=public, since=since, public_since=public_since, through=through,
                   reacted=reacted, last=last, last_at=last_at, public_last=public_last,
                   public_last_at=public_last_at)

    def seen_by(self, person: int, audience: Audience) -> Regard:
        """The regard toward ``person`` that a reply read by ``audience`` may show: all of it where what
        they confided may go (their DMs), else only what they showed in public (calm when a regard kept
        before the tracks were split has none)."""
        if may_enter(Origin.dm(person), audience):
            return self
        return Regard(dict(self.public) if self.public is not None else dict.fromkeys(FEELINGS, 0.0),
                      self.at, since=dict(self.public_since), through=self.through,
                      reacted=tuple(r for r in self.reacted if may_enter(r.origin(person), audience)),
                      last=self.public_last, last_at=self.public_last_at)

    def advanced(self, now: datetime) -> Regard:
        """This regard as time has left it at ``now`` (a new object)."""
        hours = max(0.0, (now - self.at).total_seconds() / 3600)

        def faded(levels: dict[str, float]) -> dict[str, float]:
            return {k: v * 0.5 ** (hours / HALF_LIFE_HOURS[k]) for k, v in levels.items()}

        return Regard(faded(self.levels), max(now, self.at),
                      public=None if self.public is None else faded(self.public),
                      since=dict(self.since), public_since=dict(self.public_since), through=self.through,
                      reacted=self.reacted, last=self.last, last_at=self.last_at,
                      public_last=self.public_last, public_last_at=self.public_last_at)

    def moved(self, stimuli: tuple[str, ...], now: datetime, *, public: bool = False,
              person: bool = False, message: int = 0, judged: bool = True) -> Regard:
        """The regard after an exchange at ``now`` carrying ``stimuli`` (a new object); ``person``: a
        person's regard (two tracks), ``public``: the exchange was in a server's public channel;
        ``message``: the id of the message it was (kept as ``through``); ``judged``: what it carried is
        the newest judgement (``last``), not only a sign read before the reply."""
        out = self.advanced(now)
        out.through = max(out.through, message)
        if person and out.public is None:
            out.public = dict.fromkeys(FEELINGS, 0.0)
        tracks = [(out.levels, out.since)]
        if public and out.public is not None:
            tracks.append((out.public, out.public_since))
        for levels, since in tracks:
            for name in stimuli:
                for feeling, delta in STIMULI.get(name, {}).items():
                    level = levels[feeling]
                    moved = level + delta * (1 - level) if delta > 0 else level * (1 + delta)
                    levels[feeling] = _clamp(moved)
                    if delta > 0 and (level < FELT or feeling not in since):
                        since[feeling] = out.at  # felt from now on
        known = tuple(k for k in stimuli if k in STIMULI)
        if known and judged:  # the newest message that moved it, on each track it moved
            out.last, out.last_at = known, out.at
            if public and out.public is not None:
                out.public_last, out.public_last_at = known, out.at
        return out

    def with_reacted(self, added: tuple[Reacted, ...] = (), *, withdrawn: frozenset[int] = frozenset(),
                     told: Audience | None = None, person: int = 0) -> Regard:
        """This regard, changed in place (callers hold a fresh one: from_json's or moved's), with reactions
        ``added`` (the newest kept), the cues of messages ``withdrawn`` (their correction taken back) and
        those a reply read by ``told`` was told of (``person``'s) cleared."""
        def still(r: Reacted) -> Reacted:
            if r.cue and (r.message in withdrawn or (told is not None and r.here(person, told))):
                return Reacted(r.message, r.channel, r.guild, r.kind, r.emoji, r.at, cue=False)
            return r

        self.reacted = tuple(still(r) for r in (*self.reacted, *added))[-CUES_KEPT:]
        return self

    def holds(self, message: int) -> bool:
        """Whether the effect of ``message`` (an id) is in this regard already."""
        return 0 < message <= self.through

    def lead(self) -> tuple[str, float] | None:
        """The strongest feeling, when it is felt at all."""
        name = max(FEELINGS, key=lambda k: self.levels[k])
        level = self.levels[name]
        return (name, level) if level >= FELT else None


def _last(raw: object) -> tuple[tuple[str, ...], datetime | None]:
    if not isinstance(raw, list) or len(raw) != 2 or not isinstance(raw[0], list):
        return (), None
    at = datetime.fromisoformat(str(raw[1]))
    return (tuple(str(k) for k in raw[0] if k in STIMULI), at) if at.tzinfo is not None else ((), None)


def _times(raw: object) -> dict[str, datetime]:
    if not isinstance(raw, dict):
        return {}
    out = {k: datetime.fromisoformat(str(v)) for k, v in raw.items() if k in FEELINGS}
    return {k: v for k, v in out.items() if v.tzinfo is not None}


def _clamp(x: float) -> float:
    return 0.0 if not math.isfinite(x) or x < 0.0 else 1.0 if x > 1.0 else x


def toward(regard: Regard) -> str:
    """How the character feels toward someone, in a word or two ("at ease" when nothing stands out)."""
    lead = regard.lead()
    return "at ease" if lead is None else _word(*lead)


def _word(feeling: str, level: float) -> str:
    return TOWARD[feeling][0] if level >= STRONG else f"a little {TOWARD[feeling][0]}"


def leading(person: Regard, answering: tuple[str, ...] = ()) -> Lead | None:
    """What leads the line toward a person: the person's distress in the message being answered
    (``answering``: its stimuli, already applied to ``person``) puts concern first, whatever else is felt;
    else what the newest judged message carried (:func:`latest`), while it is recent; else the strongest
    feeling, when one is felt."""
    if "distress" in answering and person.levels["concern"] >= FELT:
        return Lead.of("concern", person.levels["concern"], person.since.get("concern"))
    newest = latest(person)
    if newest is not None:
        return newest
    lead = person.lead()
    return None if lead is None else Lead.of(*lead, person.since.get(lead[0]))


def latest(person: Regard) -> Lead | None:
    """What the newest message that moved ``person`` carried, as the line says it, while it is recent (within
    the half-life of the feeling it moves most, as of ``person.at``); None when it is older or none is known.
    Said from the time of that message, so "just now" is always about it."""
    if not person.last or person.last_at is None:
        return None
    kind = next(k for k in (*JUDGED_ORDER, *person.last) if k in person.last)
    if kind not in JUDGED:
        return None
    feeling, word, guidance, after = JUDGED[kind]
    if person.at - person.last_at > timedelta(hours=HALF_LIFE_HOURS[feeling]):
        return None
    level = person.levels[feeling]
    said = word if level >= STRONG else f"a little {word}"
    return Lead(feeling, level, said, guidance, after, person.last_at)


def reconciled(name: str, person: Regard, lead: Lead, lasting: Lasting, held: str,
               zone: tzinfo | None = None) -> str:
    """The recent feeling toward ``name`` (``lead``) and how the character has come to feel about them over
    the days (``lasting``; ``held``: since when, in words, or "") as one sentence, one instruction: the
    recent feeling says what leads, the lasting one how it is tempered.

    * glad (warmth, delight) toward someone held off (anger, distance, wariness): warmer than usual, still
      guarded, not effusive; toward someone close: it comes easily;
    * stung by someone close: hurt more than cold, without jabs; by someone held off: guarded and dry;
    * concerned (they are having a hard time): concern leads whatever the relationship; closeness makes it
      a friend's comfort, not banter; what is held against them waits."""
    feeling, began = lead.feeling, lead.began
    when = since_words(began, person.at, zone) if began else ""
    why = ", ".join(w for w in (when, lead.after) if w)
    dated = f" ({why})" if why else ""
    word, guidance = lead.word, lead.guidance
    head = f"Toward {name} you feel {word}"
    register = f"; {lasting.register}" if lasting.register else ""
    if not lasting.feel:  # nothing lasting to temper it: the recent feeling alone, the register after it
        tail = f" {lasting.register[0].upper()}{lasting.register[1:]}." if lasting.register else ""
        return f"{head}: {guidance}{dated}.{tail}"
    felt = lasting.felt()
    if feeling == "concern":
        temper = (f"what you have come to feel about them over time ({felt}{held}) waits: no jabs, "
                  "no coldness now" if lasting.cold else
                  f"over time you have come to feel {felt}{held}, so comfort them as a friend would: "
                  "concern, not banter")
        return f"{head}: {guidance}{dated}; {temper}{register}."
    if feeling == "hurt":
        if lasting.cold:
            return (f"{head}{dated}, on top of having come to feel {felt}{held} over time: "
                    f"{guidance}{register}.")
        return (f"{head}{dated}, though over time you have come to feel {felt}{held}: hurt more than cold; "
                f"say so plainly, without jabs, and leave room to make up{register}.")
    if lasting.cold:  # glad, from someone held off
        return (f"{head}{dated}, warmer than usual, though over time you have come to feel {felt}{held}: "
                f"let it soften you a little, but stay guarded; don't turn effusive{register}.")
    shows = "".join(f"; {s}" for s in lasting.show if s != PLAYFUL)  # the lead says how it shows already
    return (f"{head}: {guidance}{dated}; over time you have come to feel {felt}{held}, so it comes easily"
            f"{shows}{register}.")


def since_words(then: datetime, now: datetime, zone: tzinfo | None = None) -> str:
    """Since when, in words, in the character's zone ("just now", "since this morning", "since
    yesterday", "since Monday", "since 20 Nov")."""
    local_then, local_now = (then.astimezone(zone), now.astimezone(zone)) if zone is not None else (then, now)
    days = (local_now.date() - local_then.date()).days
    if days <= 0:
        if now - then < timedelta(hours=1):
            return "just now"
        part = "morning" if local_then.hour < 12 else "afternoon" if local_then.hour < 18 else "evening"
        return f"since this {part}"
    if days == 1:
        return "since yesterday"
    return f"since {local_then:%A}" if days < 7 else f"since {local_then.day} {local_then:%b}"


def lasting_since(person: int, audience: Audience,
                  since: tuple[datetime | None, datetime | None]) -> datetime | None:
    """Since when the relationship with ``person`` says what it says, as a reply read by ``audience`` may
    tell it: ``since`` is (what any talk changed, what public talk changed); a place their DMs may not
    reach gets only the public one (None when private talk changed it last), as :meth:`Regard.seen_by`."""
    return since[0] if may_enter(Origin.dm(person), audience) else since[1]


def state_line(name: str, person: Regard, *, room: Regard | None = None, mood: str = "",
               night: bool = False, quiet: bool = False, lasting: Lasting | None = None,
               zone: tzinfo | None = None, lasting_since: datetime | None = None,
               answering: tuple[str, ...] = ()) -> str:
    """The one line about how the character feels right now (see the module's docstring for the order).
    ``room``: the channel's regard (None in a DM); ``mood``: today's mood, said in the character block;
    ``night``: it is night where the character lives and its rhythm is on; ``lasting``: how it has come to
    feel about them over the days (the relationship), said in the same line: the recent feeling, when one
    is felt, says how to let it show and the lasting one is its ground; ``zone``: the character's, for
    since when; ``lasting_since``: since when the relationship says what it says (:func:`lasting_since`);
    ``quiet``: say only what stands out (a reply's state is paid for uncached at every request,
    and "at ease" is what the character is anyway): nothing at all when no feeling leads, nothing lasting
    is felt, the room is calm and it is not night; ``answering``: what the message being answered carries
    (its local signals, bot/alive/appraisal.py; already applied to ``person``): its distress leads
    (:func:`leading`)."""
    lead = leading(person, answering)
    heavy = lead is not None and lead.feeling in HEAVY
    lasting = lasting or Lasting()
    held = f" ({since_words(lasting_since, person.at, zone)})" if lasting_since is not None else ""
    if quiet and lead is None and not lasting and (room is None or room.lead() is None):
        return "## How you feel right now\nIt is late at night for you: a little tired." if night else ""
    if lead is not None:
        parts = [reconciled(name, person, lead, lasting, held, zone)]
    else:
        said = lasting.said()
        parts = [f"Toward {name} you feel {lasting.felt() + held if lasting.feel else toward(person)}"
                 + (f": {said}" if said else "")]
        room_lead = room.lead() if room is not None else None
        parts[0] += (f"; the room feels {ROOM[room_lead[0]]}." if room_lead is not None else ".")
    if mood:
        parts.append("Your mood today stays in the background." if heavy else "Your mood today colours this.")
    if night:
        parts.append("It is late at night for you, but you stay attentive." if heavy
                     else "It is late at night for you: a little tired.")
    return "## How you feel right now\n" + " ".join(parts)


def room_line(room: Regard) -> str:
    """How a place feels, for what the character says there unprompted ("" when it is calm)."""
    lead = room.lead()
    return f"## How you feel right now\nThe room here feels {ROOM[lead[0]]}." if lead is not None else ""
