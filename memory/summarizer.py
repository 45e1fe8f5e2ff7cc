"""Background summarization of long conversations, and the core memories it keeps up to date.

After every reply (an engine turn listener) the conversation's stored size is checked: once its turns and
summary pass ``conversation_token_threshold`` tokens, a summarization pass is scheduled
as an asyncio task (one
at a time per conversation; the reply never waits for it):

1. the character, with its own prompt as the system prompt, summarizes the older turns (and any earlier
   summary) in its own voice, following the persona's ``summarization_prompt``;
2. with ``core_memory_prompt`` it rewrites its core memories of the user, merging the old ones with what
   happened (one list, rewritten, not appended to); when they pass ``core_memory_token_threshold`` they are
   condensed with ``core_memory_dump``;
3. one transaction replaces the older turns by the summary (the last ``history_keep_messages`` turns stay) and
   the memories by the new version (the old one is archived; admins can list and restore versions).

Memories drawn from direct messages and private places are stored with the private source and never reach
a channel's prompt; a channel's summarization never sees them either. A server channel's pass rewrites only
that server's memories and sees no other server's: one server's memories never fold into another's, nor
private ones into a server's (issue 49). When anything fails, nothing is changed and the periodic
sweep (:meth:`Summarizer.sweep`) retries the pass; the conversation's own turns leave it alone for
``RETRY_AFTER_SECONDS``, so that while Claude is failing every message does not start a full pass again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from bot.core.claude import ClaudeClient, ClaudeUnavailable, Prompt
from bot.core.config import MemorySettings
from bot.core.i18n import N_
from bot.core.lines import Figure, Line
from bot.core.localtime import snowflake_time
from bot.core.persona.model import Persona
from bot.core.stages import Incoming, ReplyResult, private_scope, scope_channel
from bot.core.text import clean_name, defuse
from bot.core.tokens import count_tokens, summary_tokens
from database.models import utcnow
from database.records import NOTE_SOURCES, PRIVATE_SOURCE, Archived, FactRow, History, Turn, VersionReason
from database.store import Store
from database.visibility import pass_reads, pass_rewrites
from memory.consent import Consent
from memory.factlines import line, said_once
from memory.facts import MAX_FACT_CHARS, FactIndex
from memory.passtext import (
    SUMMARY_RULES,
    fill,
    language_rule,
    outdated,
    parse_memories,
    rewrite_text,
    task_system,
    transcript,
    written_in,
)
from memory.present import without_facts
from memory.reconcile import told_wherever

log = logging.getLogger(__name__)

CHANNEL_SOURCE = "summary"
SUMMARY_MAX_TOKENS = 1500
MEMORY_MAX_TOKENS = 2000
# After a failed pass, turns wait this long to try again (the sweep retries sooner).
RETRY_AFTER_SECONDS = 600.0


class SummaryFailed(Exception):
    """Claude failed or gave nothing usable: the conversation stays as it is."""


FACTS_SHOWN = 30  # the person's known facts shown to a pass, most often mentioned first
PAST_SHOWN = 10  # and of those no longer true, the most recently closed


def first_said(turns: Sequence[Turn]) -> datetime | None:
    """When the first of ``turns`` was said on Discord (the oldest message id's time; None without ids):
    where a first summary starts telling (memory/present.py)."""
    ids = [t.discord_message_id for t in turns if t.discord_message_id]
    return snowflake_time(min(ids)) if ids else None


class Summarizer:
    @property
    def writing(self) -> int:
        """Summaries being written now (the metrics' queue depth)."""
        return len(self._tasks)

    def __init__(self, store: Store, claude: ClaudeClient, settings: MemorySettings, character_key: str,
                 persona: Callable[[], Persona], consent: Consent,
                 notify: Callable[[Line], None] | None = None) -> None:
        self.store = store
        self.notify = notify  # verbose mode's log-channel mirror: what happened, never what was said
        self.claude = claude
        self.settings = settings
        self.character_key = character_key
        self.persona = persona
        self.consent = consent
        self._tasks: dict[tuple[int, str], asyncio.Task[bool]] = {}
        # conversation -> time.monotonic() of its last failure
        self._failed_at: dict[tuple[int, str], float] = {}
        self.retry_after = RETRY_AFTER_SECONDS
        self.completed = 0
        self.failed = 0
        # Answers the nightly batch brought back, by (purpose, the prompt's text): a pass asking exactly that
        # takes it instead of calling (a conversation that changed since asks afresh).
        self._ahead: dict[tuple[str, str], str] = {}
        self.batch_poll = 5.0  # seconds before the first poll of a batch (tests shorten it)

    # -- triggering

    async def on_turn(self, msg: Incoming, result: ReplyResult) -> None:
        """Engine turn listener: schedule a pass when the conversation has grown past the threshold."""
        if not result.turn_ids:  # nothing was stored (consent), so nothing grew
            return
        await self.check(msg.author_id, msg.scope, msg.author_name, backoff=True, guild_id=msg.guild_id)

    async def check(self, user_id: int, scope: str, user_name: str, *, backoff: bool = False,
                    guild_id: int | None = None) -> asyncio.Task[bool] | None:
        """Schedule a pass if the conversation is over the threshold. ``backoff``: not while its last pass
        failed less than ``retry_after`` seconds ago (turns pass it; the sweep does not)."""
        if self.running(user_id, scope) or (backoff and self.backing_off(user_id, scope)):
            return None
        turns, tokens, summary = await self.store.conversations.conversation_tokens(
            self.character_key, user_id, scope)
        tokens += summary_tokens(summary)
        # Stored counts are the local tokenizer's; the threshold is in the reply model's tokens (the 5.x
        # tokenizer makes about 30 % more of the same text), so the conversation is summarized sooner there.
        tokens = int(tokens * self.claude.token_factor())
        if (tokens <= self.settings.conversation_token_threshold
                or turns <= self.settings.history_keep_messages):
            return None
        return self.schedule(user_id, scope, user_name, guild_id)

    def backing_off(self, user_id: int, scope: str) -> bool:
        failed = self._failed_at.get((user_id, scope))
        if failed is None:
            return False
        if time.monotonic() - failed < self.retry_after:
            return True
        del self._failed_at[(user_id, scope)]
        return False

    def running(self, user_id: int, scope: str) -> bool:
        task = self._tasks.get((user_id, scope))
        return task is not None and not task.done()

    def schedule(self, user_id: int, scope: str, user_name: str,
                 guild_id: int | None = None) -> asyncio.Task[bool] | None:
        """Start a pass unless one is already running for this conversation (``guild_id``: its server, when
        known; else the log tells)."""
        key = (user_id, scope)
        if self.running(user_id, scope):
            return None
        task = asyncio.create_task(self._guarded(user_id, scope, user_name, guild_id),
                                   name=f"summarize-{user_id}-{scope}")
        self._tasks[key] = task
        def forget(t: asyncio.Task[bool]) -> None:
            if self._tasks.get(key) is t:
                self._tasks.pop(key, None)

        task.add_done_callback(forget)
        return task

    async def sweep(self) -> int:
        """Schedule every conversation over the threshold (retries passes that failed). Returns how many."""
        scheduled = 0
        local = int(self.settings.conversation_token_threshold / self.claude.token_factor())
        for user_id, scope in await self.store.conversations.conversations_over(self.character_key, local):
            if self.running(user_id, scope):
                continue
            user = await self.store.people.get_user(user_id)
            if await self.check(user_id, scope, user.name if user and user.name else f"user {user_id}"):
                scheduled += 1
        return scheduled

    async def summarize_batched(self, *, max_wait: float) -> int:
        """The nightly pass: every conversation over the threshold summarized with its summaries, then its
        core-memory rewrites, each sent as one Message Batch (half price). What a batch did not answer
        (errored, expired, over ``max_wait``, another backend) is asked directly by the same passes as by
        day, and the answers go through the same parsing and storing. Returns how many were compacted."""
        local = int(self.settings.conversation_token_threshold / self.claude.token_factor())
        # user, scope, name, the pass's inputs (the history, the turns it drops)
        due: list[tuple[int, str, str, tuple[History, list[Turn]]]] = []
        for user_id, scope in await self.store.conversations.conversations_over(self.character_key, local):
            if self.running(user_id, scope) or not await self.consent.remembers(user_id):
                continue
            history = await self.store.conversations.history(self.character_key, user_id, scope)
            keep = self.settings.history_keep_messages
            if history.conversation_id is None or len(history.turns) <= keep:
                continue
            user = await self.store.people.get_user(user_id)
            due.append((user_id, scope, clean_name(user.name) if user and user.name else f"user {user_id}",
                        (history, history.turns[:len(history.turns) - keep])))
        if not due:
            return 0
        persona = self.persona()
        summaries: dict[str, str] = {}
        for i, (user_id, scope, name, (h, dropped)) in enumerate(due):
            private, guild = await self._place(scope, None)
            summaries[f"s{i}"] = self._summary_text(persona, h, dropped, name, private_scope(scope),
                                                    await self._facts(user_id, name, private, guild))
        users = {f"s{i}": user_id for i, (user_id, *_) in enumerate(due)}
        answered = await self._batch("summary", persona, summaries, users, SUMMARY_MAX_TOKENS, max_wait)
        memories: dict[str, str] = {}
        for i, (user_id, scope, name, (_, dropped)) in enumerate(due):
            summary = answered.get(f"s{i}")
            if summary:  # the rest ask their summary directly first, then their memories
                private, guild = await self._place(scope, None)
                memories[f"s{i}"] = await self._memories_text(
                    persona, summary, dropped, user_id, name, PRIVATE_SOURCE if private else CHANNEL_SOURCE,
                    guild)
        await self._batch("core_memory", persona, memories, users, MEMORY_MAX_TOKENS, max_wait)
        try:
            return sum([await self._guarded(user_id, scope, name, None) for user_id, scope, name, _ in due])
        finally:
            self._ahead.clear()

    async def _batch(self, purpose: str, persona: Persona, texts: dict[str, str], users: dict[str, int],
                     max_tokens: int, max_wait: float) -> dict[str, str]:
        """``texts`` asked as one batch; each answer kept for the pass that asks the same text."""
        prompts = {k: Prompt(system=self._system(persona, ""), messages=[{"role": "user", "content": t}])
                   for k, t in texts.items()}
        completions = await self.claude.complete_batch(prompts, purpose=purpose, max_tokens=max_tokens,
                                                       guild_id=None,
                                                       users=users, max_wait=max_wait,
                                                       first_poll=self.batch_poll)
        answered = {k: c.text.strip() for k, c in completions.items() if c.text.strip()}
        self._ahead.update({(purpose, texts[k]): text for k, text in answered.items()})
        return answered

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    def forget_user(self, user_id: int) -> None:
        """Cancel passes about a user whose data is being deleted."""
        for (uid, _), task in list(self._tasks.items()):
            if uid == user_id:
                task.cancel()
        for key in [k for k in self._failed_at if k[0] == user_id]:
            del self._failed_at[key]

    async def _guarded(self, user_id: int, scope: str, user_name: str, guild_id: int | None) -> bool:
        try:
            done = await self.summarize(user_id, scope, user_name, guild_id=guild_id)
        except asyncio.CancelledError:
            raise
        except SummaryFailed as exc:
            self.failed += 1
            self._failed_at[(user_id, scope)] = time.monotonic()
            log.warning("summarization of %s/%s failed, history kept (will retry): %s", user_id, scope, exc)
            return False
        except Exception:
            self.failed += 1
            self._failed_at[(user_id, scope)] = time.monotonic()
            log.exception("summarization of %s/%s failed, history kept (will retry)", user_id, scope)
            return False
        self._failed_at.pop((user_id, scope), None)
        if done:
            self.completed += 1
        return done

    # -- the pass

    async def summarize(self, user_id: int, scope: str, user_name: str, *,
                        guild_id: int | None = None) -> bool:
        """One pass. True when the history was compacted; False when there was nothing to do or the
        conversation changed meanwhile; raises SummaryFailed when Claude failed. ``guild_id``: the server of
        a channel's conversation (looked up in the log when not given); the pass's model calls are spent
        for it (a pass a reply started: that reply's server)."""
        if not await self.consent.remembers(user_id):
            return False
        # A display name is the person's text too: as every request shows it, no tag or quote in it.
        user_name = clean_name(user_name)
        history = await self.store.conversations.history(self.character_key, user_id, scope)
        keep = self.settings.history_keep_messages
        if history.conversation_id is None or len(history.turns) <= keep:
            return False
        dropped = history.turns[:len(history.turns) - keep]
        persona = self.persona()
        private, guild = await self._place(scope, guild_id)
        source = PRIVATE_SOURCE if private else CHANNEL_SOURCE
        summary = await self._summary(persona, history, dropped, user_id, user_name, private_scope(scope),
                                      await self._facts(user_id, user_name, private, guild), guild_id)
        memories, closing = await self._memories(persona, summary, dropped, user_id, user_name, source, guild,
                                                 guild_id)
        done = await self.store.conversations.apply_summary(
            history.conversation_id, summary=summary, previous_summary=history.summary,
            drop_through_id=dropped[-1].id, expected_dropped=len(dropped), character=self.character_key,
            user_id=user_id, memories=memories, source=source,
            reason=VersionReason(Archived.SUMMARIZED, scope), guild_id=guild, covers_from=first_said(dropped))
        if done:
            closed = await self._close(user_id, closing)
            log.info("summarized %d turns of %s/%s (%d core memories, %d facts closed)", len(dropped),
                     user_id, scope, len(memories), closed)
            if self.notify is not None:
                where = (Line(N_("their DMs")) if scope == "dm" else Line(N_("a private place")) if private
                         else Line(N_("channel {channel}"), channel=scope_channel(scope)))
                self.notify(Line.tn(len(dropped),
                                    "Summarized {count} message of user {user}'s conversation in {where} "
                                    "({memories} core memories)",
                                    "Summarized {count} messages of user {user}'s conversation in {where} "
                                    "({memories} core memories)",
                                    user=user_id, where=where, memories=Figure(len(memories))))
        else:
            log.info("conversation %s/%s changed during summarization; will try again later", user_id, scope)
        return done

    async def _place(self, scope: str, guild_id: int | None) -> tuple[bool, int | None]:
        """Where a conversation's memories belong: (private, server). DMs and private places are private
        (issue 49); a channel's server is looked up in the log when not given, and a channel of no known
        server keeps its memories private rather than shown anywhere."""
        private = private_scope(scope)
        if not private and guild_id is None:
            channel = scope.rsplit(":", 1)[-1]
            guild_id = await self.store.log.guild_of(int(channel)) if channel.isdigit() else None
            private = guild_id is None
        return private, None if private else guild_id

    def _system(self, persona: Persona, user_name: str) -> list[dict[str, object]]:
        return task_system(persona)

    async def _ask(self, persona: Persona, user_name: str, text: str, user_id: int, purpose: str,
                   max_tokens: int, spent_for: int | None) -> str:
        """The model's answer to ``text``; ``spent_for``: the server the call is charged to."""
        ahead = self._ahead.pop((purpose, text), None)
        if ahead is not None:  # the nightly batch answered this very prompt
            return ahead
        prompt = Prompt(system=self._system(persona, user_name), messages=[{"role": "user", "content": text}])
        try:
            completion = await self.claude.summarize(prompt, user_id=user_id, guild_id=spent_for,
                                                     purpose=purpose, max_tokens=max_tokens)
        except ClaudeUnavailable as exc:
            raise SummaryFailed(str(exc)) from None
        if not completion.text.strip():
            raise SummaryFailed(f"empty {purpose} answer")
        return completion.text.strip()

    async def _summary(self, persona: Persona, history: History, dropped: Sequence[Turn], user_id: int,
                       user_name: str, private: bool, facts: str, spent_for: int | None) -> str:
        text = self._summary_text(persona, history, dropped, user_name, private, facts)
        return await self._ask(persona, user_name, text, user_id, "summary", SUMMARY_MAX_TOKENS, spent_for)

    async def _facts(self, user_id: int, user_name: str, private: bool, guild_id: int | None,
                     refs: dict[str, FactRow] | None = None, apart: bool = False) -> str:
        """The person's facts this pass may see (FactIndex.seen_by: a server's sees no DM secret, no other
        server's): the current ones as still true (a doubt as such), so that what it writes neither restates
        nor contradicts them, and those no longer true as past, dated, so that it rebuilds what it kept of
        them; '' when there are none. ``refs``: filled with the short id shown before each current fact
        (none shown without it); ``apart``: for the core-memory pass, which merges the memories, not these
        (recalled beside them, they are told as kept apart)."""
        current, past = await self._seen_facts(user_id, private, guild_id)
        current.sort(key=lambda r: (-r.reference_count, -r.last_mentioned.timestamp()))
        past.sort(key=lambda r: r.valid_until or r.told, reverse=True)
        parts: list[str] = []
        if current:
            doubts: set[frozenset[str]] = set()
            shown = [r for r in current[:FACTS_SHOWN] if not said_once(r, doubts)]
            lines = [line(r) for r in shown]
            if refs is not None:  # "- [k1] Alice lives in Leeds": the pass may name one no longer true
                refs.update((f"k{n}", r) for n, r in enumerate(shown, 1))
                lines = [f"- [{ref}] {line(r)[2:]}" for ref, r in refs.items()]
            heading = (f"Facts kept apart about {user_name}, recalled beside your memories whenever they "
                       "matter (what is still true; leave them out of your memories, and do not contradict "
                       "them unless what happened changes them; where one is unsure, keep the doubt)"
                       if apart else
                       f"Facts already kept about {user_name} (what is still true; do not repeat them, and "
                       "do not contradict them unless the conversation changes them; where one is unsure, "
                       "keep the doubt)")
            parts.append(heading + ":\n" + defuse("".join(lines)).rstrip())
        if past:
            parts.append(f"No longer true about {user_name} (past, with the day it stopped: never write "
                         "these as true now; a memory that says one is out of date):\n"
                         + defuse("".join(line(r) for r in past[:PAST_SHOWN])).rstrip())
        return "\n\n".join(parts)

    async def _seen_facts(self, user_id: int, private: bool,
                          guild_id: int | None) -> tuple[list[FactRow], list[FactRow]]:
        """(current, no longer true) of the person's facts a place may see (FactIndex.seen_by)."""
        rows = await self.store.facts.rows(user_id)
        index = FactIndex.build(rows, lexical=False)
        seen = index.seen_by(private=private, guild_id=guild_id, everywhere=False)
        return ([r for r, ok in zip(rows, seen & index.current, strict=True) if ok],
                [r for r, ok in zip(rows, seen & index.past, strict=True) if ok])

    @staticmethod
    def _summary_text(persona: Persona, history: History, dropped: Sequence[Turn], user_name: str,
                      private: bool, facts: str = "") -> str:
        # What was said is data: tagged (the tag says where, so no heading is needed; the lines name who), the
        # tags in it defused. The earlier summary is the character's own words.
        where = "private" if private else "channel"  # a DM or a private place; else a server channel
        parts = [f"Earlier summary (cover it too):\n{defuse(history.summary)}"] if history.summary else []
        # written in the language the person writes in (the transcript's days too), as their facts are
        language = written_in(t.content for t in dropped if t.role == "user")
        lines = transcript(dropped, persona, user_name, language)
        parts.append(f'<transcript place="{where}">\n{lines}\n</transcript>')
        if facts:
            parts.append(facts)
        rule = language_rule(language, user_name)
        parts.append(fill(persona.summarization_prompt, persona, user_name)
                     + f"\n{SUMMARY_RULES} A few short paragraphs." + (f" {rule}" if rule else ""))
        return "\n\n".join(parts)

    async def _memories(self, persona: Persona, summary: str, dropped: Sequence[Turn], user_id: int,
                        user_name: str, source: str, guild_id: int | None,
                        spent_for: int | None) -> tuple[list[str], dict[int, str]]:
        """The rewritten memories, and the kept facts the pass found no longer true (id -> the fact in the
        past tense, "" when it gave none)."""
        refs: dict[str, FactRow] = {}
        asked = await self._memories_text(persona, summary, dropped, user_id, user_name, source, guild_id,
                                          refs)
        text, gone = outdated(await self._ask(persona, user_name, asked, user_id, "core_memory",
                                              MEMORY_MAX_TOKENS, spent_for))
        # as the nightly extraction: closed only where every place that sees the fact sees this conversation
        # (a DM never closes a server's fact: the server would learn from it what was said in private)
        closing = {refs[ref].id: past for ref, past in gone.items() if ref in refs and not refs[ref].pinned
                   and told_wherever(refs[ref], source == PRIVATE_SOURCE, guild_id)}
        return await self._checked(parse_memories(text), persona, user_id, user_name, spent_for), closing

    async def _close(self, user_id: int, closing: dict[int, str]) -> int:
        """Close the facts a day's pass found no longer true, at once: until the nightly extraction, a
        request would otherwise recall the old fact as current beside memories telling the new one (a
        closed fact is recalled as history, in its past tense: memory/factlines.py). How many closed."""
        now = utcnow()
        closed = 0
        for fact_id, past in closing.items():
            closed += await self.store.facts.close(user_id, fact_id, now, past[:MAX_FACT_CHARS] or None)
        return closed

    async def _memories_text(self, persona: Persona, summary: str, dropped: Sequence[Turn], user_id: int,
                             user_name: str, source: str, guild_id: int | None,
                             refs: dict[str, FactRow] | None = None) -> str:
        """The core-memory request. After a summary (a day's or the night's pass), the kept facts are shown
        with short ids (``refs`` filled with them), so that the pass can name one the conversation made no
        longer true, in any language: it is closed at once (:meth:`_close`)."""
        stored = await self.store.memories.placed_memories(self.character_key, user_id, usable=True)
        own = [m.content for m in stored if pass_rewrites(m, source, guild_id)]
        read = [m for m in stored
                if not pass_rewrites(m, source, guild_id) and pass_reads(m, source, guild_id)]
        parts = [f"What you remember about {user_name} so far:\n"
                 + ("\n".join(f"- {m}" for m in own) or "(nothing yet)")]
        # Quoted as a reply quotes them (bot/reply/prompting.py): whom they are about, and a person's own
        # notes (/remember) as their words, where "I" is them, never the character.
        name = clean_name(user_name)
        others = "\n".join(f"- {defuse(m.content)}" for m in read if m.source not in NOTE_SOURCES)
        notes = "\n".join(f"- {defuse(m.content)}" for m in read if m.source in NOTE_SOURCES)
        if others:
            parts.append(f"Also remembered about {name} elsewhere (do not repeat these):\n"
                         f'<memories about="{name}">\n{others}\n</memories>')
        if notes:
            parts.append(f"What {name} asked you to remember, in their own words (do not repeat these):\n"
                         f'<notes by="{name}" words="{name}\'s own, about themselves">\n{notes}\n</notes>')
        if summary and refs is None:  # (the nightly batch asks the very text the pass would)
            refs = {}
        facts = await self._facts(user_id, user_name, source == PRIVATE_SOURCE, guild_id,
                                  refs if summary else None, apart=True)
        if facts:
            parts.append(facts)
        if summary:
            parts.append(f"What just happened with {user_name} (your summary):\n{summary}")
            ask = fill(persona.core_memory_prompt, persona, user_name)
        else:  # a rewrite because facts changed (:meth:`refresh`): no conversation to merge
            ask = (f"{persona.name}, update what you remember about {name}: what you know of them "
                   "changed since you wrote these memories. Rewrite them so that none tells as true what is "
                   "no longer true, keeping the rest as it is.")
        closing = ""
        if refs:  # the ids, not the facts' words: any language, and nothing to match
            closing = (" After the list, only this line for each fact already kept that what just happened "
                       f"shows is no longer true ({name} moved, changed jobs, parted): "
                       '<outdated ref="its id">the fact as it now reads in the past tense</outdated>.')
        rule = language_rule(await self._language(user_id, dropped, notes), name)
        parts.append(ask + "\nAnswer with the complete, updated list: one memory per line, "
                       "each line starting with "
                       f"\"- \" and naming {name} (whose memory it is stays clear).{closing} Nothing else."
                       + (f" {rule}" if rule else ""))
        return "\n\n".join(parts)

    async def _language(self, user_id: int, dropped: Sequence[Turn], notes: str) -> str | None:
        """The language the person writes in: that of what they just said, else of their own notes, else of
        the facts kept about them (kept in their words)."""
        return (written_in(t.content for t in dropped if t.role == "user") or written_in([notes])
                or written_in(r.fact for r in (await self.store.facts.rows(user_id))[-40:]))

    async def refresh(self, user_id: int, places: Iterable[tuple[bool, int | None]]) -> int:
        """Rewrite the core memories of ``places`` ((private, server) pairs) after some of the person's facts
        closed as past, so that none keeps telling the old one as true (the next summary pass would only
        come with enough new talk); a place without memories is left alone. How many sets were rewritten;
        a failure is logged and leaves the set as it was."""
        if not await self.consent.remembers(user_id):
            return 0
        user = await self.store.people.get_user(user_id)
        name = clean_name(user.name) if user is not None and user.name else f"user {user_id}"
        stored = await self.store.memories.placed_memories(self.character_key, user_id, usable=True)
        done = 0
        for private, guild in sorted(set(places), key=str):
            source, guild = (PRIVATE_SOURCE, None) if private else (CHANNEL_SOURCE, guild)
            if not any(pass_rewrites(m, source, guild) for m in stored):
                continue
            persona = self.persona()
            try:
                asked = await self._memories_text(persona, "", (), user_id, name, source, guild)
                text = await self._ask(persona, name, asked, user_id, "core_memory", MEMORY_MAX_TOKENS, guild)
                memories = await self._checked(parse_memories(text), persona, user_id, name, guild)
            except SummaryFailed as exc:
                log.warning("core memories of %s not rewritten after their facts changed: %s", user_id, exc)
                continue
            await self.store.memories.replace_core_memories(
                self.character_key, user_id, memories, reason=VersionReason(Archived.FACTS_CHANGED),
                source=source, guild_id=guild)
            done += 1
        return done

    async def refresh_summaries(self, user_id: int, places: Iterable[tuple[bool, int | None]]) -> int:
        """Rewrite the summaries of the person's conversations in ``places`` ((private, server) pairs) after
        some of their facts closed as past, each told the facts its place may see (now and no longer
        true), so that no request shows a summary telling an old fact as current until the next pass. A
        DM or private place is private; a channel's server is the log's (a channel of no known server is
        left alone: what it may see is unknown). How many were rewritten; when the rewrite fails, the clauses
        that tell a fact no longer true in its words are dropped (memory/present.py ``without_facts``)."""
        if not await self.consent.remembers(user_id):
            return 0
        wanted = set(places)
        user = await self.store.people.get_user(user_id)
        name = clean_name(user.name) if user is not None and user.name else f"user {user_id}"
        done = 0
        for scope, summary in await self.store.conversations.summaries(self.character_key, user_id):
            private = private_scope(scope)
            guild: int | None = None
            if not private:
                channel = scope.rsplit(":", 1)[-1]
                guild = await self.store.log.guild_of(int(channel)) if channel.isdigit() else None
                if guild is None:
                    continue
            if (private, guild) not in wanted:
                continue
            persona = self.persona()
            facts = await self._facts(user_id, name, private, guild)
            rule = language_rule(await self._language(user_id, (), ""), name)
            try:
                text = await self._ask(persona, name, rewrite_text(summary, name, private, facts, rule),
                                       user_id, "summary", SUMMARY_MAX_TOKENS, guild)
            except SummaryFailed as exc:
                # not rewritten: at least no clause still tells a fact no longer true in its very words
                _, past = await self._seen_facts(user_id, private, guild)
                text = without_facts(summary, [r.fact for r in past], name)
                log.warning("summary of %s/%s not rewritten after their facts changed (%s): %s", user_id,
                            scope, "the old facts' clauses dropped" if text != summary else "kept", exc)
                if text == summary:
                    continue
            if await self.store.conversations.rewrite_summary(self.character_key, user_id, scope,
                                                              previous=summary, summary=text):
                done += 1
        return done

    async def _checked(self, memories: list[str], persona: Persona, user_id: int,
                       user_name: str, spent_for: int | None) -> list[str]:
        """The answered memories, condensed (core_memory_dump, always direct) when they have grown long."""
        if not memories:
            raise SummaryFailed("no core memories in the answer")
        if (count_tokens("\n".join(memories)) * self.claude.token_factor()
                > self.settings.core_memory_token_threshold):
            condensed = await self._ask(
                persona, user_name,
                f"Your core memories about {user_name}:\n" + "\n".join(f"- {m}" for m in memories) + "\n\n"
                + fill(persona.core_memory_dump, persona, user_name)
                + "\nAnswer with the list only: one memory per line, each starting with \"- \".",
                user_id, "core_memory_dump", MEMORY_MAX_TOKENS, spent_for)
            memories = parse_memories(condensed) or memories
            log.info("condensed the core memories of %s to %d items", user_id, len(memories))
        return memories
