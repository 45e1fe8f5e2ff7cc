"""One way to configure a place or a person: registered settings, one table of values, one cached accessor.

A setting is registered once (:func:`register`) with its key, its type, the scopes it may be set at and
what applies where nothing is set there: a fixed default, or the global setting it follows (``follows``,
its key, declared in bot/core/config or a feature's section). Its values live in one table,
``scoped_settings``: a row per (scope, scope id, key) an admin (or, at the person scope, the person) set,
the value as JSON. A new setting is a registration: no column, no migration.

Scopes: a person (scope id: their user id), a channel (a thread without a value of its own follows its
channel's), a server. What applies (:meth:`PlaceConfig.value`), first found: the person's own value, the
channel's, the thread's parent channel's, the server's, the default. The person comes first because a key
registered per person is a preference about themselves (their time zone, their own switch), which a
place's admins set only as the default for everyone there; what a place must be able to impose on people
is registered without the person scope, and then no person's value is consulted. A setting registered only
per person is read with :meth:`PlaceConfig.person`.

Read at every message (activation, switches, a server's /settings), so answered from a copy of the table
(database/refreshing.py ``TableMirror``): this process's own changes apply at once; another process's (a
shared PostgreSQL) within CONFIG_CACHE_SECONDS, or at once when the cluster passes them on; a row edited,
added or deleted by hand in SQL within CONFIG_CACHE_SECONDS too.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, ScalarSelect, and_, delete, func, select
from sqlalchemy.orm import InstrumentedAttribute

from database.engine import Database
from database.models import ScopedSetting, utcnow
from database.refreshing import CacheChanges, TableMirror

CONFIG_CACHE_SECONDS = 5.0
SERVER = "server"
CHANNEL = "channel"
PERSON = "person"
PLACE_SCOPES = (SERVER, CHANNEL)  # a setting's scopes when its registration names none
SCOPES = (PERSON, CHANNEL, SERVER)  # every scope, in the order a value is looked for (PlaceConfig.value)
# What callers name a place by (``/bot activate``'s place types) -> its scope.
PLACE_TYPES = {"guild": SERVER, "server": SERVER, "channel": CHANNEL}
KINDS: dict[str, type] = {"bool": bool, "int": int, "str": str}


@dataclass(frozen=True)
class PlaceSetting:
    key: str
    kind: str  # bool | int | str: what a value must be (JSON keeps it so)
    scopes: frozenset[str]
    default: object = None  # where nothing is set and ``follows`` names nothing
    follows: str = ""  # the key of the global setting whose value is the default
    help: str = field(default="", compare=False)

    def check(self, scope: str, value: object) -> None:
        if scope not in self.scopes:
            only = ", ".join(sorted(self.scopes))
            raise ValueError(f"{self.key} cannot be set per {scope} (only per {only})")
        if value is not None and type(value) is not KINDS[self.kind]:  # a bool is no int here
            raise ValueError(f"{self.key} takes a {self.kind}, not {value!r}")


_REGISTRY: dict[str, PlaceSetting] = {}


def register(key: str, kind: str, *, scopes: Iterable[str] = PLACE_SCOPES, default: object = None,
             follows: str = "", help: str = "") -> PlaceSetting:
    """Register a setting (at import, where it is used); registering the same one again is harmless."""
    if kind not in KINDS:
        raise ValueError(f"a setting's kind is one of {', '.join(KINDS)}, not {kind!r}")
    setting = PlaceSetting(key, kind, frozenset(scopes), default, follows, help)
    if not setting.scopes or not setting.scopes <= set(SCOPES):
        raise ValueError(f"{key}: scopes are among {', '.join(SCOPES)}")
    known = _REGISTRY.setdefault(key, setting)
    if known != setting:
        raise ValueError(f"the setting {key!r} is registered already, differently")
    return setting


def registered() -> tuple[PlaceSetting, ...]:
    """Every registered setting, in the order registered."""
    return tuple(_REGISTRY.values())


def setting(key: str) -> PlaceSetting:
    found = _REGISTRY.get(key)
    if found is None:
        raise KeyError(f"no setting {key!r} is registered (database/place_config.py register)")
    return found


class PlaceConfig:
    def __init__(self, db: Database, changes: CacheChanges | None = None) -> None:
        self.db = db
        # (scope, scope id, key) -> value: the whole table, a row per value an admin or a person set.
        self._table: TableMirror[tuple[str, int, str], object] = TableMirror(CONFIG_CACHE_SECONDS, self._read)
        # Where each change is noted: the cluster tells the other processes, whose caches would lag otherwise.
        self._changes = changes if changes is not None else CacheChanges()

    @property
    def held(self) -> bool:
        """Whether a copy is held (read, and not forgotten since)."""
        return self._table.held

    @property
    def version(self) -> int:
        """Moves whenever the copy changes: what is derived from it may be kept while it stays."""
        return self._table.version

    def settled(self) -> int | None:
        """:attr:`version` while the copy answers (a due refresh is started); None when the next ask reads
        and waits (another process's change was passed on): database/refreshing.py."""
        return self._table.settled()

    def forget(self) -> None:
        """Another process changed a value: read the table again at the next ask."""
        self._table.forget()

    async def drain(self) -> None:
        """Wait for the cache's reads under way (before the database closes)."""
        await self._table.close()

    async def own(self, key: str, scope: str, scope_id: int, *, fresh: bool = False) -> object:
        """The value set at this scope itself (None: nothing set there)."""
        return await self._table.get((scope, scope_id, key), fresh=fresh)

    async def scope(self, scope: str, scope_id: int, keys: Iterable[str], *,
                    fresh: bool = False) -> dict[str, object]:
        """The values of ``keys`` set at one scope (None where not set), from one look at the copy."""
        await self._table.get((scope, scope_id, ""), fresh=fresh)  # brings the copy up to date
        return {key: self._table.peek((scope, scope_id, key)) for key in keys}

    async def value(self, key: str, channel_id: int, guild_id: int | None, default: object, *,
                    parent_id: int | None = None, person_id: int | None = None) -> object:
        """What applies in a channel (to ``person_id``, when the setting is registered per person): the
        person's own value, else the channel's, else its parent channel's (a thread's), else its server's,
        else ``default``."""
        found = await self._table.get((CHANNEL, channel_id, key))
        if person_id is not None and PERSON in setting(key).scopes:
            found = _first(self._table.peek((PERSON, person_id, key)), found)
        if found is None and parent_id is not None:
            found = self._table.peek((CHANNEL, parent_id, key))
        if found is None and guild_id is not None:
            found = self._table.peek((SERVER, guild_id, key))
        return default if found is None else found

    async def person(self, key: str, person_id: int, default: object = None) -> object:
        """A person's own value of a setting registered per person, else ``default`` (None: the registered
        one)."""
        found = await self._table.get((PERSON, person_id, key))
        if found is not None:
            return found
        return setting(key).default if default is None else default

    def rows_deleted(self) -> None:
        """Rows went behind the accessor (a person's, with the rest of their data, /forget_me): read the
        table again at the next ask, and have the other processes do so."""
        self._table.forget()
        self._changes.places()

    async def set(self, key: str, scope: str, scope_id: int, value: object) -> None:
        """Set a registered setting at a scope; None removes the scope's own value (the default applies)."""
        setting(key).check(scope, value)
        if value is None:
            await self.db.change(delete(ScopedSetting).where(
                ScopedSetting.scope == scope, ScopedSetting.scope_id == scope_id, ScopedSetting.key == key))
            # A row gone is not among the rows changed since: the whole table is read again.
            self._table.forget()
        else:
            ins = self.db.insert(ScopedSetting).values(scope=scope, scope_id=scope_id, key=key,
                                                       value=json.dumps(value), updated_at=utcnow())
            await self.db.change(ins.on_conflict_do_update(
                index_elements=[ScopedSetting.scope, ScopedSetting.scope_id, ScopedSetting.key],
                set_={"value": ins.excluded.value, "updated_at": ins.excluded.updated_at}))
        await self._table.refresh()  # our own change applies to the very next message
        if scope == SERVER:
            self._changes.server(scope_id)
        else:  # a channel's or a person's: the others read the table again
            self._changes.places()

    async def everywhere(self, key: str, scope: str) -> dict[int, object]:
        """Every value of ``key`` set at ``scope``, from the database (a whole job's run: one query)."""
        rows = await self.db.rows(select(ScopedSetting.scope_id, ScopedSetting.value).where(
            ScopedSetting.scope == scope, ScopedSetting.key == key))
        return {int(scope_id): json.loads(value) for scope_id, value in rows}

    async def _read(self, since: datetime | None
                    ) -> tuple[list[tuple[tuple[str, int, str], object, datetime]], int]:
        query = select(ScopedSetting.scope, ScopedSetting.scope_id, ScopedSetting.key, ScopedSetting.value,
                       ScopedSetting.updated_at)
        if since is not None:
            query = query.where(ScopedSetting.updated_at >= since)
        # the table's size in the same look: a row deleted by hand shows as one row fewer than the copy's
        counted = select(func.count()).select_from(ScopedSetting)
        rows, total = await self.db.read_shared(
            lambda conn: (conn.execute(query).all(), int(conn.execute(counted).scalar_one())))
        return [((str(scope), int(scope_id), str(key)), json.loads(value), stamp)
                for scope, scope_id, key, value, stamp in rows], total


def _first(*values: object) -> object:
    return next((v for v in values if v is not None), None)


def person_rows(user_id: int) -> ColumnElement[bool]:
    """A person's own settings (their rows of the person scope): what /forget_me deletes and /export_me
    returns. A place's settings naming them (an access list) are its admins' rules, not theirs."""
    return and_(ScopedSetting.scope == PERSON, ScopedSetting.scope_id == int(user_id))


def person_value(key: str, person: ColumnElement[int] | InstrumentedAttribute[int]) -> ScalarSelect[str]:
    """A person's own value of ``key`` as stored (JSON; NULL when unset), within a statement that reads the
    person anyway (the reply's prompt data: no second read). :func:`stored` reads it."""
    return select(ScopedSetting.value).where(
        ScopedSetting.scope == PERSON, ScopedSetting.scope_id == person, ScopedSetting.key == key
    ).scalar_subquery()


def stored(value: object) -> object:
    """A value as :func:`person_value` gave it (None when unset)."""
    return None if value is None else json.loads(str(value))
