"""Errors that carry enough context to tell an operator exactly what to fix."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, reported as one line naming the file and the key.

    main.py prints ``str(error)`` and exits with code 2, without a traceback.
    """

    def __init__(self, file: str, key: str, message: str) -> None:
        self.file = file
        self.key = key
        self.message = message
        super().__init__(f"{file}: {key}: {message}")
