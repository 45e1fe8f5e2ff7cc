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
    def to_json(obj: Any, indent: int | None = 2) -> str:
        return json.dumps(obj, default=_default, ensure_ascii=False, indent=indent)

    @staticmethod
    def from_json(text: str) -> Any:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON: {exc}") from None

    @staticmethod
    def save(obj: Any, path: Path | str) -> None:
        Path(path).write_text(Serializer.to_json(obj) + "\n", encoding="utf-8")

    @staticmethod
    def load(path: Path | str) -> Any:
        return Serializer.from_json(Path(path).read_text(encoding="utf-8"))
