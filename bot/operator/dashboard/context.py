"""What the dashboard works with: the store, the settings and the admin tools the slash commands use, and,
when the bot process serves it, what only the running bot knows (uptime, gateway latency, its decisions)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.core.character import CharacterSource
from bot.core.claude import ClaudeClient
from bot.core.config import Settings
from bot.operator.admin.language import Latencies
from bot.operator.admin.tools import AdminTools
from bot.operator.dashboard.live import LiveFeed
from bot.operator.logmirror import LogMirror
from database.store import Store

Forget = Callable[[int], Awaitable[dict[str, int]]]


@dataclass(frozen=True)
class RunningBot:
    """The bot process around the dashboard (absent when `main.py dashboard` serves it alone)."""

    started_at: float  # time.monotonic() at start-up
    latencies: Callable[[], Latencies]
    guild_count: Callable[[], int]
    claude: ClaudeClient  # the model client: its refusals and the requests it sent
    live: LiveFeed  # every reply decision, as it is made (a decision observer of the main pipeline)

    def refusals(self) -> dict[str, int]:
        """Requests the model refused since start, per purpose (``stop_reason: refusal``)."""
        return dict(self.claude.tally.refusals)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self.started_at


@dataclass(frozen=True)
class DashboardContext:
    settings: Settings
    store: Store
    character_key: str  # what the character's data is filed under
    character_name: Callable[[], str]  # read live: the character's files may change
    tools: AdminTools  # every edit goes through these, as the slash commands' do
    forget: Forget  # what /forget_me does
    bot: RunningBot | None = None


def standalone_context(settings: Settings, character: CharacterSource, store: Store) -> DashboardContext:
    """The dashboard alone on the bot's database (`main.py dashboard`): no live figures, no embedder (a fact
    whose text is edited here gets its vector from a later consolidation)."""
    key = settings.character_name_slug  # what ReplyWriter files the main character under
    return DashboardContext(
        settings=settings, store=store, character_key=key,
        character_name=lambda: character.current().name,
        tools=AdminTools(store, settings.models, settings.storage, key, LogMirror()),
        forget=store.privacy.delete_user_data,
    )
