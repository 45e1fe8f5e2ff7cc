"""The person half of a reply's prompt read (read_person, for database/conversations.py) in as few statements
as the dialect allows. Each statement run costs SQLAlchemy's execution more CPU than the database takes to
answer these small lookups (and on PostgreSQL a round trip), and a reply reads them at every message.

- PostgreSQL: all of it in one statement ("person", "person_private"). Each part is a subquery of the
  statement it stands for; asyncpg hands ROW(...) and ARRAY(SELECT ROW(...)) back as tuples of the same
  native values the parts return alone.
- SQLite: the parts of one row at most in one statement ("person_singles", a scalar subquery per column,
  each typed as its column), the lists (identity, memories, threads) one statement each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, Select, func, select
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import ColumnElement

from database.boundary import DbRow, DbValue, Query, Statement, Statements
from database.profiles import Profile, profile_of
from database.records import PRIVATE_NOTE_SOURCE, PRIVATE_SOURCE, PromptRequest, as_utc
from database.stamps import ExcerptStamp, FactStamp, excerpt_stamp, fact_stamp
from database.threads import ThreadRow, thread_rows

# The parts of one row at most, in read_person's order, and the ones that are rows (None when absent; their
# first column is never NULL in a row that is there).
SINGLES = ("relationship", "mood", "user", "character_state", "fact_stamp", "style_profile", "excerpt_stamp",
           "feelings", "profile")
ROWS = frozenset({"relationship", "user", "character_state"})
SCALARS = frozenset({"mood", "style_profile"})


# The person's half of a prompt read as read (identity, memories, relationship, mood, user, stage, fact
# stamp, writing style, excerpt stamp, open threads, feelings, the persona they set).
Person = tuple[dict[str, list[str]], list[tuple[DbValue, ...]], DbRow | None, DbValue, DbRow | None,
               DbRow | None, FactStamp, DbValue, ExcerptStamp, tuple[ThreadRow, ...], tuple[str, str],
               Profile]

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
        one("excerpt_stamp"), many(f"threads{private}"), one("feelings"), one("profile"))
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


def read_person(conn: Connection, q: Statements, sizes: tuple[int, ...], r: PromptRequest) -> Person:
    """What the character holds of the person (identity, memories, relationship, mood, user, stage,
    fact stamp, writing style, excerpt stamp, open threads, feelings): small lookups, many of them."""
    params = prompt_params(r)
    private = "_private" if r.private else ""
    together = q.get(f"person{private}")  # PostgreSQL: one statement
    if together is not None:
        kinds, found, rel, mood, user, state, stamp, style, said, threads, feelings, profile = conn.execute(
            together, params).one()
        memories = [tuple(m) for m in found]  # (content, source) rows, as read one by one
    else:
        kinds = conn.execute(q["identity"], params).all()
        memories = [tuple(row) for row in conn.execute(q[f"memories{private}"], params)]
        threads = conn.execute(q[f"threads{private}"], params).all()
    singles = q.get("person_singles")  # SQLite: the parts of one row in one statement
    if singles is not None:
        rel, mood, user, state, stamp, style, said, feelings, profile = split_singles(
            conn.execute(singles, params).one(), sizes)
    elif together is None:
        rel = conn.execute(q["relationship"], params).first()
        mood = conn.execute(q["mood"]).scalar()
        user = conn.execute(q["user"], params).first()
        state = conn.execute(q["character_state"], params).first()
        stamp = conn.execute(q["fact_stamp"], params).one()
        style = conn.execute(q["style_profile"], params).scalar()
        said = conn.execute(q["excerpt_stamp"], params).first()
        feelings = conn.execute(q["feelings"], params).one()
        profile = conn.execute(q["profile"], params).one()
    identity: dict[str, list[str]] = {}
    for kind, content in kinds:
        identity.setdefault(kind, []).append(content)
    toward, room = feelings
    return (identity, memories, rel, mood, user, state, fact_stamp(stamp), style, excerpt_stamp(said),
            thread_rows(threads), (str(toward or ""), "" if r.private else str(room or "")),
            profile_of(tuple(profile)))


def prompt_params(r: PromptRequest) -> dict[str, object]:
    return {"character": r.character, "user_id": r.user_id, "scope": r.scope, "channel_id": r.channel_id,
            "private_source": PRIVATE_SOURCE, "private_note": PRIVATE_NOTE_SOURCE, "guild_id": r.guild_id}


def felt_since(now: datetime, *, public: bool) -> str:
    """``relationships.felt_since`` once a batch changed what the relationship says (0033): since when, for
    their DMs (``all``) and, when public talk changed it, for public places (``public``; absent once private
    talk changed it, so that a server's reply never learns when what was said in private moved it)."""
    return json.dumps({"all": now.isoformat(), **({"public": now.isoformat()} if public else {})})


def read_felt_since(raw: object) -> tuple[datetime | None, datetime | None]:
    """(for their DMs, for public places) from a stored ``felt_since`` (None: not known)."""
    try:
        data = json.loads(raw) if isinstance(raw, str) else {}
        found = [as_utc(datetime.fromisoformat(v)) if isinstance(v := data.get(k), str) else None
                 for k in ("all", "public")]
    except (ValueError, TypeError, AttributeError):
        return None, None
    return found[0], found[1]
