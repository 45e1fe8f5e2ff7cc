"""The two boundaries where a value is untyped, named once: what the database driver hands back, and JSON.

Everywhere else a value has its own type; these are the only places ``Any`` stands, on purpose:

- A column's value as the driver returns it is whatever the column's type makes it (int, str, datetime,
  bytes, None; a tuple from asyncpg's ROW()): the type checker cannot know it. Each repository's row reader
  (``_row``, ``_fact``, ``seen_message`` ...) turns a row into a typed record (database/records.py) at once.
- JSON (a JSON column, a cluster signal, a payload from Discord or an HTTP API) is a tree of str, int,
  float, bool, None, lists and objects; its reader checks the shape it needs where it reads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Row, Select, TextClause
from sqlalchemy.sql.dml import UpdateBase

DbValue = Any  # one column's value, as the driver returns it
# A row: a tuple (pysqlite), an asyncpg record or a SQLAlchemy Row; all index the same way.
DbRow = Sequence[DbValue]
NamedRow = Row[*tuple[DbValue, ...]]  # a SQLAlchemy Row: its columns are read by name too (``r.content``)

# The hot path's statements, SQLAlchemy Core built once per dialect (database/statements.py): a query, a
# write, or raw SQL, run with ``conn.execute``; their parameters by name.
Query = Select[*tuple[DbValue, ...]]
Statement = Query | UpdateBase | TextClause
Params = Mapping[str, object]
Statements = dict[str, Statement]

Json = Any  # a JSON value, unchecked until read
JsonObject = dict[str, Json]  # a JSON object (what json.loads gives for "{...}")
