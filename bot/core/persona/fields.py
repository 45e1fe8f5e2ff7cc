"""Reading the JSON files a character is made of (character and framework JSON): typed fields that name
the file and the dotted field path in every error, and a warning for each unknown field."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

from bot.core.errors import ConfigError
from database.boundary import Json, JsonObject

log = logging.getLogger(__name__)


class FieldReader:
    """Typed field access that names the file and the dotted field path in every error."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, path: str, message: str) -> ConfigError:
        return ConfigError(self.file, path, message)

    def text(self, obj: Mapping[str, Json], key: str, path: str, *, required: bool = False) -> str:
        value = obj.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.fail(path, "missing: this field is required")
            return ""
        if not isinstance(value, str):
            raise self.fail(path, f"expected text, got {kind_of(value)}")
        return value.strip()

    def texts(self, value: Json, path: str) -> tuple[str, ...]:
        """A list of text (a single string counts as a one-item list)."""
        if value is None:
            return ()
        if isinstance(value, str):
            return (value.strip(),) if value.strip() else ()
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list of text, got {kind_of(value)}")
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.fail(f"{path}[{i}]", f"expected text, got {kind_of(item)}")
            if item.strip():
                out.append(item.strip())
        return tuple(out)

    def lines(
        self, value: Json, path: str, label: str = "{key}: {value}", *, raw_keys: bool = False
    ) -> tuple[str, ...]:
        """Text, a list of text, or an object of text/lists, flattened into prompt lines."""
        if isinstance(value, dict):
            out = []
            for key, item in value.items():
                if isinstance(item, int | float) and not isinstance(item, bool):
                    item = str(item)
                parts = self.texts(item, f"{path}.{key}")
                if parts:
                    name = key if raw_keys else field_label(key)
                    out.append(label.format(key=name, value="; ".join(parts)))
            return tuple(out)
        return self.texts(value, path)

    def number(
        self, obj: Mapping[str, Json], key: str, path: str, low: float, high: float, *, whole: bool = False
    ) -> float | int | None:
        value = obj.get(key)
        if value is None:
            return None
        kind = "a whole number" if whole else "a number"
        if isinstance(value, bool) or not isinstance(value, int | float) or (whole and int(value) != value):
            raise self.fail(path, f"expected {kind} between {low:g} and {high:g}, got {value!r}")
        if not low <= value <= high:
            raise self.fail(path, f"must be between {low:g} and {high:g}, got {value!r}")
        return int(value) if whole else float(value)

    def obj(self, value: Json, path: str, *, required: bool = False) -> JsonObject:
        if value is None:
            if required:
                raise self.fail(path, "missing: this field is required")
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, f"expected an object, got {kind_of(value)}")
        return value


def kind_of(value: Json) -> str:
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def field_label(key: str) -> str:
    words = key.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def read_json_object(path: Path) -> JsonObject:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise ConfigError(str(path), "file", f"cannot read: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(str(path), "json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "json", "expected a JSON object at the top level")
    return data


def warn_unknown_fields(data: Mapping[str, Json], known: set[str], file: str) -> None:
    for key in data:
        if key not in known:
            log.warning("%s: %s: unknown field ignored (typo?)", file, key)
