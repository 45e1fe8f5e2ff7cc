"""The stamps recall's caches compare at every reply (memory/stamped.py): cheap fingerprints of a person's
facts and of their archived excerpts, compiled once and read in one trip when both are wanted.

- The fact stamp (newest id, newest ``updated_at``, ``users.facts_deleted``) changes with any insert, edit,
  mention or deletion of the person's facts (every insert and update sets ``updated_at``; every deletion
  sets ``facts_deleted``).
- The excerpt stamp (newest id, ``users.excerpts_deleted``, ``users.excerpts_embedded``) changes with any
  insert, deletion or vector filled in (Kindred never edits an excerpt's words).

Triggers (migration 0046) keep both true for a change made past Kindred, such as an operator's SQL console:
a fact edited without a new ``updated_at`` gets one, and a fact or excerpt deleted, or an excerpt's words
edited, moves its person's deletion stamp.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, func, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import BindParameter

from database.boundary import DbRow, DbValue, Query, Statements
from database.models import ArchiveExcerpt, User, UserFact, utcnow

FactStamp = tuple[DbValue, str, str]  # a person's facts: (newest id, latest change, latest deletion)
ExcerptStamp = tuple[DbValue, DbValue, DbValue]  # a person's excerpts: (newest id, deletions, embeddings)


def fact_stamp_select(user_id: BindParameter[int], dialect: Dialect) -> Query:
    """The fact stamp's statement: index probes whatever the number of facts. (A count would step through
    every one of the person's entries: 0.3 ms for 10,000 facts on SQLite, at every reply.) PostgreSQL takes
    both maxima in one aggregate (one index-only scan; its planner may answer ``max(id)`` alone by walking
    the primary key backwards)."""
    of = UserFact.user_id == user_id
    deleted = select(User.facts_deleted).where(User.id == user_id).scalar_subquery()
    if dialect.name != "sqlite":
        return select(func.max(UserFact.id), func.max(UserFact.updated_at), deleted).where(of)
    return select(select(func.max(UserFact.id)).where(of).scalar_subquery(),
                  select(func.max(UserFact.updated_at)).where(of).scalar_subquery(), deleted)


def fact_stamp(row: DbRow) -> FactStamp:
    return (row[0], str(row[1]), str(row[2]))


def excerpt_stamp(row: DbRow | None) -> ExcerptStamp:
    return (row[0], row[1], row[2]) if row is not None else (None, None, None)


def excerpt_stamp_select(user_id: BindParameter[int]) -> Query:
    """The excerpt stamp's statement: two index lookups, whatever the number of excerpts."""
    return select(
        select(func.max(ArchiveExcerpt.id)).where(ArchiveExcerpt.user_id == user_id).scalar_subquery(),
        select(User.excerpts_deleted).where(User.id == user_id).scalar_subquery(),
        select(User.excerpts_embedded).where(User.id == user_id).scalar_subquery(),
    )


def stamp_statements(dialect: Dialect) -> Statements:
    """"stamps": the fact stamp's three columns then the excerpt stamp's, in one statement ("excerpt_stamp"
    alone is one of the prompt read's, database/statements.py)."""
    user_id: BindParameter[int] = bindparam("user_id")
    facts = fact_stamp_select(user_id, dialect).subquery()
    excerpts = excerpt_stamp_select(user_id)
    return {"stamps": select(*facts.c, *excerpts.selected_columns).select_from(facts)}


STAMP_CHUNK = 500  # people one statement marks (bound parameters stay under every driver's limit)


def mark_deleted(conn: Connection, people: Sequence[int], *, facts: bool) -> None:
    """Mark, in ``conn``'s transaction, that some of these people's facts (``facts``) or excerpts were just
    deleted: their stamp moves (``users.facts_deleted`` / ``users.excerpts_deleted``), so recall's caches
    read them again."""
    values = {"facts_deleted" if facts else "excerpts_deleted": utcnow()}
    for start in range(0, len(people), STAMP_CHUNK):
        chunk = list(people[start:start + STAMP_CHUNK])
        conn.execute(update(User).where(User.id.in_(chunk)).values(**values))
