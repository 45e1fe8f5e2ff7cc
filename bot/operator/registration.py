"""How a feature registers itself: one ``Feature`` a feature package declares (its ``FEATURE``), listed
once in bot/features/__init__.py ``FEATURES``. The composition root builds each (``build``) and adds what
it lends to the replies' stages (bot/core/stages.py ``Features``); the client loads its cogs; ``/bot``
gets a command per switch (bot/discord/switches.py, added by cogs/activation.py or by the cog of the subgroup
it is in) and tells the features of a place switched off (``place_changed``); ``/forget_me`` deletes its
rows; the spending limits count its unprompted calls. No hub file lists a registered feature by name.

It sits here, under the features and over what they are built from (alive, the reply path, the core, the
data layer), so that a feature package imports it without importing another feature."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from bot.core.config.holder import SettingsHolder
from bot.core.config.sections import register_section
from bot.core.lines import Line
from bot.core.place import Place
from bot.core.stages import (
    DecisionListener,
    Gate,
    Incoming,
    OwnAccounts,
    PromptPart,
    Reader,
    ReplyTools,
    ThreadTalk,
    TurnListener,
)
from bot.core.timers import Recurring, Timers
from bot.operator.places import PlaceControls
from database.place_config import SERVER, PlaceConfig
from database.servers import register_server_setting
from database.store import Store
from database.switches import register_switch

if TYPE_CHECKING:
    import discord
    from sqlalchemy import Connection

    from bot.alive.reacting import Answers
    from bot.alive.service import AliveParts, DiscordSide
    from bot.alive.speaker import Speaker
    from bot.core.localtime import LocalTime
    from bot.core.metrics import Metrics
    from bot.core.persona.model import Persona
    from bot.core.reach import Rule
    from bot.operator.limits import SpendingLimits
    from bot.reply.pipeline import Cast
    from database.timers import TimerRow
    from memory.consent import Consent



@dataclass(frozen=True)
class Switch:
    """A per-place on/off switch an admin sets with ``/bot <command> on|off|default [scope]`` (a channel's
    setting wins over its server's). Its default is a setting (``key`` of the section class ``section``, a
    core one or a feature's), else ``default``.
    ``mastered``: the setting is the operator's master switch: a place may turn it off, never on past it.
    ``command``: its subcommand ("" for one whose command is written by hand; "mcp private" for one in a
    feature's own subgroup, which that subgroup's cog adds); ``what``: the line the admin is shown when it is
    on; ``server_admins``: only a server's own admins may set it (not the bot's); ``server_wide``: set for
    the whole server only (its command takes no scope); ``state_text``: its state option's text ("": on,
    off, or default, and the default's setting)."""

    name: str
    description: str
    what: str
    section: type | None = None
    key: str = ""
    default: bool = False
    mastered: bool = False
    command: str | None = None  # None: the name, with dashes
    server_admins: bool = False
    server_wide: bool = False
    state_text: str = ""

    def __post_init__(self) -> None:
        # a switch is a place setting (database/place_config.py): declaring it registers it
        if self.key and self.section is None:
            raise TypeError(f"switch {self.name}: a default from a setting names its section class")
        register_switch(self.name, self.key, self.default)

    @property
    def subcommand(self) -> str:
        return self.name.replace("_", "-") if self.command is None else self.command

    @property
    def default_name(self) -> str:
        return self.key or ("on" if self.default else "off")


