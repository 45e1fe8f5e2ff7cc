"""JSON in and out for PersonaFlow objects (anything with ``to_dict``), dates as ISO strings."""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any


def _default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if is_dataclass(obj) and not isinstance(obj, type):
        return asdict(obj)
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot serialize {type(obj).__name__} to JSON")


class Serializer:
    @staticmethod
    def to_json(data: Any, file_path: Path | str | None = None, indent: int | None = 2) -> str:
        """The JSON text of ``data``; also written to ``file_path`` (UTF-8) when one is given."""
        text = json.dumps(data, default=_default, ensure_ascii=False, indent=indent)
        if file_path is not None:
            Path(file_path).write_text(text + "\n", encoding="utf-8")
        return text

    @staticmethod
    def from_json(source: Path | str) -> Any:
        """Parse JSON text, or read the file ``source`` names (a Path, or a string naming an existing
        file)."""
        if isinstance(source, Path) or (isinstance(source, str) and _is_file(source)):
            text, origin = Path(source).read_text(encoding="utf-8"), f"file {str(source)!r}"
        elif isinstance(source, str):
            text, origin = source, "not an existing file, and"
        else:
            raise TypeError(f"from_json takes JSON text or a file path, got {type(source).__name__}")
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{origin} not valid JSON: {exc}") from None

    @staticmethod
    def save(obj: Any, path: Path | str) -> None:
        Serializer.to_json(obj, path)

    @staticmethod
    def load(path: Path | str) -> Any:
        return Serializer.from_json(Path(path))


def _is_file(text: str) -> bool:
    # JSON text may be long or hold characters no file name can: such a string is simply not a path.
    try:
        return "\n" not in text and len(text) < 4096 and Path(text).is_file()
    except (OSError, ValueError):
        return False
