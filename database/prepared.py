"""Statements of the per-message hot path, compiled once and run with little per-call work.

On SQLite, SQLAlchemy's own execution (parameter processing, result set set-up, row objects) costs
several times what SQLite spends running these small indexed statements: about 70 µs against 10 µs
here, and every message runs a dozen of them. A :class:`Prepared` statement is still written with
SQLAlchemy Core and compiled by it for the dialect, with the column types' own bind and result
processors; only the call goes straight to the pysqlite cursor of the connection SQLAlchemy checked
out. On PostgreSQL the call goes to the asyncpg adapter's DBAPI cursor (about 20 µs a statement against
40 through SQLAlchemy's execute). On every other dialect it is an ordinary ``connection.execute``.

Rows come back as tuple-like rows (plain tuples, asyncpg's records, or SQLAlchemy ``Row`` objects on other
dialects: all index the same way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.sql import Select, TextClause
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase

from database.boundary import DbRow, DbValue

Processor = Callable[[DbValue], DbValue] | None  # a column type's conversion to or from the driver's value
# What is compiled here: a query, a write, or raw SQL.
Query = Select[*tuple[DbValue, ...]]
Statement = Query | UpdateBase | TextClause
Params = Mapping[str, object]  # a statement's parameters by name
T = TypeVar("T")


class Prepared:
    """One statement compiled for one dialect (``column_keys``: the columns an INSERT receives)."""

    def __init__(self, statement: Statement, dialect: Dialect, *,
                 column_keys: Sequence[str] | None = None, warm_with_nulls: bool = False) -> None:
        self.statement = statement
        self.warm_with_nulls = warm_with_nulls
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys) if column_keys else None)
        assert isinstance(compiled, SQLCompiler)  # a SQL dialect compiles SQL (positiontup, binds below)
        self.sql = compiled.string
        names = tuple(compiled.positiontup or ())
        # Only plain positional SQL runs raw: anything SQLAlchemy finishes at execution time (expanding IN
        # lists, literal-rendered parameters, Python-side column defaults) keeps the ordinary path.
        plain = ("POSTCOMPILE" not in self.sql and not getattr(compiled, "insert_prefetch", None)
                 and not getattr(compiled, "update_prefetch", None))
        self.raw = plain and dialect.driver == "pysqlite" and dialect.paramstyle == "qmark"
        # PostgreSQL: through the asyncpg adapter's own DBAPI cursor (its prepared-statement cache, the
        # connection's transaction), without SQLAlchemy's execution around it: half the CPU per statement.
        # asyncpg hands back Python's own types (floats, aware datetimes, booleans): no result processors.
        self.dbapi = plain and dialect.driver == "asyncpg" and dialect.paramstyle == "numeric_dollar"
        self._names = names
        self._fixed: dict[str, object] = {}
        self._bind: tuple[Processor, ...] = ()
        self._result: tuple[Processor, ...] = ()
        if self.raw or self.dbapi:
            # Values written into the statement itself (e.g. ``key == "daily_mood"``, an OFFSET) are binds
            # too.
            self._fixed = {n: compiled.binds[n].effective_value for n in names}
            self._bind = tuple(
                compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names
            )
        if self.raw:
            columns = getattr(statement, "selected_columns", None) or ()
            self._result = tuple(
                c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
            )
        self._any_result = any(self._result)

    def _params(self, values: Params) -> tuple[DbValue, ...]:
        fixed = self._fixed
        return tuple(
            [
                (p(v) if p is not None else v)
                for p, v in zip(
                    self._bind, [values[n] if n in values else fixed[n] for n in self._names], strict=True
                )
            ]
        )

    def _convert(self, rows: list[DbRow]) -> list[DbRow]:
        if not self._any_result:
            return rows
        procs = self._result
        return [
            tuple([p(v) if p is not None else v for p, v in zip(procs, row, strict=True)]) for row in rows
        ]

    def _on_dbapi(self, conn: Connection, run: Callable[[DBAPICursor], T]) -> T:
        """``run(cursor)`` on the asyncpg adapter's cursor of ``conn``'s connection. SQLAlchemy is told of
        the transaction the statement opens (as its own execute would), so a rollback on ``conn`` reaches
        it."""
        if not conn.in_transaction():
            conn.begin()
        # the checked-out connection's driver connection: never None here
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            return run(cursor)
        finally:
            cursor.close()

    def _fetch_dbapi(self, conn: Connection, values: Params | None, fetch: str) -> DbValue:
        def run(cursor: DBAPICursor) -> DbValue:
            cursor.execute(self.sql, self._params(values or {}))
            return getattr(cursor, fetch)()

        return self._on_dbapi(conn, run)

    def all(self, conn: Connection, values: Params | None = None) -> list[DbRow]:
        if self.dbapi:
            return list(self._fetch_dbapi(conn, values, "fetchall"))
        if not self.raw:
            return list(conn.execute(self.statement, dict(values or {})).all())
        # the checked-out connection's driver connection: never None here
        cursor = conn.connection.driver_connection.execute(self.sql, self._params(values or {}))  # type: ignore[union-attr]
        return self._convert(cursor.fetchall())

    def driver_rows(self, conn: Connection, values: Params | None = None) -> list[DbRow] | None:
        """The rows as the driver returns them (no result processors: SQLite's text times, 0/1 booleans),
        for a caller that converts many rows faster itself; None where the statement does not run raw."""
        if not self.raw:
            return None
        # the checked-out connection's driver connection: never None here
        cursor = conn.connection.driver_connection.execute(self.sql, self._params(values or {}))  # type: ignore[union-attr]
        rows: list[DbRow] = cursor.fetchall()
        return rows

    def first(self, conn: Connection, values: Params | None = None) -> DbRow | None:
        """The first row, or None; also how an INSERT/UPDATE ... RETURNING is run."""
        if self.dbapi:
            row: DbRow | None = self._fetch_dbapi(conn, values, "fetchone")
            return row
        if not self.raw:
            return conn.execute(self.statement, dict(values or {})).first()
        # the checked-out connection's driver connection: never None here
        cursor = conn.connection.driver_connection.execute(self.sql, self._params(values or {}))  # type: ignore[union-attr]
        row = cursor.fetchone()
        cursor.close()
        return None if row is None else self._convert([row])[0]

    def one(self, conn: Connection, values: Params | None = None) -> DbRow:
        """The row of a statement that always returns one (an upsert's RETURNING, a select of aggregates)."""
        row = self.first(conn, values)
        if row is None:
            raise LookupError(f"no row from a statement that returns one: {self.sql[:80]}")
        return row

    def scalar(self, conn: Connection, values: Params | None = None) -> DbValue:
        row = self.first(conn, values)
        return None if row is None else row[0]

    def warm(self, conn: Connection) -> None:
        """Run the statement once with every parameter NULL, on PostgreSQL: asyncpg prepares it on this
        connection, and the server loads the tables and indexes it touches into this backend's caches.
        Only what is harmless with NULLs: a SELECT (it matches no row), or a statement built to be
        (``warm_with_nulls``)."""
        if self.dbapi and (self.warm_with_nulls or isinstance(self.statement, Select)):
            self._fetch_dbapi(conn, dict.fromkeys(self._names), "fetchall")

    def execute_many(self, conn: Connection, rows: Sequence[Params]) -> None:
        """Run a data-changing statement once per row (inside the caller's transaction)."""
        if self.dbapi:
            self._on_dbapi(conn, lambda cursor: cursor.executemany(self.sql, [self._params(r) for r in rows]))
            return
        if not self.raw:
            conn.execute(self.statement, [dict(r) for r in rows])
            return
        # the checked-out connection's driver connection: never None here
        conn.connection.driver_connection.executemany(self.sql, [self._params(r) for r in rows])  # type: ignore[union-attr]


Statements = dict[str, Prepared]  # the compiled statements of the hot path, by name
