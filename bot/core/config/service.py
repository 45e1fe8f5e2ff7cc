"""The settings of running Kindred as a service: who may talk to it and what it may spend, the cluster,
signals and reloads, recovery after a fault, and the console (declared here as in sections.py, which
gathers them into :class:`~bot.core.config.sections.Settings`)."""

# No ``from __future__ import annotations`` here: keys.py reads each field's type as the class itself.
from dataclasses import dataclass
from typing import ClassVar

from bot.core.config.keys import key, parsed_by
from bot.core.i18n import N_


def _id_list(value: str) -> str | None:
    for part in value.replace(" ", "").split(","):
        if part and not part.isdigit():
            return f"expected comma-separated Discord ids, got {part!r}"
    return None


@dataclass(frozen=True)
class AccessSettings:
    """Who may talk to the character (bot/operator/access.py); a server's admins override the lists there with
    /settings set. Checked before any work; the bot's admins are never refused."""

    TITLE: ClassVar[str] = "Who may talk to it"
    allow_dms: bool = key(
        True, "Answer direct messages (off: DMs from anyone but the bot's admins go unanswered).")
    allowed_users: str = key(
        "", "Comma-separated user ids who may talk to the character (empty: everyone).", check=_id_list)
    blocked_users: str = key(
        "", "Comma-separated user ids the character ignores (wins over the allow lists).", check=_id_list)
    allowed_roles: str = key(
        "", "Comma-separated role ids whose members may talk to it in servers (empty: everyone).",
        check=_id_list)
    blocked_roles: str = key(
        "", "Comma-separated role ids whose members it ignores in servers (wins over the allow lists).",
        check=_id_list)


@dataclass(frozen=True)
class LimitSettings:
    """Spending limits (bot/operator/limits.py): what one person, one server and the whole bot may spend a
    day, and how fast one person may write. 0 means no limit; the bot's admins are exempt."""

    TITLE: ClassVar[str] = "Spending limits"
    daily_token_budget: int = key(
        0, "Tokens (in, out and cache writes of every model call for them) one person may use a day.", min=0)
    premium_daily_token_budget: int = key(
        0, "The daily token budget of premium users (0: none for them, whatever daily_token_budget says).",
        min=0)
    server_daily_spend_usd: float = key(0.0, "USD one server's messages may spend a day.", min=0.0)
    global_daily_spend_usd: float = key(0.0, "USD the whole bot may spend a day.", min=0.0)
    user_messages_per_minute: int = key(
        0, "Messages one person may send the character in a minute before it stops reading them.", min=0)
    limit_reply: str = key(
        N_("*{name} stifles a yawn.* I'm all talked out for now. Let's pick this up again {when}."),
        "Said once, in character, when someone reaches a limit ({name}: the character; {when}: "
        "tomorrow / in a minute). Unset, it is said in the person's language; set, as written.")
def parse_shard_ids(value: str) -> tuple[int, ...]:
    """``"0-3"``, ``"0,2,5"`` or ``"0-1,4"`` as sorted shard ids (empty: every shard, no cluster)."""
    ids: set[int] = set()
    for part in (p.strip() for p in value.replace(" ", "").split(",")):
        if not part:
            continue
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"expected shard ids like 0-3 or 0,2,5, got {part!r}")
        first, last = int(low), int(high or low)
        if last < first:
            raise ValueError(f"empty shard range {part!r}")
        ids.update(range(first, last + 1))
    return tuple(sorted(ids))


@dataclass(frozen=True)
class ClusterSettings:
    """Several processes sharing one PostgreSQL database (bot/runtime/cluster.py)."""

    TITLE: ClassVar[str] = "Cluster"
    shard_ids: str = key(
        "", "The shards this process runs, e.g. 0-3 (empty: all of shard_count). Set per process in a "
        "cluster; also --shard-ids.", check=parsed_by(parse_shard_ids), restart=True)
    leader_failover_seconds: float = key(
        10.0, "Seconds within which another process takes over the cluster's scheduled work when the "
        "leader dies.", min=1, max=600, restart=True)
    cluster_heartbeat_seconds: float = key(
        5.0, "Seconds between a process's heartbeats in the cluster table (`main.py cluster status`).",
        min=0.5, max=300, restart=True)
    session_start_reserve: int = key(
        10, "Discord's daily session starts (about 1,000 a bot) this process will not spend: with only this "
        "many left it waits for the daily reset and says so rather than connect (a crash loop cannot leave "
        "the bot unable to connect at all).", min=0, max=1000, restart=True)


@dataclass(frozen=True)
class OperationSettings:
    """Running as a service: stopping on SIGTERM/SIGINT (bot/runtime/lifecycle.py) and reloading the
    configuration while running (bot/runtime/reloader.py)."""

    TITLE: ClassVar[str] = "Running as a service"
    shutdown_grace_seconds: float = key(
        15.0, "On SIGTERM/SIGINT (or shutdown? in the log channel): seconds replies in flight get to finish "
        "before the bot closes anyway.", min=0)
    config_reload_seconds: float = key(
        5.0, "Seconds between checks of config.env and the character files for changes, applied live (keys "
        "that need a restart are logged); 0: off.", min=0)
    event_loop: str = key(
        "uvloop", "The event loop the bot runs on: uvloop (libuv's; less CPU per message) or asyncio (the "
        "standard library's). uvloop is not installed on Windows, where asyncio's is used.",
        choices=("uvloop", "asyncio"), restart=True)


def _otlp_url(value: str) -> str | None:
    value = value.strip()
    if value and not value.startswith(("http://", "https://")):
        return f"must be an http:// or https:// URL of an OTLP/HTTP traces endpoint, got {value!r}"
    return None


@dataclass(frozen=True)
class MetricsSettings:
    """Prometheus metrics and OpenTelemetry traces for the operator's graphs (bot/core/metrics.py,
    bot/operator/metrics.py); off by default."""

    TITLE: ClassVar[str] = "Metrics and traces"
    metrics_port: int = key(
        0, "Port of the Prometheus endpoint GET /metrics (0: off). The dashboard's port serves it beside "
        "the dashboard.", min=0, max=65535, restart=True)
    metrics_host: str = key(
        "127.0.0.1", "Address the metrics endpoint listens on when it has a port of its own.",
        restart=True)
    metrics_token: str = key(
        "", "Bearer token a scrape must send (Authorization: Bearer ...); empty: only this machine is "
        "answered (another address, or a request a proxy relays, is refused).", secret=True, restart=True)
    otel_endpoint: str = key(
        "", "OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces): a reply's stages as "
        "OpenTelemetry spans; needs the otel extra (pip install '.[otel]'). Empty: no traces.",
        check=_otlp_url, restart=True)


@dataclass(frozen=True)
class ConsoleSettings:
    """Console mode: chatting in the terminal (bot/runtime/console.py)."""

    TITLE: ClassVar[str] = "Console"
    console_log_file: str = key(
        "logs/console.log", "Log file of console mode (relative to the project), so log lines never "
        "interleave with the chat; warnings also show in the terminal.", restart=True)


@dataclass(frozen=True)
class RecoverySettings:
    """No message lost to a crash or an outage (bot/reply/recovery.py, database/engine.py)."""

    TITLE: ClassVar[str] = "Recovery"
    reply_recovery_minutes: float = key(
        10.0, "Replies owed at start-up younger than this are answered late; older ones are dropped.", min=0)
    db_retry_seconds: float = key(
        30.0, "How long a database unit of work is retried through an outage or a lock.", min=0)
    db_busy_timeout: float = key(10.0, "Seconds SQLite waits for another writer's lock each try.", min=0)
