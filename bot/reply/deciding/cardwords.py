"""The card's words in the languages a server speaks, for the first look (bot/reply/deciding/firstlook.py).

A card is written in one language; a message about its topics in another shares none of its stems. So when
the first look meets a message in another language (bot/core/language.py, a confident guess), it asks for
the card's interest vocabulary rendered in that language: made once per (card's text, language) by one call
to the voting model (the model client's caps and usage rows, as every call), kept in the database
(database/card_words.py, keyed by a hash of the card's text and the language: shared by every process,
reused across restarts, a new rendering when the card changes), and never awaited by a message: it is made
in the background, and a message heard before it is ready is judged without it (a question in that
language goes to the vote meanwhile: firstlook.py).

An unusable answer (no JSON, no words, or for a language written in its own script none written in it) is
not kept: it is asked for again once a message in that language comes after a while, the wait doubling with
each failure (:data:`RETRY_SECONDS` to :data:`RETRY_MAX_SECONDS`), and logged each time.

The card's own language is asked for the same way, and that answer replaces a list of common words: the
model picks the words of the card's prose that say what its world and interests are, and leaves out its
instructions about chatting and roleplay ("reply", "message", "character") and everyday words, whatever
language the card is in. Until it is ready every word of the prose counts (the chat's own usual words are
still weighed down: firstlook.py's ChatWords).

The rendered words are stemmed with that language's stemmer (memory/lexical.py), like the card's own.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from time import monotonic

from bot.core.claude import ClaudeClient
from bot.core.language import MIN_CONFIDENCE, guess, name
from bot.core.models.base import Prompt
from bot.core.persona.model import Persona
from bot.core.scripts import CJK
from database.card_words import CardWordRows
from memory.lexical import FALLBACK, terms

log = logging.getLogger(__name__)

INTEREST_WEIGHT = 2.0  # a word of topic_interests or a lorebook key: one is enough
CARD_WEIGHT = 1.0  # a word of the card's prose
PURPOSE = "card words"  # the usage rows' purpose of a rendering
# Renderings asked for one card (its own language among them), at most: Discord's eleven big languages and
# one neighbour, so a server that speaks them all is heard in each; a bound on the calls a card costs.
LANGUAGES_PER_CARD = 12
RETRY_SECONDS = 60.0  # after a failed rendering, before it is asked for again; doubled at each failure
RETRY_MAX_SECONDS = 3600.0  # the longest wait between two tries
# languages written in a script of their own: a rendering in one of them holds words in it
OWN_SCRIPT = frozenset({"ja", "zh", "ko"})
_CJK = re.compile(f"[{CJK}]")
KEPT = 256  # renderings held in memory (the least used goes first)
MAX_WORDS = 120  # of each kind in a rendering; more is cut
MAX_WORD_CHARS = 60
PROSE_CHARS = 8000  # of the card's prose sent with the request
MIN_PHRASE_WORD = 4  # in a phrase of several words, shorter words (articles, prepositions) are left out
MIN_TERM = 3  # a rendered term of fewer letters (outside CJK) is left out: "té" stems to "te", a pronoun
MAX_TOKENS = 1500

SCHEMA = {
    "type": "object",
    "properties": {
        "interests": {"type": "array", "items": {"type": "string"}},
        "prose": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["interests", "prose"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class CardText:
    """What of a card the first look reads: its strong words (topic_interests, lorebook keys), its prose
    (description and character prompt), its names (addressing's, never interest's), the language it is
    written in, and a hash of it all (:attr:`key`): a rendering belongs to one card text."""

    strong: tuple[str, ...]
    prose: str
    names: str
    language: str
    key: str

    @classmethod
    def of(cls, persona: Persona) -> CardText:
        strong = list(persona.topic_interests)
        if persona.lorebook is not None:
            strong += [k for e in persona.lorebook.entries if e.enabled
                       for k in e.keys if not k.startswith("/")]
        strong = [k.replace("_", " ") for k in strong]
        prose = f"{persona.description}\n{persona.system_prompt}"
        code, confidence = guess(prose)
        language = code if code is not None and confidence >= MIN_CONFIDENCE else FALLBACK
        names = f"{persona.name} {persona.nickname}"
        digest = hashlib.sha256(json.dumps([strong, prose, names]).encode()).hexdigest()[:40]
        return cls(tuple(strong), prose, names, language, digest)


@dataclass(frozen=True)
class Vocabulary:
    """A rendering as the model gave it: words and short phrases per weight class."""

    interests: tuple[str, ...]
    prose: tuple[str, ...]

    def json(self) -> dict[str, list[str]]:
        return {"interests": list(self.interests), "prose": list(self.prose)}


def _words(value: object) -> tuple[str, ...]:
    """A list of words as the model may write it: a list of strings, or one string of comma-separated ones;
    anything else is none. Cut to :data:`MAX_WORDS` of at most :data:`MAX_WORD_CHARS` characters."""
    items: Iterable[object]
    if isinstance(value, str):
        items = value.replace("、", ",").replace("，", ",").split(",")
    elif isinstance(value, list):
        items = value
    else:
        return ()
    out = [item.strip() for item in items if isinstance(item, str)]
    return tuple(dict.fromkeys(w for w in out if 0 < len(w) <= MAX_WORD_CHARS))[:MAX_WORDS]


def parse_vocabulary(text: str) -> Vocabulary | None:
    """The model's answer read leniently: the JSON object in it (fenced or with words around it), its
    ``interests`` and ``prose`` lists; None when there is nothing usable."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        data = json.loads(text[start:end + 1])
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    found = Vocabulary(_words(data.get("interests")), _words(data.get("prose")))
    return found if found.interests or found.prose else None


