"""Per-server settings (``/settings``), the admin's side: what each key means and how a typed value is read
and shown. How a server's values combine with the global ones, read at every message, is
bot/core/policy.py. Its own keys are the core's (:data:`KEYS`); every feature's declared ones
(bot/operator/registration.py ``ServerSetting``) follow, read and shown by their kind, none named here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.i18n import N_, Explained, folded, language_name, language_names, language_tag, scripted, t
from bot.core.policy import CONSENT_MODES, ID_LISTS, REPLY_MODES, ServerPolicy
from bot.operator.registration import (
    CHANNEL_ID,
    CHOICE,
    CORE_KEYS,
    NUMBER,
    ON_OFF,
    ROLE_ID,
    ServerSetting,
    ServerValue,
    claim_server_setting_names,
    server_settings,
)
from database.records import ServerConfig
from database.servers import Servers

VOTE_COUNT_MAX = 15
CLEAR_WORDS = ("default", "reset", "none", "clear")
EMPTY_WORDS = ("empty", "nobody", "-")  # an empty list here, whatever the global one holds


def everyone_refusal(key: str, language: str | None) -> str:
    """Why @everyone (its id is the server's) cannot be ``key``'s role: it names every member, which no role
    setting means (a staff role, a role to ping). One line for /settings set and the commands that set such a
    role themselves (/ticket setup), so both refuse it alike."""
    return t(language, "{key} takes a role some members have; @everyone is every member of the server. "
                       "Choose another role.", key=key)


class BadValue(Explained):
    """A value that cannot be used for a key; the message is the admin's one-line explanation (``said`` in
    their language)."""


@dataclass(frozen=True)
class Key:
    name: str  # as typed in /settings set
    column: str  # its registered setting (database/servers.py)
    help: str  # an English msgid, said in the admin's language where shown
    choices: tuple[str, ...] = ()
    declared: ServerSetting[Any] | None = None  # a feature's: read and shown by its kind

    def help_in(self, language: str | None) -> str:
        """What the key does, in ``language``."""
        if self.declared is not None:
            return t(language, self.help, low=self.declared.low, high=self.declared.high)
        return t(language, self.help, high=VOTE_COUNT_MAX)

    @property
    def kind(self) -> str:
        """A feature's key's kind (bot/operator/registration.py ``SettingKind``); "" for a core key."""
        return self.declared.kind.name if self.declared is not None else ""


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key(
            "reply_mode",
            "reply_mode",
            N_("vote: answer when addressed, and join in when a yes/no vote says so; "
               "addressed: only when addressed (no votes)"),
            REPLY_MODES,
        ),
        Key(
            "vote_count",
            "vote_count",
            N_("yes/no votes per unaddressed message (1-{high})"),
            ("1", "3", "5", "7"),
        ),
        Key(
            "proactive",
            "proactive",
            N_("whether the character may start conversations here (on/off)"),
            ("on", "off"),
        ),
        Key(
            "memory_consent",
            "memory_consent",
            N_("all: remember everyone but who opted out; opt_in: only who opted in"),
            CONSENT_MODES,
        ),
        Key("log_channel", "log_channel_id",
            N_("channel for moderation and ticket notices (#channel or id)")),
        Key("language", "language", N_("language the character answers in here (e.g. German)")),
        Key("allowed_users", "allowed_users", N_("only these people may talk to it here (@mentions or ids; "
                                                "empty: everyone)"), ("empty",)),
        Key("blocked_users", "blocked_users", N_("people it ignores here (@mentions or ids)"), ("empty",)),
        Key("allowed_roles", "allowed_roles", N_("only members with one of these roles may talk to it here "
                                                "(@roles or ids; empty: everyone)"), ("empty",)),
        Key("blocked_roles", "blocked_roles", N_("members with these roles are ignored here (@roles or ids)"),
            ("empty",)),
    )
}

# a feature's key named as one of these is refused as it is declared, naming both (never shadowed)
claim_server_setting_names(CORE_KEYS, list(KEYS))


def keys() -> dict[str, Key]:
    """Every key of /settings: the core's, then each feature's as declared."""
    return KEYS | {s.name: feature_key(s) for s in server_settings()}


def feature_key(setting: ServerSetting[Any]) -> Key:
    """A feature's server setting as a key of /settings."""
    choices = setting.choices or (("on", "off") if setting.kind is ON_OFF else ())
    return Key(setting.name, setting.column, setting.help, choices, setting)


