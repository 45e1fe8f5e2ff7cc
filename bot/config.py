"""Configuration: ``config.env`` (technical) + the character folder's ``character.env`` (identity, secrets).

Both are read with python-dotenv; real environment variables override both. Key names are
case-insensitive, so a ClaudeMask folder (``discord_token``, ``TYPING_SPEED_CPM = 300``) works unchanged.
Every problem is a :class:`~bot.errors.ConfigError` naming the file and the key.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from bot.errors import ConfigError
from bot.localtime import load_zone, parse_quiet_hours

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHARACTER = PROJECT_ROOT / "characters" / "finn"
ENVIRONMENT = "environment"

log = logging.getLogger(__name__)

# Values shipped in example files; treated as "not set" so an operator gets a clear error.
_PLACEHOLDER_PREFIXES = ("your_", "<", "changeme")


def _is_placeholder(value: str) -> bool:
    return not value.strip() or value.strip().lower().startswith(_PLACEHOLDER_PREFIXES)


@dataclass(frozen=True)
class Setting:
    """One documented key: its type, default and one-line meaning (README and example are built from these)."""

    key: str
    kind: type
    default: Any
    help: str
    aliases: tuple[str, ...] = ()


# Every key here is read and used somewhere; config.env.example and the README list them all.
SETTINGS: tuple[Setting, ...] = (
    # -- Reply decisions
    Setting("bot_reply_threshold", int, 3, "Consecutive replies to other bots allowed until a human speaks."),
    Setting("yes_no_vote_count", int, 3, "Yes/no votes asked of the voting model for unaddressed channel messages."),
    Setting("voting_model", str, "claude-haiku-4-5", "Model that casts the yes/no reply votes."),
    Setting("reply_cooldown", float, 10.0, "Seconds between replies to the same bot."),
    Setting("recent_channel_messages", int, 15, "Recent channel messages (with author names) put in each prompt."),
    Setting("log_inactive_channels", bool, False, "Still write messages from deactivated channels/servers to the log."),
    Setting("fallback_reply", str, "*{name} blinks, lost in thought for a moment.* Sorry, my thoughts scattered. Could you say that again?",
            "In-character reply posted when Claude fails or times out ({name} is the character's name)."),
    # -- Models and generation
    Setting("default_model", str, "claude-sonnet-4-5", "Model for replies to standard users."),
    Setting("premium_model", str, "claude-opus-4-5", "Model for replies to premium users."),
    Setting("default_max_tokens", int, 1250, "Max tokens of a reply."),
    Setting("default_temperature", float, 1.0, "Sampling temperature of replies; sent only when not 1.0 (newer models accept only 1.0)."),
    Setting("stream_replies", bool, True, "Stream replies from Claude (typing overlaps generation)."),
    Setting("cost_per_token_haiku", float, 0.000001, "USD per input token for Haiku models (output 5x, cache write 1.25x, cache read 0.1x)."),
    Setting("cost_per_token_sonnet", float, 0.000003, "USD per input token for Sonnet models (same multipliers)."),
    Setting("cost_per_token_opus", float, 0.000005, "USD per input token for Opus models (same multipliers)."),
    # -- Memory
    Setting("conversation_token_threshold", int, 25000, "History tokens that trigger background summarization."),
    Setting("core_memory_token_threshold", int, 8000, "Core-memory tokens that trigger condensing with core_memory_dump."),
    Setting("history_keep_messages", int, 10, "Most recent messages kept verbatim after a summarization."),
    Setting("memory_consent", str, "all", "Whose memories are kept: all (everyone except who ran /memory opt-out) or opt_in (only who ran /memory opt-in)."),
    Setting("consolidation_hour_utc", int, 4, "Hour of the day (UTC, 0-23) of the daily memory consolidation."),
    Setting("embedding_model", str, "", "Sentence-transformers model (local folder or cached name) for fact embeddings; empty: the bundled all-MiniLM-L6-v2."),
    Setting("fact_similarity_threshold", float, 0.8, "Cosine similarity at which a newly extracted fact counts as one already known."),
    Setting("fact_expiry_days", int, 14, "Days after its last mention that an unpinned fact is forgotten (0: never)."),
    Setting("relationship_max_daily_change", float, 1.0, "Largest change of each relationship metric per day from consolidation."),
    Setting("recall_token_budget", int, 400, "Tokens of recalled long-term facts put in each reply's prompt."),
    # -- Several characters
    Setting("ensemble_characters", str, "", "Comma-separated character folders this bot also plays in servers, each speaking through a channel webhook (the main character speaks as the bot account)."),
    Setting("router_sticky_seconds", float, 300.0, "Seconds the character who spoke last in a channel keeps unaddressed conversation (several characters)."),
    Setting("max_character_turns", int, 3, "Consecutive character-to-character replies in a channel until a human speaks (loop protection)."),
    Setting("banter_chance", float, 0.3, "Chance one character answers another unprompted; affinity -10..10 scales it from 0 to twice this."),
    Setting("global_response_chance", float, 1.0,
            "Chance (0-1) that a server message nobody addressed is considered at all (several characters; "
            "acore_bot's GLOBAL_RESPONSE_CHANCE)."),
    Setting("follow_up_cooldown", float, 0.0,
            "Seconds after a character joined in unaddressed (routed or banter) before it may do so again in "
            "that channel (0: no cooldown)."),
    Setting("affinity_decay_days", float, 7.0,
            "Days in which the affinity between two characters halves toward neutral while they do not talk "
            "(0: never fades)."),
    Setting("peer_characters", str, "", "Comma-separated names of characters run by other bots in the same server (bots seen speaking are detected too)."),
    Setting("turn_wait_after_human", float, 8.0, "Seconds a character named second waits for the first one's answer to a person."),
    Setting("turn_wait_after_bot", float, 3.0, "Seconds a character named second waits for the first one's answer to a bot."),
    # -- Alive between messages (bot/proactive.py, bot/status.py, memory/emotions.py, memory/style.py, ...)
    Setting("proactive_talk", bool, False,
            "Speak first in channels where no admin used /bot proactive (admins switch it per channel or "
            "server)."),
    Setting("proactive_interval_minutes", int, 30,
            "Minutes between proactive rounds (each channel where it is on rolls once)."),
    Setting("proactive_chance", float, 0.1,
            "Chance (0-1) that a proactive round speaks in a channel that passed the checks."),
    Setting("proactive_max_silence_hours", float, 6.0,
            "A channel silent for longer gets no proactive message (no talking into an empty room)."),
    Setting("quiet_hours", str, "",
            "Local hours (in timezone) when the character never speaks first nor checks in, as start-end "
            "like 23-7 (empty: none)."),
    Setting("timezone", str, "UTC",
            "IANA time zone of quiet_hours, check-ins and the character's daily rhythm (e.g. Europe/Paris)."),
    Setting("custom_status", bool, True,
            "Claude writes a one-line custom status once a day after consolidation (and at start-up when "
            "none is set)."),
    Setting("emotions", bool, True,
            "Hormone-like feelings moved by each exchange, shown to Claude as a mood label and tone "
            "guidance."),
    Setting("style_mirroring", bool, True,
            "Learn how each remembered person writes and mirror it (one line of guidance per reply)."),
    Setting("server_emotes", bool, True,
            "Tell the character the server's custom emotes; :name: in what it writes becomes the emote."),
    Setting("emote_reactions", bool, True,
            "React with an emote to warm messages aimed at the character that its vote would not answer, "
            "where no admin used /bot reactions."),
    Setting("reaction_rate_limit", int, 3,
            "Emote reactions (instead of replies) per channel per hour at most."),
    Setting("checkins", bool, True,
            "Allow /checkin: one DM to people who opted in after checkin_after_days of silence."),
    Setting("checkin_after_days", float, 7.0,
            "Days of silence after which someone who ran /checkin on gets one check-in DM."),
    # -- Discord
    Setting("max_message_length", int, 2000, "Longest Discord message; longer replies are split."),
    Setting("shard_count", int, 1, "Gateway shards; above 1 the bot runs as an AutoShardedBot."),
    Setting("reroll_timeout_seconds", int, 60, "Seconds the /reroll buttons stay usable, counted from when the preview appears."),
    Setting("confirm_timeout_seconds", int, 180, "Seconds the confirmation buttons of /reset_conversation, /forget_last and /forget_me stay usable (0: no limit)."),
    Setting("heartbeat_interval_seconds", float, 60.0, "Seconds between checks of each shard's gateway latency."),
    Setting("latency_warning_ms", float, 1000.0, "Gateway latency (ms) above which a warning goes to the log and the log channel."),
    Setting("discord_api_base_url", str, "https://discord.com/api/v10", "REST base URL (a Discord-compatible server or proxy)."),
    Setting("discord_gateway_url", str, "wss://gateway.discord.gg/", "Gateway websocket URL (ws:// allowed)."),
    # -- Typing simulation
    Setting("typing_speed_cpm", float, 300.0, "Simulated typing speed, characters per minute."),
    Setting("min_typing_time", float, 2.0, "Shortest typing indicator, seconds."),
    Setting("max_typing_time", float, 15.0, "Longest typing indicator, seconds."),
    Setting("typing_variance", float, 0.2, "Random +/- fraction applied to the typing time."),
    # -- Timeouts
    Setting("should_reply_timeout", float, 10.0, "Seconds for the reply vote before deciding 'no'."),
    Setting("summarize_timeout", float, 60.0, "Seconds for one summarization call."),
    Setting("llm_timeout", float, 60.0, "Seconds for one reply generation, retries included."),
    # -- Storage and logging
    Setting("database_url", str, "", "SQLAlchemy URL; empty means a SQLite file data/<character>.db."),
    Setting("log_level", str, "INFO", "Python logging level."),
    Setting("verbose_logging", bool, False, "Start with decisions mirrored to the log channel."),
    Setting("enable_api_call_logging", bool, False, "Append every Claude call (model, tokens, cost, latency) to api_log_file."),
    Setting("api_log_file", str, "logs/anthropic_api_calls.log", "File for enable_api_call_logging."),
    # -- Secrets and identity (usually in character.env or the environment)
    Setting("discord_token", str, "", "Discord bot token (required to run the bot)."),
    Setting("anthropic_api_key", str, "", "Anthropic API key (required)."),
    Setting("anthropic_base_url", str, "", "Messages API base URL; empty means the SDK default."),
    Setting("log_channel", int, 0, "Admin log channel id.", aliases=("log_channel_id",)),
    Setting("admin_user_ids", str, "", "Comma-separated Discord user ids allowed to run admin commands."),
)

# ClaudeMask keys that Kindred accepts without complaint but replaces with something better.
LEGACY_KEYS = {
    "user_data_file": "user data lives in the database",
    "enable_core_memory_pickle_log": "core-memory versions are archived in the database",
    "core_memory_pickle_dir": "core-memory versions are archived in the database",
    "save_interval_minutes": "every change is written to the database at once",
    "bot_usr_id": "the bot's id comes from Discord at login",
}

# Keys the persona loaders (bot/persona/) read from character.env, besides SETTINGS; plus ``mode_<name>``.
CHARACTER_KEYS = frozenset({
    "default_name", "description", "core_prompt", "first_message", "post_history_instructions",
    "summarization_prompt", "core_memory_prompt", "core_memory_dump", "modes", "default_mode", "avatar", "lorebook",
    "router_weight",
})
CHARACTER_KEY_PREFIXES = ("mode_",)

_BY_KEY: dict[str, Setting] = {}
for _s in SETTINGS:
    _BY_KEY[_s.key] = _s
    for _a in _s.aliases:
        _BY_KEY[_a] = _s


def _parse_bool(raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


_PARSERS: dict[type, Callable[[str], Any]] = {int: int, float: float, str: str, bool: _parse_bool}


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


def read_sources(config_file: Path | None, character_dir: Path, environ: Mapping[str, str] | None = None) -> Source:
    """Merge config.env < character.env < environment, keys lower-cased."""
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    file_keys: dict[str, tuple[str, ...]] = {}
    layers: list[tuple[str, Mapping[str, str | None]]] = []
    if config_file is not None and config_file.is_file():
        layers.append((str(config_file), dotenv_values(config_file)))
    char_env = character_dir / "character.env"
    if char_env.is_file():
        layers.append((str(char_env), dotenv_values(char_env)))
    layers.append((ENVIRONMENT, os.environ if environ is None else environ))
    for origin, layer in layers:
        if origin != ENVIRONMENT:
            file_keys[origin] = tuple(k.strip().lower() for k in layer)
        for key, value in layer.items():
            if value is None:
                continue
            k = key.strip().lower()
            values[k] = value.strip()
            origins[k] = origin
    return Source(values, origins, file_keys)


@dataclass(frozen=True)
class Settings:
    """Typed, validated configuration. Attribute names are the lower-case documented keys."""

    character_dir: Path
    config_file: Path | None
    bot_reply_threshold: int
    yes_no_vote_count: int
    voting_model: str
    reply_cooldown: float
    recent_channel_messages: int
    log_inactive_channels: bool
    fallback_reply: str
    default_model: str
    premium_model: str
    default_max_tokens: int
    default_temperature: float
    stream_replies: bool
    cost_per_token_haiku: float
    cost_per_token_sonnet: float
    cost_per_token_opus: float
    conversation_token_threshold: int
    core_memory_token_threshold: int
    history_keep_messages: int
    memory_consent: str
    consolidation_hour_utc: int
    embedding_model: str
    fact_similarity_threshold: float
    fact_expiry_days: int
    relationship_max_daily_change: float
    recall_token_budget: int
    ensemble_characters: str
    router_sticky_seconds: float
    max_character_turns: int
    banter_chance: float
    global_response_chance: float
    follow_up_cooldown: float
    affinity_decay_days: float
    peer_characters: str
    turn_wait_after_human: float
    turn_wait_after_bot: float
    proactive_talk: bool
    proactive_interval_minutes: int
    proactive_chance: float
    proactive_max_silence_hours: float
    quiet_hours: str
    timezone: str
    custom_status: bool
    emotions: bool
    style_mirroring: bool
    server_emotes: bool
    emote_reactions: bool
    reaction_rate_limit: int
    checkins: bool
    checkin_after_days: float
    max_message_length: int
    shard_count: int
    reroll_timeout_seconds: int
    confirm_timeout_seconds: int
    heartbeat_interval_seconds: float
    latency_warning_ms: float
    discord_api_base_url: str
    discord_gateway_url: str
    typing_speed_cpm: float
    min_typing_time: float
    max_typing_time: float
    typing_variance: float
    should_reply_timeout: float
    summarize_timeout: float
    llm_timeout: float
    database_url: str
    log_level: str
    verbose_logging: bool
    enable_api_call_logging: bool
    api_log_file: str
    discord_token: str
    anthropic_api_key: str
    anthropic_base_url: str
    log_channel: int
    admin_user_ids: str
    # The merged raw values, for the persona loader (character prompts and format-specific keys).
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:  # secrets never reach a log line
        return f"Settings(character_dir={self.character_dir!s}, database={self.safe_database_url()})"

    @property
    def admin_ids(self) -> frozenset[int]:
        return frozenset(int(p) for p in self.admin_user_ids.replace(" ", "").split(",") if p)

    @property
    def character_name_slug(self) -> str:
        return self.character_dir.name

    @property
    def ensemble_dirs(self) -> list[Path]:
        """The other character folders this bot plays (resolved like ``--character``)."""
        return [resolve_folder(p) for p in self.ensemble_characters.split(",") if p.strip()]

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = PROJECT_ROOT / "data" / f"{self.character_name_slug}.db"
        return f"sqlite+aiosqlite:///{path}"

    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.resolved_database_url()).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable database url>"


def load_settings(
    character_dir: Path,
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    require_discord: bool = True,
    require_anthropic: bool = True,
) -> Settings:
    """Read and validate every setting; raise ConfigError naming the file and key of the first problem."""
    if not character_dir.is_dir():
        raise ConfigError(str(character_dir), "character_dir", "no such character folder")
    source = read_sources(config_file, character_dir, environ)
    parsed: dict[str, Any] = {}
    for setting in SETTINGS:
        raw: str | None = None
        used_key = setting.key
        for key in (setting.key, *setting.aliases):
            if source.get(key) is not None:
                raw, used_key = source.get(key), key
        if raw is None or (raw == "" and setting.kind is not str):
            parsed[setting.key] = setting.default
            continue
        if setting.key == "log_channel" and _is_placeholder(raw):
            parsed[setting.key] = 0
            continue
        try:
            parsed[setting.key] = _PARSERS[setting.kind](raw)
        except ValueError:
            kind = {int: "a whole number", float: "a number", bool: "true or false"}[setting.kind]
            raise ConfigError(source.origin(used_key), used_key, f"expected {kind}, got {raw!r}") from None
        if setting.kind is float and not math.isfinite(parsed[setting.key]):
            raise ConfigError(source.origin(used_key), used_key, f"expected a finite number, got {raw!r}")
    _validate(parsed, source, character_dir, require_discord, require_anthropic)
    warn_unknown_keys(source)
    names = {f.name for f in fields(Settings)}
    kwargs = {k: v for k, v in parsed.items() if k in names}
    return Settings(character_dir=character_dir, config_file=config_file, raw=dict(source.values), **kwargs)


def _validate(
    parsed: dict[str, Any], source: Source, character_dir: Path, require_discord: bool, require_anthropic: bool
) -> None:
    char_env = str(character_dir / "character.env")

    def where(key: str) -> str:
        return source.origin(key) if source.get(key) is not None else char_env

    if require_discord and _is_placeholder(parsed["discord_token"]):
        raise ConfigError(where("discord_token"), "discord_token", "missing: set the bot token here or in DISCORD_TOKEN")
    if require_anthropic and _is_placeholder(parsed["anthropic_api_key"]):
        raise ConfigError(
            where("anthropic_api_key"), "ANTHROPIC_API_KEY", "missing: set the API key here or in the environment"
        )
    positive = ("yes_no_vote_count", "max_message_length", "shard_count", "default_max_tokens", "typing_speed_cpm",
                "heartbeat_interval_seconds")
    for key in positive:
        if parsed[key] <= 0:
            raise ConfigError(where(key), key, f"must be greater than 0, got {parsed[key]}")
    non_negative = (
        "bot_reply_threshold", "reply_cooldown", "min_typing_time", "typing_variance", "recent_channel_messages",
        "conversation_token_threshold", "core_memory_token_threshold", "history_keep_messages",
        "should_reply_timeout", "summarize_timeout", "llm_timeout", "reroll_timeout_seconds", "confirm_timeout_seconds",
        "latency_warning_ms",
    )
    for key in non_negative:
        if parsed[key] < 0:
            raise ConfigError(where(key), key, f"must not be negative, got {parsed[key]}")
    # -- memory (memory/)
    for key in ("fact_expiry_days", "relationship_max_daily_change", "recall_token_budget"):
        if parsed[key] < 0:
            raise ConfigError(where(key), key, f"must not be negative, got {parsed[key]}")
    parsed["memory_consent"] = parsed["memory_consent"].strip().lower().replace("-", "_")
    if parsed["memory_consent"] not in ("all", "opt_in"):
        raise ConfigError(where("memory_consent"), "memory_consent", "must be all or opt_in")
    if not 0 <= parsed["consolidation_hour_utc"] <= 23:
        raise ConfigError(where("consolidation_hour_utc"), "consolidation_hour_utc", "must be between 0 and 23")
    if not 0.0 < parsed["fact_similarity_threshold"] <= 1.0:
        raise ConfigError(where("fact_similarity_threshold"), "fact_similarity_threshold",
                          "must be above 0 and at most 1")
    if parsed["max_typing_time"] < parsed["min_typing_time"]:
        raise ConfigError(where("max_typing_time"), "max_typing_time", "must be at least min_typing_time")
    if not 100 <= parsed["max_message_length"] <= 4000:
        raise ConfigError(where("max_message_length"), "max_message_length", "must be between 100 and 4000")
    for part in parsed["admin_user_ids"].replace(" ", "").split(","):
        if part and not part.isdigit():
            raise ConfigError(where("admin_user_ids"), "admin_user_ids", f"expected comma-separated user ids, got {part!r}")
    for key in ("router_sticky_seconds", "max_character_turns", "turn_wait_after_human", "turn_wait_after_bot"):
        if parsed[key] < 0:
            raise ConfigError(where(key), key, f"must not be negative, got {parsed[key]}")
    for key in ("banter_chance", "global_response_chance"):
        if not 0.0 <= parsed[key] <= 1.0:
            raise ConfigError(where(key), key, "must be between 0 and 1")
    for key in ("follow_up_cooldown", "affinity_decay_days"):
        if parsed[key] < 0:
            raise ConfigError(where(key), key, f"must not be negative, got {parsed[key]}")
    _validate_alive(parsed, where)
    seen_folders = {character_dir.resolve()}
    for part in (p.strip() for p in parsed["ensemble_characters"].split(",")):
        if not part:
            continue
        folder = resolve_folder(part)
        if not folder.is_dir():
            raise ConfigError(where("ensemble_characters"), "ensemble_characters", f"no such character folder: {part}")
        if folder.resolve() in seen_folders:
            raise ConfigError(where("ensemble_characters"), "ensemble_characters", f"{part} is listed twice")
        seen_folders.add(folder.resolve())
    level = parsed["log_level"].strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(where("log_level"), "log_level",
                          f"must be one of {', '.join(LOG_LEVELS)}, got {parsed['log_level']!r}")
    parsed["log_level"] = level
    url = parsed["database_url"]
    if url and "://" not in url:
        raise ConfigError(where("database_url"), "database_url", f"not a database URL: {url!r}")


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _validate_alive(parsed: dict[str, Any], where: Callable[[str], str]) -> None:
    """Proactive talk, check-ins and the daily rhythm (bot/localtime.py reads the two time keys)."""
    for key in ("proactive_interval_minutes", "proactive_max_silence_hours", "checkin_after_days"):
        if parsed[key] <= 0:
            raise ConfigError(where(key), key, f"must be greater than 0, got {parsed[key]}")
    if not 0.0 <= parsed["proactive_chance"] <= 1.0:
        raise ConfigError(where("proactive_chance"), "proactive_chance", "must be between 0 and 1")
    if parsed["reaction_rate_limit"] < 0:
        raise ConfigError(where("reaction_rate_limit"), "reaction_rate_limit", "must not be negative")
    for key, check in (("quiet_hours", parse_quiet_hours), ("timezone", load_zone)):
        try:
            check(parsed[key])
        except ValueError as exc:
            raise ConfigError(where(key), key, str(exc)) from None


def is_known_key(key: str) -> bool:
    """A key some part of Kindred reads (a setting or alias, a character key) or a ClaudeMask key it retired."""
    return (key in _BY_KEY or key in LEGACY_KEYS or key in CHARACTER_KEYS
            or key.startswith(CHARACTER_KEY_PREFIXES))


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
                log.warning("%s: character_dir is read only from the environment or --character; ignored here",
                            file)
            else:
                log.warning("%s: unknown key %s is ignored (a typo?)", file, key)
            unknown.append((file, key))
    return unknown


def warn_unknown_character_keys(folder: Path) -> list[tuple[str, str]]:
    """warn_unknown_keys for another character the bot plays (ensemble_characters): its own character.env
    only, since config.env and the environment were checked with the main character."""
    return warn_unknown_keys(read_sources(None, folder, {}))


def resolve_character_dir(cli_value: str | None, environ: Mapping[str, str] | None = None,
                          roots: tuple[Path, ...] | None = None) -> Path:
    """``--character``, then ``CHARACTER_DIR``, then a root holding ``character.env``, then the example."""
    return choose_character_dir(cli_value, environ, roots).folder


@dataclass(frozen=True)
class CharacterChoice:
    folder: Path
    why: str  # for the start-up log
    root_layout: bool = False  # ClaudeMask's layout: the character.env sits in the folder main.py runs from


def choose_character_dir(cli_value: str | None, environ: Mapping[str, str] | None = None,
                         roots: tuple[Path, ...] | None = None) -> CharacterChoice:
    """The character folder, and why it was chosen.

    ClaudeMask's set-up copies a character's ``character.env`` to the project root and runs ``main.py``:
    without ``--character`` or ``CHARACTER_DIR``, a ``character.env`` in the folder main.py runs from (or in
    the project root) makes that folder the character folder.
    """
    env = os.environ if environ is None else environ
    roots = (Path.cwd(), PROJECT_ROOT) if roots is None else roots
    root = next((r for r in roots if (r / "character.env").is_file()), None)
    from_env = next((v for k, v in env.items() if k.lower() == "character_dir" and v), None)
    if not cli_value and not from_env:
        if root is not None:
            why = f"the character.env in {root}: ClaudeMask layout, no --character or CHARACTER_DIR given"
            return CharacterChoice(root, why, root_layout=True)
        return CharacterChoice(DEFAULT_CHARACTER, "the shipped example: no --character, CHARACTER_DIR or "
                                                  "character.env in the folder main.py runs from")
    path = resolve_folder(cli_value or from_env or "")
    why = "from --character" if cli_value else "from CHARACTER_DIR"
    if root is not None and root.resolve() != path.resolve():
        why += f"; the character.env in {root} is not used, as --character and CHARACTER_DIR come first"
    return CharacterChoice(path, why)


def resolve_folder(value: str) -> Path:
    """A character folder as written: a path (from here or the project), or a bare name under characters/."""
    path = Path(value.strip()).expanduser()
    if path.is_absolute() or path.exists():
        return path
    for candidate in (PROJECT_ROOT / path, PROJECT_ROOT / "characters" / path):
        if candidate.exists():
            return candidate
    return path


# --------------------------------------------------------------------------- documentation
# `python -m bot.config example` / `python -m bot.config markdown` regenerate config.env.example and the
# README table from SETTINGS, so the documentation cannot drift from what the code reads.

SECRET_KEYS = ("discord_token", "anthropic_api_key", "anthropic_base_url", "log_channel", "admin_user_ids")


def render_example() -> str:
    lines = ["# Kindred technical settings. Copy to config.env; every key is optional (defaults shown).",
             "# Secrets and identity belong in characters/<name>/character.env (see character.env.example)",
             "# or in environment variables, which override both files. Keys are case-insensitive.", ""]
    for s in SETTINGS:
        if s.key in SECRET_KEYS:
            continue
        default = str(s.default).lower() if isinstance(s.default, bool) else s.default
        lines.append(f"# {s.help}")
        lines.append(f'{s.key}="{default}"' if isinstance(s.default, str) else f"{s.key}={default}")
        lines.append("")
    return "\n".join(lines)


def render_markdown() -> str:
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = str(s.default).lower() if isinstance(s.default, bool) else s.default
        shown = f"`{default}`" if default != "" else "(empty)"
        rows.append(f"| `{s.key}` | {shown} | {s.help} |")
    return "\n".join(rows)


def sync_docs() -> None:
    """Rewrite config.env.example and the README's settings table from SETTINGS."""
    import re

    (PROJECT_ROOT / "config.env.example").write_text(render_example(), encoding="utf-8")
    readme = PROJECT_ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    table = f"<!-- settings-table:start -->\n{render_markdown()}\n<!-- settings-table:end -->"
    readme.write_text(re.sub(r"<!-- settings-table:start -->.*?<!-- settings-table:end -->", lambda _: table,
                             text, flags=re.S), encoding="utf-8")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["sync-docs"]:
        sync_docs()
    else:
        print(render_markdown() if sys.argv[1:] == ["markdown"] else render_example())
