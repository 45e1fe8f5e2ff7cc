"""The memory engine of a running bot: one object (``bot.services.memory``) holding consent, the embedding
model, the fact cache, recall, summarization and consolidation, hooked into the reply engine.

The composition root (bot/runtime/composition.py) creates it once, before the reply engines, and declares
what it adds to each character's replies when it builds them (:class:`bot.core.stages.Features`): a
prompt part (:meth:`MemoryService.recall_part`, the recalled facts) and a turn observer
(:meth:`MemoryService.keeper`, summarization); its consent is handed to the engines too. The console builds
its own. The admin fact commands embed with :meth:`MemoryService.embed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.core import language
from bot.core.claude import ClaudeClient
from bot.core.config import MemorySettings, StorageSettings
from bot.core.i18n import catalogs, language_names, language_written
from bot.core.lines import Line
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, ReplyResult, TurnListener
from database.models import utcnow
from database.profiles import Profile, tidy
from database.records import CoreMemoryRow, ExcerptRow, FactRow, PromptData
from database.retention import Pruned
from database.store import Store
from database.threads import ThreadRow
from memory import timewords
from memory.consent import Consent
from memory.consolidation import Consolidator
from memory.embeddings import (
    Embedder,
    encode_async,
    is_model,
    load_in_background,
    make_embedder,
    model_id_of,
    single_blas_thread,
    to_bytes,
)
from memory.episodes import ExcerptCache
from memory.export import PersonalExport
from memory.facts import FactCache
from memory.recall import Recall
from memory.reembed import reembed
from memory.summarizer import Summarizer
from memory.threads import ThreadsPart

log = logging.getLogger(__name__)
RecallBudget = Callable[[Incoming, int], int]  # (the message, the default budget) -> tokens of facts


def _none_kept(stamp: tuple[object, ...] | None) -> bool:
    """A stamp read with the prompt data says the person has none of these rows (its newest id is none,
    database/stamps.py); an unread stamp (None) says nothing."""
    return stamp is not None and stamp[0] is None


def _load_words() -> None:
    language.load()
    timewords.warm()
    catalogs()  # Kindred's own lines (a quarter of a second): the first refusal or fallback does not wait
    language_names()  # the languages' names (a fifth of a second): for a server's /settings language


class MemoryService:
    def __init__(self, settings: MemorySettings, store: Store, claude: ClaudeClient, character_key: str,
                 persona: Callable[[], Persona], *, budget: RecallBudget | None = None,
                 embedder: Embedder | None = None, notify: Callable[[Line], None] | None = None,
                 consent: Consent | None = None) -> None:
        """``persona``: the main character's, read live (character files may change while the bot runs);
        ``budget``: the tokens of remembered facts for a reply to a message (the reply engine's intent
        routing gives a question about the past more, bot/reply/deciding/intent.py), the setting's when not
        given."""
        single_blas_thread()  # recall's vector maths on the event loop's thread: see memory/embeddings.py
        self.settings = settings
        self.store = store
        self.character_key = character_key
        self._budget = budget
        self._persona = persona
        # The one the engines ask before storing an exchange (bot/runtime/composition.py).
        self.consent = consent or Consent(store.servers, store.people, settings.memory_consent)
        self.embedder: Embedder = embedder or make_embedder(settings.embedding_model)
        # what the vectors written are tagged with, and the only model whose vectors are read (0034)
        store.db.embedding_model = model_id_of(self.embedder)
        self.cache = FactCache(store.facts)
        self.excerpts = ExcerptCache(store.excerpts)  # episodic recall: the person's archived exchanges
        self.recall = Recall(self.cache, store.people, self.embedder, settings, self.consent, self.excerpts)
        self.open_threads = ThreadsPart(self.consent)  # read by recall, then shown
        self.summarizer = Summarizer(store, claude, settings, self.character_key, persona, self.consent,
                                     notify)
        self.consolidator = Consolidator(store, claude, settings, self.character_key, persona, self.embedder,
                                         cache=self.cache, consent=self.consent, memories=self.summarizer)
        self._notify = notify
        self._claude = claude
        # The other characters of an ensemble: each keeps its own histories, so each has its own summarizer.
        self.member_summarizers: dict[str, Summarizer] = {}
        self.export = PersonalExport(store)  # /export_me
        self.warming: asyncio.Task[bool] | None = None
        self.reembedding: asyncio.Task[tuple[int, int]] | None = None

    # -- start-up

    def start_warm_up(self) -> asyncio.Task[bool]:
        """Start :meth:`warm_up` in the background (once)."""
        if self.warming is None:
            self.warming = asyncio.create_task(self.warm_up(), name="embedding-warm-up")
        return self.warming

    async def warm_up(self) -> bool:
        """Load the embedding model in a worker thread, so the first recall does not wait seconds for it.

        Only the real model; with ``preload_embedding_model`` off, only when some fact has a vector to compare
        with (until then recall never encodes). A failure costs nothing but a log line (recall tries again,
        and logs, when it needs the model). True when the model was loaded.

        The language model, the time-word tables and the catalogs of Kindred's own lines
        (bot/core/language.py, memory/timewords.py, bot/core/i18n.py) are loaded first, in a worker thread
        too: the first message's recall, style line and refusals do not wait for them."""
        try:
            await asyncio.to_thread(_load_words)
        except Exception as exc:  # used lazily later all the same
            log.warning("could not load the language model ahead of time: %s", exc)
        if not is_model(self.embedder):
            return False
        try:
            if not self.settings.preload_embedding_model and not await self.store.facts.has_embedded():
                return False
            await load_in_background(self.embedder)  # type: ignore[arg-type]
        except Exception as exc:
            log.warning("could not load the embedding model %s ahead of time (recall will try again): %s",
                        getattr(self.embedder, "model_name", self.embedder), exc)
            return False
        self.start_reembedding()
        return True

    def start_reembedding(self) -> asyncio.Task[tuple[int, int]]:
        """Re-embed, in the background, what is stored with no vector of this model (a model change,
        memory/reembed.py); once per process."""
        if self.reembedding is None:
            self.reembedding = asyncio.create_task(self._reembed(), name="embedding-re-embed")
        return self.reembedding

    async def _reembed(self) -> tuple[int, int]:
        try:
            done = await reembed(self.store, self.embedder)
        except Exception:  # what is left waits for the next start (each batch written is kept)
            log.exception("re-embedding with %s stopped", model_id_of(self.embedder))
            return 0, 0
        if any(done):
            log.info("re-embedded %d facts and %d excerpts with %s", *done, model_id_of(self.embedder))
        return done

    # -- what it adds to the replies (declared by the composition root)

    def recall_part(self) -> RecallPart:
        """The recalled facts, a prompt part of every character's replies."""
        return RecallPart(self)

    def threads_part(self) -> ThreadsPart:
        """The person's open threads, a prompt part of every character's replies."""
        return self.open_threads

    def keeper(self, character_key: str | None = None,
               persona: Callable[[], Persona] | None = None) -> TurnListener:
        """The turn observer of a character's replies: summarization (each character keeps its own
        histories, so another character of the cast gets its own summarizer) and the last interaction."""
        if character_key is None or character_key == self.character_key:
            return self._on_turn
        summarizer = self.member_summarizers.get(character_key)
        if summarizer is None:
            summarizer = Summarizer(self.store, self._claude, self.settings, character_key,
                                    persona or self._persona, self.consent, self._notify)
            self.member_summarizers[character_key] = summarizer

        async def on_turn(msg: Incoming, result: ReplyResult) -> None:
            await asyncio.gather(self._interacted(msg, result), summarizer.on_turn(msg, result))

        return on_turn

    async def close(self) -> None:
        if self.warming is not None:
            self.warming.cancel()  # a load under way finishes in its thread; the model stays cached
        if self.reembedding is not None:
            self.reembedding.cancel()  # each batch written is kept: the next start goes on from there
        await self.consolidator.close()  # excerpts not embedded yet wait for the next run
        await self.summarizer.close()
        for summarizer in self.member_summarizers.values():
            await summarizer.close()

    async def provide(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        """The remembered facts for a reply to ``msg`` ("" when recall fails: a reply beats none)."""
        if _none_kept(data.fact_stamp) and _none_kept(data.excerpt_stamp):
            return ""  # no fact and no earlier words of theirs kept: no budget or threads to weigh
        try:
            # A question gets a larger budget (the engine's intent routing, bot/reply/deciding/intent.py),
            # spent past the default only on what it asks about (memory/recall.py), never on facts that are
            # merely often mentioned; no open thread the reply shows is said again as a fact
            default = self.settings.recall_token_budget
            budget = self._budget(msg, default) if self._budget is not None else default
            threads = [t.thread for t in await self.open_threads.shown(msg, data)]
            return await self.recall.provide(persona, msg, data, budget=budget, base=default, threads=threads)
        except Exception:  # a reply without recalled facts beats no reply
            log.exception("recall failed for message %s", msg.message_id)
            return ""

    async def _on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        # Side by side: independent, and the conversation's size is then read in the same trip to the
        # database as the other listeners' writes (database/trips.py).
        await asyncio.gather(self._interacted(msg, result), self.summarizer.on_turn(msg, result))

    async def _interacted(self, msg: Incoming, result: ReplyResult) -> None:
        """An exchange with someone remembered (their turn was stored: consent allows it) moves their last
        interaction, from which their facts' soft expiry counts. Someone not remembered is, for memory,
        silent: their facts expire as if they had not spoken. Coming back after a silence longer than the
        expiry first forgets what expired meanwhile (the recall of this very reply already left it out)."""
        if msg.author_is_bot or not result.turn_ids:
            return
        days = self.settings.fact_expiry_days
        now = utcnow()
        try:
            gone = await self.store.people.touch_interaction(
                msg.author_id, now, now - timedelta(days=days) if days else None)
        except Exception:  # the reply is out; the daily job prunes what this missed
            log.exception("could not record the interaction of user %s", msg.author_id)
            return
        if gone:
            self.cache.invalidate(msg.author_id)
            log.info("forgot %d expired facts of user %s after a long silence", gone, msg.author_id)

    # -- for commands

    async def prune(self, storage: StorageSettings) -> Pruned:
        """The daily retention (database/retention.py) by ``storage``'s days, as of now."""
        return await self.store.retention.prune(datetime.now(UTC), usage_days=storage.usage_retention_days,
                                                archive_days=storage.archive_retention_days)

    async def embed(self, text: str) -> bytes:
        """One sentence's embedding as stored in UserFact.embedding (used by the admin fact commands)."""
        return to_bytes((await encode_async(self.embedder, [text]))[0])

    async def facts(self, user_id: int) -> list[FactRow]:
        return await self.store.facts.rows(user_id)

    async def threads(self, user_id: int) -> list[ThreadRow]:
        """What the person said they would do or are waiting for, still kept (/memory list)."""
        return await self.store.threads.rows(user_id)

    async def core_memories(self, user_id: int) -> list[CoreMemoryRow]:
        """The character's core memories of the person, each with where it belongs (/memory list)."""
        return await self.store.memories.placed_memories(self.character_key, user_id)

    async def said(self, user_id: int) -> list[ExcerptRow]:
        """What is kept of the person's own words for episodic recall, newest first."""
        return await self.store.excerpts.listed(user_id)

    async def forget_said(self, user_id: int, excerpt_ids: list[int]) -> int:
        """Delete some of the person's excerpts (only theirs); recall stops finding them at once."""
        gone = await self.store.excerpts.delete(user_id, excerpt_ids)
        self.excerpts.invalidate(user_id)
        return gone

    async def set_consent(self, user_id: int, name: str, consent: bool) -> None:
        await self.store.people.ensure_user(user_id, name)
        await self.store.people.set_memory_consent(user_id, consent)

    async def set_everywhere(self, user_id: int, name: str, everywhere: bool) -> None:
        """Whether what they say in one server is recalled in the others (default: each server its own)."""
        await self.store.people.ensure_user(user_id, name)
        await self.store.people.set_memory_everywhere(user_id, everywhere)

    async def set_timezone(self, user_id: int, name: str, zone: str | None) -> None:
        """The time zone they live in, as they gave it (None: forget it); the character then knows their
        local time."""
        await self.store.people.ensure_user(user_id, name)
        await self.store.people.set_timezone(user_id, zone)

    async def written_language(self, user_id: int) -> str | None:
        """The language the person writes in most (their writing profile), if Kindred's own lines are
        translated into it: what its answers to them are in where Discord's locale tells none."""
        return language_written(await self.store.style.get(user_id))

    # What a person states of themselves (/me): theirs, kept whatever their memory consent (stating it is
    # consent to that row), deleted by /me clear and /forget_me.
    async def profile(self, user_id: int) -> Profile:
        return await self.store.profiles.get(user_id)

    async def set_profile(self, user_id: int, *, name: str | None = None, pronouns: str | None = None,
                          about: str | None = None) -> tuple[Profile | None, list[str]]:
        """Set the fields given, trimmed; (the profile as it now stands, []), or (None, what is wrong) and
        nothing changed when a field is over its bound."""
        privacy = self.store.privacy
        given, wrong = tidy(name, pronouns, about)
        if wrong or not given:
            return None, wrong
        # Nothing is awaited before the write (a forget before it finds nothing to race); one that begins
        # during it waits for it, then deletes the profile with the rest.
        async with privacy.writing_about(user_id, privacy.mark()):
            return await self.store.profiles.set(user_id, **given), []

    async def clear_profile(self, user_id: int) -> bool:
        return await self.store.profiles.clear(user_id)

    async def opted_out(self, user_id: int) -> bool:
        """Whether the user said no to being remembered (``/memory opt-out``; kept through a forget)."""
        user = await self.store.people.get_user(user_id)
        return user is not None and user.memory_consent is False

    async def forget_user(self, user_id: int) -> dict[str, int]:
        """Delete everything stored about a user (and stop work in flight about them)."""
        self.summarizer.forget_user(user_id)
        for summarizer in self.member_summarizers.values():
            summarizer.forget_user(user_id)
        # The prompt inspector's copies of their requests go too (and those still in flight are not kept).
        if self._claude.sent is not None:
            self._claude.sent.forget(user_id, time.monotonic())
        counts = await self.store.privacy.delete_user_data(user_id)
        self.cache.invalidate(user_id)
        self.excerpts.invalidate(user_id)
        log.info("deleted all data of user %s on request (%d rows)", user_id, sum(counts.values()))
        return counts


class RecallPart:
    """The person's remembered facts, dated lines (memory/recall.py), in the prompt's ``recall`` slot."""

    slot = "recall"
    in_dms = True

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        return await self._memory.provide(persona, msg, data)