class PlaceSwitch:
    """A switch as a feature's code reads it: whether it is on at a place, with the switch's own default (the
    running setting it follows: a reload applies; a mastered one never on past it) and a thread following its
    channel where it has no setting of its own. Made by :meth:`Parts.switch`; every reader asks the same way,
    so none can pass another default or forget a thread's channel."""

    def __init__(self, switch: Switch, places: PlaceControls, holder: SettingsHolder) -> None:
        self.switch = switch
        self.places = places
        # the running section its default follows (the object a reload writes into), found once
        self._section = holder.follow(switch.section) if switch.key and switch.section is not None else None

    @property
    def default(self) -> bool:
        """What applies where no place set it (the running setting it follows, else its own default)."""
        return self.switch.default if self._section is None else bool(getattr(self._section, self.switch.key))

    async def on(self, place: Place) -> bool:
        """Whether it is on at ``place`` (an answer only one person sees: the server it was asked in)."""
        return await self.at(place.channel_id, place.guild_id, parent_id=place.parent_id)

    async def at(self, channel_id: int, guild_id: int | None, *, parent_id: int | None = None) -> bool:
        """Whether it is on in ``channel_id`` of ``guild_id`` (``parent_id``: a thread's channel)."""
        default = self.default
        if self.switch.mastered:  # the operator's master switch: a place may turn it off, never on past it
            return default and await self.places.switch_is_on(self.switch.name, channel_id, guild_id, True,
                                                              parent_id=parent_id)
        return await self.places.switch_is_on(self.switch.name, channel_id, guild_id, default,
                                              parent_id=parent_id)


T = TypeVar("T", int, bool, str)


@dataclass(frozen=True)
class SettingKind(Generic[T]):
    """What a server setting holds, as /settings reads, checks and shows it
    (bot/features/servertools/settings.py): ``name`` one of the kinds below, ``stored`` its registered kind
    (database/place_config.py)."""

    name: str
    stored: str


CHANNEL_ID: SettingKind[int] = SettingKind("channel", "int")  # a text channel: #channel or its id
ROLE_ID: SettingKind[int] = SettingKind("role", "int")  # a role: @role or its id
ON_OFF: SettingKind[bool] = SettingKind("on_off", "bool")
NUMBER: SettingKind[int] = SettingKind("number", "int")  # a whole number from ``low`` to ``high``
CHOICE: SettingKind[str] = SettingKind("choice", "str")  # one of ``choices``


# A feature's own check of a value for one of its server settings, once the kind's checks passed: given the
# server, the value read (a channel's or role's id, a number, a choice) and the admin's language, the line
# that refuses it in that language, or None to take it. The feature's commands ask the same one, so
# /settings takes no value they would refuse.
SettingCheck = Callable[["discord.Guild", T, str | None], Awaitable[str | None]]


@dataclass(frozen=True)
class ServerSetting(Generic[T]):
    """A per-server setting of a feature, which server admins see and change with ``/settings show|set``
    (``set <name> default`` resets it). ``name``: as typed there; ``kind``: what it holds (``CHANNEL_ID``,
    ``ROLE_ID``, ``ON_OFF``, ``NUMBER`` from ``low`` to ``high``, ``CHOICE`` of ``choices``); ``help``: its
    line in /settings, an ``N_`` msgid; its default: a global setting (``key`` of the section class
    ``section``), else ``default`` (None: unset); ``stored_as``: the key its values are kept under, when
    not ``name`` (a setting that had another name before); ``check``: the feature's own check of a value
    (:data:`SettingCheck`), which ``/settings set`` asks after the kind's own (a channel of this server the
    bot may post in, a role of it). Listed in its ``Feature``'s ``server_settings``; read with
    ``parts.server_setting(SETTING)``."""

    name: str
    kind: SettingKind[T]
    help: str
    default: T | None = None
    section: type | None = None
    key: str = ""
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0
    stored_as: str = ""
    check: SettingCheck[T] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        # a server setting is a place setting of the server scope: declaring it registers it
        if self.key and self.section is None:
            raise TypeError(f"server setting {self.name}: a default from a setting names its section class")
        if self.kind is CHOICE and not self.choices:
            raise TypeError(f"server setting {self.name}: a choice names its choices")
        register_server_setting(self.column, self.kind.stored, self.key, self.default)

    @property
    def column(self) -> str:
        """The key its values are stored under."""
        return self.stored_as or self.name


