"""Errors the database layer reports to the launcher as one line (no traceback)."""

from __future__ import annotations


class SchemaNotReady(Exception):
    """The schema could not be brought to the newest migration: which database, and what it waited for.

    ``main.py`` prints it as one line and exits 1: the operator needs the reason, not a stack."""

    def __init__(self, database: str, reason: str) -> None:
        self.database = database  # the URL without its password
        self.reason = reason
        super().__init__(f"the schema of {database} is not ready: {reason}")
