"""The per-message statements, built once per dialect, and the row conversions shared by the repositories
that run them (plain ``conn.execute``: SQLAlchemy caches each statement's compiled form).

Building a select() costs more than running it on SQLite, and these run for every message: the log write,
the reply's prompt read, and what is stored after a reply.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, Select, and_, bindparam, func, insert, select, text, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import BindParameter

from database.alive_models import StyleProfileRow
from database.boundary import NamedRow, Params, Query, Statement, Statements
from database.feelings import feeling_statements
from database.memories import in_use
from database.models import (
    ApiCall,
    ArchivedMessage,
    CharacterState,
    Conversation,
    CoreMemory,
    GlobalState,
    HistoryMessage,
    IdentityEntry,
    LoggedMessage,
    Nickname,
    Relationship,
    User,
)
from database.person_read import person_statements
from database.person_settings import TIMEZONE
from database.place_config import person_value
from database.profiles import profile_statements
from database.records import SeenMessage, UserRecord, as_utc
from database.rowmap import columns, record
from database.stamps import excerpt_stamp_select, fact_stamp_select
from database.threads import thread_statements
from database.visibility import dm_clause, kept_kind, place_clause

log = logging.getLogger(__name__)

MAX_MESSAGE_ID = 2**63 - 1  # above every Discord snowflake: "no upper bound" as a bound parameter


def recent_messages(conn: Connection, q: Statements, channel_id: int, limit: int,
                    before_id: int | None) -> list[SeenMessage]:
    out: list[SeenMessage] = []
    before = before_id if before_id is not None else MAX_MESSAGE_ID
    for name in ("recent_logged", "recent_archived"):  # the archive only when the log has too few
        want = limit - len(out)
        if want <= 0:
            break
        if out:
            before = min(before, min(m.message_id for m in out))
        params = {"channel_id": channel_id, "before": before, "limit": want}
        out.extend(SeenMessage(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], as_utc(r[8]), r[9])
                   for r in conn.execute(q[name], params))
    out.sort(key=lambda m: m.message_id)
    return out


def warm_statements(q: Statements, conn: Connection) -> None:
    """Run the hot path's reads once with every parameter NULL on a connection opened at start-up
    (PostgreSQL; they match no row, and the log batch writes nothing with NULL arrays): asyncpg prepares each
    on the connection, and the server loads the tables and indexes they touch, so the first messages after a
    start do not pay for it. A failure only logs."""
    for name, statement in q.items():
        if not (isinstance(statement, Select) or name == "log_batch"):
            continue
        try:
            conn.execute(statement, dict.fromkeys(statement.compile(dialect=conn.dialect).params))
        except Exception as exc:  # the statement is prepared by its first real use instead
            log.warning("could not prepare %s ahead of use: %s", name, exc)


def execute_all(conn: Connection, statement: Statement, rows: Sequence[Params]) -> None:
    """A data-changing statement run once per row, inside the caller's transaction (none: nothing runs)."""
    if rows:
        conn.execute(statement, [dict(r) for r in rows])