_SERVER_SETTINGS: dict[str, ServerSetting[Any]] = {}
_OWNERS: dict[str, str] = {}  # each key of /settings -> who declared it: a feature, or /settings itself
CORE_KEYS = "/settings itself (a core key)"  # the owner of the keys /settings declares itself


def claim_server_setting_names(owner: str, names: Sequence[str]) -> None:
    """``owner``'s keys of /settings (a feature's name, or :data:`CORE_KEYS`): a name already another's is
    a start-up error naming both, never one key silently hiding the other."""
    for name in names:
        had = _OWNERS.setdefault(name, owner)
        if had != owner:
            raise ValueError(f"the /settings key {name!r} is declared twice: by {had} and by {owner}; "
                             "rename one of them")


def server_settings() -> tuple[ServerSetting[Any], ...]:
    """Every registered feature's server settings, in their order (what /settings lists after its own
    keys)."""
    return tuple(_SERVER_SETTINGS.values())


class ServerValue(Generic[T]):
    """A server setting as a feature's code reads it: its value in a server, else the declaration's default
    (the running global setting it follows: a reload applies). Made by :meth:`Parts.server_setting`."""

    def __init__(self, setting: ServerSetting[T], config: PlaceConfig, section: object | None = None) -> None:
        self.setting: ServerSetting[T] = setting
        self.config = config
        self._section = section  # the running section its default follows, if any

    @property
    def default(self) -> T | None:
        if self._section is None:
            return self.setting.default
        followed: T = getattr(self._section, self.setting.key)
        return followed

    async def own(self, guild_id: int, *, fresh: bool = False) -> T | None:
        """The server's own value (None: it set none)."""
        return cast("T | None", await self.config.own(self.setting.column, SERVER, guild_id, fresh=fresh))

    async def at(self, guild_id: int, *, fresh: bool = False) -> T | None:
        """What applies in the server: its own value, else the default (None: neither)."""
        own = await self.own(guild_id, fresh=fresh)
        return self.default if own is None else own

    async def set(self, guild_id: int, value: T | None) -> None:
        """Set the server's own value; None removes it (the default applies)."""
        await self.config.set(self.setting.column, SERVER, guild_id, value)


@dataclass(frozen=True)
class Parts:
    """What a feature is built from (the composition root's, at start-up): the running settings, the store,
    the durable timers, the place switches' accessors, the character's name, and whether a message certainly
    asks this character for an answer (a DM, a mention, a reply, its name), who may be remembered
    (``consent``, one for every character), our own accounts (the bot user, the cast's webhooks as they are
    made); ``character``: the key its rows are filed under; ``persona``: the character as its files say now
    (what only Discord does for a feature is its cog's, connected to the feature's part as the cog loads:
    cogs/polls.py); ``shards``: in a cluster, the shards this process runs ("" otherwise: a round of the
    channels, run per shard set, is keyed by them); ``spending``: the limits a feature's own paid calls (not
    the model's) are held to; ``metrics``: what they are measured by (None: metrics are off); ``reach``: the
    one rule of whom the character may speak to or hear, for a feature's own ways (bot/operator/reach.py);
    ``alive``: what being alive adds to every character's replies (its emotes, feelings, clock and Discord
    side: bot/alive/service.py ``AliveParts``), built before the features."""

    holder: SettingsHolder
    store: Store
    timers: Timers
    places: PlaceControls
    name: Callable[[], str]
    addressed: Callable[[Incoming], bool]
    consent: Consent
    accounts: OwnAccounts
    character: str = ""
    persona: Callable[[], Persona] | None = None
    shards: str = ""
    spending: SpendingLimits | None = None
    metrics: Metrics | None = None
    reach: Rule | None = None
    alive: AliveParts | None = None

    def switch(self, switch: Switch) -> PlaceSwitch:
        """``switch`` as the feature's code reads it at a place (:class:`PlaceSwitch`)."""
        return PlaceSwitch(switch, self.places, self.holder)

    def server_setting(self, setting: ServerSetting[T]) -> ServerValue[T]:
        """``setting`` as the feature's code reads it in a server (:class:`ServerValue`)."""
        section = self.holder.follow(setting.section) if setting.key and setting.section is not None else None
        return ServerValue(setting, self.store.config, section)


