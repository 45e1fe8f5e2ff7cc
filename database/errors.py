"""Errors the database layer reports to the launcher as one line (no traceback)."""

from __future__ import annotations


class SchemaNotReady(Exception):
    """The schema could not be brought to the newest migration: which database, and what it waited for.

    ``main.py`` prints it as one line and exits 1: the operator needs the reason, not a stack."""

    def __init__(self, database: str, reason: str) -> None:
        self.database = database  # the URL without its password
        self.reason = reason
        super().__init__(f"the schema of {database} is not ready: {reason}")


class DatabaseClosed(RuntimeError):
    """Work asked of a database after its close began: raised at once (a caller that outlived the shutdown,
    a timer's round, a late task), never left waiting on a thread that is gone. Not transient: no retry."""

    def __init__(self, what: str = "the database") -> None:
        super().__init__(f"{what} is closed: no more work runs on it")