def build_statements(dialect: Dialect) -> Statements:
    """The per-message statements (the log write and the reply's prompt read), built and compiled once:
    building a select() costs more than running it on SQLite, and these run for every message."""
    character: BindParameter[str] = bindparam("character")
    user_id: BindParameter[int] = bindparam("user_id")
    memories = select(CoreMemory.content, CoreMemory.source, CoreMemory.quoted_user_id).where(
        CoreMemory.character == character, CoreMemory.user_id == user_id, in_use()
    )
    private_sources: list[BindParameter[str]] = [bindparam("private_source"), bindparam("private_note")]
    memory_kind = kept_kind(private=CoreMemory.source.in_(private_sources), guild=CoreMemory.guild_id)

    def recent(table: type[LoggedMessage | ArchivedMessage]) -> Query:
        return (
            select(
                table.message_id,
                table.channel_id,
                table.guild_id,
                table.author_id,  # SeenMessage's order
                table.author_name,
                table.author_is_bot,
                table.is_dm,
                table.content,
                table.created_at,
                table.reply_to_id,
            )
            .where(table.channel_id == bindparam("channel_id"), table.message_id < bindparam("before"))
            .order_by(table.id.desc())
            .limit(bindparam("limit"))
        )

    insert_for = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
    user, nick, state = insert_for(User), insert_for(Nickname), insert_for(CharacterState)
    style, global_state = insert_for(StyleProfileRow), insert_for(GlobalState)

    def replacing(ins: postgresql.Insert | sqlite.Insert, key: str,
                  columns: list[str]) -> tuple[Statement, list[str]]:
        """An insert that replaces ``columns`` of the row whose ``key`` column is there already."""
        return (ins.on_conflict_do_update(index_elements=[key], set_={c: ins.excluded[c] for c in columns}),
                [key, *columns])
    conversation_key = and_(
        Conversation.character == character,
        Conversation.user_id == user_id,
        Conversation.scope == bindparam("scope"),
    )
    statements: dict[str, tuple[Statement, list[str] | None]] = {
        "user_upsert": (
            user.on_conflict_do_update(
                index_elements=[User.id],
                set_={"name": user.excluded.name, "last_seen": user.excluded.last_seen},
            ),
            ["id", "name", "is_bot", "premium", "first_seen", "last_seen"],
        ),
        "nick_upsert": (
            nick.on_conflict_do_update(
                index_elements=[Nickname.user_id, Nickname.nickname],
                set_={"last_seen": nick.excluded.last_seen},
            ),
            ["user_id", "nickname", "first_seen", "last_seen"],
        ),
        "log_insert": (
            insert_for(LoggedMessage).on_conflict_do_nothing(index_elements=[LoggedMessage.message_id]),
            ["message_id", "channel_id", "guild_id", "author_id", "author_name", "author_is_bot", "is_dm",
             "content", "reply_to_id", "created_at", "private"],
        ),
        "recent_logged": (recent(LoggedMessage), None),
        "recent_archived": (recent(ArchivedMessage), None),
        "identity": (
            select(IdentityEntry.kind, IdentityEntry.content)
            .where(IdentityEntry.character == character)
            .order_by(IdentityEntry.id),
            None,
        ),
        # What of the person's memories a DM or a server's place may see: database/visibility.py decides.
        "memories_private": (memories.where(dm_clause(kind=memory_kind, person=CoreMemory.user_id,
                                                      reader=user_id)).order_by(CoreMemory.id), None),
        "memories": (
            memories.where(place_clause(
                kind=memory_kind, person=CoreMemory.user_id, guild=CoreMemory.guild_id, channel=None,
                reader=user_id, reader_guild=bindparam("guild_id"),
                everywhere=select(User.memory_everywhere).where(User.id == user_id).scalar_subquery()
                .is_(true()))).order_by(CoreMemory.id),
            None,
        ),
        "relationship": (  # the record's order, then since when it says what it says (all, public)
            select(Relationship.anger, Relationship.rapport, Relationship.trust, Relationship.formality,
                   Relationship.felt_since)
            .where(Relationship.character == character, Relationship.user_id == user_id), None),
        "mood": (select(GlobalState.value).where(GlobalState.key == "daily_mood"), None),
        "user": (
            select(User.premium, User.memory_consent, User.last_interaction, User.memory_everywhere,
                   person_value(TIMEZONE, User.id))  # their time zone: a person setting, as JSON
            .where(User.id == user_id), None
        ),
        "style_profile": (select(StyleProfileRow.profile).where(StyleProfileRow.user_id == user_id), None),
        "fact_stamp": (fact_stamp_select(user_id, dialect), None),
        "excerpt_stamp": (excerpt_stamp_select(user_id), None),
        "character_state": (
            select(CharacterState.interaction_count, CharacterState.stage).where(
                CharacterState.character == character
            ),
            None,
        ),
        "conversation": (
            select(Conversation.id, Conversation.summary, Conversation.revision, Conversation.summary_since)
            .where(conversation_key),
            None,
        ),
        # After a reply (append_turns, usage, the interaction count, the summarization check).
        "conversation_locked": (
            select(Conversation.id, Conversation.revision).where(conversation_key).with_for_update(),
            None,
        ),
        "conversation_insert": (
            insert_for(Conversation).on_conflict_do_nothing(),
            ["character", "user_id", "scope", "summary", "updated_at", "revision"],
        ),
        "turn_insert": (
            # One statement for the exchange's turns; their ids in the order given.
            insert(HistoryMessage).returning(HistoryMessage.id, sort_by_parameter_order=True),
            ["conversation_id", "role", "content", "tokens", "discord_message_id", "created_at"],
        ),
        "conversation_touch": (
            update(Conversation)
            .where(Conversation.id == bindparam("conversation_id"))
            .values(updated_at=bindparam("touched_at"))
            .returning(Conversation.revision),
            None,
        ),
        # Its summary and stored turns' count and tokens, in one statement (one round trip after each reply).
        "conversation_size": (
            select(Conversation.summary, func.count(HistoryMessage.id),
                   func.coalesce(func.sum(HistoryMessage.tokens), 0)).select_from(Conversation)
            .outerjoin(HistoryMessage, HistoryMessage.conversation_id == Conversation.id)
            .where(conversation_key).group_by(Conversation.id, Conversation.summary), None),
        "api_call_insert": (
            insert(ApiCall),
            [
                "user_id",
                "guild_id",
                "purpose",
                "model",
                "input_tokens",
                "output_tokens",
                "cache_creation_tokens",
                "cache_read_tokens",
                "cost",
                "web_searches",
                "latency_ms",
                "ok",
                "error",
                "created_at",
            ],
        ),
        "interaction_upsert": (
            state.on_conflict_do_update(
                index_elements=[CharacterState.character],
                set_={
                    "interaction_count": CharacterState.interaction_count + 1,
                    "updated_at": state.excluded.updated_at,
                },
            ).returning(CharacterState.interaction_count, CharacterState.stage),  # no read after it
            ["character", "interaction_count", "stage", "updated_at"],
        ),
        "user_record": (select(*USER_RECORD_COLUMNS).where(User.id == user_id), None),
        # After a reply: the style learnt, the last interaction moved, the feelings stored.
        "style_locked": (
            select(StyleProfileRow.profile).where(StyleProfileRow.user_id == user_id).with_for_update(), None
        ),
        "style_upsert": replacing(style, "user_id", ["profile", "updated_at"]),
        "last_interaction": (
            select(User.last_interaction).where(User.id == user_id).with_for_update(), None
        ),
        "last_interaction_set": (
            update(User).where(User.id == user_id).values(last_interaction=bindparam("now")), None
        ),
        "state_upsert": replacing(global_state, "key", ["value", "updated_at"]),
        "turns": (
            select(
                HistoryMessage.role,
                HistoryMessage.content,
                HistoryMessage.id,  # Turn's field order
                HistoryMessage.discord_message_id,
                HistoryMessage.tokens,
            )
            .where(HistoryMessage.conversation_id == bindparam("conversation_id"))
            .order_by(HistoryMessage.id),
            None,
        ),
    }
    statements.update((name, (stmt, None)) for name, stmt in {**thread_statements(),
                                                              **feeling_statements(),
                                                              **profile_statements()}.items())
    built = {name: stmt for name, (stmt, _) in statements.items()}
    built |= person_statements(built, dialect)  # the person half of a reply's prompt read (person_read.py)
    if dialect.name == "postgresql":
        built["log_batch"] = LOG_BATCH
    else:  # after a reply, SQLite (no locks to take): what two reads each gave, in one statement
        built["user_style"] = select(  # the style learnt
            User.memory_consent,
            select(StyleProfileRow.profile).where(StyleProfileRow.user_id == user_id).scalar_subquery(),
        ).where(User.id == user_id)
        built["conversation_consent"] = select(User.premium, User.memory_consent, *(  # the exchange stored
            select(column).where(conversation_key).scalar_subquery()
            for column in (Conversation.id, Conversation.revision))).where(User.id == user_id)
    return built