# The languages /settings set language offers as the admin types (any other is taken by its name or code);
# Chinese twice, in Simplified and in Traditional characters (zh_Hant, Taiwan's), each its own lines.
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "sv", "tr", "ru", "uk", "ja", "ko", "zh",
             "zh_Hant", "ar", "hi", "id")


@functools.cache
def _called(code: str) -> tuple[str, ...]:
    """Every name of the language ``code`` (in each spoken language, its own; plain Chinese's by its
    Simplified script's too, "简体中文") and its code, folded as names are compared."""
    codes = {code, scripted(code)}
    return (folded(code), *(name for name, named in language_names().items() if named in codes))


def language_options(typed: str, language: str | None) -> list[tuple[str, str]]:
    """The languages whose name in any language (or code) holds what the admin typed, each as (its own name,
    with its name in ``language`` where that differs: "Deutsch (German)", "简体中文 (Simplified Chinese)"; its
    tag, the value kept)."""
    wanted = folded(typed)
    options = []
    for code in LANGUAGES:
        if wanted and not any(wanted in name for name in _called(code)):
            continue
        own, theirs = language_name(code, code), language_name(code, language)
        own = own[:1].upper() + own[1:]
        options.append((own if own.casefold() == theirs.casefold() else f"{own} ({theirs})", code))
    return options


def parse_value(key: str, raw: str) -> object:
    """The stored value for ``raw`` typed for ``key``; None resets the key to the global default."""
    every = keys()
    spec = every.get(key)
    if spec is None:
        raise BadValue(N_("There is no setting {key}; choose one of: {keys}."), key=repr(key),
                       keys=", ".join(every))
    return parse_key(spec, raw)


def parse_key(spec: Key, raw: str) -> object:
    """The stored value for ``raw`` typed for the key ``spec``; None resets it."""
    key = spec.name
    text = raw.strip()
    if text.lower() in CLEAR_WORDS:
        return None
    if spec.declared is not None:
        return _parse_kind(spec, text)
    if key in ("reply_mode", "memory_consent"):
        return _choice(key, text, spec.choices)
    if key == "vote_count":
        if not text.isdigit() or not 1 <= int(text) <= VOTE_COUNT_MAX:
            raise BadValue(N_("{key} must be a whole number from 1 to {high}, not {value}."), key=key,
                           high=VOTE_COUNT_MAX, value=repr(text[:40]))
        return int(text)
    if key == "proactive":
        return _on_off(key, text)
    if key in ID_LISTS:
        return parse_ids(key, text)
    if key == "log_channel":
        return _channel(key, text)
    # the language: kept as its tag ("de", "pt-BR"), whatever name or code it was given by; a value that
    # names no language would be kept and shown while nothing follows it
    tag = language_tag(text)
    if tag is None:
        raise BadValue(N_("{key} must name a language, by its name in any language or its code (such as "
                          "German, Deutsch, 日本語 or pt-BR), not {value}."), key=key, value=repr(text[:40]))
    return tag


def _parse_kind(spec: Key, text: str) -> object:
    """A feature's key's value, read by its kind."""
    declared = spec.declared
    assert declared is not None
    kind = declared.kind
    if kind is CHANNEL_ID:
        return _channel(spec.name, text)
    if kind is ROLE_ID:
        match = re.fullmatch(r"<@&(\d+)>|(\d{5,25})", text)
        if match is None:
            raise BadValue(N_("{key} must be a @role or a role id, not {value}."), key=spec.name,
                           value=repr(text[:40]))
        return int(match.group(1) or match.group(2))
    if kind is ON_OFF:
        return _on_off(spec.name, text)
    if kind is NUMBER:
        if not re.fullmatch(r"-?\d{1,12}", text) or not declared.low <= int(text) <= declared.high:
            raise BadValue(N_("{key} must be a whole number from {low} to {high}, not {value}."),
                           key=spec.name, low=declared.low, high=declared.high, value=repr(text[:40]))
        return int(text)
    if kind is CHOICE:
        return _choice(spec.name, text, spec.choices)
    raise ValueError(f"{spec.name}: no kind {kind.name!r}")


def _choice(key: str, text: str, choices: tuple[str, ...]) -> str:
    low = text.lower().replace("-", "_")
    if low not in choices:
        raise BadValue(N_("{key} must be one of {choices} (or default), not {value}."), key=key,
                       choices=", ".join(choices), value=repr(text[:40]))
    return low


