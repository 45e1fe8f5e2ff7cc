"""Where what the character keeps or says may go: the one rule every reader asks.

Everything the character keeps or says carries where it came from (an :class:`Origin`: a person's DMs, a
private place of a server, a server's public channel; whose words or whom it is about), and every request or
post is read by an :class:`Audience` (one person in their DMs, the members of a private place, everyone in a
server's channel). :func:`may_enter` decides whether the one may reach the other, and nothing else does:
the readers (recall, notes and core memories, open threads, excerpts, feelings, the server tools, /ask,
reminders, swipes) ask it, or filter with :func:`mask` (numpy, for recall's index) or :func:`clause` (SQL),
which compute the same rule over many rows at once (tests/test_visibility.py holds all three to one answer
and generates stores and places to show that nothing private reaches a public request or post).

The rule, most private first:

* said in a person's DMs (or their private scope: /ask, "Remember this", a reminder set there): only that
  person's DMs;
* said in a private place of a server (a channel @everyone cannot see, a ticket's thread): that place and its
  threads; and, when it is a person's own (their words, a fact about them), that person's DMs;
* said in a server's public channel: that server's places, and the DMs of the person it is about; another
  server's only when that person shares their memories everywhere (``/memory servers all``);
* about a person but of no place (an admin's note): wherever that person is;
* the character's own (its lore, the day's mood): everywhere.

A reader may always be stricter (an excerpt is recalled in its own channel only, for relevance); it is never
looser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, and_, case, false, literal, or_, true

from database.records import PRIVATE_SOURCE

if TYPE_CHECKING:
    import numpy as np

    from database.records import CoreMemoryRow, SeenMessage


class Kind(IntEnum):
    """How private a place is, most private first (stored as these small integers where a column holds it)."""

    DM = 0  # one person: their DMs, or what the application answers to them alone (an ephemeral /ask)
    PRIVATE = 1  # a private place of a server: its members only
    PUBLIC = 2  # a server's public channel: everyone in the server
    NOWHERE = 3  # of no place: an admin's note about a person, the character's own lore (never an audience)


@dataclass(frozen=True)
class Origin:
    """Where something kept or said came from. ``person``: whose words, or whom it is about (None: nobody's,
    a place's own such as a scheduled event, or the character's); ``channel``: the place, when known (a
    private place's own things are tied to it); ``guild``: the server of a private or public place."""

    kind: Kind
    person: int | None = None
    guild: int | None = None
    channel: int | None = None

    @classmethod
    def dm(cls, person: int) -> Origin:
        return cls(Kind.DM, person)

    @classmethod
    def private_place(cls, guild: int | None, channel: int | None, person: int | None = None) -> Origin:
        return cls(Kind.PRIVATE, person, guild, channel)

    @classmethod
    def public(cls, guild: int | None, channel: int | None = None, person: int | None = None) -> Origin:
        return cls(Kind.PUBLIC, person, guild, channel)


@dataclass(frozen=True)
class Audience:
    """Who reads a request or a post. ``person``: the one it answers (in DMs, the only reader); ``channel``
    and ``parent`` (a thread's channel): where it is read; ``everywhere``: that person lets what they said in
    one server come up in the others."""

    kind: Kind
    person: int | None = None
    guild: int | None = None
    channel: int | None = None
    parent: int | None = None
    everywhere: bool = False

    @classmethod
    def dm(cls, person: int, *, everywhere: bool = True) -> Audience:
        return cls(Kind.DM, person, everywhere=everywhere)

    @classmethod
    def place(cls, *, private: bool, guild: int | None, channel: int | None, person: int | None = None,
              parent: int | None = None, everywhere: bool = False) -> Audience:
        return cls(Kind.PRIVATE if private else Kind.PUBLIC, person, guild, channel, parent, everywhere)

    @property
    def public(self) -> bool:
        return self.kind is Kind.PUBLIC

    def here(self, channel: int | None) -> bool:
        """Whether ``channel`` is this place or the channel its thread is in."""
        return channel is not None and channel in (self.channel, self.parent)


def may_enter(origin: Origin, audience: Audience) -> bool:
    """Whether what came from ``origin`` may enter a request or a post that ``audience`` reads."""
    theirs = origin.person is not None and audience.person == origin.person
    if origin.kind is Kind.DM:
        return audience.kind is Kind.DM and theirs
    if origin.kind is Kind.PRIVATE:
        if audience.kind is Kind.DM:
            return theirs
        # its own place while that place is private (a channel made public since is read by everyone)
        return audience.kind is Kind.PRIVATE and audience.here(origin.channel)
    if origin.kind is Kind.PUBLIC:
        if audience.kind is Kind.DM:
            return theirs
        return audience.guild == origin.guild or (theirs and audience.everywhere)
    if origin.person is None:
        return True  # the character's own
    return theirs if audience.kind is Kind.DM else True  # an admin's note: wherever its person is


def mask(audience: Audience, kind: np.ndarray, person: np.ndarray, guild: np.ndarray,
         channel: np.ndarray | None = None) -> np.ndarray:
    """:func:`may_enter` over many origins at once (arrays of one length: ``kind`` as :class:`Kind` values,
    ``person``, ``guild`` and ``channel`` with 0 for none). Recall filters its index with it."""
    import numpy as np  # here: the log and the store import this module, and need no numpy

    none = np.zeros(len(kind), dtype=bool)
    where = np.zeros(len(kind), dtype=np.int64) if channel is None else channel
    theirs = (person != 0) & (person == (audience.person or -1))
    out: np.ndarray
    if audience.kind is Kind.DM:
        out = theirs & (kind != Kind.NOWHERE) | ((kind == Kind.NOWHERE) & ((person == 0) | theirs))
        return out
    here = none.copy()
    for c in (audience.channel, audience.parent) if audience.kind is Kind.PRIVATE else ():
        if c is not None:
            here |= (where != 0) & (where == c)
    same_server = (guild == audience.guild) if audience.guild is not None else none
    public = same_server | (theirs & audience.everywhere)
    out = ((kind == Kind.PRIVATE) & here) | ((kind == Kind.PUBLIC) & public) | (kind == Kind.NOWHERE)
    return out


def clause(audience: Audience, *, kind: Any, person: Any, guild: Any = None,
           channel: Any = None) -> ColumnElement[bool]:
    """:func:`may_enter` as a SQL condition over a table's origin columns (SQL expressions: ``kind`` as
    :class:`Kind` values, ``person`` the person's id, ``guild`` and ``channel`` NULL for none; a column a
    table does not have is None, meaning none)."""
    if audience.kind is Kind.DM:
        return dm_clause(kind=kind, person=person, reader=literal(audience.person))
    private = audience.kind is Kind.PRIVATE
    places = [c for c in (audience.channel, audience.parent) if c is not None and private]
    return place_clause(kind=kind, person=person, guild=guild, channel=channel,
                        reader=literal(audience.person), reader_guild=literal(audience.guild), places=places,
                        everywhere=true() if audience.everywhere else false())


def dm_clause(*, kind: Any, person: Any, reader: Any) -> ColumnElement[bool]:
    """:func:`clause` for a person's DMs, that person (``reader``) as a SQL expression: a bound parameter
    lets a statement be built once."""
    return or_(and_(kind != int(Kind.NOWHERE), person == reader),
               and_(kind == int(Kind.NOWHERE), or_(person.is_(None), person == reader)))


def place_clause(*, kind: Any, person: Any, guild: Any, channel: Any, reader: Any, reader_guild: Any,
                 places: Sequence[int] = (), everywhere: Any) -> ColumnElement[bool]:
    """:func:`clause` for a server's place, read by ``reader`` (the person answered) in ``reader_guild``;
    ``places``: the place and the channel its thread is in, when it is a private place (none: public);
    ``everywhere``: a SQL truth, the reader shares
    their memories in every server. SQL expressions, as for :func:`dm_clause`."""
    here = channel.in_(list(places)) if places and channel is not None else false()
    same_server = guild == reader_guild if guild is not None else false()
    theirs = person == reader
    return or_(and_(kind == int(Kind.PRIVATE), here),
               and_(kind == int(Kind.PUBLIC), or_(same_server, and_(theirs, everywhere))),
               kind == int(Kind.NOWHERE))


def kept_kind(*, private: Any, guild: Any) -> Any:
    """The :class:`Kind` of a person's kept thing (a fact, a core memory or note, an open thread) from its
    columns, as SQL: what came from their DMs or a private place (``private``) is theirs alone (DM); what
    was learnt in a server's public channels is that server's (PUBLIC); an admin's, of no place (NOWHERE)."""
    return case((private, int(Kind.DM)), (guild.is_(None), int(Kind.NOWHERE)), else_=int(Kind.PUBLIC))


def kept_within(*, private: Any, guild: Any, other_private: Any, other_guild: Any) -> ColumnElement[bool]:
    """Whether a person's kept thing of (``other_private``, ``other_guild``) may enter every place their kept
    thing of (``private``, ``guild``) enters, as SQL (columns as :func:`kept_kind` reads them): anything may
    go where only their DMs read; else the other must be of that server's public channels, or of no place."""
    return or_(private.is_(True), and_(other_private.is_(False),
                                       or_(other_guild.is_(None), other_guild == guild)))


def line_origin(m: SeenMessage) -> Origin:
    """Where a logged line was said, and whose words it is."""
    if m.is_dm:
        return Origin.dm(m.author_id)
    if m.private:
        return Origin.private_place(m.guild_id, m.channel_id, m.author_id)
    return Origin.public(m.guild_id, m.channel_id, m.author_id)


def everywhere_for(person: int) -> Audience:
    """Everyone, in every server the character is in (its custom status, its profile): only what may be said
    anywhere, and ``person``'s (the character's own) public words."""
    return Audience(Kind.PUBLIC, person, everywhere=True)


def pass_rewrites(memory: CoreMemoryRow, source: str, guild_id: int | None) -> bool:
    """A core memory a memory pass of ``source`` (and server) rewrites: of its source and place (the private
    set has no server)."""
    return memory.source == source and (source == PRIVATE_SOURCE or memory.guild_id == guild_id)


def pass_reads(memory: CoreMemoryRow, source: str, guild_id: int | None) -> bool:
    """A core memory a memory pass may read (not to repeat it): a private pass reads them all (its output
    stays private); a server's pass reads only that server's and those of no server: what it writes is shown
    in that server, so neither a private memory nor another server's may reach it."""
    if source == PRIVATE_SOURCE:
        return True
    return not memory.private and memory.guild_id in (None, guild_id)