# PostgreSQL: a batch of the message log (database/log.py) in one statement, one round trip however many
# rows, and atomic by itself, so it needs no BEGIN and COMMIT (three round trips to six otherwise). Each
# table's rows come as one array per column (unnest): one statement, whatever the batch's size. The same
# writes, in the same order, as user_upsert, nick_upsert, log_insert and owed_insert/owed_delete run one by
# one on SQLite; PostgreSQL runs every part of a WITH to completion, and checks the nicknames' foreign key
# at the end of the statement, when their users are in.
LOG_BATCH = text("""
WITH users_in AS (
    INSERT INTO users (id, name, is_bot, premium, first_seen, last_seen)
    SELECT * FROM unnest(CAST(:user_id AS BIGINT[]), CAST(:user_name AS VARCHAR[]),
                         CAST(:user_is_bot AS BOOLEAN[]), CAST(:user_premium AS BOOLEAN[]),
                         CAST(:user_first_seen AS TIMESTAMPTZ[]), CAST(:user_last_seen AS TIMESTAMPTZ[]))
    ON CONFLICT (id) DO UPDATE SET name = excluded.name, last_seen = excluded.last_seen
), nicks_in AS (
    INSERT INTO nicknames (user_id, nickname, first_seen, last_seen)
    SELECT * FROM unnest(CAST(:nick_user_id AS BIGINT[]), CAST(:nick_nickname AS VARCHAR[]),
                         CAST(:nick_first_seen AS TIMESTAMPTZ[]), CAST(:nick_last_seen AS TIMESTAMPTZ[]))
    ON CONFLICT (user_id, nickname) DO UPDATE SET last_seen = excluded.last_seen
), log_in AS (
    INSERT INTO message_log (message_id, channel_id, guild_id, author_id, author_name, author_is_bot, is_dm,
                             content, reply_to_id, created_at, private)
    SELECT * FROM unnest(CAST(:message_id AS BIGINT[]), CAST(:channel_id AS BIGINT[]),
                         CAST(:guild_id AS BIGINT[]), CAST(:author_id AS BIGINT[]),
                         CAST(:author_name AS VARCHAR[]), CAST(:author_is_bot AS BOOLEAN[]),
                         CAST(:is_dm AS BOOLEAN[]), CAST(:content AS TEXT[]), CAST(:reply_to_id AS BIGINT[]),
                         CAST(:created_at AS TIMESTAMPTZ[]), CAST(:private AS BOOLEAN[]))
    ON CONFLICT (message_id) DO NOTHING
), owed_in AS (
    INSERT INTO owed_replies (message_id, character, channel_id, owed_since)
    SELECT * FROM unnest(CAST(:owed_message_id AS BIGINT[]), CAST(:owed_character AS VARCHAR[]),
                         CAST(:owed_channel_id AS BIGINT[]), CAST(:owed_since AS TIMESTAMPTZ[]))
    ON CONFLICT (message_id, character) DO NOTHING
), owed_out AS (
    DELETE FROM owed_replies
    USING unnest(CAST(:settled_character AS VARCHAR[]), CAST(:settled_message_id AS BIGINT[]))
          AS settled(character, message_id)
    WHERE owed_replies.character = settled.character AND owed_replies.message_id = settled.message_id
)
SELECT 1
""")


