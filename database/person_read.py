"""The person half of a reply's prompt read (database/conversations.py, _read_person) in as few statements as
the dialect allows. Each statement run costs SQLAlchemy's execution more CPU than the database takes to answer
these small lookups (and on PostgreSQL a round trip), and a reply reads them at every message.

- PostgreSQL: all of it in one statement ("person", "person_private"). Each part is a subquery of the
  statement it stands for; asyncpg hands ROW(...) and ARRAY(SELECT ROW(...)) back as tuples of the same
  native values the parts return alone.
- SQLite: the parts of one row at most in one statement ("person_singles", a scalar subquery per column,
  each typed as its column), the lists (identity, memories, threads) one statement each.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ColumnElement

from database.boundary import DbRow, DbValue, Query, Statement, Statements

# The parts of one row at most, in _read_person's order, and the ones that are rows (None when absent; their
# first column is never NULL in a row that is there).
SINGLES = ("relationship", "mood", "user", "character_state", "fact_stamp", "style_profile", "excerpt_stamp",
           "feelings")
ROWS = frozenset({"relationship", "user", "character_state"})
SCALARS = frozenset({"mood", "style_profile"})


def person_statements(parts: Mapping[str, Statement], dialect: Dialect) -> Statements:
    def query(name: str) -> Query:  # the reads combined here are all queries
        assert isinstance(stmt := parts[name], Select)
        return stmt

    if dialect.name != "postgresql":
        return {"person_singles": select(*(query(name).with_only_columns(column).scalar_subquery()
                                           for name in SINGLES for column in query(name).selected_columns))}

    def one(name: str) -> ColumnElement[DbValue]:
        stmt = query(name)
        return stmt.with_only_columns(func.ROW(*stmt.selected_columns)).scalar_subquery()

    def many(name: str) -> ColumnElement[DbValue]:
        stmt = query(name)
        return func.ARRAY(stmt.with_only_columns(func.ROW(*stmt.selected_columns)).scalar_subquery())

    return {person: select(
        many("identity"), many(f"memories{private}"), one("relationship"), query("mood").scalar_subquery(),
        one("user"), one("character_state"), one("fact_stamp"), query("style_profile").scalar_subquery(),
        one("excerpt_stamp"), many(f"threads{private}"), one("feelings"))
        for person, private in (("person", ""), ("person_private", "_private"))}


def widths(parts: Mapping[str, Statement]) -> tuple[int, ...]:
    """How many columns each of :data:`SINGLES` has, in the "person_singles" row."""
    return tuple(len(stmt.selected_columns) for name in SINGLES
                 if isinstance(stmt := parts[name], Select))


def split_singles(row: DbRow, sizes: tuple[int, ...]) -> list[DbValue | DbRow | None]:
    """The "person_singles" row as the parts read one by one would give them: a row (None when absent), a
    scalar, or a tuple of columns."""
    out: list[DbValue | DbRow | None] = []
    at = 0
    for name, size in zip(SINGLES, sizes, strict=True):
        columns = tuple(row[at:at + size])
        at += size
        if name in SCALARS:
            out.append(columns[0])
        elif name in ROWS and columns[0] is None:
            out.append(None)
        else:
            out.append(columns)
    return out
