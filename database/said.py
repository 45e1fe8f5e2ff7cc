"""What the character said where anyone may hear it, over the log and the archive together: the nightly
consolidation moves the day's lines from the one to the other just before the character looks back on its
day (its custom status, bot/alive/status.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select

from database.engine import Database
from database.models import ArchivedMessage, LoggedMessage
from database.records import SeenMessage
from database.statements import seen_message


async def said_by(db: Database, author_ids: Iterable[int], *, limit: int,
                  since: datetime | None = None) -> list[SeenMessage]:
    """What these authors said in public server channels (no DMs, no private places), newest first;
    ``since``: only from then on."""
    ids = sorted(set(author_ids))
    if not ids:
        return []
    found: dict[int, SeenMessage] = {}
    for table in (LoggedMessage, ArchivedMessage):
        query = select(table).where(table.author_id.in_(ids), table.is_dm.is_(False),
                                    table.private.is_(False))
        if since is not None:
            query = query.where(table.created_at >= since)
        for r in await db.rows(query.order_by(table.message_id.desc()).limit(limit)):
            m = seen_message(r)  # a Core read: each row is the table's columns, by name
            found.setdefault(m.message_id, m)  # a line being archived may be read from both
    return sorted(found.values(), key=lambda m: -m.message_id)[:limit]
