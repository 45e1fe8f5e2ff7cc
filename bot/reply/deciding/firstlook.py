"""The first look: which unaddressed channel messages deserve a vote at all, decided locally, for nothing.

A vote round costs ``yes_no_vote_count`` calls to the voting model. In a thousand quiet servers nearly every
ordinary message would cost one, for messages the character almost always lets pass. The first look reads
only what the message and this process already hold, never a model and never an embedding (the hot path
has none for an unaddressed message: recall embeds a message only once it is answered, in a worker thread):

* **interest**: the message's stemmed words (memory/lexical.py, microseconds) against the card's. A word of
  the card's ``topic_interests`` (or its acore_bot category's keywords) or a lorebook key weighs most; a word
  of the description and character prompt weighs by how often the card says it, common chat words left
  out (:data:`COMMON_WORDS`), so a card's boilerplate ("people", "message", "reply") says nothing;
* **the channel's recent topic**: how interesting its last minutes were, fading (a conversation about the
  character's interests keeps its follow-ups interesting though they do not repeat the words);
* **how recently the character spoke there**: a message just after its own is likely said to it;
* **SillyTavern's talkativeness** (the card's ``extensions.talkativeness``, 0.5 neutral): scales it all;
* **the channel's activity and its vote budget**: ``vote_budget_per_hour`` rounds per channel; the more of
  it the last hour spent, the more interest a message needs (a busy channel spends it on its most
  interesting messages), none once it is spent. The channel's pace also sizes its vote window
  (:meth:`FirstLook.window`): a busy channel folds more messages into one round.

A message that passes goes to the vote round (bot/reply/deciding/voting.py), its majority unchanged. What is
addressed to the character (a DM, an @mention, a reply to it, its name) never comes here.
Plain Python (no Discord, no database, no clock but the one given).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.config.sections import TriageSettings
from bot.core.persona.model import Persona
from bot.core.pipeline import Incoming
from bot.core.topics import topic_hits
from memory.lexical import terms

# Content words of everyday chat and of card boilerplate (stemmed as memory/lexical.py stems): in a card's
# prose they say nothing about what the character cares about, so a message sharing them is not interesting.
COMMON_WORDS = frozenset(
    terms("""
    like love know think want need get got go going come make made take say said tell told ask asked
    see look good great nice well really thing things something anything everything nothing way time times
    day days today tonight tomorrow yesterday year years week people person someone anyone everyone
    friend friends guy guys man woman one two first last new old little big long short lot lots
    right yes yeah sure maybe please thanks thank sorry hello hey okay help try use work feel felt keep
    let put seem show still back even much many never always often sometimes usual usually kind sort bit
    message messages reply replies respond response answer answers chat conversation talk talking user users
    character characters roleplay role play story stay stays break stop start write written text words word
    speak speaks speaking name names act acts action actions describe describes detail details world
    personality scenario description prompt instructions assistant ai model human
    voice tone style sentence sentences format formatting honest honestly kindly remember remembers
    every now after before per four three unless whether actually went run runs don doesn didn isn can won
    wasn aren small large strong care cares question questions questioned real really truth carry carries
""")
)
INTEREST_WEIGHT = 2.0  # a word of topic_interests or a lorebook key: one is enough
CARD_WEIGHT = 0.6  # a word the card's prose says once; twice or more: CARD_WEIGHT_CENTRAL
CARD_WEIGHT_CENTRAL = 1.0
TOPIC_HALF_LIFE = 180.0  # seconds: how long a channel's interesting talk keeps its follow-ups interesting
TOPIC_SHARE = 0.5  # of the channel's recent interest added to a message's own (at most TOPIC_CAP)
TOPIC_CAP = 1.0
SPOKE_BONUS = 1.5  # just after the character spoke there (halved every SPOKE_HALF_LIFE)
SPOKE_HALF_LIFE = 90.0
PACE_TIME_CONSTANT = 60.0  # seconds: the channel's pace is its messages per second over about a minute
BUDGET_STEEPNESS = 2.0  # the threshold at the last round of the budget: (1 + this) x first_look_threshold
WINDOW_MAX_FACTOR = 4.0  # a busy channel's vote window: at most this many times vote_window_seconds
WINDOW_MAX_SECONDS = 60.0
HOUR = 3600.0


@dataclass(frozen=True)
class CardProfile:
    """The character's card as weighted stemmed words: what a message must touch to interest it."""

    weights: dict[str, float]
    topics: tuple[str, ...]  # topic_interests as written (matched with their categories' keywords too)

    @classmethod
    def of(cls, persona: Persona) -> CardProfile:
        counts: dict[str, int] = {}
        for word in terms(f"{persona.description}\n{persona.system_prompt}"):
            counts[word] = counts.get(word, 0) + 1
        weights = {w: CARD_WEIGHT_CENTRAL if n > 1 else CARD_WEIGHT for w, n in counts.items()}
        strong = list(persona.topic_interests)
        if persona.lorebook is not None:
            strong += [
                k for e in persona.lorebook.entries if e.enabled for k in e.keys if not k.startswith("/")
            ]
        for word in terms(" ".join(k.replace("_", " ") for k in strong)):
            weights[word] = INTEREST_WEIGHT
        for word in (*COMMON_WORDS, *terms(f"{persona.name} {persona.nickname}")):  # names: addressing's
            weights.pop(word, None)
        return cls(weights, tuple(persona.topic_interests))

    def interest(self, text: str) -> float:
        """How much ``text`` touches the card: each distinct word counted once, by its weight."""
        score = sum(self.weights.get(w, 0.0) for w in set(terms(text)))
        if self.topics and topic_hits(text, self.topics):  # categories' keywords ("gaming": steam, rpg...)
            score = max(score, INTEREST_WEIGHT)
        return score