def _on_off(key: str, text: str) -> bool:
    low = text.lower()
    if low in ("on", "true", "yes", "1"):
        return True
    if low in ("off", "false", "no", "0"):
        return False
    raise BadValue(N_("{key} must be on or off, not {value}."), key=key, value=repr(text[:40]))


def _channel(key: str, text: str) -> int:
    match = re.fullmatch(r"<#(\d+)>|(\d{5,25})", text)
    if match is None:
        raise BadValue(N_("{key} must be a #channel or a channel id, not {value}."), key=key,
                       value=repr(text[:40]))
    return int(match.group(1) or match.group(2))


def parse_ids(key: str, text: str) -> str:
    """Mentions or ids (``<@1> <@&2>, 3``) as the stored comma-separated ids; "empty" as ""."""
    if text.lower() in EMPTY_WORDS:
        return ""
    kind = "role" if key.endswith("roles") else "user"
    ids = []
    for part in re.split(r"[\s,]+", text):
        match = re.fullmatch(r"<@&(\d+)>" if kind == "role" else r"<@!?(\d+)>", part) or re.fullmatch(
            r"(\d{5,25})", part)
        if match is None:
            raise BadValue(N_("{key} takes role mentions or ids separated by commas, not {value}.")
                           if kind == "role"
                           else N_("{key} takes user mentions or ids separated by commas, not {value}."),
                           key=key, value=repr(part[:40]))
        if match.group(1) not in ids:
            ids.append(match.group(1))
    return ",".join(ids)


def show_ids(key: str, value: str, language: str | None = None) -> str:
    ids = [p for p in value.split(",") if p.strip()]
    if not ids:
        return t(language, "everyone") if key.startswith("allowed") else t(language, "nobody")
    mark = "@&" if key.endswith("roles") else "@"
    return ", ".join(f"<{mark}{i.strip()}>" for i in ids)


def show_value(key: str, policy: ServerPolicy, language: str | None = None) -> str:
    """The value ``key`` has here, as shown to an admin (its words, where not a value they type, in
    ``language``)."""
    if key in ID_LISTS:
        return show_ids(key, getattr(policy, key), language)
    value = {
        "reply_mode": policy.reply_mode,
        "vote_count": str(policy.vote_count),
        "proactive": "on" if policy.proactive else "off",
        "memory_consent": policy.memory_consent,
        "log_channel": f"<#{policy.log_channel_id}>" if policy.log_channel_id else t(language, "none"),
        "language": language_name(policy.language, language) if policy.language else t(language, "not set"),
    }[key]
    return value


def show_declared(spec: Key, value: object, language: str | None = None) -> str:
    """A feature's key's value (None: unset), as shown to an admin."""
    if value is None:
        return t(language, "none")
    if spec.kind == CHANNEL_ID.name:
        return f"<#{value}>"
    if spec.kind == ROLE_ID.name:
        return f"<@&{value}>"
    if spec.kind == ON_OFF.name:
        return "on" if value else "off"
    return str(value)


def is_set(key: str, config: ServerConfig) -> bool:
    return getattr(config, KEYS[key].column) is not None


class ServerSettingsBook:
    """A server's own settings as stored: read (cached; ``fresh`` reads the database) and changed by key;
    ``value_of``: a feature's key as its feature reads it (``Parts.server_setting``)."""

    def __init__(self, servers: Servers, value_of: Callable[[ServerSetting[Any]], ServerValue[Any]]) -> None:
        self.servers = servers
        self.value_of = value_of

    async def get(self, guild_id: int, *, fresh: bool = False) -> ServerConfig:
        return await self.servers.get(guild_id, fresh=fresh)

    async def declared(self, guild_id: int, spec: Key) -> tuple[object, bool]:
        """A feature's key's value here (its default where the server set none), and whether it set one."""
        assert spec.declared is not None
        value = self.value_of(spec.declared)
        own = await value.own(guild_id)
        return (await value.at(guild_id), own is not None)

    async def set(self, guild_id: int, key: str, value: object) -> None:
        """Store a value already read by :func:`parse_value` (None: back to the global default)."""
        spec = keys()[key]
        if spec.declared is not None:
            await self.value_of(spec.declared).set(guild_id, value)
        else:
            await self.servers.update(guild_id, **{spec.column: value})
