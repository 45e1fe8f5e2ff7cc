"""Privacy: deleting everything stored about a person (/forget_me), and the independent proof of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, Select, and_, delete, func, insert, or_, select, update
from sqlalchemy.sql.dml import UpdateBase

from database.alive_models import PersonFeeling, StyleProfileRow
from database.conversations import Conversations
from database.engine import Database
from database.log import MessageLog
from database.memories import QUOTED, quoted_in_snapshot
from database.models import (
    ApiCall,
    ArchivedMessage,
    ArchiveExcerpt,
    Base,
    Conversation,
    CoreMemory,
    CoreMemoryVersion,
    GlobalState,
    HistoryMessage,
    LoggedMessage,
    Nickname,
    PostedFor,
    Relationship,
    ScopedSetting,
    User,
    UserFact,
    utcnow,
)
from database.place_config import PlaceConfig, person_rows
from database.profiles import PersonProfile
from database.threads import OpenThread

# Every table, classified once (tests/test_privacy_tables.py walks the models: a new table that is in
# none of these four fails it, so nobody's words can land in a table /forget_me forgets).
# 1. Where a person's id sits: /forget_me deletes those rows (or clears a column naming them as the
#    staff who closed someone else's ticket), and its proof counts them. Rows of a table pointing at one of
#    these by a foreign key (history_messages -> conversations) are theirs too. A feature's own table (in its
#    package, bot/features/<name>/) declares its person columns itself, in its ``info`` under ``PERSON``
#    (:func:`person_columns` reads both); the feature's ``forget`` deletes its rows.
PERSON_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("id",),
    "nicknames": ("user_id",),
    "api_calls": ("user_id",),
    "conversations": ("user_id",),
    "core_memories": ("user_id", "quoted_user_id"),  # and others' notes quoting them ("Remember this")
    "core_memory_versions": ("user_id",),  # and the quotes of them in others' versions: see Privacy._delete
    "user_facts": ("user_id",),
    "open_threads": ("user_id",),  # what they said they would do or are waiting for
    "archive_excerpts": ("user_id",),  # their words and the character's lines beside them
    "relationships": ("user_id",),
    "style_profiles": ("user_id",),
    "person_feelings": ("user_id",),
    "checkins": ("user_id",),
    "reminders": ("user_id",),  # what they asked to be reminded of (and their timers, by key)
    "message_log": ("author_id",),  # and whole DM channels, and posts made for them: see Privacy._delete
    "message_archive": ("author_id",),
    "posted_for": ("user_id",),  # the bot's posts quoting them: any row with that message_id is theirs
    "tickets": ("opener_id", "closed_by"),  # the topic is their words
    "ticket_messages": ("author_id",),
    "swipes": ("user_id",),  # the alternatives of a reply to them
    "person_profiles": ("user_id",),  # what they said of themselves with /me
}
PERSON = "person_columns"  # a feature's table's ``info`` key: its columns holding a person's id


def person_columns() -> dict[str, tuple[str, ...]]:
    """Where a person's id sits, per table: ``PERSON_COLUMNS`` and what the features' own tables declare."""
    declared = {t.name: tuple(t.info[PERSON]) for t in Base.metadata.tables.values() if PERSON in t.info}
    return {**PERSON_COLUMNS, **declared}


THROUGH_PARENT: dict[str, str] = {"history_messages": "conversations"}
# 2. The server's own record about members: kept, as the server's moderators would expect.
SERVER_RECORDS: dict[str, str] = {
    "warnings": "a moderator's warning (target_id, moderator_id): the server's record",
    "moderation_actions": "a moderation action (target_id, moderator_id): the server's record",
}
# 3. Nothing about any one person. A feature's own table of that kind says so itself, in its ``info``
#    under ``NOTHING``: why none of its rows is about a person (:func:`nothing_personal` reads both).
NOTHING_PERSONAL: dict[str, str] = {
    "character_affinity": "between characters",
    "character_state": "the character's own state",
    "card_words": "the character card's own words, rendered per language by the model; no one's words",
    "character_server_state": "the character's interaction count and stage in a server (server ids)",
    "cluster_nodes": "the bot's processes",
    "shared_counts": "the cluster's counts of Discord requests per window (names: a bot's id and a limit)",
    "daily_counts": "per-day totals, no ids (0006)",
    "api_usage_days": "model calls added up per day and model, no ids (0013)",
    "identity_entries": "the character's identity",
    "owed_replies": "a message and channel id while a reply is owed, gone once answered; no text",
    "personaflow_characters": "characters",
    "personaflow_memories": "a character's own memories",
    "mcp_servers": "the MCP servers a server's admins added: URLs, tool names, server ids (who: logged only)",
    "place_feelings": "how the room feels in a channel (channel ids), everyone's at once",
    "talk_threads": "the threads a character opened to go on talking (thread, channel, server ids; no name)",
    "scheduled_jobs": "the bot's schedule",
}
NOTHING = "nothing_personal"  # a feature's table's ``info`` key: why no row of it is about a person


def nothing_personal() -> dict[str, str]:
    """The tables about no one, and why: ``NOTHING_PERSONAL`` and the features' own tables that say so."""
    declared = {t.name: str(t.info[NOTHING]) for t in Base.metadata.tables.values() if NOTHING in t.info}
    return {**NOTHING_PERSONAL, **declared}

