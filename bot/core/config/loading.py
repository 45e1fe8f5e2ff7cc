"""Reading ``config.env`` < ``character.env`` < the environment into a validated :class:`Settings`.

Every key's type, default, bounds and choices come from its declaration in ``sections.py`` (or a registered
feature's section); this module
adds only what a declaration cannot say: the secrets a run needs, the checks between keys or against the
file system, and the warnings about keys nothing reads.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.core.config.credentials import CREDENTIALS, LOCAL_ENV, unusable
from bot.core.config.database_url import normalize_database_url
from bot.core.config.envfile import read_env_file
from bot.core.config.keys import KIND_NAMES
from bot.core.config.paths import missing_folder, resolve_folder
from bot.core.config.sections import (
    BY_KEY,
    FEATURE_SECTIONS,
    MIN_DASHBOARD_TOKEN,
    SECTIONS,
    SETTINGS,
    Settings,
)
from bot.core.errors import ConfigError
from bot.core.models.base import route

ENVIRONMENT = "environment"

log = logging.getLogger("bot.core.config")  # the package's name: what operators (and tests) filter on

# Values shipped in example files and the README's commands (`DISCORD_TOKEN=your-bot-token ...`); treated as
# "not set" so an operator gets a clear error.
_PLACEHOLDER_PREFIXES = ("your_", "your-", "<", "changeme")
# Every setting's parsed value by key, each of its own declared kind (read by key where its kind is
# known): one type cannot say them all.
Parsed = dict[str, Any]


def _is_placeholder(value: str) -> bool:
    return not value.strip() or value.strip().lower().startswith(_PLACEHOLDER_PREFIXES)


# ClaudeMask keys that Kindred accepts without complaint but replaces with something better.
LEGACY_KEYS = {
    "user_data_file": "user data lives in the database",
    "enable_core_memory_pickle_log": "core-memory versions are archived in the database",
    "core_memory_pickle_dir": "core-memory versions are archived in the database",
    "save_interval_minutes": "every change is written to the database at once",
    "bot_usr_id": "the bot's id comes from Discord at login",
    # Prices per family come from the model capability table (bot/core/models/capabilities.py), cache
    # writes and reads included; model_capabilities overrides them.
    **{f"cost_per_token_{tier}": "prices come from the model capability table (model_capabilities "
       "overrides them)" for tier in ("haiku", "sonnet", "opus")},
}

# Keys the persona loaders (bot/core/persona/) read from character.env, besides SETTINGS; plus
# ``mode_<name>``.
CHARACTER_KEYS = frozenset({
    "default_name", "description", "core_prompt", "first_message", "post_history_instructions",
    "summarization_prompt", "core_memory_prompt", "core_memory_dump", "modes", "default_mode", "avatar",
    "lorebook", "router_weight", "core_prompt_file", "circadian", "real_world_time", "mature",
    "safe_register", "banner", "bio", "names",
})
CHARACTER_KEY_PREFIXES = ("mode_", "first_message_")


@dataclass(frozen=True)
class Source:
    """Case-insensitive merged key/value view that remembers which file each key came from."""

    values: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    file_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> its keys, lower-cased

    def get(self, key: str) -> str | None:
        return self.values.get(key.lower())

    def origin(self, key: str) -> str:
        return self.origins.get(key.lower(), ENVIRONMENT)


def read_sources(config_file: Path | None, character_dir: Path,
                 environ: Mapping[str, str] | None = None) -> Source:
    """Merge config.env < character.env < character.local.env < environment, keys lower-cased.

    ``character.local.env`` (git-ignored) is where the folder's secrets live: the token and keys."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    file_keys: dict[str, tuple[str, ...]] = {}
    layers: list[tuple[str, Mapping[str, str | None]]] = []
    for path in (config_file, character_dir / "character.env", character_dir / LOCAL_ENV):
        if path is not None and path.is_dir():  # else read as missing: "no prompt", every default...
            raise ConfigError(str(path), path.name, "is a folder, not a file (Docker makes one where a "
                                                    "file to mount is missing): remove it, write the file")
    if config_file is not None and config_file.is_file():
        layers.append((str(config_file), read_env_file(config_file, is_known_key, is_secret_key)))
    for name in ("character.env", LOCAL_ENV):
        path = character_dir / name
        if path.is_file():
            layers.append((str(path), read_env_file(path, is_known_key, is_secret_key)))
    layers.append((ENVIRONMENT, os.environ if environ is None else environ))
    for origin, layer in layers:
        if origin != ENVIRONMENT:
            file_keys[origin] = tuple(k.strip().lower() for k in layer)
        for key, value in layer.items():
            if value is None:
                continue
            k = key.strip().lower()
            # A credential left at the example placeholder (the shipped character.env's, an empty
            # DISCORD_TOKEN= from a compose file) never hides a real one set in an earlier file.
            if k in CREDENTIALS and _is_placeholder(value) and not _is_placeholder(values.get(k, "")):
                continue
            values[k] = value.strip()
            origins[k] = origin
    return Source(values, origins, file_keys)


