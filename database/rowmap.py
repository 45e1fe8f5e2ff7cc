"""One mapper from a row to a record, by name: a record's fields (a frozen dataclass of database/records.py)
are read from the row's columns of the same names, each turned into its field's type as the driver cannot
(an int from a Decimal or a bool, an aware UTC time from SQLite's naive one, a tuple from a JSON list).

A repository selects the columns its record names (``columns(Ticket, TicketRecord)``, or labels them so) and
reads each row with :func:`record`; no column is read by its position, so a column added to a query, or the
order changed, reads nothing wrong."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar, get_args, get_origin, get_type_hints

from sqlalchemy.orm import InstrumentedAttribute

from database.boundary import DbValue, NamedRow
from database.records import as_utc

R = TypeVar("R")
Convert = Callable[[DbValue], object]


def _convert(hint: object) -> Convert:
    """The conversion of a column's value into a field's type ``hint``."""
    args = get_args(hint)
    if get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        [inner] = [a for a in args if a is not type(None)]
        convert = _convert(inner)
        return lambda v: None if v is None else convert(v)
    if get_origin(hint) is tuple:
        item = _convert(args[0])
        return lambda v: tuple(item(x) for x in v)
    if hint is datetime:
        return as_utc
    if hint in (int, str, bool, float, bytes):
        return typing.cast(Convert, hint)
    return lambda v: v  # a type the driver already hands back as it is


_FIELDS: dict[type, tuple[tuple[str, Convert], ...]] = {}  # a record's fields, read once
_DEFAULTED: dict[type, frozenset[str]] = {}  # those with a default


def _fields(kind: type) -> tuple[tuple[str, Convert], ...]:
    found = _FIELDS.get(kind)
    if found is None:
        hints = get_type_hints(kind)
        fields = dataclasses.fields(kind)
        _DEFAULTED[kind] = frozenset(f.name for f in fields if f.default is not dataclasses.MISSING
                                     or f.default_factory is not dataclasses.MISSING)
        found = _FIELDS[kind] = tuple((f.name, _convert(hints[f.name])) for f in fields)
    return found


def record(kind: type[R], row: NamedRow, **given: object) -> R:
    """The record ``kind`` of ``row``: each field from the column of its name (or label), but those
    ``given``; a field with a default the query does not select keeps its default."""
    values = row._mapping
    fields = _fields(kind)
    return kind(**{name: convert(values[name]) for name, convert in fields
                   if name not in given and (name in values or name not in _DEFAULTED[kind])}, **given)


def columns(model: type, kind: type) -> tuple[InstrumentedAttribute[DbValue], ...]:
    """The columns of the table ``model`` that the record ``kind`` names, in its fields' order."""
    return tuple(getattr(model, name) for name, _ in _fields(kind))