@dataclass(frozen=True)
class Running:
    """What a feature's durable timers, recurring rounds and later parts are built with, once the character's
    initiative and the characters' replies are: ``feeling``: toward a person (in a channel, or their DM:
    None); ``room``: in a channel; ``status``: the custom status shown; ``remembers``: whether a person's
    consent lets them be remembered; ``cast``: the characters the bot plays (bot/reply/pipeline.py)."""

    speaker: Speaker
    side: DiscordSide
    time: LocalTime
    place_lock: Callable[[tuple[int, str]], AbstractAsyncContextManager[None]]
    mirror: Callable[[Line], None]
    feeling: Callable[[int, str, str, int | None], Awaitable[str]]
    cast: Cast
    room: Callable[[int], Awaitable[str]]
    status: Callable[[], Awaitable[str]]
    remembers: Callable[[bool | None], bool]


TimerHandler = Callable[["TimerRow"], Awaitable[str]]


@dataclass(frozen=True)
class Contribution:
    """What a built feature adds: to every character's reply stages (``decision_observers``,
    ``prompt_parts``: the cast's characters' too), to the main character's (``gates``, ``place_gates``,
    ``tools``, ``turn_observers``, ``readers``: a message's recording read before the reply), to each
    other character of a cast (``cast_tools``, given that character's name), the objects its slash
    commands use (``parts``: read with ``Services.part``; ``later_parts``: those built once the characters'
    replies are, from ``Running``), what a person's ``/forget_me`` clears in memory (``forget_held``: their
    id), its durable timers' handlers (``timers``: by kind) and its recurring rounds (``recurring``: run by
    the one timer loop, bot/core/timers.py), both built once the character's initiative is, its lines in the
    log channel's ``status`` (``status_lines``), what it does in each server the bot is in (``in_server``:
    its id; once connected, and on joining one) and when a place of a server was switched off or a switch
    changed there (``place_changed``: its id; the voice feature leaves a call where it may no longer be);
    ``thread_talk``: the conversation threads every character's replies go on in (one feature's at most);
    ``correction_answers``: what answers the correction reactions the character feels (bot/alive/reacting.py
    ``Answers``), built once its initiative is (one feature's at most)."""

    gates: tuple[Gate, ...] = ()
    place_gates: tuple[Gate, ...] = ()  # asked in a server only (a place's switch), after the gates
    decision_observers: tuple[DecisionListener, ...] = ()
    prompt_parts: tuple[PromptPart, ...] = ()
    tools: tuple[ReplyTools, ...] = ()
    turn_observers: tuple[TurnListener, ...] = ()
    readers: tuple[Reader, ...] = ()
    cast_tools: Callable[[Callable[[], str]], tuple[ReplyTools, ...]] = lambda _: ()
    parts: tuple[object, ...] = ()
    later_parts: Callable[[Running], tuple[object, ...]] = lambda _: ()
    forget_held: tuple[Callable[[int], None], ...] = ()
    in_server: tuple[Callable[[int], Awaitable[None]], ...] = ()
    timers: Callable[[Running], Mapping[str, TimerHandler]] = lambda _: {}
    recurring: Callable[[Running], Sequence[Recurring]] = lambda _: ()
    status_lines: tuple[Callable[[str | None], Awaitable[str]], ...] = ()
    place_changed: tuple[Callable[[int], Awaitable[None]], ...] = ()
    thread_talk: ThreadTalk | None = None
    correction_answers: Callable[[Running], Answers] | None = None

    @staticmethod
    def joined(built: Sequence[Contribution]) -> Contribution:
        """Every feature's, stage by stage, in their order."""
        def timers(running: Running) -> dict[str, TimerHandler]:
            return {kind: handler for b in built for kind, handler in b.timers(running).items()}

        def cast_tools(name: Callable[[], str]) -> tuple[ReplyTools, ...]:
            return tuple(t for b in built for t in b.cast_tools(name))

        def later_parts(running: Running) -> tuple[object, ...]:
            return tuple(p for b in built for p in b.later_parts(running))
        def recurring(running: Running) -> tuple[Recurring, ...]:
            return tuple(r for b in built for r in b.recurring(running))

        talks = [b.thread_talk for b in built if b.thread_talk is not None]
        if len(talks) > 1:
            raise ValueError("two features lend the replies their conversation threads")
        answering = [b.correction_answers for b in built if b.correction_answers is not None]
        if len(answering) > 1:
            raise ValueError("two features answer the corrections")

        return Contribution(
            gates=tuple(x for b in built for x in b.gates),
            place_gates=tuple(x for b in built for x in b.place_gates),
            decision_observers=tuple(x for b in built for x in b.decision_observers),
            prompt_parts=tuple(x for b in built for x in b.prompt_parts),
            tools=tuple(x for b in built for x in b.tools),
            turn_observers=tuple(x for b in built for x in b.turn_observers),
            readers=tuple(x for b in built for x in b.readers),
            cast_tools=cast_tools, parts=tuple(x for b in built for x in b.parts), later_parts=later_parts,
            forget_held=tuple(x for b in built for x in b.forget_held), timers=timers, recurring=recurring,
            status_lines=tuple(x for b in built for x in b.status_lines),
            in_server=tuple(x for b in built for x in b.in_server),
            place_changed=tuple(x for b in built for x in b.place_changed),
            thread_talk=talks[0] if talks else None,
            correction_answers=answering[0] if answering else None)


