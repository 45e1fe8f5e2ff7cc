"""How one setting is declared (:func:`key`, on a field of a section class in ``sections.py``, or in a
feature package's own section) and the
:class:`Setting` read back from that declaration, from which loading, validation and the docs all work."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeGuard, get_type_hints

_SPEC = "kindred.setting"  # the metadata entry of a declared field

SettingValue = int | float | str | bool  # a setting's value, of its declared kind (_PARSERS)


# Returns Any as dataclasses.field does: in the class body it stands for a value of the field's own type.
def key(default: SettingValue, help: str, *, min: float | None = None, above: float | None = None,
        max: float | None = None, choices: tuple[str, ...] = (), aliases: tuple[str, ...] = (),
        check: Callable[[Any], str | None] | None = None, secret: bool = False,
        placeholder_unset: bool = False, restart: bool = False) -> Any:
    """Declare one setting as a section field: ``name: type = key(default, "help", bounds...)``.

    ``min``/``max``: inclusive bounds; ``above``: exclusive lower bound. ``choices``: the allowed strings
    (matched ignoring case, ``-`` and ``_``; the declared spelling is kept). ``aliases``: other accepted key
    names (ClaudeMask's). ``check``: a function returning what is wrong with a parsed value, or None.
    ``secret``: left out of every repr (tokens, keys, URLs that may hold a password). ``placeholder_unset``:
    an example-file placeholder (``<your id>``) counts as not set. ``restart``: read once at start-up (a
    connection, a scheduler, an object built from it), so a live config reload logs that it needs a restart
    instead of applying it (bot/core/config/live.py)."""
    options = {"help": help, "min": min, "above": above, "max": max, "choices": choices, "aliases": aliases,
               "check": check, "secret": secret, "placeholder_unset": placeholder_unset, "restart": restart}
    return field(default=default, repr=not secret, metadata={_SPEC: options})


def _bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


_PARSERS: dict[type, Callable[[str], SettingValue]] = {int: int, float: float, str: str, bool: _bool}
KIND_NAMES = {int: "a whole number", float: "a number", bool: "true or false"}


def _fold(text: str) -> str:
    return text.strip().lower().replace("-", "_")


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Setting:
    """One key as declared (docs/configuration.md, config.env.example and validation are built from these)."""

    key: str
    kind: type
    default: SettingValue
    help: str
    section: str  # the Settings attribute whose dataclass holds it, e.g. "memory"; a feature's: its name
    aliases: tuple[str, ...] = ()
    min: float | None = None
    above: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()
    check: Callable[[Any], str | None] | None = None  # takes its own setting's kind (Any: each differs)
    secret: bool = False
    placeholder_unset: bool = False
    restart: bool = False  # applies only after a restart (a live reload says so)
    owner: type | None = None  # the section class declaring it (``settings.section(owner)`` holds its value)

    def parse(self, raw: str) -> SettingValue:
        """The typed value of a non-empty raw string; ValueError when it is not of the kind."""
        value = _PARSERS[self.kind](raw)
        if self.choices and isinstance(value, str):
            value = {_fold(c): c for c in self.choices}.get(_fold(value), value)
        return value

    def problem(self, value: SettingValue) -> str | None:
        """What is wrong with a parsed value (bounds, choices, check), or None."""
        if self.choices and value not in self.choices:
            return f"must be one of {', '.join(self.choices)}, got {value!r}"
        if isinstance(value, int | float) and self.kind in (int, float) and not self._in_bounds(value):
            return f"{self._bounds_rule()}, got {value}"
        return self.check(value) if self.check is not None else None

    def _in_bounds(self, value: float) -> bool:
        return ((self.min is None or value >= self.min) and (self.above is None or value > self.above)
                and (self.max is None or value <= self.max))

    def _bounds_rule(self) -> str:
        low, high = self.min, self.max
        if self.above is not None:
            if high is not None:
                return f"must be above {_num(self.above)} and at most {_num(high)}"
            return f"must be greater than {_num(self.above)}"
        if low is not None and high is not None:
            return f"must be between {_num(low)} and {_num(high)}"
        if low is not None:
            return "must not be negative" if low == 0 else f"must be at least {_num(low)}"
        return f"must be at most {_num(high if high is not None else math.inf)}"

    def allowed(self) -> str:
        """The allowed values in short, for the docs ('' when any value of the kind goes)."""
        if self.choices:
            return ", ".join(self.choices)
        if self.min is not None and self.max is not None:
            return f"{_num(self.min)}..{_num(self.max)}"
        parts = [f">= {_num(self.min)}" if self.min is not None else "",
                 f"> {_num(self.above)}" if self.above is not None else "",
                 f"<= {_num(self.max)}" if self.max is not None else ""]
        return ", ".join(p for p in parts if p)


class Section(Protocol):
    """A settings section class: a frozen dataclass of :func:`key` fields with a title."""

    TITLE: ClassVar[str]


def is_section(cls: object) -> TypeGuard[type[Section]]:
    return isinstance(cls, type) and hasattr(cls, "TITLE")


def declared(section_cls: type, section: str) -> tuple[Setting, ...]:
    """The settings a section class declares, in order (every field must be declared with :func:`key`)."""
    out = []
    # the classes themselves, whether or not the section's module postpones its annotations
    types = get_type_hints(section_cls)
    for f in fields(section_cls):
        if _SPEC not in f.metadata or f.default is MISSING:
            raise TypeError(f"{section_cls.__name__}.{f.name} is not declared with key(...)")
        out.append(Setting(f.name, _kind(f.name, types[f.name]), f.default, section=section,
                           owner=section_cls, **f.metadata[_SPEC]))
    return tuple(out)


def _kind(name: str, kind: object) -> type:
    if not isinstance(kind, type) or kind not in _PARSERS:
        raise TypeError(f"setting {name} has unsupported type {kind!r}")
    return kind


def parsed_by(parse: Callable[[str], object]) -> Callable[[str], str | None]:
    """A check from a parser that raises ValueError (its message is the problem)."""
    def check(value: str) -> str | None:
        try:
            parse(value)
        except ValueError as exc:
            return str(exc)
        return None

    return check
