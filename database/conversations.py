"""Conversations: each person's history with the character per place (its recent turns kept in memory by
database/history_cache.py), and the one read that gathers everything a reply's prompt needs."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, delete, func, select, update

from database.boundary import DbValue, Statements
from database.engine import Database
from database.history_cache import TURN_CACHE_CONVERSATIONS, TurnCache, changes_history
from database.memories import replace_source_memories
from database.models import Conversation, HistoryMessage, utcnow
from database.person_read import Person, read_felt_since, read_person, widths
from database.place_config import stored
from database.records import (
    NOTE_SOURCES,
    History,
    PromptData,
    PromptRequest,
    RelationshipRecord,
    SeenMessage,
    Turn,
    VersionReason,
    as_utc,
)
from database.statements import recent_messages
from database.swipes import forget_turns

APPENDS_KEPT = 10_000  # conversations whose latest append is told apart (far more than replies in flight)
# A prompt read's two halves as read (_prompt_data makes the record): the person (database/person_read.py)
# and the place (history, the channel's lines).
_Place = tuple[History, list[SeenMessage]]


class Conversations:
    def __init__(self, db: Database, q: Statements) -> None:
        self.db = db
        self._q = q
        # Counts of history changes made through this store (see history_stamp).
        self._history_changes = 0
        # The serial of each conversation's latest append, the most recent APPENDS_KEPT conversations only
        # (issue 49): a serial is never reused, and a conversation no longer kept reads as the newest serial
        # forgotten, so a stamp taken before its entry went never matches one taken after.
        self._appends: OrderedDict[tuple[str, int, str], int] = OrderedDict()
        self._append_serial = 0
        self._forgotten_serial = 0
        self._turns = TurnCache(TURN_CACHE_CONVERSATIONS)
        self._widths = widths(q) if "person_singles" in q else ()

    def history_changed(self) -> None:
        self._history_changes += 1
        self._turns.clear()

    def history_stamp(self, character: str, user_id: int, scope: str) -> tuple[int, int]:
        """Changes so far to this conversation's history made through this store: a prompt read taken
        under one stamp is stale once the stamp differs."""
        return self._history_changes, self._appends.get((character, user_id, scope), self._forgotten_serial)

    # -- reads

    async def history(self, character: str, user_id: int, scope: str) -> History:
        return await self.db.read(lambda conn: self.read_history(conn, character, user_id, scope))

    def read_history(self, conn: Connection, character: str, user_id: int, scope: str) -> History:
        row = conn.execute(self._q["conversation"],
                           {"character": character, "user_id": user_id, "scope": scope}).first()
        if row is None:
            return History(None, "", [])
        cid, summary, revision, since = row
        # The revision is read before the turns: turns read later can only be newer, and a newer state
        # never carries this revision again, so a mislabelled entry is never served.
        turns = self._turns.get(cid, revision)
        if turns is None:
            turns = [Turn._make(t) for t in conn.execute(self._q["turns"], {"conversation_id": cid})]
            self._turns.put(cid, revision, turns)
        return History(cid, summary, turns, since)

    async def prompt_data_of(self, r: PromptRequest) -> PromptData:
        """Everything a reply's prompt needs, in one read, its server's part too (without it a server's
        prompt would see none of that server's memories). ``private`` (a DM) may see memories drawn from
        DMs; a channel prompt never does, and sees only ``guild_id``'s memories (its server's) unless the
        person shares them everywhere."""
        if not self.db.is_sqlite:
            return await self.read_prompt_beside(r)
        return await self.db.read(lambda conn: self.read_prompt(conn, r))

    async def prompt_data_again(self, earlier: PromptData, r: PromptRequest) -> PromptData:
        """``earlier`` (the prompt data of ``r`` read with its message's log write) read again after turns
        were appended to the conversation (the exchange of an earlier message of it): the person and the
        conversation afresh, the channel's lines kept. Those are the lines before the message, all handed to
        the log before it and all in that read (on SQLite the write that read them carried every message
        still waiting; on PostgreSQL those still on their way were added from memory, database/log.py), so
        only an edit made since would differ; they are most of the read (75 rows). After any other change to a
        history (see history_stamp) read everything again instead."""
        def read(conn: Connection) -> tuple[Person, History]:
            return self._read_person(conn, r), self.read_history(conn, r.character, r.user_id, r.scope)

        person, history = await self.db.read(read)
        return _prompt_data(person, (history, earlier.recent))

    def read_prompt(self, conn: Connection, r: PromptRequest) -> PromptData:
        return _prompt_data(self._read_person(conn, r), self._read_place(conn, r))

    async def read_prompt_beside(self, r: PromptRequest) -> PromptData:
        """read_prompt() as two reads on two connections at once (PostgreSQL): each statement is a round trip
        to the server, and on a busy host each costs milliseconds, so half of them in a row is what a
        waiting reply feels. The two halves are each consistent; together, as fresh as one read."""
        person, place = await asyncio.gather(self.db.read(lambda conn: self._read_person(conn, r)),
                                             self.db.read(lambda conn: self._read_place(conn, r)))
        return _prompt_data(person, place)

    def _read_person(self, conn: Connection, r: PromptRequest) -> Person:
        return read_person(conn, self._q, self._widths, r)

    def _read_place(self, conn: Connection, r: PromptRequest) -> _Place:
        """The conversation and its place (history, the channel's recent messages): few reads, many rows."""
        history = self.read_history(conn, r.character, r.user_id, r.scope)
        recent = (recent_messages(conn, self._q, r.channel_id, r.recent_limit, r.before_id)
                  if r.recent_limit else [])
        return history, recent

    async def conversation_tokens(self, character: str, user_id: int, scope: str) -> tuple[int, int, str]:
        """(stored turns, their tokens, the summary) of one conversation: is it due for summarization?"""

        def read(conn: Connection) -> tuple[int, int, str]:
            row = conn.execute(self._q["conversation_size"],
                               {"character": character, "user_id": user_id, "scope": scope}).first()
            if row is None:
                return 0, 0, ""
            summary, n, tokens = row
            return int(n), int(tokens), str(summary or "")

        return await self.db.read_shared(read)

    async def conversations_over(self, character: str, token_threshold: int) -> list[tuple[int, str]]:
        """(user_id, scope) of conversations whose stored history is over the threshold."""
        rows = await self.db.rows(
            select(Conversation.user_id, Conversation.scope)
            .join(HistoryMessage, HistoryMessage.conversation_id == Conversation.id)
            .where(Conversation.character == character)
            .group_by(Conversation.id, Conversation.user_id, Conversation.scope)
            .having(func.sum(HistoryMessage.tokens) > token_threshold)
        )
        return [(int(r.user_id), str(r.scope)) for r in rows]

    async def summaries(self, character: str, user_id: int) -> list[tuple[str, str]]:
        """(scope, summary) of the person's conversations that have a summary."""
        rows = await self.db.rows(
            select(Conversation.scope, Conversation.summary)
            .where(Conversation.character == character, Conversation.user_id == user_id,
                   Conversation.summary != "")
            .order_by(Conversation.id))
        return [(str(r.scope), str(r.summary)) for r in rows if r.summary]

    # -- writes

    async def append_turns(
        self, character: str, user_id: int, scope: str, turns: Iterable[Turn], *,
        consent: Callable[[bool | None], bool] | None = None,
    ) -> list[int]:
        """Store turns at the end of the conversation (created if new). Each turn carries its token count:
        counting is the caller's (bot/core/tokens.py), the data layer only keeps it. ``consent``: the rule
        the person's stored answer (``users.memory_consent``, None if never given) must pass, read in the
        same unit of work as the write (one trip, not two): nothing is stored (and [] returned) when it
        fails, and an opt-out committed before that unit is always seen by it."""
        try:
            return await self._append_turns(character, user_id, scope, list(turns), consent)
        finally:  # also after a failure: the turns may have been stored
            key = (character, user_id, scope)
            self._append_serial += 1
            self._appends[key] = self._append_serial
            self._appends.move_to_end(key)
            while len(self._appends) > APPENDS_KEPT:
                self._forgotten_serial = self._appends.popitem(last=False)[1]

    async def _append_turns(self, character: str, user_id: int, scope: str, turns: list[Turn],
                            consent: Callable[[bool | None], bool] | None) -> list[int]:
        for t in turns:
            # The Messages API rejects blank turns: one would poison the conversation.
            if not t.content.strip():
                raise ValueError("a blank turn is never stored")
            if t.tokens <= 0:
                raise ValueError("a turn's tokens must be counted before it is stored "
                                 "(bot.core.tokens.counted)")
        q = self._q
        key = {"character": character, "user_id": user_id, "scope": scope}

        def write(conn: Connection) -> tuple[int, int, int, list[int]] | None:
            row: Sequence[DbValue] | None = None
            # SQLite: (premium, memory_consent, the conversation's id and revision) in one statement
            together = q.get("conversation_consent")
            person = conn.execute(together, key).first() if together is not None else None
            if together is None and consent is not None:
                person = conn.execute(q["user"], {"user_id": user_id}).first()  # premium, memory_consent, ...
            if consent is not None and not consent(person[1] if person is not None else None):
                return None
            # Locked (on PostgreSQL; SQLite writes one at a time anyway) so that the revision before and
            # after are this append's own: the turn cache is extended only across exactly this change.
            now = utcnow()
            if person is not None and together is not None and person[2] is not None:
                row = person[2:]
            elif together is None or person is None:  # PostgreSQL (locked), or no person row to read it with
                row = conn.execute(q["conversation_locked"], key).first()
            if row is None:
                conn.execute(q["conversation_insert"],
                             {**key, "summary": "", "updated_at": now, "revision": 0})
                row = conn.execute(q["conversation_locked"], key).one()
            cid, before = int(row[0]), int(row[1])
            rows = [{"conversation_id": cid, "role": turn.role, "content": turn.content,
                     "tokens": turn.tokens, "discord_message_id": turn.discord_message_id, "created_at": now}
                    for turn in turns]
            ids = [int(r[0]) for r in conn.execute(q["turn_insert"], rows).all()]
            after = conn.execute(q["conversation_touch"],
                                 {"conversation_id": cid, "touched_at": now}).one()[0]
            return cid, before, int(after), ids

        written = await self.db.write_shared(write)
        if written is None:  # not remembered
            return []
        cid, before, after, ids = written
        # Committed: the cached turns of this conversation, if current, grow by exactly these.
        self._turns.extend(cid, before, after, [t._replace(id=i) for t, i in zip(turns, ids, strict=True)])
        return ids

    @changes_history
    async def delete_turns(self, turn_ids: Sequence[int]) -> int:
        if not turn_ids:
            return 0
        turns = HistoryMessage.id.in_(list(turn_ids))

        def write(conn: Connection) -> int:
            forget_turns(conn, turns)
            return int(conn.execute(delete(HistoryMessage).where(turns)).rowcount or 0)

        return await self.db.write(write)

    @changes_history
    async def reset_conversation(self, character: str, user_id: int, scope: str) -> int:
        """Clear a conversation's history and summary; core memories stay."""

        def write(conn: Connection) -> int:
            cid = conn.execute(
                select(Conversation.id).where(
                    Conversation.character == character,
                    Conversation.user_id == user_id,
                    Conversation.scope == scope,
                )
            ).scalar()
            if cid is None:
                return 0
            forget_turns(conn, HistoryMessage.conversation_id == cid)
            result = conn.execute(delete(HistoryMessage).where(HistoryMessage.conversation_id == cid))
            conn.execute(
                update(Conversation).where(Conversation.id == cid)
                .values(summary="", summary_since=None, updated_at=utcnow())
            )
            return int(result.rowcount or 0)

        return await self.db.write(write)

    @changes_history
    async def rewrite_summary(self, character: str, user_id: int, scope: str, *, previous: str,
                              summary: str) -> bool:
        """Replace a conversation's summary by a rewrite of it (its turns stay); False, and nothing changed,
        when the summary is no longer ``previous`` (a pass or a reset came first)."""
        result = await self.db.change(
            update(Conversation)
            .where(Conversation.character == character, Conversation.user_id == user_id,
                   Conversation.scope == scope, Conversation.summary == previous)
            .values(summary=summary, updated_at=utcnow()))
        return bool(result)

    @changes_history
    async def apply_summary(
        self,
        conversation_id: int,
        *,
        summary: str,
        previous_summary: str,
        drop_through_id: int,
        expected_dropped: int,
        character: str,
        user_id: int,
        memories: Sequence[str] | None,
        source: str,
        reason: VersionReason,
        guild_id: int | None = None,
        covers_from: datetime | None = None,
    ) -> bool:
        """Replace the turns up to ``drop_through_id`` by ``summary`` and rewrite the user's core memories of
        ``source`` and ``guild_id``'s place (the old version archived), atomically. Nothing changes, and False
        is returned, when the conversation moved under the summarizer's feet (reset, turns forgotten, another
        summary). A first summary (none before) starts telling at ``covers_from``, the time of its first
        message (default: when the first dropped turn was stored)."""

        def write(conn: Connection) -> bool:
            current = conn.execute(
                select(Conversation.summary).where(Conversation.id == conversation_id)
            ).first()
            if current is None or (current[0] or "") != previous_summary:
                return False
            dropped = conn.execute(
                select(func.count())
                .select_from(HistoryMessage)
                .where(
                    HistoryMessage.conversation_id == conversation_id, HistoryMessage.id <= drop_through_id
                )
            ).scalar_one()
            if int(dropped) != expected_dropped:
                return False
            dropping = and_(HistoryMessage.conversation_id == conversation_id,
                            HistoryMessage.id <= drop_through_id)
            forget_turns(conn, dropping)
            conn.execute(delete(HistoryMessage).where(dropping))
            starts: dict[str, object] = {}
            if not previous_summary:  # the first since a reset: it tells from its first message on
                starts["summary_since"] = covers_from or conn.execute(
                    select(func.min(HistoryMessage.created_at)).where(
                        HistoryMessage.conversation_id == conversation_id,
                        HistoryMessage.id <= drop_through_id,
                    )
                ).scalar()
            conn.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id)
                .values(summary=summary, updated_at=utcnow(), **starts)
            )
            if memories is not None:
                replace_source_memories(conn, character, user_id, memories, source=source, reason=reason,
                                        guild_id=guild_id)
            return True

        return await self.db.write(write)


def _prompt_data(person: Person, place: _Place) -> PromptData:
    identity, memories, rel, mood, user, state, stamp, style, said, threads, feelings, profile = person
    history, recent = place
    return PromptData(
        identity,
        [str(m[0]) for m in memories if m[1] not in NOTE_SOURCES],
        RelationshipRecord(*rel[:4]) if rel else None,
        mood or "",
        bool(user and user[0]),
        history,
        recent,
        memory_consent=user[1] if user else None,
        interactions=int(state[0]) if state else 0,
        stage=str(state[1]) if state else "",
        fact_stamp=stamp,
        excerpt_stamp=said,
        style_profile=style,
        last_interaction=as_utc(user[2]) if user and user[2] is not None else None,
        memory_everywhere=bool(user and user[3]),
        person_zone=str(stored(user[4]) or "") if user else "",
        notes=[str(m[0]) for m in memories if m[1] in NOTE_SOURCES],
        threads=threads,
        feelings=feelings,
        profile=profile,
        relationship_since=read_felt_since(rel[4]) if rel else (None, None),
        quoting=frozenset(int(m[2]) for m in memories if len(m) > 2 and m[2] is not None),
    )