def usable(vocabulary: Vocabulary, language: str) -> bool:
    """Whether a rendering in ``language`` says anything in it: some of its words stem to terms, and in a
    language of a script of its own (:data:`OWN_SCRIPT`) some are written in that script (an answer in
    English for Japanese is no Japanese rendering)."""
    if language in OWN_SCRIPT and not any(_cjk(w) for w in (*vocabulary.interests, *vocabulary.prose)):
        return False
    return bool(stem(vocabulary, language))


def stem(vocabulary: Vocabulary, language: str) -> dict[str, float]:
    """The rendered words' terms in ``language`` (memory/lexical.py), weighted by their class (a word of
    both weighs as an interest). In a phrase of several words only those of :data:`MIN_PHRASE_WORD` letters
    or more count (the phrase's articles and prepositions say nothing), and no term shorter than
    :data:`MIN_TERM` (a stem that short is some other word's too); a word of Chinese, Japanese or Korean is
    its character bigrams, its weight shared among them (one word, one word's weight)."""
    weights: dict[str, float] = {}
    for kind, weight in ((vocabulary.prose, CARD_WEIGHT), (vocabulary.interests, INTEREST_WEIGHT)):
        for phrase in kind:
            if len(phrase.split()) > 1:
                phrase = " ".join(w for w in phrase.split() if len(w) >= MIN_PHRASE_WORD)
            found = [t for t in dict.fromkeys(terms(phrase, language)) if _cjk(t) or len(t) >= MIN_TERM]
            share = weight / len(found) if found and all(_cjk(t) for t in found) else weight
            for term in found:
                weights[term] = max(weights.get(term, 0.0), share)
    return weights


def _cjk(term: str) -> bool:
    return _CJK.search(term) is not None


def prompt(card: CardText, language: str) -> Prompt:
    """The one request of a rendering: the card's strong words and prose, the words wanted in
    ``language``."""
    lang = name(language) or language
    same = language == card.language
    system = (
        "You help a chat bot notice which messages in a busy chat are about the things its character cares "
        f"about. You list the words a {lang} speaker would use in a chat message about them. Answer with a "
        'JSON object only: {"interests": [...], "prose": [...]}.')
    task = [
        f"The character's card follows. List words in {lang}"
        + (" (the card is written in it: take its words, and add their usual synonyms)." if same else
           " (render the card's words as a native speaker would write them, with their usual synonyms)."),
        '"interests": the character\'s interests and keywords listed below, in '
        f"{lang}: at most {MAX_WORDS // 2}.",
        f'"prose": the things, places, creatures, activities and topics of the character\'s world named in '
        f"its description, in {lang}: nouns and verbs a message about them would use, at most "
        f"{MAX_WORDS // 2}. "
        "Leave out words about chatting, replying, messages, roleplay or the character's manner and "
        "personality, everyday words (people, time, good, like, know), and the character's names.",
        "Single words are best; no articles, prepositions or other function words. Chinese, Japanese and "
        "Korean words as written, of two characters or more.",
        "",
        "Interests and keywords: " + (", ".join(card.strong) or "(none)"),
        "",
        "Description:",
        card.prose[:PROSE_CHARS],
    ]
    return Prompt(system=[{"type": "text", "text": system}],
                  messages=[{"role": "user", "content": "\n".join(task)}],
                  parts=(("card words", lang),))