@dataclass(frozen=True)
class Look:
    """The first look's verdict on one message: whether it gets a vote, and why (logged with the decision)."""

    vote: bool
    score: float
    reason: str


@dataclass(slots=True)
class _Channel:
    seen_at: float = -math.inf
    pace: float = 0.0  # messages per second, exponentially weighted over PACE_TIME_CONSTANT
    topic: float = 0.0  # recent interest, fading with TOPIC_HALF_LIFE
    topic_at: float = -math.inf
    spoke_at: float = -math.inf
    rounds: deque[float] = field(default_factory=deque)  # when its vote rounds of the last hour ran


class FirstLook:
    """One character's first look at the unaddressed messages of every channel (the engine's decider holds
    it). ``persona``: the character as it is now (the card's profile is rebuilt when it changes)."""

    def __init__(
        self,
        triage: TriageSettings,
        persona: Callable[[], Persona],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.triage = triage  # read at each message: a reload applies
        self.persona = persona
        self.clock = clock
        self._channels: dict[int, _Channel] = {}
        self._profile: tuple[Persona, CardProfile] | None = None

    @property
    def on(self) -> bool:
        return self.triage.first_look

    def profile(self) -> CardProfile:
        persona = self.persona()
        if self._profile is None or self._profile[0] is not persona:
            self._profile = (persona, CardProfile.of(persona))
        return self._profile[1]

    def _channel(self, channel_id: int) -> _Channel:
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        return channel

    def heard(self, channel_id: int) -> None:
        """A message in the channel, whoever it is for: its pace."""
        channel, now = self._channel(channel_id), self.clock()
        elapsed = max(0.0, now - channel.seen_at)
        channel.pace = channel.pace * math.exp(-elapsed / PACE_TIME_CONSTANT) + 1.0 / PACE_TIME_CONSTANT
        channel.seen_at = now

    def spoke(self, channel_id: int) -> None:
        """The character decided to answer in the channel."""
        self._channel(channel_id).spoke_at = self.clock()

    def voted(self, channel_id: int) -> None:
        """A vote round ran in the channel: it is spent from the channel's budget."""
        self._channel(channel_id).rounds.append(self.clock())

    def window(self, channel_id: int, seconds: float) -> float:
        """The channel's vote window: ``seconds`` (vote_window_seconds) while it is calm; longer as more
        messages fall in one window (the square root of how many, at most WINDOW_MAX_FACTOR times)."""
        channel = self._channels.get(channel_id)
        if not self.on or channel is None or seconds <= 0:
            return seconds
        per_window = channel.pace * math.exp(-(self.clock() - channel.seen_at) / PACE_TIME_CONSTANT) * seconds
        factor = min(WINDOW_MAX_FACTOR, max(1.0, math.sqrt(per_window)))
        return min(max(seconds, WINDOW_MAX_SECONDS), seconds * factor)

    def look(self, msg: Incoming) -> Look:
        """Whether the unaddressed ``msg`` (past triage) deserves a vote round."""
        if not self.on:
            return Look(True, 0.0, "first look off")
        channel, now = self._channel(msg.channel_id), self.clock()
        own = self.profile().interest(msg.said)
        topic = channel.topic * 0.5 ** ((now - channel.topic_at) / TOPIC_HALF_LIFE)
        channel.topic, channel.topic_at = topic + own, now
        spoke = SPOKE_BONUS * 0.5 ** ((now - channel.spoke_at) / SPOKE_HALF_LIFE)
        talk = self.persona().talkativeness
        score = (own + min(TOPIC_CAP, TOPIC_SHARE * topic) + spoke) * (0.5 + (0.5 if talk is None else talk))
        rounds = channel.rounds
        while rounds and now - rounds[0] > HOUR:
            rounds.popleft()
        budget = self.triage.vote_budget_per_hour
        if budget and len(rounds) >= budget:
            return Look(False, score, f"first look: this channel's vote budget is spent ({budget} an hour)")
        needed = self.triage.first_look_threshold * (
            1.0 + BUDGET_STEEPNESS * len(rounds) / budget if budget else 1.0
        )
        if score < needed:
            return Look(False, score, f"first look: not interesting enough ({score:.2f} < {needed:.2f})")
        return Look(True, score, f"first look {score:.2f}")