# 4. Where a person sits in the key of one of the bot's small named values, or in the text of one: the
#    greeting marks (bot/reply/persona_runtime.py ``greeted_key``). A DM's, ``greeted:<character>:<user>:
#    <scope>``, holds the greeting as shown, their name in it, and opens their next DM's prompt while no
#    history holds it: deleted. A channel's, ``greeted:<character>:channel:<id>`` (or a private place's),
#    holds the greeting shown to the first person answered there, named by no id: whoever is forgotten, its
#    text goes and the mark stays ("-", greeted, text not kept), as nothing reads more than that it is set.
#    A registered setting's value names its scope in its key (scope, scope id): a person's own settings
#    (scope ``person``, database/place_config.py ``person_rows``) are theirs and go; a server's or a
#    channel's, access lists (allowed_users, blocked_users) among them, are its admins' rules and stay.
IN_KEYS: dict[str, str] = {"global_state": "the bot's own values; the greeting marks name people",
                           "scoped_settings": "registered settings; a person's own are keyed by their id"}
GREETED = "greeted:"
NO_TEXT = "-"


def dm_greeting_marks(user_id: int) -> ColumnElement[bool]:
    """The greeting marks of ``user_id``'s own conversations (their DMs), every character's."""
    return GlobalState.key.like(f"{GREETED}%:{int(user_id)}:%")


def channel_greeting_texts() -> ColumnElement[bool]:
    """The greeting marks of channels and private places that still hold the text shown there."""
    # (the scopes of bot/core/stages.py conversation_scope: "channel:<id>", "private:<id>", "dm")
    place = or_(GlobalState.key.like("%:channel:%"), GlobalState.key.like("%:private:%"))
    return and_(GlobalState.key.like(f"{GREETED}%"), place, GlobalState.key.not_like("%:dm"),
                GlobalState.value != NO_TEXT)


def quoting_versions(user_id: int) -> ColumnElement[bool]:
    """Versions of someone's core memories holding a note that quotes ``user_id``."""
    return CoreMemoryVersion.snapshot.contains(quoted_in_snapshot(user_id), autoescape=True)


