"""Per-server settings (``/settings``): what each key means, how a typed value is read, and how a server's
own values combine with the global settings (which stay the defaults).

Read at every server message through :func:`resolve` (the store caches the rows; see database/servers.py):
the reply decision uses ``reply_mode`` and ``vote_count``, the prompt gets the ``language`` hint, memory
uses ``memory_consent``, moderation and ticket notices go to ``log_channel``. ``proactive`` is stored and
shown for the proactive-talk feature to read. The who-may-talk lists (``allowed_users`` ...) are read by
bot/access.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.config import Settings
from database.records import ServerConfig

REPLY_MODES = ("vote", "addressed")
CONSENT_MODES = ("all", "opt_in")
VOTE_COUNT_MAX = 15
LANGUAGE_MAX = 60
CLEAR_WORDS = ("default", "reset", "none", "clear")
EMPTY_WORDS = ("empty", "nobody", "-")  # an empty list here, whatever the global one holds
ID_LISTS = ("allowed_users", "blocked_users", "allowed_roles", "blocked_roles")


class BadValue(ValueError):
    """A value that cannot be used for a key; the message is the admin's one-line explanation."""


@dataclass(frozen=True)
class Key:
    name: str  # as typed in /settings set
    column: str  # ServerSettings column
    help: str
    choices: tuple[str, ...] = ()


KEYS: dict[str, Key] = {
    k.name: k
    for k in (
        Key(
            "reply_mode",
            "reply_mode",
            "vote: answer when addressed, and join in when a yes/no vote says so; "
            "addressed: only when addressed (no votes)",
            REPLY_MODES,
        ),
        Key(
            "vote_count",
            "vote_count",
            f"yes/no votes per unaddressed message (1-{VOTE_COUNT_MAX})",
            ("1", "3", "5", "7"),
        ),
        Key(
            "proactive",
            "proactive",
            "whether the character may start conversations here (on/off)",
            ("on", "off"),
        ),
        Key(
            "memory_consent",
            "memory_consent",
            "all: remember everyone but who opted out; opt_in: only who opted in",
            CONSENT_MODES,
        ),
        Key("log_channel", "log_channel_id", "channel for moderation and ticket notices (#channel or id)"),
        Key("language", "language", "language the character answers in here (e.g. German)"),
        Key("allowed_users", "allowed_users", "only these people may talk to it here (@mentions or ids; "
            "empty: everyone)", ("empty",)),
        Key("blocked_users", "blocked_users", "people it ignores here (@mentions or ids)", ("empty",)),
        Key("allowed_roles", "allowed_roles", "only members with one of these roles may talk to it here "
            "(@roles or ids; empty: everyone)", ("empty",)),
        Key("blocked_roles", "blocked_roles", "members with these roles are ignored here (@roles or ids)",
            ("empty",)),
    )
}


@dataclass(frozen=True)
class ServerPolicy:
    """A server's effective settings: its own where set, else the global ones."""

    reply_mode: str
    vote_count: int
    proactive: bool
    memory_consent: str
    log_channel_id: int | None
    language: str
    # Who may talk to it here (comma-separated ids; bot/access.py reads them).
    allowed_users: str = ""
    blocked_users: str = ""
    allowed_roles: str = ""
    blocked_roles: str = ""

    @property
    def votes(self) -> bool:
        return self.reply_mode == "vote"


def resolve(
    settings: Settings, config: ServerConfig | None, *, global_log_here: bool = False
) -> ServerPolicy:
    """``global_log_here``: the global LOG_CHANNEL_ID is a channel of this server (its default log
    channel)."""
    c = config or ServerConfig(0)
    default_log = settings.log_channel if global_log_here and settings.log_channel else None
    return ServerPolicy(
        reply_mode=c.reply_mode or "vote",
        vote_count=c.vote_count or settings.yes_no_vote_count,
        proactive=bool(c.proactive) if c.proactive is not None else False,
        memory_consent=c.memory_consent or settings.memory_consent,
        log_channel_id=c.log_channel_id or default_log,
        language=c.language or "",
        **{name: own if (own := getattr(c, name)) is not None else str(getattr(settings, name, ""))
           for name in ID_LISTS},
    )


def parse_value(key: str, raw: str) -> object:
    """The stored value for ``raw`` typed for ``key``; None resets the key to the global default."""
    spec = KEYS.get(key)
    if spec is None:
        raise BadValue(f"There is no setting {key!r}; choose one of: {', '.join(KEYS)}.")
    text = raw.strip()
    if text.lower() in CLEAR_WORDS:
        return None
    low = text.lower().replace("-", "_")
    if key in ("reply_mode", "memory_consent"):
        if low not in spec.choices:
            raise BadValue(f"{key} must be one of {', '.join(spec.choices)} (or default), not {text[:40]!r}.")
        return low
    if key == "vote_count":
        if not text.isdigit() or not 1 <= int(text) <= VOTE_COUNT_MAX:
            raise BadValue(
                f"vote_count must be a whole number from 1 to {VOTE_COUNT_MAX}, not {text[:40]!r}."
            )
        return int(text)
    if key == "proactive":
        if low in ("on", "true", "yes", "1"):
            return True
        if low in ("off", "false", "no", "0"):
            return False
        raise BadValue(f"proactive must be on or off, not {text[:40]!r}.")
    if key in ID_LISTS:
        return parse_ids(key, text)
    if key == "log_channel":
        match = re.fullmatch(r"<#(\d+)>|(\d{5,25})", text)
        if match is None:
            raise BadValue(f"log_channel must be a #channel or a channel id, not {text[:40]!r}.")
        return int(match.group(1) or match.group(2))
    if len(text) > LANGUAGE_MAX or not text:
        raise BadValue(f"language must be 1 to {LANGUAGE_MAX} characters.")
    return text


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
            raise BadValue(f"{key} takes {kind} mentions or ids separated by commas, not {part[:40]!r}.")
        if match.group(1) not in ids:
            ids.append(match.group(1))
    return ",".join(ids)


def show_ids(key: str, value: str) -> str:
    ids = [p for p in value.split(",") if p.strip()]
    if not ids:
        return "everyone" if key.startswith("allowed") else "nobody"
    mark = "@&" if key.endswith("roles") else "@"
    return ", ".join(f"<{mark}{i.strip()}>" for i in ids)


def show_value(key: str, policy: ServerPolicy) -> str:
    if key in ID_LISTS:
        return show_ids(key, getattr(policy, key))
    value = {
        "reply_mode": policy.reply_mode,
        "vote_count": str(policy.vote_count),
        "proactive": "on" if policy.proactive else "off",
        "memory_consent": policy.memory_consent,
        "log_channel": f"<#{policy.log_channel_id}>" if policy.log_channel_id else "none",
        "language": policy.language or "not set",
    }[key]
    return value


def is_set(key: str, config: ServerConfig) -> bool:
    return getattr(config, KEYS[key].column) is not None


def language_hint(policy: ServerPolicy) -> str:
    """The per-message prompt line for a server's language, or ""."""
    if not policy.language:
        return ""
    return (
        f"[Language: people in this server speak {policy.language}. Answer in {policy.language} unless "
        "the person writes to you in another language.]"
    )
