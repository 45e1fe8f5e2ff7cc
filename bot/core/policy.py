"""A server's effective settings (``/settings``) as the reply sequence reads them at every server message:
its own values where set, else the global ones. The reply decision uses ``reply_mode`` and ``vote_count``,
the prompt gets the ``language`` hint, memory uses ``memory_consent``, moderation and ticket notices go to
``log_channel``; the who-may-talk lists (``allowed_users`` ...) are read by bot/operator/access.py. What each
key means and how an admin's typed value is read is the server-settings feature
(bot/features/servertools/settings.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.config import Settings
from bot.core.config.holder import Derived, snapshot
from bot.core.i18n import language_name
from bot.core.persona.model import Persona
from bot.core.stages import Incoming
from database.records import PromptData, ServerConfig
from database.servers import Servers

REPLY_MODES = ("vote", "addressed")
CONSENT_MODES = ("all", "opt_in")
ID_LISTS = ("allowed_users", "blocked_users", "allowed_roles", "blocked_roles")


@dataclass(frozen=True)
class ServerPolicy:
    """A server's effective settings: its own where set, else the global ones."""

    reply_mode: str
    vote_count: int
    proactive: bool
    memory_consent: str
    log_channel_id: int | None
    language: str
    # Who may talk to it here (comma-separated ids; bot/operator/access.py reads them).
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
    default_log = settings.secrets.log_channel if global_log_here and settings.secrets.log_channel else None
    return ServerPolicy(
        reply_mode=c.reply_mode or "vote",
        vote_count=c.vote_count or settings.replies.yes_no_vote_count,
        proactive=bool(c.proactive) if c.proactive is not None else False,
        memory_consent=c.memory_consent or settings.memory.memory_consent,
        log_channel_id=c.log_channel_id or default_log,
        language=c.language or "",
        **{name: own if (own := getattr(c, name)) is not None else str(getattr(settings.access, name, ""))
           for name in ID_LISTS},
    )


class PolicyCache:
    """The last :func:`resolve` of each server, kept while neither its stored settings (the store's cached
    object) nor the global sections it reads were replaced: every message of a server asks for it. It takes
    the whole settings (the running bot's follow reloads): it reads three sections, replies, memory and
    access, and keeps its answers while their values stay."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._kept: Derived[int, ServerPolicy] = Derived()

    def get(self, config: ServerConfig) -> ServerPolicy:
        s = self.settings
        # A live reload writes new values into the sections; a server's change, the store's cached config.
        policy = self._kept.kept(config.guild_id, (config, s.replies, s.memory, s.access))
        if policy is None:
            sources = (config, snapshot(s.replies), snapshot(s.memory), snapshot(s.access))
            policy = self._kept.keep(config.guild_id, sources, resolve(s, config))
        return policy


def language_hint(policy: ServerPolicy) -> str:
    """The per-message prompt line for a server's language, or ""."""
    if not policy.language:
        return ""
    name = language_name(policy.language, "en")  # kept as a tag ("de"): the prompt names it ("German")
    return (
        f"[Language: people in this server speak {name}. Answer in {name} unless "
        "the person writes to you in another language.]"
    )


class ServerPolicies:
    """Each server's effective settings (/settings over the global ones), resolved once per change; the
    stored settings are cached by the store, so asking costs no database trip. One for the whole bot: the
    engines' decisions and the prompt's language hint read the same answers."""

    def __init__(self, settings: Settings, servers: Servers) -> None:
        self._servers = servers
        self._cache = PolicyCache(settings)

    async def of(self, guild_id: int | None) -> ServerPolicy | None:
        """None in DMs."""
        if guild_id is None:
            return None
        return self._cache.get(await self._servers.get(guild_id))


class LanguageHint:
    """A server's language (/settings), an instruction of the reply's prompt ("" in DMs and where none is
    set)."""

    slot = "instructions"
    in_dms = False  # a server's: none in DMs

    def __init__(self, policies: ServerPolicies) -> None:
        self._policies = policies

    async def supply(self, persona: Persona, msg: Incoming, data: PromptData) -> str:
        policy = await self._policies.of(msg.guild_id)
        return language_hint(policy) if policy is not None else ""
