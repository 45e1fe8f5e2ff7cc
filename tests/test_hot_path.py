"""What every message's path keeps instead of computing again (issue 30), and when it computes again: a
server's effective settings and access rules follow a change of the server's stored settings and a live
reload; SQLite's stored times read back as the times written; a text without a mention is its own clean
form; the day's date turns at midnight UTC. The behaviour over the wire is the rest of the suite's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.config import (
    PROJECT_ROOT,
    EnsembleSettings,
    ReplySettings,
    SecretSettings,
    Settings,
    load_settings,
)
from bot.core.config.holder import Derived, SettingsHolder, section_of
from bot.core.config.sections import TriageSettings
from bot.core.config.service import AccessSettings
from bot.core.lines import Line
from bot.core.policy import PolicyCache
from bot.core.stages import Incoming
from bot.discord.flow import clean_content
from bot.operator import activity
from bot.operator.access import AccessGate
from bot.reply.deciding.intent import IntentRouter
from bot.reply.deciding.turns import TurnTaking
from bot.reply.throttle import BotThrottle
from database.records import ServerConfig
from tests.place_support import place

FINN = PROJECT_ROOT / "characters" / "finn"


def settings(**env: str) -> Settings:
    return load_settings(FINN, None, environ={"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k", **env})


def test_a_servers_policy_is_kept_until_its_settings_or_the_global_ones_change() -> None:
    holder = SettingsHolder(settings(YES_NO_VOTE_COUNT="3"))
    policies = PolicyCache(holder.current)
    plain = ServerConfig(1)
    first = policies.get(plain)
    assert first.vote_count == 3 and policies.get(plain) is first  # asked again: the same answer, kept
    own = ServerConfig(1, vote_count=5)  # the server set its own (the store's cache holds a new object)
    assert policies.get(own).vote_count == 5
    assert policies.get(plain).vote_count == 3
    holder.update(settings(YES_NO_VOTE_COUNT="1"))  # a live reload: where the server has no value of its own,
    assert policies.get(plain).vote_count == 1  # the new global one...
    assert policies.get(own).vote_count == 5  # ...and its own value still wins


class _Servers:
    def __init__(self) -> None:
        self.config = ServerConfig(7)

    async def get(self, guild_id: int) -> ServerConfig:
        return self.config


async def test_access_rules_follow_a_servers_lists_and_a_reload() -> None:
    holder = SettingsHolder(settings())
    servers: Any = _Servers()
    gate = AccessGate(holder.follow(AccessSettings), servers, holder.follow(SecretSettings))
    assert await gate.refusal(42, (), 7) is None
    servers.config = ServerConfig(7, blocked_users="42")  # /settings set blocked_users 42
    assert await gate.refusal(42, (), 7) == Line("on blocked_users")
    servers.config = ServerConfig(7)  # cleared: the global lists again
    assert await gate.refusal(42, (), 7) is None
    holder.update(settings(BLOCKED_USERS="42"))  # and those changed by a live reload (same stored settings)
    assert await gate.refusal(42, (), 7) == Line("on blocked_users")
    assert await gate.refusal(42, (), None) == Line("on blocked_users")  # DMs too
    holder.update(settings(ALLOW_DMS="false"))
    assert await gate.refusal(42, (), None) == Line("direct messages are off (allow_dms)")
    # the bot's admins are never refused: admin_user_ids as a reload leaves them, and the application's owners
    holder.update(settings(ALLOW_DMS="false", ADMIN_USER_IDS="42"))
    assert await gate.refusal(42, (), None) is None
    owned = AccessGate(holder.follow(AccessSettings), servers, holder.follow(SecretSettings), owners={43})
    assert await owned.refusal(43, (), None) is None
    assert owned.is_admin(42) and not owned.is_admin(44)
    holder.update(settings(ALLOW_DMS="false"))
    assert await gate.refusal(42, (), None) == Line("direct messages are off (allow_dms)")


def test_a_derived_value_is_made_again_only_when_a_source_is_another_object() -> None:
    made: list[str] = []
    kept: Derived[int, str] = Derived(limit=2)
    first, second = ServerConfig(1), ServerConfig(1, vote_count=5)  # a server's settings, then changed

    def make(name: str) -> str:
        made.append(name)
        return name

    assert kept.get(1, (first,), lambda: make("a")) == "a"
    assert kept.get(1, (first,), lambda: make("b")) == "a"  # the same sources: kept
    assert kept.get(1, (ServerConfig(1),), lambda: make("b")) == "a"  # an equal copy (a refresh): kept
    assert kept.get(1, (second,), lambda: make("c")) == "c"  # another value (a change, a reload): made again
    kept.get(2, (first,), lambda: make("d"))
    kept.get(3, (first,), lambda: make("e"))  # over the limit: what was kept is forgotten
    assert kept.get(1, (second,), lambda: make("f")) == "f"
    assert made == ["a", "c", "d", "e", "f"]


class _Message:
    def __init__(self, content: str, cleaned: str) -> None:
        self.content = content
        self._cleaned = cleaned
        self.resolved = 0

    @property
    def clean_content(self) -> str:
        self.resolved += 1
        return self._cleaned


@pytest.mark.parametrize("content, cleaned, resolves", [
    ("the harbour was busy", "unused", False),  # nothing to resolve: the text as it is
    ("hi <@123456789012345678>", "hi @Bob", True),
    ("ping @everyone", "ping @\u200beveryone", True),
    ("a\x00b", "unused", False),  # PostgreSQL text cannot hold NUL
])
def test_mentions_are_resolved_only_where_there_are_some(content: str, cleaned: str, resolves: bool) -> None:
    message: Any = _Message(content, cleaned)
    out = clean_content(message)
    assert (message.resolved == 1) == resolves
    assert out == (cleaned if resolves else content.replace("\x00", ""))


def test_the_counters_day_turns_at_midnight_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    evening = datetime(2026, 11, 24, 23, 59, 59, tzinfo=UTC).timestamp()
    monkeypatch.setattr(activity.time, "time", lambda: evening)
    assert activity.today() == "2026-11-24"
    monkeypatch.setattr(activity.time, "time", lambda: evening + 1)
    assert activity.today() == "2026-11-25"


def test_the_reply_writers_parts_read_their_sections_as_a_reload_leaves_them() -> None:
    """What the writer hands its parts (bot/reply/writer.py) is the section following the running settings:
    a reload reaches the throttle, the intents' models and the turn-taking waits without rebuilding them."""
    holder = SettingsHolder(settings())
    running = holder.current
    throttle = BotThrottle(section_of(running, ReplySettings))
    intents = IntentRouter(section_of(running, TriageSettings))
    messages: Any = None  # no wait here reads the log
    turns = TurnTaking(messages, section_of(running, EnsembleSettings), set, set())
    code = Incoming(message_id=1, author_id=3, author_name="bot", content="```py\nx = 1\n```",
                    created_at=datetime.now(UTC), place=place(2, False), author_is_bot=True)
    assert intents.model_for(code, "default") == "default"
    holder.update(settings(REPLY_COOLDOWN="2.5", CODE_MODEL="coder", TURN_WAIT_AFTER_BOT="7"))
    assert throttle.cooldown == 2.5
    assert intents.model_for(replace(code, message_id=4), "default") == "coder"
    assert turns.ensemble.turn_wait_after_bot == 7  # the wait after a bot's message, as each wait reads it