def nothing(_: Parts) -> Contribution:
    return Contribution()


@dataclass(frozen=True)
class Feature:
    """One feature, as its package declares it. ``settings``: its section of config.env, a frozen dataclass
    of ``key(...)`` fields with a TITLE in its package (bot/features/<name>/config.py), which declaring the
    feature registers: loaded, validated, reloaded live and documented under its name; read as
    ``settings.section(TheirSettings)``;
    ``switches``: its per-place switches; ``server_settings``: its keys of ``/settings``
    (:class:`ServerSetting`); ``cogs``: the modules of its slash commands' cogs; ``forget``: the rows it
    deletes for a person's ``/forget_me``, in /forget_me's own transaction (the rows deleted, per table);
    ``unprompted``: the spending purposes of the calls it makes of its own accord (held to the global spend
    cap); ``build``: what it adds to the replies, from the composition root's ``Parts``; ``in_console``: its
    ``tools`` are lent in console mode too (they need nothing of Discord: no place, timer nor cog), the rest
    of its contribution not."""

    name: str
    settings: type | None = None
    switches: tuple[Switch, ...] = ()
    server_settings: tuple[ServerSetting[Any], ...] = ()
    cogs: tuple[str, ...] = ()
    forget: Callable[[Connection, int], Mapping[str, int]] | None = None
    unprompted: frozenset[str] = field(default_factory=frozenset)
    build: Callable[[Parts], Contribution] = nothing
    in_console: bool = False

    def __post_init__(self) -> None:
        if self.settings is not None:  # its keys become settings as the core's are (bot/core/config)
            register_section(self.settings, self.name)
        # its keys of /settings: a name the core's or another feature's already is fails here, naming both
        claim_server_setting_names(f"the feature {self.name}", [s.name for s in self.server_settings])
        for setting in self.server_settings:
            if _SERVER_SETTINGS.setdefault(setting.name, setting) != setting:
                raise ValueError(f"the feature {self.name} declares two server settings named "
                                 f"{setting.name!r}")