def _strip_quotes(conn: Connection, user_id: int) -> int:
    """Take the notes quoting ``user_id`` out of others' archived versions (the rest of each version stays:
    it is its owner's). Returns how many versions changed."""
    rows = conn.execute(select(CoreMemoryVersion.id, CoreMemoryVersion.snapshot)
                        .where(quoting_versions(user_id))).all()
    for version_id, snapshot in rows:
        kept = [m for m in json.loads(snapshot) if m.get(QUOTED) != user_id]
        conn.execute(update(CoreMemoryVersion).where(CoreMemoryVersion.id == version_id)
                     .values(snapshot=json.dumps(kept)))
    return len(rows)


FORGETS_KEPT = 4096  # people forgotten lately whose replies in flight are still told apart (oldest out)
MARKS_KEPT = 4096  # messages whose mark is kept (far more than are between being seen and answered)


@dataclass
class _Storing:
    """An exchange being stored (its turns, then the after-reply listeners' writes), or a feature's write
    about the person after the reply's post (its swipes, its voice message)."""

    reply_ids: list[int]  # the character's posts in the person's DMs (none in a server)
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Privacy:
    def __init__(self, db: Database, log: MessageLog, conversations: Conversations,
                 config: PlaceConfig) -> None:
        self.db = db
        self._log = log
        self._conversations = conversations
        self._config = config  # its cached copy: a person's settings deleted behind it
        # A reply takes a mark when its message is first seen; a /forget_me of its author after that mark
        # means the exchange belongs to what was forgotten (issue 49): nothing of it is stored, once answered.
        self._forgets = 0
        self._forgotten: OrderedDict[int, tuple[int, datetime]] = OrderedDict()  # user -> (serial, when)
        self._evicted = 0  # the highest serial no longer in _forgotten
        self._storing: dict[int, list[_Storing]] = {}
        self._marks: dict[int, int] = {}  # message id -> mark when first seen
        self._lock = asyncio.Lock()  # one forget (or an in-flight exchange's cleanup) at a time
        # The features' own rows of a person (bot/operator/registration.py ``Feature.forget``), deleted in
        # the same transaction, before the rest: their rows may point at the person's.
        self._features: tuple[Callable[[Connection, int], Mapping[str, int]], ...] = ()

    def also_forget(self, *deletes: Callable[[Connection, int], Mapping[str, int]]) -> None:
        """What the features delete of a person, each in /forget_me's transaction (the rows per table)."""
        self._features = (*self._features, *deletes)

    def mark(self) -> int:
        """What a reply notes when its message is first seen (see :meth:`forgotten_since`)."""
        return self._forgets

    def seen(self, message_id: int) -> None:
        """Note the mark of a message as it is first seen (kept for the latest MARKS_KEPT messages)."""
        if message_id not in self._marks:
            if len(self._marks) >= MARKS_KEPT:
                del self._marks[next(iter(self._marks))]  # the oldest: long answered
            self._marks[message_id] = self._forgets

    def mark_of(self, message_id: int) -> int:
        """The mark noted when the message was seen; now, for one never seen here (a recovered reply)."""
        return self._marks.get(message_id, self._forgets)

    def forgotten_at(self, user_id: int) -> datetime | None:
        """When ``user_id`` last ran /forget_me in this process (None: not lately, as far as it knows)."""
        kept = self._forgotten.get(user_id)
        return kept[1] if kept is not None else None

    def forgotten_since(self, user_id: int, mark: int) -> bool:
        """Whether ``user_id`` ran /forget_me after ``mark`` was taken (when unsure, long after: yes)."""
        kept = self._forgotten.get(user_id)
        return kept[0] > mark if kept is not None else self._evicted > mark

    @contextlib.asynccontextmanager
    async def storing(self, user_id: int, mark: int, *,
                      dm_reply_ids: Sequence[int] = ()) -> AsyncIterator[bool]:
        """Around storing the exchange of a reply (``mark``: taken when its message was seen): yields whether
        to store it. No, when its author was forgotten since: then what the exchange already left behind
        (its usage row, named by no one; the character's answer in their DMs) goes too. A forget that
        begins while the exchange is being stored waits for it, then deletes it with the rest."""
        if self.forgotten_since(user_id, mark):
            await self._forget_exchange(user_id, dm_reply_ids)
            yield False
            return
        async with self._section(user_id, dm_reply_ids):
            yield True

    @contextlib.asynccontextmanager
    async def writing_about(self, user_id: int, mark: int) -> AsyncIterator[bool]:
        """Around a feature's write about ``user_id`` once a reply to them is posted (its swipes opened, its
        voice message sent; ``mark``: the answered message's, :meth:`mark_of`): yields whether to write.
        No, when they were forgotten since (what the exchange left behind is the exchange's own storing's to
        clear). A forget that begins meanwhile waits for it, then deletes what it wrote with the rest (a post
        in their DMs made inside: :meth:`posted_in_dm`)."""
        if self.forgotten_since(user_id, mark):
            yield False
            return
        async with self._section(user_id, ()):
            yield True

    def posted_in_dm(self, user_id: int, message_id: int) -> None:
        """A post in ``user_id``'s DMs (or one made on their behalf, :meth:`posted_for`) made inside a
        section of theirs (:meth:`writing_about`): a forget waiting for the section never logs its echo and
        deletes it with the rest."""
        for section in self._storing.get(user_id, ()):
            section.reply_ids.append(message_id)

    @contextlib.asynccontextmanager
    async def _section(self, user_id: int, dm_reply_ids: Sequence[int]) -> AsyncIterator[None]:
        """What a forget of ``user_id`` beginning meanwhile waits for."""
        section = _Storing(list(dm_reply_ids))
        self._storing.setdefault(user_id, []).append(section)
        try:
            yield
        finally:
            section.done.set()
            sections = self._storing.get(user_id, [])
            if section in sections:
                sections.remove(section)
            if not sections:
                self._storing.pop(user_id, None)

    async def _forget_exchange(self, user_id: int, dm_reply_ids: Sequence[int]) -> None:
        async with self._lock:  # after the forget's own transaction
            since = self._forgotten[user_id][1] if user_id in self._forgotten else None
            self._log.refuse(dm_reply_ids)  # an echo still on its way is never logged
            await self._log.flush()

            def write(conn: Connection) -> None:
                _delete_posts(conn, dm_reply_ids)
                # The call was made (and is paid for): its cost stays in the totals, the person's id goes.
                calls = update(ApiCall).where(ApiCall.user_id == user_id)
                if since is not None:
                    calls = calls.where(ApiCall.created_at >= since)
                conn.execute(calls.values(user_id=None))

            await self.db.write(write)

    async def posted_for(self, user_id: int, message_id: int, mark: int) -> None:
        """A post of the bot's quotes ``user_id`` (made on their behalf): in the log and the archive it is
        theirs to forget. Logged before or after this, either way. ``mark``: :meth:`mark`, taken before the
        post began. A forget of theirs since then has already deleted what it knew of theirs: the row is not
        written, and the post goes from the log and the archive (its echo never logged). A forget that
        begins meanwhile waits for the row, then deletes it and the post with the rest."""
        async with self.writing_about(user_id, mark) as allowed:
            if allowed:
                self.posted_in_dm(user_id, message_id)  # a forget waiting for this deletes the post too
                await self._note_posted(user_id, message_id)
                return
        await self._unlog([message_id])

    async def _note_posted(self, user_id: int, message_id: int) -> None:
        await self.db.write(lambda conn: conn.execute(
            insert(PostedFor).values(message_id=message_id, user_id=user_id, created_at=utcnow())))

    async def _unlog(self, message_ids: Sequence[int]) -> None:
        """Posts of the bot's about someone forgotten while they were made: out of the log and the archive,
        their echoes never logged."""
        async with self._lock:  # after the forget's own transaction
            self._log.refuse(message_ids)
            await self._log.flush()

            await self.db.write(lambda conn: _delete_posts(conn, message_ids))

    async def delete_user_data(self, user_id: int) -> dict[str, int]:
        """Delete everything stored about a person, in one transaction. Returns rows deleted per table.

        Their direct-message channels go whole: the character's answers there are about them too. Someone who
        opted out of memory keeps a bare users row saying only that (no name, none of their dates), so that
        forgetting them does not start remembering them again. Replies to them in flight store nothing
        (:meth:`storing`)."""
        self._forgets += 1
        self._forgotten.pop(user_id, None)
        self._forgotten[user_id] = (self._forgets, utcnow())
        while len(self._forgotten) > FORGETS_KEPT:
            self._evicted = max(self._evicted, self._forgotten.popitem(last=False)[1][0])
        # Exchanges being stored now finish first (they were not forgotten when they began): deleted with
        # the rest, the character's answers in the DMs included, and their echoes never logged.
        storing = list(self._storing.get(user_id, ()))
        replies = sorted({i for s in storing for i in s.reply_ids})
        self._log.refuse(replies)
        await asyncio.gather(*(s.done.wait() for s in storing))
        posted = sorted({i for s in storing for i in s.reply_ids} - set(replies))  # posted while waited for
        self._log.refuse(posted)
        replies = sorted({*replies, *posted})
        async with self._lock:
            await self._log.flush()  # their messages already on the way to the log must not outlive this
            self._log.forget_author(user_id)
            try:
                return await self.db.write(lambda conn: self._delete(conn, user_id, replies, self._features))
            finally:  # also after a failure: the change may have been made
                self._conversations.history_changed()
                self._config.rows_deleted()

    @staticmethod
    def _delete(conn: Connection, user_id: int, replies: Sequence[int] = (),
                features: Sequence[Callable[[Connection, int], Mapping[str, int]]] = ()) -> dict[str, int]:
        consent = conn.execute(select(User.memory_consent).where(User.id == user_id)).scalar()
        counts: dict[str, int] = {}
        for forget in features:
            counts.update(forget(conn, user_id))
        # Collected before anything is deleted: their own messages are what identifies their DM channels.
        dm_channels: set[int] = set()
        for table in (LoggedMessage, ArchivedMessage):
            dm_channels.update(
                int(c)
                for c in conn.execute(
                    select(table.channel_id)
                    .where(table.author_id == user_id, table.is_dm.is_(True))
                    .distinct()
                ).scalars()
            )

        def theirs(table: type[LoggedMessage | ArchivedMessage]) -> ColumnElement[bool]:
            conds = [table.author_id == user_id]
            if dm_channels:
                conds.append(and_(table.is_dm.is_(True), table.channel_id.in_(sorted(dm_channels))))
            if replies:
                conds.append(table.message_id.in_(replies))
            conds.append(table.message_id.in_(posted_for))
            return or_(*conds)

        conv_ids = select(Conversation.id).where(Conversation.user_id == user_id)
        posted_for = select(PostedFor.message_id).where(PostedFor.user_id == user_id)
        plan: list[tuple[str, UpdateBase]] = [
            ("history_messages", delete(HistoryMessage).where(HistoryMessage.conversation_id.in_(conv_ids))),
            ("conversations", delete(Conversation).where(Conversation.user_id == user_id)),
            ("core_memories", delete(CoreMemory).where(
                or_(CoreMemory.user_id == user_id, CoreMemory.quoted_user_id == user_id))),
            ("core_memory_versions", delete(CoreMemoryVersion).where(CoreMemoryVersion.user_id == user_id)),
            ("user_facts", delete(UserFact).where(UserFact.user_id == user_id)),
            ("open_threads", delete(OpenThread).where(OpenThread.user_id == user_id)),
            ("archive_excerpts", delete(ArchiveExcerpt).where(ArchiveExcerpt.user_id == user_id)),
            ("relationships", delete(Relationship).where(Relationship.user_id == user_id)),
            ("style_profiles", delete(StyleProfileRow).where(StyleProfileRow.user_id == user_id)),
            ("person_feelings", delete(PersonFeeling).where(PersonFeeling.user_id == user_id)),
            ("message_log", delete(LoggedMessage).where(theirs(LoggedMessage))),
            ("message_archive", delete(ArchivedMessage).where(theirs(ArchivedMessage))),
            ("posted_for", delete(PostedFor).where(PostedFor.user_id == user_id)),
            ("api_calls", delete(ApiCall).where(ApiCall.user_id == user_id)),
            ("nicknames", delete(Nickname).where(Nickname.user_id == user_id)),
            ("person_profiles", delete(PersonProfile).where(PersonProfile.user_id == user_id)),
            ("users", delete(User).where(User.id == user_id)),
            ("scoped_settings", delete(ScopedSetting).where(person_rows(user_id))),  # their own settings
            ("global_state", delete(GlobalState).where(dm_greeting_marks(user_id))),
            ("greeting_texts", update(GlobalState).where(channel_greeting_texts()).values(value=NO_TEXT)),
        ]
        counts.update({name: int(conn.execute(stmt).rowcount or 0) for name, stmt in plan})
        counts["quoted_in_versions"] = _strip_quotes(conn, user_id)
        if consent is False:
            now = utcnow()
            conn.execute(
                insert(User).values(
                    id=user_id,
                    name="",
                    is_bot=False,
                    premium=False,
                    memory_consent=False,
                    first_seen=now,
                    last_seen=now,
                )
            )
        return counts

    async def rows_about_user(self, user_id: int, dm_channel_ids: Iterable[int] = ()) -> dict[str, int]:
        """Rows still holding something about a person, per table (tables without any left out): /forget_me's
        proof. Independent of delete_user_data on purpose: the tables and columns come from the
        classification above (:func:`person_columns`, and every table pointing at one of those by a foreign
        key) and
        the direct messages from ``dm_channel_ids``, which the caller knows from Discord rather than from
        this database."""
        dms = sorted(set(dm_channel_ids))
        queries: dict[str, Select[int]] = {}
        people = person_columns()
        for table in Base.metadata.sorted_tables:
            conds: list[ColumnElement[bool]] = [table.c[k] == user_id for k in people.get(table.name, ())]
            for fk in table.foreign_keys:
                parent = fk.column.table
                for k in people.get(parent.name, ()):
                    if k != fk.column.name:
                        conds.append(fk.parent.in_(select(fk.column).where(parent.c[k] == user_id)))
                    else:  # (a foreign key to users.id is the person's id itself)
                        conds.append(fk.parent == user_id)
            if dms and "is_dm" in table.c and "channel_id" in table.c:
                conds.append(and_(table.c.is_dm.is_(True), table.c.channel_id.in_(dms)))
            if table.name == GlobalState.__tablename__:
                conds.extend([dm_greeting_marks(user_id), channel_greeting_texts()])
            if table.name == CoreMemoryVersion.__tablename__:
                conds.append(quoting_versions(user_id))
            if table.name == ScopedSetting.__tablename__:
                conds.append(person_rows(user_id))
            if "message_id" in table.c and table.name != PostedFor.__tablename__:  # a post made for them
                conds.append(table.c.message_id.in_(
                    select(PostedFor.message_id).where(PostedFor.user_id == user_id)))
            if conds:
                queries[table.name] = select(func.count()).select_from(table).where(or_(*conds))

        def read(conn: Connection) -> dict[str, int]:
            counts = {name: int(conn.execute(query).scalar_one()) for name, query in queries.items()}
            return {name: n for name, n in counts.items() if n}

        return await self.db.read(read)


def _delete_posts(conn: Connection, message_ids: Sequence[int]) -> None:
    """The bot's posts ``message_ids`` out of the log and the archive."""
    if message_ids:
        for table in (LoggedMessage, ArchivedMessage):
            conn.execute(delete(table).where(table.message_id.in_(sorted(message_ids))))
