"""The daily memory consolidation: from the short-term log to long-term facts, relationships and the archive.

One run (scheduled daily by bot/runtime/jobs.py, or ``python main.py consolidate --now``):

1. takes the short-term log up to its newest row (the last day, and anything older still there);
2. deletes, unarchived, the messages of people who may not be remembered (see memory/consent.py);
3. per user, in batches of a bounded size (direct messages apart from channel messages, so DM facts stay
   private), asks Claude for the facts worth keeping, with categories, and for how the messages change the
   character's feelings, as one JSON object (validated; a malformed answer is retried once, then the batch
   is skipped with a log line and its messages stay in the log for the next run). It is shown the person's
   nearest current facts by id and answers add, update, delete or none per fact (memory/reconcile.py): an
   update closes the old fact as history ("lived in Leeds"), never recalled as current, and so does an added
   fact that fills the old one's slot (where they live, their work...), whatever the answer said;
4. embeds the facts (in a worker thread) and compares the added ones with the user's current facts: a
   current fact at cosine similarity >= ``fact_similarity_threshold`` is mentioned again (last_mentioned,
   reference_count + 1), anything else is inserted with its embedding;
5. commits each batch in ONE transaction: its messages move to the permanent archive (ON CONFLICT DO NOTHING
   on message_id) and leave the log, its facts are applied and the relationship change is applied within the
   day's bound; its messages and the character's lines beside them are indexed for episodic recall
   (memory/episodes.py: by their words at once, embedded after the run in the background). A batch whose
   messages already left the log (a concurrent run, /forget_me) rolls back. Once a person's batches are in,
   the conversation summaries and core memories of the places where their facts closed are rewritten at once
   (memory/summarizer.py ``refresh_summaries`` and ``refresh``, each told what that place may see: none keeps
   telling an old fact as true);
6. archives the remaining messages (bots, the character's own) in transactions of their own and prunes
   expired facts (when it last ran is its daily round's row, bot/core/timers.py; the day's mood is
   bot/alive's);
7. starts embedding the excerpts it indexed, in the background (:meth:`Consolidator.start_embedding`;
   :meth:`Consolidator.embedded` waits for it): the model costs far more than the run itself.

Crash safety follows from 5: killing the process at any point leaves every message either still in the log
(its batch not committed: nothing learnt from it was written) or in the archive with its facts counted once.
Running it again finishes the job; running it twice is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

import numpy as np

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Completion, Prompt
from bot.core.config import MemorySettings
from bot.core.persona.model import Persona
from database.models import utcnow
from database.records import ConsolidationBatch, NewExcerpt, SeenMessage
from database.store import Store
from database.threads import ThreadRow
from memory import episodes
from memory.batching import Batch, extraction_prompt, plan_window
from memory.consent import Consent
from memory.consolidation_report import ConsolidationReport, Progress, ProgressHook
from memory.embeddings import BatchingEncoder, Embedder, glossed, to_bytes, tuning_of
from memory.facts import (
    EXTRACTION_SCHEMA,
    Extraction,
    FactCache,
    MalformedExtraction,
    parse_extraction,
)
from memory.reconcile import Changes, changes, resolve, show_known, to_embed
from memory.relationships import daily_update
from memory.summarizer import Summarizer
from memory.threads import close_expired, still_open, thread_changes

log = logging.getLogger(__name__)

ARCHIVE_CHUNK = 2_000
EXTRACTION_MAX_TOKENS = 1_500
WINDOW = 200_000  # log rows read at a time (one window holds a normal day: more would split batches)

AnswerKey = tuple[int, bool, int | None, tuple[int, ...]]  # see answer_key
StepHook = Callable[[str, dict[str, object]], Awaitable[None]]  # told each step's name and details


def answer_key(batch: Batch) -> AnswerKey:
    """What an extraction answers: whose messages, from where, which ones (log ids are never reused)."""
    return batch.user_id, batch.private, batch.guild_id, batch.log_ids


class Consolidator:
    def __init__(self, store: Store, claude: ClaudeClient, settings: MemorySettings, character_key: str,
                 persona: Callable[[], Persona], embedder: Embedder, *, cache: FactCache | None = None,
                 consent: Consent | None = None, concurrency: int = 8, on_step: StepHook | None = None,
                 on_progress: ProgressHook | None = None, memories: Summarizer | None = None) -> None:
        self.store = store
        self.claude = claude
        self.settings = settings
        self.character_key = character_key
        self.persona = persona
        self.embedder = embedder
        self._encoder: BatchingEncoder | None = None
        self.cache = cache or FactCache(store.facts)
        self.consent = consent or Consent(store.servers, store.people, settings.memory_consent)
        self.concurrency = max(1, concurrency)
        self.on_step = on_step
        self.on_progress = on_progress
        # rewrites the core memories of a person whose facts closed (none keeps telling the old one as true)
        self.memories = memories
        self._closed: dict[int, set[tuple[bool, int | None]]] = {}  # person -> the places of their closings
        # One run at a time per process (other processes: see commit_consolidation).
        self._lock = asyncio.Lock()
        # A batched run's extraction answers, read ahead through the Message Batches API, by what each
        # answers (answer_key): an answer left unused never reaches another batch, whatever object it is
        self._batched = False
        self._answers: dict[AnswerKey, Completion] = {}
        self.batch_poll = 5.0  # seconds before the first poll of a batch (tests: 0)
        self._embedding: asyncio.Task[int] | None = None  # the excerpts' vectors, after a run

    async def _encode(self, sentences: list[str]) -> np.ndarray:
        """Embed in a worker thread, batched with the other users' facts being embedded at the same time."""
        if self._encoder is None or self._encoder.embedder is not self.embedder:
            self._encoder = BatchingEncoder(self.embedder)
        return await self._encoder.encode(sentences)

    async def _step(self, name: str, **detail: object) -> None:
        if self.on_step is not None:
            await self.on_step(name, detail)

    @property
    def running(self) -> bool:
        return self._lock.locked()

    async def run(self, *, now: datetime | None = None, batch: bool = False) -> ConsolidationReport:
        """``batch``: ask for the extractions through one Message Batch per window first (half price, within
        ``consolidation_batch_wait``); the direct calls then only ask what it did not answer."""
        async with self._lock:
            self._batched, self._answers = batch, {}
            try:
                report = await self._run(now or utcnow())
            finally:
                self._batched, self._answers = False, {}
        self.start_embedding()  # also what a run cut short (a restart, a failure) left without vectors
        return report

    def start_embedding(self) -> asyncio.Task[int]:
        """Embed the excerpts that have no vector yet, in the background (one job at a time)."""
        if self._embedding is None or self._embedding.done():
            self._embedding = asyncio.create_task(self._embed_excerpts(), name="excerpt-embedding")
        return self._embedding

    async def _embed_excerpts(self) -> int:
        try:
            return await episodes.embed_pending(self.store.excerpts, self.embedder)
        except Exception:  # the next run's job picks up what is left
            log.exception("embedding archive excerpts failed; they stay searchable by their words")
            return 0

    async def embedded(self) -> int:
        """Wait for the background embedding of excerpts, if any (the CLI, benchmarks, tests); how many."""
        task = self._embedding
        return await task if task is not None else 0

    async def close(self) -> None:
        """Stop the background embedding (what it did not reach waits for the next run)."""
        if self._embedding is not None and not self._embedding.done():
            self._embedding.cancel()
            await asyncio.gather(self._embedding, return_exceptions=True)

    async def _run(self, now: datetime) -> ConsolidationReport:
        started = time.perf_counter()
        report = ConsolidationReport()
        # Messages logged from now on wait for the next run.
        watermark = await self.store.consolidation.log_watermark()
        report.messages = await self.store.consolidation.count_logged_through(watermark)
        await self._step("snapshot", messages=report.messages, watermark=watermark)
        consents = await self.consent.consents()
        modes = await self.store.servers.consent_modes()  # servers with a consent mode of their own
        users: set[int] = set()
        refused_dms: set[int] = set()  # DM channels of people not remembered, across windows
        progress = Progress(report.messages, self.on_progress)
        after = 0
        while True:  # a window at a time, so a long backlog never has to fit in memory at once
            rows = await self.store.consolidation.logged_through(watermark, after_id=after, limit=WINDOW)
            if not rows:
                break
            after = rows[-1][0]
            await self._window(rows, consents, modes, now, report, users, refused_dms, progress)
        report.users = len(users)
        await self._refresh(report)
        if self.settings.fact_expiry_days:
            report.pruned_facts = await self.store.facts.delete_expired(
                now - timedelta(days=self.settings.fact_expiry_days))
            if report.pruned_facts:
                self.cache.invalidate()
        await close_expired(self.store.threads, now)
        await self._step("pruned", pruned=report.pruned_facts)
        report.seconds = time.perf_counter() - started
        await self._step("done", report=report)
        log.info("consolidation: %s", report.describe())
        return report

    async def _window(self, rows: list[tuple[int, SeenMessage]], consents: dict[int, bool],
                      modes: dict[int, str], now: datetime,
                      report: ConsolidationReport, users: set[int], refused_dms: set[int],
                      progress: Progress) -> None:
        def remembered(uid: int, guild_id: int | None) -> bool:
            mode = modes.get(guild_id) if guild_id is not None else None  # a server's own, else the global
            return self.consent.allows(consents.get(uid), mode)

        plan = await asyncio.to_thread(plan_window, rows, remembered, set(refused_dms))
        refused_dms.update(plan.refused_dms)
        purged = 0
        if plan.purge:
            purged = await self.store.consolidation.purge_logged(plan.purge)
            report.purged += purged
            progress.add(len(plan.purge))
            log.info("consolidation: deleted %d logged messages of %d people not remembered", purged,
                     plan.refused)
        await self._step("purged", purged=purged)

        rest = plan.rest
        report.batches += plan.batches
        users.update(b[0].user_id for b in plan.by_user)
        if self._batched:
            await self._read_ahead(plan.by_user, report, now)
        gate = asyncio.Semaphore(self.concurrency)

        async def one_user(user_batches: list[Batch]) -> None:
            async with gate:
                backfilled = False
                known = await self._known_name(user_batches[0])
                for batch in user_batches:
                    batch.user_name = known
                    try:
                        if not backfilled:
                            await self._backfill(batch.user_id, report)
                            backfilled = True
                        handled = await self._batch(batch, now, report)
                    except Exception as exc:  # one user's trouble must not stop everyone else's consolidation
                        handled = False
                        report.skipped += 1
                        report.errors.append(f"{batch.label}: {type(exc).__name__}: {exc}")
                        log.exception("consolidation: batch of %s failed; its messages stay in the log",
                                      batch.label)
                    if handled:
                        progress.add(len(batch.messages))
                    else:
                        progress.skip(len(batch.messages))
                # at once, not after everyone else's batches: until then a request may show the old fact
                await self._refresh(report, user_batches[0].user_id)

        await asyncio.gather(*(one_user(b) for b in plan.by_user))
        for start in range(0, len(rest), ARCHIVE_CHUNK):
            chunk = rest[start:start + ARCHIVE_CHUNK]
            report.archived += await self.store.consolidation.archive_logged(chunk)
            progress.add(len(chunk))
            await self._step("archived", archived=report.archived)

    # -- one batch

    async def _known_name(self, batch: Batch) -> str:
        """The name the person is known by (the people table), else the one in their latest message."""
        user = await self.store.people.get_user(batch.user_id)
        return (user.name if user is not None and user.name else "") or batch.user_name

    async def _threads(self, batch: Batch, now: datetime) -> list[ThreadRow]:
        """The open threads the batch is shown (and may close), as a reply in its place would show them."""
        return await self.store.threads.open_for(batch.user_id, *still_open(now), private=batch.private,
                                                 guild_id=batch.guild_id)

    async def _batch(self, batch: Batch, now: datetime, report: ConsolidationReport) -> bool:
        """Whether the batch's messages were handled (False: skipped, they stay in the log)."""
        await self._step("batch", user_id=batch.user_id, messages=len(batch.messages))
        extraction = Extraction(())
        shown = await self._threads(batch, now)
        if any(m.content.strip() for _, m in batch.messages):
            await self._show_known(batch, report)
            found = await self._extract(batch, report, shown)
            if found is None:
                report.skipped += 1
                return False
            extraction = found
        await self._step("extracted", user_id=batch.user_id, facts=len(extraction.facts))
        resolved = resolve(extraction.facts, batch.shown or {})
        found_changes = Changes(retired=tuple((row.id, past) for row, past in resolved.retired),
                                mentioned=dict(resolved.kept))
        if resolved.new or resolved.updates:
            index = await self.cache.get(batch.user_id)
            rest, changed = to_embed(index, resolved)
            vectors = np.zeros((0, 0))
            if rest or changed:
                t0 = time.perf_counter()
                vectors = await self._encode([glossed(f.fact, f.english) for f in (*rest, *changed)])
                report.embed_seconds += time.perf_counter() - t0
            tuning = tuning_of(self.embedder)
            threshold = self.settings.fact_similarity_threshold or tuning.repeat  # 0: the model's own
            found_changes = changes(index, resolved, vectors, batch, threshold, tuning.slot_near)
        new = found_changes.new
        mentioned = [(fid, not batch.private) for fid in found_changes.mentioned]
        lasting = {fid for fid, f in found_changes.mentioned.items() if f.lasting}
        retired = found_changes.retired
        await self._step("matched", user_id=batch.user_id, new=len(new), mentioned=len(mentioned))
        said_lines = await self._excerpts(batch, report)
        threads = thread_changes(extraction.threads, shown, [m.created_at for _, m in batch.messages],
                                 private=batch.private, guild_id=batch.guild_id)
        ok = await self.store.consolidation.commit_consolidation(ConsolidationBatch(
            character=self.character_key, user_id=batch.user_id, log_ids=batch.log_ids, new_facts=tuple(new),
            mentioned=tuple(mentioned),
            relationship_update=daily_update(extraction.relationship,
                                             self.settings.relationship_max_daily_change)
            if extraction.relationship else None,
            day=now.date().isoformat(), at=now, lasting=frozenset(lasting), excerpts=tuple(said_lines),
            guild_id=batch.guild_id, retired=retired), threads)
        self.cache.invalidate(batch.user_id)
        if not ok:
            report.conflicts += 1
            log.info("consolidation: messages of %s were already handled elsewhere; batch dropped",
                     batch.label)
            return True
        report.committed += 1
        if any(f.closes or f.replaces is not None for f in new) or any(past for _, past in retired):
            # a server's closing shows in the person's DMs too (the private memories see every place)
            self._closed.setdefault(batch.user_id, set()).update(
                {(True, None)} if batch.private else {(True, None), (False, batch.guild_id)})
        report.archived += len(batch.messages)
        report.new_facts += len(new)
        report.excerpts += len(said_lines)
        report.mentioned_facts += len(mentioned)
        report.updated_facts += len(resolved.updates)
        report.retired_facts += len(retired)
        report.relationship_updates += 1 if extraction.relationship else 0
        await self._step("committed", user_id=batch.user_id, messages=len(batch.messages))
        return True

    async def _refresh(self, report: ConsolidationReport, user_id: int | None = None) -> None:
        """The conversation summaries and core memories of the places where facts closed (of ``user_id``,
        else of everyone), rewritten from the facts as they are now."""
        if user_id is None:
            closed, self._closed = self._closed, {}
        else:
            closed = {user_id: mine} if (mine := self._closed.pop(user_id, None)) else {}
        if self.memories is None:
            return
        for person, places in closed.items():
            try:
                report.refreshed_summaries += await self.memories.refresh_summaries(person, places)
            except Exception as exc:  # the next summary pass is told the facts anyway
                report.errors.append(f"summaries of {person}: {type(exc).__name__}: {exc}")
                log.exception("consolidation: rewriting the summaries of %s failed", person)
            try:
                report.refreshed_memories += await self.memories.refresh(person, places)
            except Exception as exc:  # the next summary pass rebuilds them anyway
                report.errors.append(f"core memories of {person}: {type(exc).__name__}: {exc}")
                log.exception("consolidation: rewriting the core memories of %s failed", person)

    async def _excerpts(self, batch: Batch, report: ConsolidationReport) -> list[NewExcerpt]:
        """The batch's messages and the character's lines beside them for episodic recall, without vectors
        (searchable by their words at once; :meth:`start_embedding` adds the vectors after the run)."""
        return episodes.excerpts_of(batch.messages, batch.beside, batch.user_name, private=batch.private,
                                    character=self.persona().name)

    async def _show_known(self, batch: Batch, report: ConsolidationReport) -> None:
        """Choose the facts the extraction is shown (memory/reconcile.py show_known), once per batch."""
        if batch.shown is None:  # else chosen when its answer was read ahead: the ids it answers with
            t0 = time.perf_counter()
            await show_known(batch, await self.cache.get(batch.user_id), self._encode)
            report.embed_seconds += time.perf_counter() - t0

    async def _read_ahead(self, by_user: Sequence[Sequence[Batch]], report: ConsolidationReport,
                          now: datetime | None = None) -> None:
        """Every extraction of the window in one Message Batch; its answers wait in ``_answers``."""
        prompts: dict[str, Prompt] = {}
        users: dict[str, int | None] = {}
        keyed: dict[str, Batch] = {}
        persona = self.persona()
        for user_batches in by_user:
            known = await self._known_name(user_batches[0])
            for batch in user_batches:
                if not any(m.content.strip() for _, m in batch.messages):
                    continue
                batch.user_name = known  # as one_user names it: the same prompt either way
                await self._show_known(batch, report)
                key = f"b{len(keyed)}"
                keyed[key] = batch
                users[key] = batch.user_id
                prompts[key] = extraction_prompt(persona, batch, self.settings.relationship_max_daily_change,
                                                 structured=self.claude.structured(self.claude.background_model),
                                                 threads=await self._threads(batch, now or utcnow()))
        t0 = time.perf_counter()
        answers = await self.claude.complete_batch(prompts, purpose="consolidation", users=users,
                                                   guild_id=None,
                                                   max_tokens=EXTRACTION_MAX_TOKENS, schema=EXTRACTION_SCHEMA,
                                                   max_wait=self.settings.consolidation_batch_wait,
                                                   first_poll=self.batch_poll)
        report.claude_seconds += time.perf_counter() - t0
        self._answers.update({answer_key(keyed[key]): completion for key, completion in answers.items()})

    async def _extract(self, batch: Batch, report: ConsolidationReport,
                       threads: Sequence[ThreadRow] = ()) -> Extraction | None:
        """Claude's validated answer (read ahead in a batch, else asked now); one retry after a malformed
        one; None (logged) when it fails. ``threads``: the open threads it is shown."""
        prompt = extraction_prompt(self.persona(), batch, self.settings.relationship_max_daily_change,
                                   structured=self.claude.structured(self.claude.background_model),
                                   threads=threads)
        for attempt in (1, 2):
            t0 = time.perf_counter()
            try:
                ahead = self._answers.pop(answer_key(batch), None) if attempt == 1 else None
                completion = ahead or await self.claude.complete(prompt, user_id=batch.user_id, guild_id=None,
                                                                 purpose="consolidation",
                                                                 max_tokens=EXTRACTION_MAX_TOKENS,
                                                                 schema=EXTRACTION_SCHEMA)
            except ClaudeUnavailable as exc:
                log.warning("consolidation: Claude failed for %s (%s); their %d messages stay in the log",
                            batch.label, exc, len(batch.messages))
                return None
            finally:
                report.claude_seconds += time.perf_counter() - t0
            try:
                return parse_extraction(completion.text, self.settings.relationship_max_daily_change)
            except MalformedExtraction as exc:
                report.malformed += 1
                self.claude.tally.unparsed("consolidation", retried=attempt == 1)
                if attempt == 2:
                    log.warning("consolidation: malformed answer for %s twice (%s); skipped, their %d "
                                "messages stay in the log", batch.label, exc, len(batch.messages))
                    return None
                log.info("consolidation: malformed answer for %s (%s); asking again", batch.label, exc)
                prompt = Prompt(system=prompt.system, messages=[
                    *prompt.messages,
                    {"role": "assistant", "content": completion.text.strip() or "(no answer)"},
                    {"role": "user", "content": f"That answer was not usable: {exc}. "
                                                "Answer again with only the "
                                                "JSON object described above."}])
        return None

    async def _backfill(self, user_id: int, report: ConsolidationReport) -> None:
        """Embed the user's facts that have no (usable) vector yet, e.g. added by an admin without a model."""
        index = await self.cache.get(user_id)
        if not index.rows:
            return
        dim = index.dim
        if not dim:
            probe = await self._encode([glossed(index.rows[0].fact, index.rows[0].gloss)])
            dim = int(probe.shape[1])
        missing = index.unembedded(dim)
        if not missing:
            return
        t0 = time.perf_counter()
        vectors = await self._encode([glossed(r.fact, r.gloss) for r in missing])
        report.embed_seconds += time.perf_counter() - t0
        await self.store.facts.set_embeddings([(r.id, r.fact, r.gloss, to_bytes(v))
                                               for r, v in zip(missing, vectors, strict=True)])
        self.cache.invalidate(user_id)