class CardVocabulary:
    """The process's renderings of cards' words, by (card key, language): what is ready (in memory, the
    least used forgotten past :data:`KEPT`), what is being made (one at a time per card and language), and
    what failed lately (asked again after a wait doubling at each failure). One for every character of the
    process. ``model``: the voting model as configured now; ``clock``: monotonic seconds (None: the
    module's ``monotonic``, looked up at each use)."""

    def __init__(self, rows: CardWordRows, claude: ClaudeClient, model: Callable[[], str],
                 clock: Callable[[], float] | None = None) -> None:
        self.rows = rows
        self.claude = claude
        self.model = model
        self._clock = clock
        self._ready: OrderedDict[tuple[str, str], dict[str, float]] = OrderedDict()
        self._busy: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._failed: dict[tuple[str, str], tuple[float, int]] = {}  # when it last failed, how many times
        self._asked: OrderedDict[str, set[str]] = OrderedDict()  # per card: the languages asked for
        self.version = 0  # moved whenever a rendering is ready or forgotten (what is derived from them is
        # made again)

    def clock(self) -> float:
        return self._clock() if self._clock is not None else monotonic()

    def get(self, key: str, language: str) -> dict[str, float] | None:
        """The rendering's weighted terms, when ready (a dict lookup: the hot path's)."""
        return self._ready.get((key, language))

    def failed(self, key: str, language: str) -> bool:
        """Whether the rendering of card ``key`` in ``language`` failed, and is not made yet."""
        return (key, language) in self._failed and (key, language) not in self._ready

    def want(self, card: CardText, language: str, guild_id: int | None) -> None:
        """Have the rendering of ``card`` in ``language`` made in the background, unless it is ready, being
        made, failed lately, or the card has :data:`LANGUAGES_PER_CARD` already. ``guild_id``: the server
        whose message asked, which the call is spent for. Never waits."""
        at = (card.key, language)
        if at in self._ready or at in self._busy:
            return
        failed = self._failed.get(at)
        if failed is not None and self.clock() - failed[0] < retry_after(failed[1]):
            return
        asked = self._asked.get(card.key)
        if asked is None:
            asked = self._asked[card.key] = set()
            while len(self._asked) > KEPT:
                self._asked.popitem(last=False)
        if language not in asked and len(asked) >= LANGUAGES_PER_CARD:
            return
        asked.add(language)
        try:
            task = asyncio.get_running_loop().create_task(self._make(card, language, guild_id),
                                                          name=f"card words {language}")
        except RuntimeError:  # no loop (a synchronous caller): nothing made
            return
        self._busy[at] = task

    async def _make(self, card: CardText, language: str, guild_id: int | None) -> None:
        at = (card.key, language)
        try:
            stored = await self.rows.get(card.key, language)
            vocabulary = None if stored is None else parse_vocabulary(json.dumps(stored))
            if vocabulary is None or not usable(vocabulary, language):
                vocabulary = await self._render(card, language, guild_id)
            if vocabulary is None:
                self._fail(at)
                return
            self._ready[at] = stem(vocabulary, language)
            while len(self._ready) > KEPT:
                self._ready.popitem(last=False)
            self.version += 1
            self._failed.pop(at, None)
        except Exception:  # a model or database outage: judged without it, asked again later
            log.warning("card words in %s not made", language, exc_info=True)
            self._fail(at)
        finally:
            while len(self._failed) > KEPT:  # the oldest failure is forgotten first
                self._failed.pop(next(iter(self._failed)))
            self._busy.pop(at, None)

    def _fail(self, at: tuple[str, str]) -> None:
        failures = self._failed.pop(at, (0.0, 0))[1] + 1  # (popped: the latest failure goes last)
        self._failed[at] = (self.clock(), failures)
        log.info("card words in %s: asked again in %.0f s at the earliest (failure %d)", at[1],
                 retry_after(failures), failures)

    async def _render(self, card: CardText, language: str, guild_id: int | None) -> Vocabulary | None:
        model = self.model()
        structured = self.claude.structured(model)
        completion = await self.claude.complete(
            prompt(card, language), model=model, guild_id=guild_id, purpose=PURPOSE, max_tokens=MAX_TOKENS,
            schema=SCHEMA if structured else None)
        vocabulary = parse_vocabulary(completion.text)
        if vocabulary is None or not usable(vocabulary, language):
            self.claude.tally.unparsed(PURPOSE, retried=False)
            log.info("card words in %s: the answer held no words in it", language)
            return None
        await self.rows.put(card.key, language, vocabulary.json(), model)
        return vocabulary

    async def settled(self) -> None:
        """Every rendering under way finished (tests, shutdown)."""
        while self._busy:
            await asyncio.gather(*self._busy.values(), return_exceptions=True)


def retry_after(failures: int) -> float:
    """Seconds before a rendering that failed ``failures`` times in a row is asked for again."""
    return min(RETRY_MAX_SECONDS, RETRY_SECONDS * 2.0 ** max(0, failures - 1))
