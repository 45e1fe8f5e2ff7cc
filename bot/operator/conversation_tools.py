"""What a user may do to their own conversation: reset it, forget exchanges, add a core memory, see their
figures (a new answer to the last message is a swipe: bot/features/swipes/).

Plain logic over the :class:`~bot.reply.pipeline.ReplyPipeline` and the store, so the slash-command cog, the
console and tests drive exactly the same code. Every operation is scoped to one user and one conversation
scope (``dm`` or ``channel:<id>``, see :attr:`bot.reply.prompting.Incoming.scope`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.config import MemorySettings
from bot.core.i18n import N_, Explained, t, tn
from bot.core.numbers import dollars, number
from bot.core.tokens import history_tokens
from bot.reply.persona_runtime import StageStatus, dm_greeted_key, stage_status
from bot.reply.pipeline import ReplyPipeline
from database.records import PRIVATE_NOTE_SOURCE, History, Turn, Usage
from database.store import Store
from memory.consent import Consent

log = logging.getLogger(__name__)

FORGET_MIN, FORGET_MAX, FORGET_DEFAULT = 1, 10, 5
REMEMBER_MAX_CHARS = 1000


class InvalidInput(Explained):
    """Bad user input; the message is a one-line explanation meant for the user (``said`` in their
    language where it is one of the catalogs' lines)."""


@dataclass(frozen=True)
class Pair:
    """One exchange: a user message and the answer(s) that followed it (either side may be missing)."""

    turn_ids: tuple[int, ...]
    user_text: str
    assistant_text: str

    @property
    def key(self) -> int:
        """A stable identifier (the first turn's id), usable in a button's custom id."""
        return self.turn_ids[0]


def pairs_of(turns: Sequence[Turn]) -> list[Pair]:
    """Group turns into exchanges, oldest first. A user turn opens an exchange; the assistant turns after it
    belong to it. Consecutive user turns (a reply that failed keeps only the user turn) are separate
    exchanges; assistant turns with no user turn before them (after a summarization) stand alone."""
    pairs: list[Pair] = []
    ids: list[int] = []
    user: list[str] = []
    assistant: list[str] = []

    def close() -> None:
        if ids:
            pairs.append(Pair(tuple(ids), "\n\n".join(user), "\n\n".join(assistant)))

    for turn in turns:
        if turn.role == "user":
            close()
            ids, user, assistant = [turn.id], [turn.content], []
        else:
            ids.append(turn.id)
            assistant.append(turn.content)
    close()
    return pairs


@dataclass(frozen=True)
class StatusFigures:
    usage: Usage
    premium: bool
    history_messages: int
    history_tokens: int
    has_summary: bool
    core_memories: int
    stage: StageStatus | None = None  # the character's evolution (None when it has no stages)

    def fields(self, *, where: str, limits: str | None, character: str,
               feeling: str | None, language: str = "en") -> list[tuple[str, str]]:
        """/status as named figures, in the order shown and in ``language``: ``where`` the conversation is
        ("our DMs", "this channel", already said in it), today's spending ``limits`` and how the
        ``character`` feels when those are shown."""
        usage = self.usage
        out = [(t(language, "Plan"), t(language, "Premium") if self.premium else t(language, "Standard"))]
        if limits:
            out.append((t(language, "Today's limits"), limits))
        out.append((t(language, "Usage (all time)"),
                    tn(language, "{count} call", "{count} calls", usage.calls,
                       count=number(usage.calls, language))
                    + " · " + t(language, "{total} tokens ({input} in, {output} out, {read} cache read, "
                                          "{written} cache write)",
                                total=number(usage.total_tokens, language),
                                input=number(usage.input_tokens, language),
                                output=number(usage.output_tokens, language),
                                read=number(usage.cache_read_tokens, language),
                                written=number(usage.cache_creation_tokens, language))
                    + " · " + dollars(usage.cost, language)))
        out.append((t(language, "Conversation in {where}", where=where),
                    tn(language, "{count} message", "{count} messages", self.history_messages,
                       count=number(self.history_messages, language))
                    + " · " + t(language, "{tokens} tokens", tokens=number(self.history_tokens, language))
                    + (" " + t(language, "(with a summary of earlier talk)") if self.has_summary else "")))
        out.append((t(language, "Core memories"), number(self.core_memories, language)))
        if feeling is not None:
            out.append((t(language, "How {character} feels", character=character), feeling))
        if self.stage is not None:
            stage = self.stage
            out.append((t(language, "Stage"),
                        (stage.name or t(language, "not reached yet")) + " · "
                        + tn(language, "{count} interaction", "{count} interactions", stage.interactions,
                             count=number(stage.interactions, language))
                        + (" · " + t(language, "next: {stage} at {at}", stage=stage.next_name,
                                     at=number(stage.next_at, language)) if stage.next_name else "")))
        return out


class ConversationTools:
    def __init__(self, pipeline: ReplyPipeline, store: Store, memory: MemorySettings) -> None:
        """``pipeline``: the main character's, which drafts; ``memory``: the memory section, following
        reloads (its default consent)."""
        self.pipeline = pipeline
        self.store = store
        self.memory = memory

    @property
    def character_key(self) -> str:
        return self.pipeline.character_key

    async def history(self, user_id: int, scope: str) -> History:
        return await self.store.conversations.history(self.character_key, user_id, scope)

    # -- reset and forget

    async def reset(self, user_id: int, scope: str) -> int:
        """Clear the conversation's turns and summary (core memories stay). Returns turns removed. A new
        conversation opens with the greeting again, as a new SillyTavern chat does."""
        await self.store.state.delete(dm_greeted_key(self.character_key, user_id, scope))
        return await self.store.conversations.reset_conversation(self.character_key, user_id, scope)

    async def recent_pairs(self, user_id: int, scope: str, count: int = FORGET_DEFAULT) -> list[Pair]:
        """The last ``count`` exchanges, oldest first."""
        if not FORGET_MIN <= count <= FORGET_MAX:
            raise InvalidInput(N_("count must be between {low} and {high}, got {count}."), low=FORGET_MIN,
                               high=FORGET_MAX, count=count)
        return pairs_of((await self.history(user_id, scope)).turns)[-count:]

    async def forget(self, user_id: int, scope: str, pairs: Sequence[Pair]) -> int:
        """Delete the chosen exchanges. Only turns still in this user's conversation here are touched, so a
        stale or forged selection can never reach anyone else's history. Returns turns deleted."""
        current = {turn.id for turn in (await self.history(user_id, scope)).turns}
        wanted = [tid for pair in pairs for tid in pair.turn_ids if tid in current]
        return await self.store.conversations.delete_turns(wanted)

    # -- memories and figures

    async def remember(self, user_id: int, user_name: str, text: str, *, private: bool = False,
                       guild_id: int | None = None, quoted_user_id: int | None = None) -> int:
        """Add a core memory at the user's request. Raises :class:`InvalidInput` for empty or too long text,
        and when ``memory_consent`` says this user is not remembered (an explicit request does not override
        their /memory choice). A memory asked for in a DM or a private place (``private``) is private: it
        never reaches a channel's prompt; one asked for in a server (``guild_id``) belongs to that server
        (issue 49), and one of no known place is kept private. ``quoted_user_id``: whose words the memory
        quotes ("Remember this", checked first with :meth:`may_quote`): theirs to forget too."""
        privacy = self.store.privacy
        mark = privacy.mark()  # first thing: a /forget_me from now on, and nothing of this is kept
        content = text.strip()
        if not content:
            raise InvalidInput(N_("Tell me what to remember: the memory cannot be empty."))
        if len(content) > REMEMBER_MAX_CHARS:
            raise InvalidInput(N_("That is {length} characters; a memory can be at most {limit}."),
                               length=len(content), limit=REMEMBER_MAX_CHARS)
        user = await self.store.people.get_user(user_id)
        answer = user.memory_consent if user is not None else None
        consent = Consent(self.store.servers, self.store.people, self.memory.memory_consent)
        if not consent.allows(answer):
            if answer is False:
                raise InvalidInput(N_("You turned my memory off with `/memory opt-out`, so I keep "
                                      "nothing new about you. Run `/memory opt-in` first if you want me to "
                                      "remember this."))
            raise InvalidInput(N_("I only remember people who opted in: run `/memory opt-in` first, then ask "
                                  "me again."))
        private = private or guild_id is None
        source = PRIVATE_NOTE_SOURCE if private else "user"
        # A forget that committed between the awaits above leaves no user row nor memory behind; one that
        # begins during the writes waits for them, then deletes them with the rest.
        async with privacy.writing_about(user_id, mark) as allowed:
            if not allowed:
                raise InvalidInput(N_("You asked me to forget you while I was noting this, so I kept "
                                      "nothing."))
            await self.store.people.ensure_user(user_id, user_name)  # core memories reference the user row
            return await self.store.memories.add_core_memory(self.character_key, user_id, content,
                                                             source=source,
                                                             guild_id=None if private else guild_id,
                                                             quoted_user_id=quoted_user_id)

    async def may_quote(self, author_id: int, author_name: str, written_at: datetime,
                        guild_id: int | None) -> None:
        """Raises :class:`InvalidInput` when someone else's words may not be kept as a note: the author ran
        /forget_me since writing them, or is not remembered under the rule of the server they wrote in (or
        the global one: the note is kept with DMs, which follow it). A note is the asker's, but the words
        stay the author's."""
        forgotten = self.store.privacy.forgotten_at(author_id)
        if forgotten is not None and written_at <= forgotten:
            raise InvalidInput(N_("{author} asked me to forget them after writing this, so I won't keep it."),
                               author=author_name)
        user = await self.store.people.get_user(author_id)
        answer = user.memory_consent if user is not None else None
        consent = Consent(self.store.servers, self.store.people, self.memory.memory_consent)
        if not (consent.allows(answer) and consent.allows(answer, await consent.mode_for(guild_id))):
            raise InvalidInput(N_("{author} has not agreed to be remembered (their `/memory` choice), so I "
                                  "won't keep their words."), author=author_name)

    async def status(self, user_id: int, scope: str) -> StatusFigures:
        user = await self.store.people.get_user(user_id)
        history = await self.history(user_id, scope)
        memories = await self.store.memories.core_memories(self.character_key, user_id)
        interactions, stored_stage = await self.store.characters.character_state(self.character_key)
        return StatusFigures(
            usage=await self.store.usage.totals(user_id), premium=bool(user and user.premium),
            history_messages=len(history.turns), history_tokens=history_tokens(history),
            has_summary=bool(history.summary), core_memories=len(memories),
            stage=stage_status(self.pipeline.persona, interactions, stored_stage))
