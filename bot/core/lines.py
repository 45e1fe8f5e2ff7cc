"""A line said later, in a language not known yet: its English msgid (marked for the catalogs) and its values,
rendered with :func:`bot.core.i18n.t` (or ``tn`` for a count) where it is shown. The verbose mirror's lines
are these (bot/operator/logmirror.py): plain code says what happened, the log channel picks the language it
is read in (bot/discord/logchannel.py) when it posts.

``Line(N_("Check-in for user {user} skipped."), user=person.user_id)``; a count picks the form with
``Line.tn(days, "Check-in sent after a day of silence.", "Check-in sent after {count} days of silence.")``
(written as ``tn`` so the extractor reads the two forms as one plural entry). Values are shown as they are:
an ``int`` is an id (a user's, a channel's) and never grouped; a figure meant as a number is a
:class:`Figure`, written as the language writes numbers (a share as a percentage); an amount of a unit that
may be a fraction ("0.5 days") a :class:`Quantity`; a value that is a line itself is rendered in the same
language; a tuple of values is listed, "; " apart, a :class:`Spaced` one a space apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.i18n import t, tn
from bot.core.numbers import number, percent, quantity


@dataclass(frozen=True)
class Figure:
    """A number in a line, written the reader's way ("1,234.5", "1.234,5"); ``places``: exactly that many
    decimals; ``share``: a share of one (0.4), written as a whole percentage ("40%", "40 %"); ``signed``:
    with its sign even when positive ("+1.5")."""

    value: float
    places: int | None = None
    share: bool = False
    signed: bool = False

    def render(self, language: str | None) -> str:
        if self.share:
            return percent(self.value, language)
        return number(self.value, language, signed=self.signed, places=self.places)


@dataclass(frozen=True)
class Spaced:
    """Values shown one after another, a space apart (a vote's "yes no fail")."""

    items: tuple[object, ...]


@dataclass(frozen=True)
class Quantity:
    """An amount of a duration unit in a line ("0.5 days", "0,5 дня"), its form the one its number as shown
    takes, a fraction's too (bot/core/numbers.py ``quantity``): a count's plural line reads whole numbers
    only."""

    value: float
    unit: str  # CLDR's: "day", "hour", "minute"...

    def render(self, language: str | None) -> str:
        return quantity(self.value, self.unit, language)


class Line:
    """A translatable line and its values (see the module's docstring)."""

    __slots__ = ("count", "message", "plural", "values")

    def __init__(self, message: str, /, **values: object) -> None:
        self.message = message
        self.plural: str | None = None
        self.count = 0
        self.values: Mapping[str, object] = values

    @classmethod
    def tn(cls, count: int, singular: str, plural: str, /, **values: object) -> Line:
        """The form of ``singular``/``plural`` for ``count`` (``{count}``, written the reader's way)."""
        line = cls(singular, **values)
        line.plural, line.count = plural, count
        return line

    def render(self, language: str | None) -> str:
        """The line in ``language`` (None: English)."""
        values = {key: shown(value, language) for key, value in self.values.items()}
        if self.plural is None:
            return t(language, self.message, **values)
        values.setdefault("count", number(self.count, language))
        return tn(language, self.message, self.plural, self.count, **values)

    def english(self) -> str:
        return self.render(None)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Line) and (self.message, self.plural, self.count, dict(self.values))
                == (other.message, other.plural, other.count, dict(other.values)))

    def __hash__(self) -> int:
        return hash((self.message, self.plural, self.count))

    def __repr__(self) -> str:
        return f"Line({self.english()!r})"


def shown(value: object, language: str | None) -> str:
    """A line's value in ``language``: a line or a figure rendered, a tuple listed, anything else as it is."""
    if isinstance(value, (Line, Figure, Quantity)):
        return value.render(language)
    if isinstance(value, tuple):
        return "; ".join(shown(v, language) for v in value)
    if isinstance(value, Spaced):
        return " ".join(shown(v, language) for v in value.items)
    return str(value)
