"""A person's own data, returned to them (/export_me): what /forget_me deletes, read instead of deleted.

Built on database/privacy.py's classification: every table where a person's id sits (``person_columns``,
and the tables under one of them, ``THROUGH_PARENT``) is either exported by the column that makes a row
theirs (``EXPORTED``; a feature's own table that declares its person columns: by the first of them,
:func:`exported`) or left out with the reason's code (``NOT_EXPORTED``); a person column that is not the
one making a row theirs (their id as the staff who closed someone else's ticket) is named in
``OTHER_COLUMNS`` with the code of why its rows are not (memory/export.py words each code in the person's
language). tests/test_export_me.py fails for a table or column in neither, so a new table is covered by
construction. Nothing of another person goes out: rows are selected by the person's own column only, and
the archived versions of their core memories lose the notes quoting someone else (that person's words)."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, ColumnElement, Connection, LargeBinary, RowMapping, Table, and_, or_, select

from database.engine import Database
from database.memories import QUOTED
from database.models import Base, GlobalState, ScopedSetting
from database.place_config import person_rows
from database.privacy import PERSON, dm_greeting_marks

# table -> the column holding the id of the person a row belongs to
EXPORTED: dict[str, str] = {
    "users": "id",  # their name as seen, memory consent, /memory servers
    "nicknames": "user_id",
    "api_calls": "user_id",  # what their replies cost (model, tokens), no text
    "conversations": "user_id",  # the summaries of their conversations
    "core_memories": "user_id",  # what the character holds true about them (not notes quoting others)
    "core_memory_versions": "user_id",  # the archived versions (notes quoting others taken out)
    "user_facts": "user_id",
    "open_threads": "user_id",
    "archive_excerpts": "user_id",  # their words, and the character's lines beside them
    "relationships": "user_id",
    "style_profiles": "user_id",
    "person_feelings": "user_id",
    "checkins": "user_id",
    "reminders": "user_id",
    "message_log": "author_id",  # and the character's answers in their DMs, and posts made for them
    "message_archive": "author_id",
    "posted_for": "user_id",
    "tickets": "opener_id",
    "ticket_messages": "author_id",  # their lines only, not the staff's answers
    "swipes": "user_id",
    "person_profiles": "user_id",  # what they set with /me
}


def exported() -> dict[str, str]:
    """``EXPORTED``, and each feature's own table that declares its person columns, by the first of them
    (the one making a row theirs: a poll's author, a vote's voter; others' votes in their poll are
    theirs)."""
    declared = {t.name: t.info[PERSON][0] for t in Base.metadata.tables.values() if PERSON in t.info}
    return {**EXPORTED, **declared}


# Tables under an exported one, exported through it (the turns of their conversations).
EXPORTED_THROUGH: dict[str, str] = {"history_messages": "conversations"}
# Why something is left out, as a code: the file says it in the person's language (memory/export.py
# ``LEFT_OUT_BECAUSE``), and this layer reads no catalogs.
QUOTED_BY_ANOTHER = "quoted_by_another"  # another person's note quoting them ("Remember this"): theirs
CLOSED_AS_STAFF = "closed_as_staff"  # a ticket someone else opened that they closed as staff: the opener's
# Person-keyed tables not exported, each with its reason's code (none today: every one holds what is theirs).
NOT_EXPORTED: dict[str, str] = {}
# Person columns that do not make a row theirs (rows matching only them stay out), with the reason's code.
OTHER_COLUMNS: dict[tuple[str, str], str] = {
    ("core_memories", "quoted_user_id"): QUOTED_BY_ANOTHER,
    ("tickets", "closed_by"): CLOSED_AS_STAFF,
}
# The character's own values naming them in the key: the greeting shown in their DMs.
GREETINGS = "greetings"
# Their own settings (the person scope of database/place_config.py: their time zone, ...), key and value.
SETTINGS = "settings"


def plain(value: Any) -> Any:
    """A column's value as JSON holds it."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(table: Table, row: RowMapping) -> dict[str, Any]:
    # Vectors (an embedding's float bytes) say nothing a person could read: left out.
    return {c.name: plain(row[c.name]) for c in table.c if not isinstance(c.type, LargeBinary)}


def _without_others_quotes(snapshot: str, user_id: int) -> str:
    """An archived version of their core memories, without the notes quoting someone else."""
    try:
        notes = json.loads(snapshot)
    except ValueError:
        return snapshot
    if not isinstance(notes, list):
        return snapshot
    return json.dumps([n for n in notes if not isinstance(n, dict) or n.get(QUOTED) in (None, user_id)])


class PersonExport:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def rows(self, user_id: int) -> dict[str, list[dict[str, Any]]]:
        """Every row that is the person's, per table (tables with none left out), in one read."""
        return await self.db.read(lambda conn: self._read(conn, int(user_id)))

    @staticmethod
    def _read(conn: Connection, user_id: int) -> dict[str, list[dict[str, Any]]]:
        tables = Base.metadata.tables
        out: dict[str, list[dict[str, Any]]] = {}
        # Their DM channels: those their own messages were sent in (the character's answers there are theirs).
        dm_channels: set[int] = set()
        for name in ("message_log", "message_archive"):
            t = tables[name]
            dm_channels.update(int(c) for c in conn.execute(
                select(t.c.channel_id).where(t.c.author_id == user_id, t.c.is_dm.is_(True)).distinct()
            ).scalars())
        posted = select(tables["posted_for"].c.message_id).where(tables["posted_for"].c.user_id == user_id)
        export = exported()
        for name, column in export.items():
            table = tables[name]
            where: ColumnElement[bool] = table.c[column] == user_id
            if name == "core_memories":  # not their notes quoting someone else: that person's words
                quoted: Column[Any] = table.c.quoted_user_id
                where = and_(where, or_(quoted.is_(None), quoted == user_id))
            if name in ("message_log", "message_archive"):
                conds = [where, table.c.message_id.in_(posted)]
                if dm_channels:
                    conds.append(and_(table.c.is_dm.is_(True), table.c.channel_id.in_(sorted(dm_channels))))
                where = or_(*conds)
            rows = [_row(table, r) for r in conn.execute(select(table).where(where)).mappings()]
            if name == "core_memory_versions":
                for r in rows:
                    r["snapshot"] = _without_others_quotes(str(r.get("snapshot") or "[]"), user_id)
            if rows:
                out[name] = rows
        for name, parent_name in EXPORTED_THROUGH.items():
            table, parent = tables[name], tables[parent_name]
            [fk] = [fk for fk in table.foreign_keys if fk.column.table is parent]
            mine = select(fk.column).where(parent.c[export[parent_name]] == user_id)
            rows = [_row(table, r) for r in conn.execute(select(table).where(fk.parent.in_(mine))).mappings()]
            if rows:
                out[name] = rows
        greetings = [{"key": k, "value": v} for k, v in conn.execute(
            select(GlobalState.key, GlobalState.value).where(dm_greeting_marks(user_id)))]
        if greetings:
            out[GREETINGS] = greetings
        settings = [{"key": k, "value": json.loads(v), "updated_at": plain(t)} for k, v, t in conn.execute(
            select(ScopedSetting.key, ScopedSetting.value, ScopedSetting.updated_at)
            .where(person_rows(user_id)).order_by(ScopedSetting.key))]
        if settings:
            out[SETTINGS] = settings
        return out
