"""Recall: the user's long-term facts that belong in this reply's prompt, within a token budget.

The ``recall`` slot of a reply's prompt (memory/service.py ``RecallPart``, a
:class:`bot.core.stages.PromptPart`). In order, as long as they
fit in ``recall_token_budget`` tokens (a fact too long for what is left is skipped for a shorter one after
it, and offered again if room is given back; one whose day is already headed may come a little before one
opening a new day: memory/packing.py):

1. pinned facts (an admin pinned them: always relevant, never expire);
2. the facts most relevant to the message being answered: two rankings fused by reciprocal rank fusion
   (Cormack et al. 2009), the cosine similarity of embeddings (paraphrases; less a share of each fact's
   likeness to all the person's facts, so what a fact says counts before whom it names) and BM25 over the
   facts' words (names, places, rare words: memory/lexical.py), and a third ranking by the similarity to
   the message's topic (its words less the question words and those most of the person's facts share,
   such as their name: "what activities does Melanie do?" asks about "activities"), which finds the
   further items of a broad question. A fact only one ranking finds still counts, but a message no fact
   or excerpt is near (FLOORS: "night!") recalls nothing but the pinned facts.
   Recency, references and lasting break ties;
3. then, only for a message asking what is remembered ("do you remember me?", the intent routing's larger
   budget), the most referenced facts, most recently mentioned first on ties: otherwise the budget is a
   ceiling, not a target.

What was said in private (in DMs or a server's private places) or is sensitive (a health fact) comes only
when the message is about it, never with a question's larger budget or to fill it (memory/worth.py):
"what did I tell you about my sister?" recalls her sister's facts, not what she confided that day.

Nothing the request already holds is recalled again (memory/present.py): an excerpt of the live history or
of what its summary tells, a fact a core memory or note shown says (by their vectors, SAID_AS_MEMORY, or
the model's ``said_aside`` with what all the person's facts share set aside: memory/present.py).

Forgetting follows the person, not the fact: a fact that expires (neither pinned nor lasting) is left out
once the person has been silent with the characters for longer than ``fact_expiry_days`` (their previous
interaction, ``users.last_interaction``), and the next interaction or the daily job deletes it. Someone who
talks every day keeps what they said months ago. Facts learnt in direct messages or a server's private
places are recalled only in direct messages; facts learnt in a server's channels only in that server,
unless the person chose every server (``/memory servers all``). Each line shows when the fact was told
(and when it happened, where the person said), so "when did I..." can be answered. Relationship metrics
and the daily mood reach the prompt separately (bot/reply/prompting.py), read from the database at every
reply.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

import numpy as np

from bot.core.config import MemorySettings
from bot.core.i18n import language_of, language_written
from bot.core.language import detect
from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from bot.core.text import is_question
from bot.core.tokens import count_tokens, english_tokens, language_factor
from database.models import utcnow
from database.people import People
from database.records import ExcerptRow, FactRow, PromptData
from memory import episodes, timewords, worth
from memory.consent import Consent
from memory.embeddings import (
    GLOSS,
    MINILM,
    Embedder,
    Tuning,
    alone_of,
    encode_asked,
    is_model,
    row_max,
    tuning_for,
    tuning_of,
)
from memory.episodes import ExcerptCache, ExcerptIndex
from memory.factlines import day, heading_tokens, line, render
from memory.facts import FactCache, FactIndex
from memory.lexical import (
    NAMING_LETTERS,
    NO_STOPWORDS,
    STOPWORDS_OF,
    LexicalIndex,
    is_grammar,
    names_a_thing,
    pieces,
    terms,
)
from memory.packing import Candidates
from memory.present import NOTHING, MemoryVectors, Present, clauses, present
from memory.sources import Recalled
from memory.stamped import Stamp

log = logging.getLogger(__name__)

RRF_K = 10  # sharper than the usual 60: only the top few dozen facts fit the budget (LoCoMo tuned)
CANDIDATES = 100  # from each ranking: a 400-token budget holds about 15-25 facts
MIN_LINE_TOKENS = 4  # "- x\n": nothing shorter fits in what is left
MAX_MISSES = 25  # stop looking for a fact short enough for the rest of the budget
# An excerpt's fused relevance against a fact's (LoCoMo developers' half, benchmarks/bench_locomo.py; 0.3 and
# 0.45 before the topic's ranking raised the facts' fused scores by about half).
EXCERPT_WEIGHT = 0.45
UNCOVERED_WEIGHT = 0.675
# The relevance floor, three cosines (to the message or its topic): when no fact or excerpt reaches the first,
# the message is about nothing and recalls nothing ("night!": at most 0.29 on LoCoMo's facts, where every
# question's evidence reaches 0.39); a fact or excerpt below the second is left out of the embedding
# rankings, and one found by its words alone must reach the third. Chosen on the tuning part of LoCoMo's
# developers' half (benchmarks/bench_locomo.py --split tune) so its hit rates do not fall, and checked on its
# held-out part: item floors of 0.2-0.3 cut the embedding rankings' tails, which lifts the excerpts' ranks
# past the facts' (more excerpts, "all" lower), so only the message's floor is kept.
FLOORS = (0.3, 0.0, 0.0)  # for the shipped model (an embedder's ``floors`` tells its own: cosines differ)
# A fact this similar to a core memory or note the request shows says what it says (a memory in the
# character's words, the fact in the third person: never the same string).
SAID_AS_MEMORY = 0.85
# The share of a fact's likeness to all the person's facts taken off its similarity to the message: every fact
# names the person and sounds alike, so plain cosine ranks by whom a fact is about before what it says
# (removing the common mean, as Mu & Viswanath 2018's "all-but-the-top"; LoCoMo developers' half).
TYPICAL_WEIGHT = 0.4
# The topic's ranking against the message's own: what a broad question asks about, its name and question
# words set aside, finds the list items the whole message ranks lower (LoCoMo developers' half).
TOPIC_WEIGHT = 1.5
# A fact no longer true (kept as history) against a current one equally relevant: "where does she live?"
# finds both the move to York and the years in Leeds; the present answers first.
PAST_WEIGHT = 0.35
# Past this many facts and excerpts together, the scoring runs in a worker thread (a few milliseconds of numpy
# for thousands, most of it without the GIL), so the event loop goes on serving other messages meanwhile.
THREAD_ITEMS = 2_000
# The stretches of the memories shown (memory/present.py ``windows``) embedded with one reply's message, at
# most: a rewritten memory's 40-odd are spread over the next replies, each then paying about one memory's
# encoding (docs/benchmarks.md)
WINDOWS_PER_REPLY = 12
# The mentions a message opens with ("@Finn, ..."): whom it is said to, not what it asks about (a name in
# the query pulls a short question's vector towards every fact and none).
_OPENING_MENTIONS = re.compile(r"^(?:\s*(?:<@!?\d+>|@[^\s,:;]+)[\s,:;]*)+")
_TOPIC_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def expiring_allowed(index: FactIndex, now: datetime, expiry_days: int,
                     last_interaction: datetime | None) -> np.ndarray:
    """Which facts have not expired: pinned and lasting ones always; the rest while the person's previous
    interaction is within ``expiry_days`` (someone never answered yet: each fact's last mention)."""
    n = len(index.rows)
    if not expiry_days:
        return np.ones(n, dtype=bool)
    cutoff = now - timedelta(days=expiry_days)
    kept = index.pinned | index.lasting
    if last_interaction is None:
        recent: np.ndarray = kept | (index.last_mentioned >= cutoff.timestamp())
        return recent
    return np.ones(n, dtype=bool) if last_interaction >= cutoff else kept


def _top(scores: np.ndarray, allowed: np.ndarray | None, k: int) -> np.ndarray:
    """Indices of the ``k`` best allowed positive-or-finite scores, best first (``allowed`` None: ``scores``
    are -inf wherever not allowed already)."""
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = min(k, int(np.count_nonzero(np.isfinite(scores))))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    best = np.argpartition(-scores, k - 1)[:k]
    return best[np.argsort(-scores[best], kind="stable")]


def topic(index: FactIndex | ExcerptIndex, text: str) -> str:
    """The message's topic: its words less function and question words and those in more than
    episodes.COMMON_SHARE of the person's facts (or, with no facts, of their archived lines: their name);
    '' when that leaves nothing or the whole message."""
    n = index.lexical.size
    kept: list[str] = []
    telling = False  # whether a word that names a thing was set aside
    language = detect(text) or index.lexical.language  # once: a word alone does not tell its language
    stop = STOPWORDS_OF.get(language or "", NO_STOPWORDS)
    common = episodes.COMMON_SHARE * n
    # Japanese is cut where its script changes (memory/lexical.py pieces), its hiragana set aside as another
    # language's function words are: "メラニーはどのような活動をしていますか？" asks about "活動". Only
    # against facts in its language: of facts kept in English, the name it writes in katakana is in none,
    # so it could not be told from what it asks (read whole, the message has no topic).
    cut = pieces if language == index.lexical.language else _whole
    for base in (piece for word in _TOPIC_WORD.findall(text) for piece in cut(re.split("['’]", word)[0])):
        low = base.lower()
        if is_grammar(base):
            telling |= len(base) >= NAMING_LETTERS
            continue
        # No list of category words ("kind of", "Art von", "tipo de", 種類の): kept beside what they qualify
        # in every language alike, they did not move recall on LoCoMo (docs/benchmarks.md), and one
        # language's list reads another's nouns as such words (German "Kind", a child).
        if low in stop:
            telling |= names_a_thing(low)
            continue
        # in most of the person's facts by most of its terms (a word has one; a piece of Japanese its
        # bigrams, of which the person's name's are each common, and a word beginning like it, キャンプ,
        # only its first)
        stems = terms(low, language)
        shared = sum(_in_facts(index.lexical, t) > common for t in stems)
        if stems and 2 * shared >= len(stems):
            telling |= names_a_thing(low)
            continue
        kept.append(base)
    # Less only particles ("à", "w", "в": in most of a few facts, in a language without a list of function
    # words) it is the message again, its punctuation gone: a second draw at the floor, not what it asks
    # ("bonne nuit à tous, dormez bien !" read as "bonne nuit tous dormez bien" came within reach of a fact).
    return " ".join(kept) if telling and kept else ""


def _whole(word: str) -> list[str]:
    return [word]


def _in_facts(lexical: LexicalIndex, term: str) -> int:
    """How many of the person's facts have ``term`` in their own words or in their English wording (a fact
    kept in another language: memory/lexical.py), where an English question meets the person's name."""
    found = [hit[0] for hit in (lexical.postings.get(term), lexical.postings.get(GLOSS + term)
                                if lexical.glossed else None) if hit is not None]
    return len(found[0]) if len(found) == 1 else len(np.union1d(*found)) if found else 0


def subject_of(index: FactIndex, archive: ExcerptIndex | None, text: str) -> str:
    """The topic recall ranks by: read against the person's facts, or their archived lines when they have
    no facts (whose words tell what is common: their name)."""
    words: FactIndex | ExcerptIndex | None = index if len(index.positions) else archive
    return topic(words, text) if words is not None else ""


def ranked(index: FactIndex, query: np.ndarray | None, text: str, allowed: np.ndarray,
           now: datetime | None = None, about: np.ndarray | None = None) -> list[int]:
    """Allowed facts relevant to the message, best first (see :func:`scored`)."""
    best: list[int] = scored(index, query, text, allowed, now, about)[0].tolist()
    return best


def asked_of(text: str) -> str:
    """What a message asks, without the mentions it opens with (all of it when it is only mentions)."""
    rest = _OPENING_MENTIONS.sub("", text, count=1)
    return rest if rest.strip() else text


def scored(index: FactIndex, query: np.ndarray | None, text: str, allowed: np.ndarray,
           now: datetime | None = None, about: np.ndarray | None = None,
           floors: tuple[float, float, float] = FLOORS,
           reach: list[float] | None = None,
           nearness: list[np.ndarray] | None = None,
           typical_weight: float = TYPICAL_WEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """(allowed facts relevant to the message, best first; their fused scores): the rankings by embedding
    similarity, by BM25, by similarity to the message's topic (``about``: the embedding of :func:`topic`)
    and, when the message names a time ("on 3 June", "last week"), by similarity among the facts told or
    happened then, fused by reciprocal rank fusion."""
    fused = np.zeros(len(index.rows), dtype=np.float64)
    near: np.ndarray | None = None  # the best raw cosine to the message or its topic
    raw: np.ndarray | None = None  # to the message
    if query is not None and len(index.positions):
        both = index.scores_of(np.stack([query, about]) if about is not None else query[None, :])
        near = row_max(both)
        raw = both[:, 0]
        if reach is not None and len(near):
            reach.append(float(near[allowed].max(initial=-1.0)))
        if nearness is not None:
            nearness.append(near)
        # the floor: a fact no nearer than it to the message (or its topic) is not about it. Column by column,
        # the facts not allowed masked in the same pass (numpy is slow on an inner axis of two).
        typical = typical_weight * index.typical
        for c, weight in ((0, 1.0), (1, TOPIC_WEIGHT))[:both.shape[1]]:
            column = both[:, c]
            top = _top(np.where(allowed & (column >= floors[1]), column - typical, -np.inf), None, CANDIDATES)
            fused[top] += weight / (RRF_K + np.arange(1, len(top) + 1))
    lexical = index.lexical.scores(text) if text.strip() and index.lexical.size else None
    if lexical is not None:
        shares = lexical > 0  # a fact not embedded yet: its words alone
        if near is not None and floors[2] > 0:
            shares &= ~(np.isfinite(near) & (near < floors[2]))
        top = _top(np.where(shares, lexical, -np.inf), allowed, CANDIDATES)
        fused[top] += 1.0 / (RRF_K + np.arange(1, len(top) + 1))
    span = timewords.asked(text, now) if now is not None and text else None
    if span is not None:
        start, end = span[0].timestamp(), span[1].timestamp()
        within = ((index.told >= start) & (index.told < end)) | (
            (index.happened >= start) & (index.happened < end))
        # what was told or happened then is what the message asks about: no floor
        then = raw - typical_weight * index.typical if raw is not None else lexical
        if then is not None:
            top = _top(np.where(within, then, -np.inf), allowed, CANDIDATES)
            fused[top] += 1.0 / (RRF_K + np.arange(1, len(top) + 1))
    fused = np.where(index.past, PAST_WEIGHT * fused, fused)  # what is true now before what was
    found = np.flatnonzero(fused != 0)  # (of a boolean array: several times faster than of floats)
    if not len(found):
        return found, fused[:0]
    # Ties (the same fused score): the more recently told, then the more often mentioned, then the lasting
    # first. Each term is far below the smallest difference between two RRF sums that are not equal.
    told = index.told[found]
    width = float(told.max() - told.min()) or 1.0
    key = (fused[found] + 1e-7 * (told - told.min()) / width + 1e-9 * np.minimum(index.refs[found], 100) / 100
           + 1e-10 * index.lasting[found])
    order = np.argsort(-key, kind="stable")
    return found[order], fused[found][order]


def choose(index: FactIndex, query: np.ndarray | None, *, budget: int, private: bool, now: datetime,
           expiry_days: int, text: str = "", last_interaction: datetime | None = None,
           guild_id: int | None = None, about: np.ndarray | None = None,
           floors: tuple[float, float, float] = FLOORS) -> list[FactRow]:
    """The facts to recall, in prompt order, within ``budget`` tokens (see :func:`choose_both`)."""
    return choose_both(index, query, budget=budget, private=private, now=now, expiry_days=expiry_days,
                       text=text, last_interaction=last_interaction, guild_id=guild_id, about=about,
                       floors=floors)[0]


def choose_both(index: FactIndex, query: np.ndarray | None, *, budget: int, private: bool, now: datetime,
                expiry_days: int, text: str = "", last_interaction: datetime | None = None,
                excerpts: ExcerptIndex | None = None, channel_id: int = 0, guild_id: int | None = None,
                about: np.ndarray | None = None, present: Present = NOTHING, shown: np.ndarray | None = None,
                fill: bool = False, floors: tuple[float, float, float] = FLOORS,
                tuning: Tuning = MINILM, base: int | None = None) -> tuple[list[FactRow], list[ExcerptRow]]:
    """The facts and past excerpts to recall within ``budget`` tokens (each costs its line's tokens, and a
    day's heading the first time that day appears, with its year the first time that year does). A long
    excerpt is quoted in part (episodes.snippet); one that says what a chosen fact says, or was drawn from,
    is left out (memory/sources.py).

    ``query``: the message's embedding; ``text``: the message (for BM25); ``about``: the embedding of its
    topic (:func:`topic`), None when it has none; ``last_interaction``: the
    person's previous interaction with a character (soft expiry counts from it); ``excerpts``: the person's
    archived exchanges (memory/episodes.py), of which only those of this place (``private``: a DM; else
    ``channel_id``) may be chosen; ``guild_id``: a server's public or private channel, where only that
    server's facts (and those of no one server) are recalled; ``present``: what the request already holds
    (memory/present.py), whose excerpts are left out; ``shown``: the facts a core memory or note shown says
    (memory/present.py :class:`MemoryVectors`), left out unless pinned. Order: pinned facts, then facts
    and excerpts together by their fused relevance, as long as they clear the relevance floor
    (``floors``; ``tuning``: the model's other thresholds, memory/embeddings.py TUNINGS, its floors a
    remark's, which an item outside the time a message asks about clears): the budget is a
    ceiling, not a target. ``base``: the budget every item may spend; the tokens past it, up to ``budget`` (a
    question's larger one), go only to what the message asks about: a fact or excerpt whose cosine to the
    message or its topic reaches the item floor (memory/worth.py), or told in the window it asks about;
    never to one found by its words alone, nor to the most referenced facts. A private or sensitive item
    only when the message is about it (memory/worth.py ``confided``). ``fill``: the leftover room goes to
    the most referenced facts that are neither, unranked (a check that shows everything a place may see,
    tests/test_visibility.py; no reply fills). Filtering and ranking
    are numpy operations over the whole index; only the candidates that can fill the budget are looked at
    one by one, so thousands of facts cost little more than a handful."""
    n = len(index.rows)
    if budget <= 0 or (not n and (excerpts is None or not excerpts.rows)):
        return [], []
    # A closed fact only as history, and only when told as such (a reworded or retracted one never).
    allowed = expiring_allowed(index, now, expiry_days, last_interaction) & (index.current | index.past)
    allowed &= index.seen_by(private=private, guild_id=guild_id, everywhere=guild_id is None)
    pinned = [i for i in index.pinned_order if allowed[i]]
    fresh = allowed & ~shown if shown is not None and len(shown) == n else allowed
    asked = _asked(text, now, query, about, floors, tuning)
    reach: list[float] = []  # the best cosine of a fact or excerpt to the message or its topic
    nearness: list[np.ndarray] = []
    found, fused = _facts_found(index, asked, fresh, now, tuning, reach, nearness)
    # each item's best cosine to the message or its topic (-inf: none known), for the room past ``base`` and
    # for which of a fact and the excerpt it was drawn from the message asks about
    fact_near = nearness[0] if nearness else np.full(n, -np.inf)
    relevant: list[int] = found.tolist()
    relevance: np.ndarray = fused
    said_near = np.full(len(excerpts.rows) if excerpts is not None else 0, -np.inf)
    if excerpts is not None and excerpts.rows:
        relevant, relevance = _with_excerpts(index, excerpts, asked, found, fused, said_near, now, reach,
                                             private=private, channel_id=channel_id, present=present)
    # a message about nothing recalls nothing (the pinned facts stay); one naming a day asks about it, and
    # one naming what a fact names (a word they share: "where do I live?") asks about those facts
    if reach and max(reach) < floors[0] and asked.window is None:
        named = set(index.lexical.naming(text).tolist()) if index.rows and text else set()
        kept = [k for k, i in enumerate(relevant) if i in named]
        relevant, relevance = [relevant[k] for k in kept], relevance[kept]
    return _packed(index, excerpts, asked, _Ranked(pinned, fresh, relevant, relevance, fact_near, said_near),
                   budget=budget, base=base, fill=fill, tuning=tuning)


@dataclass(frozen=True)
class _Asking:
    """What recall reads of a message: its words and embeddings (``vectors``: the message's and its
    topic's, stacked), the time it asks about (``window``), and the floors its items clear."""
    text: str
    query: np.ndarray | None
    about: np.ndarray | None
    vectors: np.ndarray | None
    floors: tuple[float, float, float]
    floor: float  # each item's (memory/worth.py)
    window: tuple[datetime, datetime] | None
    outside: float | None  # an item's outside the window asked about: a remark's items' floor
    guard: float  # a private or sensitive item's (memory/worth.py ``confided``)


def _asked(text: str, now: datetime, query: np.ndarray | None, about: np.ndarray | None,
           floors: tuple[float, float, float], tuning: Tuning) -> _Asking:
    # a question about a time asks what was told or happened then: anything else clears the floor a remark's
    # items clear (a question's lower floor reaches the fact it asks about across languages, not another
    # day's: "what did we talk about yesterday?" in German was as near a fact of today as that)
    window = timewords.asked(text, now) if text else None
    vectors = None if query is None else np.stack([query, about]) if about is not None else query[None, :]
    return _Asking(text, query, about, vectors,
                   floors, worth.item_floor(floors, tuning.item_share), window,
                   worth.item_floor(tuning.floors, tuning.item_share) if window is not None else None,
                   worth.ABOUT_SHARE * floors[0])


def _facts_found(index: FactIndex, asked: _Asking, fresh: np.ndarray, now: datetime, tuning: Tuning,
                 reach: list[float], nearness: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The facts the message reaches, with their fused relevance: each clears its own floor too, unless
    told or happened when the message asks (memory/worth.py), and a private or sensitive one only when the
    message is about it."""
    if not index.rows:
        return np.zeros(0, np.int64), np.zeros(0)
    found, fused = scored(index, asked.query, asked.text, fresh, now, asked.about, asked.floors, reach,
                          nearness, tuning.typical_weight)
    if asked.floor > 0 and nearness and len(found):
        found, fused = worth.facts_kept((index.told, index.happened), found, fused, nearness[0], asked.floor,
                                        asked.window, asked.outside)
    if len(found):
        keep = worth.confided(index.guarded[found], index.slot[found], index.matrix, asked.vectors,
                              index.common, asked.guard,
                              worth.within(asked.window, index.told[found], index.happened[found]),
                              lambda: np.isin(found, index.lexical.naming(asked.text)))
        found, fused = found[keep], fused[keep]
    return found, fused


def _with_excerpts(index: FactIndex, excerpts: ExcerptIndex, asked: _Asking, found: np.ndarray,
                   fused: np.ndarray, said_near: np.ndarray, now: datetime, reach: list[float], *,
                   private: bool, channel_id: int, present: Present) -> tuple[list[int], np.ndarray]:
    """The facts ``found`` and this place's excerpts the message reaches in one relevance order (an
    excerpt coded as -1 - its index); ``said_near`` filled with the excerpts' cosines."""
    text = asked.text
    # the character's filler is no excerpt, nor what a reset wiped of this DM unless asked about (what
    # other places kept for it, a private place's lines, stays)
    place = excerpts.allowed(private=private, channel_id=channel_id) & ~present.held(excerpts) \
        & ~excerpts.filler
    if present.reset and not timewords.asks_about_past(text):
        place &= ~(excerpts.dm & (excerpts.channel == present.channel_id))
    said, said_scores = episodes.ranked(excerpts, asked.query, text, place, now, asked.about, asked.floors,
                                        reach)
    if asked.query is not None and len(said):
        near_said = worth.said_near(excerpts, said, asked.query, asked.about)
        if asked.floor > 0:
            said, said_scores, near_said = worth.said_kept(excerpts, said, said_scores, near_said,
                                                           asked.floor, asked.window, asked.outside)
        keep = worth.confided(excerpts.dm[said], excerpts.slot[said], excerpts.matrix, asked.vectors,
                              excerpts.common, asked.guard, worth.within(asked.window, excerpts.told[said]),
                              lambda: np.isin(said, excerpts.lexical.naming(text)))
        said, said_scores, near_said = said[keep], said_scores[keep], near_said[keep]
        said_near[said] = near_said
    if not len(said):
        return found.tolist(), fused
    # Facts first on ties. Facts are the denser memory; what was said counts fully when the message names
    # something only the archive holds (a word of it no fact has).
    weight = UNCOVERED_WEIGHT if uncovered(index, excerpts, text) else EXCERPT_WEIGHT
    codes = np.concatenate([found, -1 - said])
    both = np.concatenate([fused, weight * said_scores])
    order = np.argsort(-both, kind="stable")
    return codes[order].tolist(), both[order]


@dataclass(frozen=True)
class _Ranked:
    """The candidates, and what packing reads of them: the allowed pinned facts (first, in order), the
    facts that may be chosen (``fresh``), the relevant ones best first (an excerpt as -1 - its index), and
    each fact's and excerpt's best cosine to the message or its topic."""
    pinned: list[int]
    fresh: np.ndarray
    relevant: list[int]
    relevance: np.ndarray
    fact_near: np.ndarray
    said_near: np.ndarray


def _packed(index: FactIndex, excerpts: ExcerptIndex | None, asked: _Asking, ranked: _Ranked, *,
            budget: int, base: int | None, fill: bool,
            tuning: Tuning) -> tuple[list[FactRow], list[ExcerptRow]]:
    """The candidates that fit ``budget``, in order (see :func:`choose_both`), each fact's and excerpt's
    line and its day's heading counted once."""
    text, floor, fact_near, said_near = asked.text, asked.floor, ranked.fact_near, ranked.said_near
    pinned, fresh, pinned_set = ranked.pinned, ranked.fresh, set(ranked.pinned)
    n = len(index.rows)
    # a long excerpt is quoted in the sentences sharing the message's telling words
    wanted = episodes.telling(excerpts, text) if excerpts is not None and excerpts.rows else {}
    chosen: list[FactRow] = []
    recalled = Recalled(budget // MIN_LINE_TOKENS, index, excerpts, tuning.said_as_fact,
                        tuning.drawn_from)  # what they say, with excerpts searched
    quoted: dict[int, tuple[ExcerptRow, int]] = {}  # excerpt index -> (its line, the line's tokens)
    days: set[str] = set()  # dates already heading a group: the facts told that day share the header
    quoted_days: set[str] = set()
    years: set[str] = set()  # a year's first day names it (episodes.headed): its tokens are counted once
    quoted_years: set[str] = set()
    left = budget
    misses = 0
    extra = budget - base if base is not None and 0 <= base < budget else 0
    then_fact = worth.within(asked.window, index.told, index.happened) if extra and n else None
    then_said = worth.within(asked.window, excerpts.told) \
        if extra and excerpts is not None and excerpts.rows else None

    def nearer(mine: float, j: int) -> bool:
        """Whether excerpt ``j`` is nearer the message than a fact (its cosine ``mine``)."""
        return bool(said_near[j] > mine)

    def asks_about(code: int) -> bool:
        """Whether the message asks about candidate ``code`` (a fact, or -1 - an excerpt): what may spend
        the room past ``base``."""
        near, then, k = (fact_near, then_fact, code) if code >= 0 else (said_near, then_said, -1 - code)
        return bool(np.isfinite(near[k]) and near[k] >= floor) or (then is not None and bool(then[k]))

    def fact_day(i: int) -> str:
        known = index.days.get(i)
        if known is None:
            known = index.days[i] = day(index.rows[i].told)
        return known

    # a fact of a day already headed may come a little before one opening a new day (memory/packing.py)
    offered = Candidates(pinned, ranked.relevant, ranked.relevance.tolist(),
                         lambda i: None if i < 0 else (index.days.get(i) or fact_day(i)) not in days,
                         [i for i in index.order_list if not index.guarded[i]] if fill else ())
    headings = heading_tokens()
    # Lazily: the loop stops once the budget is full, long before the end of thousands of facts.
    for i in offered:
        if i < 0:  # an excerpt
            assert excerpts is not None
            row, cost = episodes.snippet(excerpts, -1 - i, wanted)
            own = cost  # its line's, given back if a fact drawn from it comes (its day's heading is not)
            told = excerpts.day_of(-1 - i)
            if told not in quoted_days:
                cost += headings.day + (headings.year if told[:4] not in quoted_years else 0)
            room = left if not extra or asks_about(i) else left - extra
            if cost <= room and recalled.says(-1 - i, excerpts.vector(-1 - i)):
                continue
            if cost <= room:
                quoted[-1 - i] = row, own
                recalled.quote(-1 - i)
                quoted_days.add(told)
                quoted_years.add(told[:4])
                left -= cost
                misses = 0
            else:
                misses += 1
                offered.skip()
        else:
            if not fresh[i] and i not in pinned_set:  # not allowed, or a memory shown says it
                continue
            known_cost = index.costs.get(i)  # counted once, then kept
            if known_cost is None:
                # counted as its English would be: as many facts in any language (bot/core/tokens.py)
                fact = index.rows[i]
                known_cost = index.costs[i] = english_tokens(count_tokens(line(fact)),
                                                             language_factor(fact.fact))
            cost, told = known_cost, fact_day(i)
            if told not in days:
                cost += headings.day + (headings.year if told[:4] not in years else 0)
            room = left if not extra or asks_about(i) else left - extra
            if cost <= room:
                chosen.append(index.rows[i])
                # the excerpt it was drawn from goes, unless that is nearer what the message asks (the fact
                # was drawn from another part of the line: "the trip" asked, a line naming the trip and the
                # diet, the diet's fact)
                source = recalled.add(i, partial(nearer, float(fact_near[i])))
                if source is not None:  # quoted before the fact drawn from it: the fact says it
                    left += quoted.pop(source)[1]
                    offered.freed()
                days.add(told)
                years.add(told[:4])
                left -= cost
                misses = 0
            else:
                misses += 1
                offered.skip()
        if left < MIN_LINE_TOKENS or misses >= MAX_MISSES:
            break
    return chosen, [row for row, _ in quoted.values()]




async def indexes(facts: FactCache, excerpts: ExcerptCache, user_id: int,
                  stamp: Stamp | None = None, said: Stamp | None = None) -> tuple[FactIndex, ExcerptIndex]:
    """The person's fact and excerpt indexes. ``stamp``, ``said``: the fact and excerpt stamps when the caller
    read them (a reply, with its prompt data: then no trip to the database at all); the missing ones are
    read in one trip."""
    if stamp is None and said is None:
        stamp, said = await excerpts.stamps(user_id)
    return await facts.get(user_id, stamp), await excerpts.get(user_id, said)


def uncovered(index: FactIndex, excerpts: ExcerptIndex, text: str) -> bool:
    """Whether the message names something the facts do not cover but the person's words do."""
    return any(t in excerpts.lexical.postings and t not in index.lexical.postings
               for t in index.lexical.terms(text))


class Recall:
    def __init__(self, cache: FactCache, people: People, embedder: Embedder, settings: MemorySettings,
                 consent: Consent, excerpts: ExcerptCache | None = None) -> None:
        self.cache = cache
        self.people = people  # when the person last talked, for a caller that has not read it
        self.embedder = embedder
        self.settings = settings
        self.consent = consent
        self.excerpts = excerpts  # None: facts only (the person's archive is not searched)
        self.memories = MemoryVectors()  # the core memories' and notes', embedded once each

    async def recall_for(self, user_id: int, text: str, *, private: bool, channel_id: int,
                         now: datetime | None = None, stamp: Stamp | None = None,
                         budget: int | None = None, last_interaction: datetime | None = None,
                         known: bool = False, guild_id: int | None = None,
                         said: Stamp | None = None, present: Present = NOTHING,
                         fill: bool = False,
                         base: int | None = None) -> tuple[list[FactRow], list[ExcerptRow]]:
        """The facts and the past excerpts of this place that share the budget. ``budget``: tokens
        (default ``recall_token_budget``; more for memory questions); ``last_interaction``: the person's
        previous interaction, when the caller has read it (``known``); ``guild_id``: the server asked in
        (only its facts), None in DMs or for everyone's; ``stamp``, ``said``: the fact and excerpt stamps,
        when the caller has read them; ``present``: what the request already holds (memory/present.py),
        never recalled again; ``fill``, ``base``: see :func:`choose_both` (``base``: the budget past which
        only what the message asks about is recalled)."""
        return await self._recall(user_id, text, private=private, channel_id=channel_id, now=now,
                                  stamp=stamp, budget=budget, last_interaction=last_interaction, known=known,
                                  search_archive=self.excerpts is not None, guild_id=guild_id, said=said,
                                  present=present, fill=fill, base=base)

    async def _recall(self, user_id: int, text: str, *, private: bool, channel_id: int, now: datetime | None,
                      stamp: Stamp | None, budget: int | None, last_interaction: datetime | None,
                      known: bool, search_archive: bool, guild_id: int | None,
                      said: Stamp | None = None, present: Present = NOTHING,
                      fill: bool = False,
                      base: int | None = None) -> tuple[list[FactRow], list[ExcerptRow]]:
        now = now or utcnow()
        if not known:
            last_interaction = await self.people.last_interaction(user_id)
        archive: ExcerptIndex | None = None
        if search_archive and self.excerpts is not None:
            index, archive = await indexes(self.cache, self.excerpts, user_id, stamp, said)
        else:
            index = await self.cache.get(user_id, stamp)
        if archive is not None and not archive.rows:
            archive = None
        if not index.rows and archive is None:
            return [], []
        query: np.ndarray | None = None
        about: np.ndarray | None = None
        # The model is only loaded (and a message only encoded) when there is something to compare with;
        # the message's topic in the same call.
        # the memories shown that were never embedded, in the same call
        if text.strip() and (len(index.positions) or (archive is not None and len(archive.positions))):
            subject = subject_of(index, archive, text)
            asked = [text, subject] if subject else [text]
            new = self.memories.missing(present.memories) if len(index.positions) else []
            if new or not len(index.positions) or not tuning_of(self.embedder).said_window:
                stretches: list[str] = []
            else:  # a few of the memories' stretches a reply, each once: no one reply pays for all
                stretches = self.memories.missing([w.text for w in present.windows])[:WINDOWS_PER_REPLY]
            new += stretches
            # the message and its topic as queries, the memories as what is stored (e5 tells them apart)
            vectors = await asyncio.to_thread(encode_asked, self.embedder, asked, new, index.searched_in)
            query = vectors[0]
            about = vectors[1] if subject else None
            self.memories.keep(new, vectors[len(asked):])
        budget = self.settings.recall_token_budget if budget is None else budget
        # the question's own thresholds (a pair of models scores each language its own way), the memories'
        # (stored against stored) the model's; a question (a question mark of any script) may be held to a
        # lower message floor than a remark (memory/embeddings.py Tuning.asked_floor)
        asking = tuning_for(self.embedder, text, index.searched_in)
        question = is_question(text)
        model = hasattr(self.embedder, "tuning_for") or is_model(self.embedder)
        floors = asking.floors_for(question) if model else getattr(self.embedder, "floors", FLOORS)
        # (its floors a remark's: what an item outside a time asked about clears, see choose_both)
        tuning = replace(tuning_of(self.embedder), floors=asking.floors if model else floors,
                         item_share=asking.item_share, typical_weight=asking.typical_weight)

        def pick() -> tuple[list[FactRow], list[ExcerptRow]]:
            shown = self.memories.said(index, present.memories, tuning.said_as_memory, tuning.said_aside)
            if tuning.said_window is not None and present.windows:
                within = self.memories.said_within(index, present.windows, tuning.said_window, alone_of(
                    self.embedder, tuning))
                shown = within if shown is None else shown if within is None else shown | within
            return choose_both(index, query, budget=budget, private=private, now=now,
                               expiry_days=self.settings.fact_expiry_days, text=text,
                               last_interaction=last_interaction, excerpts=archive, channel_id=channel_id,
                               guild_id=guild_id, about=about, present=present,
                               shown=shown,
                               fill=fill, floors=floors, tuning=tuning, base=base)

        if len(index.rows) + (len(archive.rows) if archive is not None else 0) > THREAD_ITEMS:
            return await asyncio.to_thread(pick)
        return pick()

    async def provide(self, persona: Persona, msg: Incoming, data: PromptData | None = None, *,
                      budget: int | None = None, fill: bool = False, base: int | None = None,
                      threads: Sequence[str] = ()) -> str:
        """The context provider: '' when there is nothing to recall (or the user is not remembered).
        ``data``: the prompt data of this reply, which already holds the user's consent answer; ``budget``,
        ``fill``, ``base``: see recall_for (a question's larger budget, with the default as ``base``: the rest
        only for what it asks about); ``threads``: the open threads the reply shows (memory/threads.py),
        whose facts are not said again."""
        budget = self.settings.recall_token_budget if budget is None else budget
        if budget <= 0 or msg.author_is_bot:
            return ""
        remembered = (self.consent.allows(data.memory_consent, await self.consent.mode_for(msg.guild_id))
                      if data is not None else await self.consent.remembers(msg.author_id, msg.guild_id))
        if not remembered:
            return ""
        # Private facts (from DMs and private places) only in DMs; in a server, only that server's facts
        # unless the person chose every server (/memory servers all; not read here: per server).
        everywhere = data is not None and data.memory_everywhere
        facts, said = await self.recall_for(
            msg.author_id, asked_of(msg.content), private=msg.is_dm, channel_id=msg.channel_id,
            stamp=data.fact_stamp if data is not None else None,
            said=data.excerpt_stamp if data is not None else None, budget=budget,
            last_interaction=data.last_interaction if data is not None else None, known=data is not None,
            guild_id=None if everywhere or msg.is_dm else msg.guild_id,
            present=present(msg, data, threads) if data is not None else NOTHING, fill=fill, base=base)
        if data is not None:  # shown already, in the same words or nearly all of them: no fact twice
            shown = (*data.core_memories, *data.notes, *threads, *clauses(data.history.summary))
            facts = [f for f in facts if not worth.said_in(f.fact, shown, msg.author_name)]
        # the days headed as the person writes dates: no English month over a Spanish person's lines
        language = language_of(msg.content) or (language_written(data.style_profile) if data is not None
                                                 else None)
        return "\n\n".join(part for part in (render(facts, msg.author_name, language),
                                            episodes.render(said, msg.author_name, language)) if part)
