"""The first look: which unaddressed channel messages deserve a vote at all, decided locally, for nothing.

A vote round costs ``yes_no_vote_count`` calls to the voting model. In a thousand quiet servers nearly every
ordinary message would cost one, for messages the character almost always lets pass. The first look reads
only what the message and this process already hold, never a model and never an embedding (the hot path
has none for an unaddressed message: recall embeds a message only once it is answered, in a worker thread):

* **interest**: the message's stemmed words (memory/lexical.py, microseconds, stemmed in the message's
  language) against the card's. A word of the card's ``topic_interests`` (or its acore_bot category's
  keywords) or a lorebook key weighs most; one of its description and character prompt weighs one. The
  card's words in the message's language, and which of its prose's words say what it cares about (not its
  boilerplate: "people", "message", "reply"), come from the model once per card and language, in the
  background (bot/reply/deciding/cardwords.py): until then a message in the card's language meets all of
  its prose's words, and one in another its strong words alone (the stems of one language's prose are
  other words in another). A card word the chat itself uses in more than :data:`USUAL_SHARE` of its
  messages weighs less (:class:`ChatWords`: a server's jargon, "patch" in a gaming server, stops making
  its talk interesting to a character whose awning is patched); counted per server, as jargon is a
  server's own: one server's talk never mutes another's;
* **the channel's recent topic**: how interesting its recent messages were, on average, fading with time (a
  conversation about the character's interests keeps its follow-ups interesting though they do not repeat
  the words; one interesting message among many does not);
* **how recently the character spoke there**: the next message of the person it answered there is likely
  said to it (fading with the time since);
* **SillyTavern's talkativeness** (the card's ``extensions.talkativeness``, 0.5 neutral): scales it all;
* **the channel's activity and its vote budget**: ``vote_budget_per_hour`` rounds per channel; once the
  last hour spent half of it, the more of it spent, the more interest a message needs (a busy channel
  spends the rest on its most interesting messages), none once it is spent. The channel's pace also sizes
  its vote window (:meth:`FirstLook.window`): a busy channel folds more messages into one round.

A message that passes goes to the vote round (bot/reply/deciding/voting.py), its majority unchanged. So
does a question (a question mark of any script) in a language whose rendering of the card's words failed,
until it is made (it is asked for again, later: cardwords.py): its interest cannot be read there, and a
question is what the character would least want to miss. What is
addressed to the character (a DM, an @mention, a reply to it, its name) never comes here.
Plain Python (no Discord, no database, no clock but the one given); the renderings it reads are made by
another's tasks, never awaited here.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.core.config.sections import TriageSettings
from bot.core.i18n import N_
from bot.core.language import LANGUAGES, MIN_CONFIDENCE, guess
from bot.core.lines import Figure, Line
from bot.core.persona.model import Persona
from bot.core.stages import DecisionKind, Incoming
from bot.core.text import is_question
from bot.core.topics import topic_hits
from bot.reply.deciding.cardwords import CARD_WEIGHT, INTEREST_WEIGHT, CardText, CardVocabulary
from memory.lexical import stemmer, terms, words_of

USUAL_SHARE = 0.02  # a card word in more of the chat's messages than this weighs less, in proportion
WARM_UP = 50  # messages heard, and times a word was seen, before the chat makes a word usual
USUAL_MIN_COUNT = 5
CHAT_WORDS_WINDOW = 20_000  # the chat's word counts are halved every this many messages (they follow it)
CHATS_KEPT = 4096  # servers whose word counts are kept (the one heard least lately goes first)
TOPIC_HALF_LIFE = 180.0  # seconds: how long a channel's interesting talk keeps its follow-ups interesting
TOPIC_WEIGHT = 0.3  # of each message in the channel's recent topic (a moving average of their interest)
TOPIC_SHARE = 0.5  # of the channel's recent topic added to a message's own (at most TOPIC_CAP)
TOPIC_CAP = 1.0
SPOKE_BONUS = 1.5  # the next message of the person the character answered there (halved every
SPOKE_HALF_LIFE = 90.0  # SPOKE_HALF_LIFE seconds)
PACE_TIME_CONSTANT = 60.0  # seconds: the channel's pace is its messages per second over about a minute
BUDGET_FREE = 0.5  # the share of the budget spent at the threshold; past it the bar rises, to
BUDGET_STEEPNESS = 2.0  # (1 + this) x first_look_threshold at the budget's last round
WINDOW_MAX_FACTOR = 4.0  # a busy channel's vote window: at most this many times vote_window_seconds
WINDOW_MAX_SECONDS = 60.0
HOUR = 3600.0
WORDS_KEPT = 100_000  # the words whose every reading the card's words were checked against (then cleared)
CHANNEL_WORDS = 256  # a channel's words read in its language, kept to know the next message's (then cleared)


class CardProfile:
    """The character's card as weighted stemmed words: what a message must touch to interest it, in the
    card's language and, once rendered (bot/reply/deciding/cardwords.py), in the languages its servers
    speak."""

    def __init__(self, card: CardText, topics: tuple[str, ...],
                 vocabulary: CardVocabulary | None = None) -> None:
        self.card = card
        self.topics = topics  # topic_interests as written (matched with their categories' keywords too)
        self.vocabulary = vocabulary
        language = card.language
        self.names = frozenset(terms(card.names, language))
        # Until the card's own words are sorted by the model (its language's rendering), every word of its
        # prose counts: no list of one language's common words decides what a card's words say.
        self.weights = self._without_names({
            **dict.fromkeys(terms(card.prose, language), CARD_WEIGHT),
            **dict.fromkeys(terms(" ".join(card.strong), language), INTEREST_WEIGHT)})
        self._by_language: dict[str, dict[str, float]] = {}  # with a rendering, once it is ready
        self._strong: dict[str, dict[str, float]] = {}  # the strong words alone, in a language not rendered
        # may_say(): every table's words, in every language a message may be read in (made again when a
        # rendering is ready), and which words of the chat one of their readings is among them
        self._read_in = tuple(dict.fromkeys((*LANGUAGES, language)))
        self._stemmers = [s for s in map(stemmer, self._read_in) if s is not None]
        self._rendered: int | None = None
        self._every: frozenset[str] = frozenset()
        self._numbered = False
        self._checked: dict[str, bool] = {}

    @classmethod
    def of(cls, persona: Persona, vocabulary: CardVocabulary | None = None) -> CardProfile:
        return cls(CardText.of(persona), tuple(persona.topic_interests), vocabulary)

    def _without_names(self, weights: dict[str, float], language: str | None = None) -> dict[str, float]:
        names = self.names if language in (None, self.card.language) else terms(self.card.names, language)
        for word in names:  # names: addressing's
            weights.pop(word, None)
        return weights

    def language(self, text: str) -> str | None:
        """The language of a message, when it is a confident guess (bot/core/language.py)."""
        code, confidence = guess(text)
        return code if code is not None and confidence >= MIN_CONFIDENCE else None

    def weights_in(self, language: str | None, guild_id: int | None = None, *,
                   ask: bool = False) -> dict[str, float]:
        """The card's weighted words to meet a message in ``language`` (None: not known, read as the
        card's); ``ask``: have a rendering that is not ready made (in the background, spent for
        ``guild_id``; the card's own language's too, which sorts its prose).

        In the card's language: its words (its prose as the model sorted it, once ready). In another: its
        strong words (an operator's keywords, often names that travel) stemmed as the message is, and the
        rendering once it is ready; never its prose's stems, which in another language are other words
        (the card's "fin" is Spanish "fin de semana")."""
        own = self.card.language
        language = language or own
        ready = self._by_language.get(language)
        if ready is not None:
            return ready
        rendered = None if self.vocabulary is None else self.vocabulary.get(self.card.key, language)
        if ask and self.vocabulary is not None:
            for wanted in {language, own}:
                if wanted not in self._by_language and self.vocabulary.get(self.card.key, wanted) is None:
                    self.vocabulary.want(self.card, wanted, guild_id)
        if language == own and rendered is None:
            return self.weights
        strong = dict.fromkeys(terms(" ".join(self.card.strong), language), INTEREST_WEIGHT)
        if rendered is None:  # another language, not rendered yet: kept once per language (a few)
            ready = self._strong.get(language)
            if ready is None:
                ready = self._strong[language] = self._without_names(strong, language)
            return ready
        # The rendering (in the card's own language: its prose as the model sorted it), its strong words.
        ready = self._by_language[language] = self._without_names({**rendered, **strong}, language)
        return ready

    def unrendered(self, language: str | None) -> bool:
        """Whether the rendering of the card's words in ``language`` failed (until it is made): a message
        in it meets the card's strong words alone."""
        return language is not None and self.vocabulary is not None and self.vocabulary.failed(
            self.card.key, language)

    def may_say(self, words: list[str], cjk: list[str]) -> bool:
        """Whether a text (its ``words`` and ``cjk`` bigrams: lexical.words_of) may say one of the card's
        words in whatever language it is read: one of its words, stemmed in one of the languages, is a word
        of the card's in one of them. When none is, its language changes nothing of its interest (the first
        look need not know it)."""
        if cjk:
            return True  # a script that tells its language alone (a guess costs nothing there)
        rendered = 0 if self.vocabulary is None else self.vocabulary.version
        if rendered != self._rendered:  # a rendering came (or went): every table again
            self._rendered = rendered
            self._every = frozenset(w for c in self._read_in for w in self.weights_in(c))
            # no stemmer takes a digit off: a word with one meets no card word without one
            self._numbered = any(c.isdigit() for w in self._every for c in w)
            self._checked.clear()
        checked = self._checked
        for word in words:
            found = checked.get(word)
            if found is None:
                if len(checked) >= WORDS_KEPT:
                    checked.clear()
                found = checked[word] = word in self._every or (
                    (self._numbered or word.isalpha() or not any(c.isdigit() for c in word))
                    and any(stem.stemWord(word) in self._every for stem in self._stemmers))
            if found:
                return True
        return False

    def words(self, text: str, language: str | None = None,
              weights: dict[str, float] | None = None) -> set[str]:
        """The card's words ``text`` says (stemmed in ``language``, each once)."""
        table = self.weights_in(language) if weights is None else weights
        return {w for w in terms(text, language or self.card.language) if w in table}

    def says(self, text: str) -> bool:
        """Whether ``text`` says one of the card's words (in its own language, or one already rendered)."""
        return self.may_say(*words_of(text)) and bool(self.words(text, self.language(text)))

    def interest(self, text: str, chat: ChatWords | None = None, words: set[str] | None = None,
                 weights: dict[str, float] | None = None) -> float:
        """How much ``text`` touches the card: each of its ``words`` (:meth:`words`) counted once, by its
        weight (less when the ``chat`` uses it all the time)."""
        table = self.weights_in(self.language(text)) if weights is None else weights
        said = self.words(text, self.language(text), table) if words is None else words
        score = sum(table[w] * (1.0 if chat is None else chat.weight(w)) for w in said)
        if self.topics and topic_hits(text, self.topics):  # categories' keywords ("gaming": steam, rpg...)
            score = max(score, INTEREST_WEIGHT)
        return score


class ChatWords:
    """How often the chat the character hears says each of the card's words (in how many messages): a word
    usual in the chat says less about whether a message is for the character."""

    def __init__(self) -> None:
        self.heard = 0.0
        self.counts: dict[str, float] = {}

    def hear(self, words: set[str]) -> None:
        self.heard += 1
        for word in words:
            self.counts[word] = self.counts.get(word, 0.0) + 1
        if self.heard >= 2 * CHAT_WORDS_WINDOW:  # the older half counts half: the counts follow the chat
            self.heard /= 2
            self.counts = {w: n / 2 for w, n in self.counts.items() if n >= 1}

    def weight(self, word: str) -> float:
        """1 for a word the chat seldom says; below, in proportion, past USUAL_SHARE of its messages."""
        count = self.counts.get(word, 0.0)
        if self.heard < WARM_UP or count < USUAL_MIN_COUNT:
            return 1.0
        share = count / self.heard
        return 1.0 if share <= USUAL_SHARE else USUAL_SHARE / share


@dataclass(frozen=True)
class Look:
    """The first look's verdict on one message: whether it gets a vote, and why (logged with the decision)."""

    vote: bool
    score: float
    reason: Line
    kind: DecisionKind = "first_look_uninteresting"  # why it gets none (a decision's kind)


@dataclass(slots=True)
class _Channel:
    seen_at: float = -math.inf
    pace: float = 0.0  # messages per second, exponentially weighted over PACE_TIME_CONSTANT
    topic: float = 0.0  # the recent messages' interest (a moving average), fading with TOPIC_HALF_LIFE
    topic_at: float = -math.inf
    spoke_at: float = -math.inf
    spoke_to: int | None = None  # the person it answered there last
    rounds: deque[float] = field(default_factory=deque)  # when its vote rounds of the last hour ran
    language: str | None = None  # of its last message the first look guessed the language of
    words: set[str] = field(default_factory=set)  # the words of its messages guessed in that language


class FirstLook:
    """One character's first look at the unaddressed messages of every channel (the pipeline's decider holds
    it). ``persona``: the character as it is now (the card's profile is rebuilt when it changes)."""

    def __init__(
        self,
        triage: TriageSettings,
        persona: Callable[[], Persona],
        clock: Callable[[], float] = time.monotonic,
        vocabulary: CardVocabulary | None = None,
    ) -> None:
        self.triage = triage  # read at each message: a reload applies
        self.persona = persona
        self.clock = clock
        self.vocabulary = vocabulary  # the card's words in other languages (None: its own only)
        self._channels: dict[int, _Channel] = {}
        self._profile: tuple[Persona, CardProfile] | None = None
        self._chats: OrderedDict[int, ChatWords] = OrderedDict()  # per server: how usual each card word is

    @property
    def on(self) -> bool:
        return self.triage.first_look

    def profile(self) -> CardProfile:
        persona = self.persona()
        if self._profile is None or self._profile[0] is not persona:
            self._profile = (persona, CardProfile.of(persona, self.vocabulary))
        return self._profile[1]

    def chat(self, msg: Incoming) -> ChatWords:
        """The word counts of the message's server (a channel of no server counts alone): a word usual in
        one server's talk says nothing about another's."""
        key = msg.guild_id if msg.guild_id is not None else msg.channel_id
        chat = self._chats.get(key)
        if chat is None:
            chat = self._chats[key] = ChatWords()
            if len(self._chats) > CHATS_KEPT:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(key)
        return chat

    def says_card(self, text: str) -> bool:
        """Whether ``text`` says one of the card's words (triage: a short message that does is not chatter);
        asks for no rendering."""
        return self.profile().says(text)

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

    def spoke(self, channel_id: int, person: int) -> None:
        """The character decided to answer ``person`` in the channel."""
        channel = self._channel(channel_id)
        channel.spoke_at, channel.spoke_to = self.clock(), person

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

    @staticmethod
    def _language(channel: _Channel, profile: CardProfile, text: str, words: list[str], *,
                  known: bool = False) -> str | None:
        """The language of ``text`` (its ``words``: lexical.words_of), the model's guess; with ``known``,
        for a message said only in words its channel's messages in its language said already, that language
        (no guess: a new language brings new words)."""
        said = [w for w in words if w.isalpha()]  # a number or a tag says no language
        if known and channel.language is not None and said and channel.words.issuperset(said):
            return channel.language
        language = profile.language(text)
        if language is not None:
            if language != channel.language or len(channel.words) >= CHANNEL_WORDS:
                channel.language, channel.words = language, set()
            channel.words.update(said)
        return language

    def look(self, msg: Incoming) -> Look:
        """Whether the unaddressed ``msg`` (past triage) deserves a vote round."""
        if not self.on:
            return Look(True, 0.0, Line(N_("first look off")))
        channel, now = self._channel(msg.channel_id), self.clock()
        profile = self.profile()
        said, cjk = words_of(msg.said)
        if profile.may_say(said, cjk):
            language = self._language(channel, profile, msg.said, said)
            weights = profile.weights_in(language, msg.guild_id, ask=True)
            words = profile.words(msg.said, language, weights)
        else:  # its language changes nothing here: it is guessed only to ask for the card in a new one
            language = self._language(channel, profile, msg.said, said, known=True)
            profile.weights_in(language, msg.guild_id, ask=True)
            weights, words = {}, set()
        chat = self.chat(msg)
        own = profile.interest(msg.said, chat, words, weights)
        chat.hear(words)
        topic = channel.topic * 0.5 ** ((now - channel.topic_at) / TOPIC_HALF_LIFE)
        channel.topic, channel.topic_at = topic + TOPIC_WEIGHT * (own - topic), now
        spoke = 0.0
        if msg.author_id == channel.spoke_to:
            spoke = SPOKE_BONUS * 0.5 ** ((now - channel.spoke_at) / SPOKE_HALF_LIFE)
        talk = self.persona().talkativeness
        score = (own + min(TOPIC_CAP, TOPIC_SHARE * topic) + spoke) * (0.5 + (0.5 if talk is None else talk))
        rounds = channel.rounds
        while rounds and now - rounds[0] > HOUR:
            rounds.popleft()
        budget = self.triage.vote_budget_per_hour
        if budget and len(rounds) >= budget:
            spent_out = N_("first look: this channel's vote budget is spent ({budget} an hour)")
            return Look(False, score, Line(spent_out, budget=Figure(budget)),
                        "first_look_budget")
        spent = max(0.0, len(rounds) / budget - BUDGET_FREE) / (1.0 - BUDGET_FREE) if budget else 0.0
        needed = self.triage.first_look_threshold * (1.0 + BUDGET_STEEPNESS * spent)
        if score < needed:
            if is_question(msg.said) and profile.unrendered(language):
                # the card's words could not be rendered in its language: the vote reads the question
                return Look(True, score, Line(N_("first look: a question in {language}, the card's words not "
                                                "rendered in it"), language=language))
            return Look(False, score, Line(N_("first look: not interesting enough ({score} < {needed})"),
                                          score=Figure(score, 2), needed=Figure(needed, 2)))
        return Look(True, score, Line(N_("first look {score}"), score=Figure(score, 2)))