def log_batch_params(users: Sequence[Params], nicks: Sequence[Params], rows: Sequence[Params],
                     owed: Sequence[Params], settled: Sequence[tuple[str, int]]) -> dict[str, list[object]]:
    """LOG_BATCH's arrays, from the rows user_upsert, nick_upsert, log_insert and owed_insert take, and the
    (character, message id) pairs owed_delete takes."""
    def columns(prefix: str, items: Sequence[Params], keys: Sequence[str]) -> dict[str, list[object]]:
        return {f"{prefix}{k}": [item[k] for item in items] for k in keys}

    return {
        **columns("user_", users, ("id", "name", "is_bot", "premium", "first_seen", "last_seen")),
        **columns("nick_", nicks, ("user_id", "nickname", "first_seen", "last_seen")),
        **columns("", rows, ("message_id", "channel_id", "guild_id", "author_id", "author_name",
                             "author_is_bot", "is_dm", "content", "reply_to_id", "created_at",
                             "private")),
        **columns("owed_", owed, ("message_id", "character", "channel_id")),
        "owed_since": [r["owed_since"] for r in owed],
        "settled_character": [c for c, _ in settled], "settled_message_id": [m for _, m in settled],
    }


# UserRecord's fields: every read of users that makes records selects these (read by name: rowmap.py).
USER_RECORD_COLUMNS = columns(User, UserRecord)


def user_record(row: NamedRow) -> UserRecord:
    """From a row of ``select(*USER_RECORD_COLUMNS)``."""
    return record(UserRecord, row)


def seen_message(r: NamedRow) -> SeenMessage:
    return SeenMessage(
        r.message_id,
        r.channel_id,
        r.guild_id,
        r.author_id,
        r.author_name,
        r.author_is_bot,
        r.is_dm,
        r.content,
        as_utc(r.created_at),
        r.reply_to_id,
        bool(r.private),
    )