def load_settings(
    character_dir: Path,
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_discord: bool = True,
    require_anthropic: bool = True,
    require_dashboard: bool = False,
) -> Settings:
    """Read and validate every setting; raise ConfigError naming the file and key of the first problem."""
    if not character_dir.is_dir():
        raise ConfigError(str(character_dir), "character_dir", missing_folder(character_dir))
    source = read_sources(config_file, character_dir, environ)
    char_env = str(character_dir / "character.env")
    parsed: Parsed = {}
    origin: dict[str, str] = {}  # key -> the file its value came from (unset keys: character.env)
    set_in: dict[str, str] = {}  # key -> where it was set (only keys that were)
    for setting in SETTINGS:
        raw: str | None = None
        used_key = setting.key
        for name in (setting.key, *setting.aliases):
            if source.get(name) is not None:
                raw, used_key = source.get(name), name
        origin[setting.key] = source.origin(used_key) if raw is not None else char_env
        if raw is not None:
            set_in[setting.key] = origin[setting.key]
        if raw is None or (raw == "" and setting.kind is not str) or (setting.placeholder_unset
                                                                       and _is_placeholder(raw)):
            parsed[setting.key] = setting.default
            continue
        try:
            parsed[setting.key] = setting.parse(raw)
        except ValueError:
            kind = KIND_NAMES[setting.kind]
            raise ConfigError(origin[setting.key], used_key, f"expected {kind}, got {raw!r}") from None
        if setting.kind is float and not math.isfinite(parsed[setting.key]):
            raise ConfigError(origin[setting.key], used_key, f"expected a finite number, got {raw!r}")
    try:
        parsed["database_url"] = normalize_database_url(parsed["database_url"])
    except ValueError as exc:
        raise ConfigError(origin["database_url"], "database_url", str(exc)) from None
    _validate(parsed, origin, set_in, character_dir, require_discord, require_anthropic)
    _validate_dashboard(parsed, origin, set_in, character_dir, require_dashboard)
    warn_unknown_keys(source)
    def made(cls: type) -> Any:  # one section object of its own class (Any: to Settings' keywords)
        return cls(**{s.key: parsed[s.key] for s in SETTINGS if s.owner is cls})

    sections: Parsed = {name: made(cls) for name, cls in SECTIONS.items()}
    return Settings(character_dir=character_dir, config_file=config_file, raw=dict(source.values), **sections,
                    features={cls: made(cls) for cls in FEATURE_SECTIONS}, origins=set_in)


MODEL_KEYS = ("default_model", "premium_model", "voting_model", "summary_model")


def _uses_anthropic(parsed: Parsed) -> bool:
    """Whether any purpose's model runs on Claude (only then is the Anthropic key required)."""
    return any(route(parsed[k] or parsed["default_model"], parsed["llm_backend"])[0] == "anthropic"
               for k in MODEL_KEYS)


def _default_models(parsed: Parsed, origin: dict[str, str]) -> None:
    """On the openai backend Claude's default model names mean nothing: the reply model must be named, and
    the premium and voting models follow it unless they are set too."""
    if parsed["llm_backend"] != "openai":
        return
    unset = {k for k in ("default_model", "premium_model", "voting_model")
             if parsed[k] == BY_KEY[k].default}
    if "default_model" in unset:
        raise ConfigError(origin["default_model"], "default_model",
                          "missing: name the model the openai backend serves (llm_backend=openai), "
                          "e.g. default_model=llama3.2")
    for k in unset:
        parsed[k] = parsed["default_model"]


def _unusable_why(value: str) -> str:
    return "missing" if not value.strip() else "still the example placeholder"


MIN_TOKEN_VARIETY = 10  # different characters a login token needs (token_urlsafe(32) has about 30)


def low_variety(token: str) -> bool:
    """Too few different characters to be random, or one repeated piece (``abcdabcdabcdabcd``)."""
    if len(set(token)) < MIN_TOKEN_VARIETY:
        return True
    return token in (token + token)[1:-1]  # a string is one piece repeated iff it occurs inside itself twice


def _validate_dashboard(parsed: Parsed, origin: dict[str, str], set_in: dict[str, str],
                        character_dir: Path, required: bool) -> None:
    """The dashboard's token, only when it is served (``required``: `main.py dashboard`); the token itself
    is never part of a message."""
    parsed["dashboard_host"] = parsed["dashboard_host"].strip()
    if not (required or parsed["dashboard_port"]):
        return
    token = parsed["dashboard_token"].strip()
    if _is_placeholder(token):
        raise unusable("dashboard_token", set_in, character_dir, _unusable_why(token))
    if len(token) < MIN_DASHBOARD_TOKEN:
        raise ConfigError(origin["dashboard_token"], "dashboard_token",
                          f"too short: use at least {MIN_DASHBOARD_TOKEN} random characters")
    if low_variety(token):  # long but guessable: aaaaaaaaaaaaaaaa, 1212121212121212, abcdefghabcdefgh
        raise ConfigError(origin["dashboard_token"], "dashboard_token",
                          f"too predictable (only {len(set(token))} different characters): use a random one, "
                          "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'")
    parsed["dashboard_token"] = token


