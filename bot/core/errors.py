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


def not_utf8(exc: UnicodeDecodeError) -> str:
    """What is wrong with a file that is not UTF-8 text, and the fix: where its first such byte is (a file
    saved as Shift_JIS, GBK or Windows-1252 by an editor's default)."""
    line = bytes(exc.object[:exc.start]).count(b"\n") + 1
    return (f"not UTF-8 text (line {line}: byte 0x{exc.object[exc.start]:02x}); save it as UTF-8 (in your "
            "editor: Save As, encoding UTF-8; in a shell: iconv -f SHIFT_JIS -t UTF-8, naming the encoding "
            "it is in now)")
