"""Every admin read and edit in one object, ``bot.services.admin``, created once by the bot's ``setup_hook``
and shared by the admin cogs (the log channel's commands and the admin slash commands)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bot.core.config import ModelSettings, StorageSettings
from bot.core.i18n import N_
from bot.operator.admin.edits import IdentityEdits, RelationshipEdits, StateEdits
from bot.operator.admin.language import usage, verbose_answer
from bot.operator.admin.memories import Embed, FactEdits, MemoryEdits
from bot.operator.admin.users import Users
from bot.operator.logmirror import STATE_KEY as VERBOSE_KEY
from bot.operator.logmirror import LogMirror, parse_switch
from database.state import State
from database.store import Store


class Verbose:
    """The ``verbose`` switch: kept in the ``verbose`` global state key, applied to the log mirror."""

    def __init__(self, state: State, storage: StorageSettings, mirror: LogMirror) -> None:
        self.state = state
        self.storage = storage
        self.mirror = mirror

    async def load(self) -> bool:
        """Set the mirror from the ``verbose`` state key; the ``verbose_logging`` setting when it is unset."""
        parsed = parse_switch(await self.state.get(VERBOSE_KEY, ""))
        self.mirror.enabled = self.storage.verbose_logging if parsed is None else parsed
        return self.mirror.enabled

    async def switch(self, arg: str, language: str | None = None) -> str:
        """``verbose [on|off]`` (no argument toggles)."""
        if arg:
            wanted = parse_switch(arg)
            if wanted is None:
                raise usage("verbose", N_("Usage: {syntax} (no argument toggles)."))
        else:
            wanted = not await self.load()
        await self.state.set(VERBOSE_KEY, "on" if wanted else "off")
        self.mirror.enabled = wanted
        return verbose_answer(wanted, language)


class AdminTools:
    """The admin reads and edits, one attribute per concern. ``character`` is the name data is filed under
    (ReplyWriter.character_key); ``embed`` embeds new facts (the memory engine's, when there is one);
    ``models`` and ``storage``: the sections read (a plan's model, ``verbose_logging``); ``state_changed``:
    told of every /state edit (a note for the answer), e.g. the feelings reloaded."""

    def __init__(self, store: Store, models: ModelSettings, storage: StorageSettings, character: str,
                 mirror: LogMirror, *, embed: Embed | None = None,
                 state_changed: Sequence[Callable[[str, str | None], Awaitable[str]]] = ()) -> None:
        self.store = store
        self.verbose = Verbose(store.state, storage, mirror)
        self.users = Users(store.people, models, character)
        self.identity = IdentityEdits(store.identity, character)
        self.facts = FactEdits(store.facts, self.users, embed)
        self.memories = MemoryEdits(store.memories, character, self.users)
        self.relationship = RelationshipEdits(store.people, character, self.users)
        self.state = StateEdits(store.state, self.verbose.load, state_changed)

    async def save_log(self) -> None:
        """Write the messages logged so far (a shutdown's last step before closing)."""
        await self.store.log.flush()

    @property
    def database_closed(self) -> bool:
        return self.store.closed