def _validate(parsed: Parsed, origin: dict[str, str], set_in: dict[str, str], character_dir: Path,
              require_discord: bool, require_anthropic: bool) -> None:
    if require_discord and _is_placeholder(parsed["discord_token"]):
        raise unusable("discord_token", set_in, character_dir, _unusable_why(parsed["discord_token"]))
    _default_models(parsed, origin)
    if require_anthropic and _uses_anthropic(parsed) and _is_placeholder(parsed["anthropic_api_key"]):
        raise unusable("anthropic_api_key", set_in, character_dir, _unusable_why(parsed["anthropic_api_key"]))
    for setting in SETTINGS:  # what each declaration says: bounds, choices, checks
        problem = setting.problem(parsed[setting.key])
        if problem is not None:
            raise ConfigError(origin[setting.key], setting.key, problem)
    # What no single declaration can say: relations between keys, folders on disk.
    if parsed["max_typing_time"] < parsed["min_typing_time"]:
        raise ConfigError(origin["max_typing_time"], "max_typing_time",
                          f"must be at least min_typing_time, got max_typing_time="
                          f"{parsed['max_typing_time']:g} and min_typing_time={parsed['min_typing_time']:g}")
    seen_folders = {character_dir.resolve()}
    for part in (p.strip() for p in parsed["ensemble_characters"].split(",")):
        if not part:
            continue
        folder = resolve_folder(part)
        where = origin["ensemble_characters"]
        if not folder.is_dir():
            raise ConfigError(where, "ensemble_characters", f"{part}: {missing_folder(folder)}")
        if folder.resolve() in seen_folders:
            raise ConfigError(where, "ensemble_characters", f"{part} is listed twice")
        seen_folders.add(folder.resolve())
    _validate_cluster(parsed, origin)


def _validate_cluster(parsed: Parsed, origin: dict[str, str]) -> None:
    """A process that runs only some shards is one of a cluster: every shard in range, PostgreSQL only."""
    from bot.core.config.service import parse_shard_ids

    ids = parse_shard_ids(parsed["shard_ids"])
    if not ids:
        return
    count = parsed["shard_count"]
    if ids[-1] >= count:
        raise ConfigError(origin["shard_ids"], "shard_ids",
                          f"shard {ids[-1]} is out of range for shard_count {count} "
                          f"(ids run 0 to {count - 1})")
    url = parsed["database_url"].strip().lower()
    if len(ids) < count and not url.startswith("postgres"):
        raise ConfigError(origin["shard_ids"], "shard_ids",
                          "a cluster (this process runs only some of the shards) needs a shared "
                          "PostgreSQL database: set database_url to postgresql+asyncpg://...; SQLite is "
                          "one process's file")


def is_known_key(key: str) -> bool:
    """A key some part of Kindred reads (a setting or alias, a character key) or a retired ClaudeMask key."""
    return (key in BY_KEY or key in LEGACY_KEYS or key in CHARACTER_KEYS
            or key.startswith(CHARACTER_KEY_PREFIXES))


def is_secret_key(key: str) -> bool:
    """A key whose value is never shown (a token, an API key, a URL that may hold a password)."""
    return key in CREDENTIALS or (key in BY_KEY and BY_KEY[key].secret)


def closest_key(key: str) -> str | None:
    """The known key an unknown one was most likely meant to be (a typo), if any is close."""
    known = [*BY_KEY, *CHARACTER_KEYS]
    found = difflib.get_close_matches(key, known, n=1, cutoff=0.75)
    if found:
        return found[0]
    # The key other programs use, which Kindred spells with a prefix: temperature → default_temperature.
    if f"default_{key}" in known:
        return f"default_{key}"
    longer = [k for k in known if k.endswith(f"_{key}")]
    return longer[0] if len(longer) == 1 else None


def warn_unknown_keys(source: Source) -> list[tuple[str, str]]:
    """Log one warning per key in config.env / character.env that nothing reads (a typo, most likely).

    Only the key and the file are named, never the value: these files hold secrets. The environment is not
    checked (it is full of other programs' variables). Returns the (file, key) pairs warned about.
    """
    unknown: list[tuple[str, str]] = []
    for file, keys in source.file_keys.items():
        for key in dict.fromkeys(keys):
            if key in LEGACY_KEYS:
                log.info("%s: %s is no longer needed (%s)", file, key, LEGACY_KEYS[key])
                continue
            if is_known_key(key):
                continue
            if key == "character_dir":
                log.warning("%s: character_dir is read only from the environment or --character; "
                            "ignored here", file)
            else:
                guess = closest_key(key)
                log.warning("%s: %s: unknown key, ignored (%s)", file, key,
                            f"did you mean {guess}?" if guess else "a typo?")
            unknown.append((file, key))
    return unknown


def warn_unknown_character_keys(folder: Path) -> list[tuple[str, str]]:
    """warn_unknown_keys for another character the bot plays (ensemble_characters): its own character.env
    only, since config.env and the environment were checked with the main character."""
    return warn_unknown_keys(read_sources(None, folder, {}))
