"""Over-the-wire harness: a fake Discord server, a fake Claude API (and a fake OpenAI-compatible server, for
the openai backend and voice) and a real Kindred bot between them.

The bot is the real ``KindredBot`` (real discord.py client, real anthropic SDK, real database); only the
far ends of the wires are fakes. Tests speak as users through the fake Discord and read what the bot sent
back, and what it asked Claude, from the fakes' records.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import os
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from discord.ext import commands

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, Settings, load_settings
from bot.core.localtime import DISCORD_EPOCH_MS
from bot.core.timers import Dispatcher
from bot.discord.client import Kindred, create_bot
from bot.features.proactive import ProactiveTalk
from bot.features.proactive.rounds import ProactiveRound
from database.records import History, SeenMessage
from database.store import Store
from memory.consolidation_report import ConsolidationReport
from tests.fakes import EVENT_WAIT, PROCESS_WAIT
from tests.fakes.claude_models import lineup_capabilities
from tests.fakes.claude_server import FakeClaude, Recorded
from tests.fakes.discord_components import walk_components
from tests.fakes.discord_lead import FakeDiscord, panel_texts
from tests.fakes.openai_server import FakeOpenAI

GUILD_ID = 900_000_000_000_000_001
CHANNEL_ID = 900_000_000_000_000_010
OTHER_CHANNEL_ID = 900_000_000_000_000_011
LOG_CHANNEL_ID = 900_000_000_000_000_012
ADMIN_ID = 900_000_000_000_000_100
USER_ID = 900_000_000_000_000_101
USER2_ID = 900_000_000_000_000_102
OTHER_BOT_ID = 900_000_000_000_000_200
OWNER_ID = 900_000_000_000_000_300

EPHEMERAL = 64  # a message flag: only the user who ran the command sees it
COMPONENTS_V2 = 1 << 15  # a message flag: laid out with Components V2 (a panel), no content or embeds

TEST_MODELS = ("claude-test-default", "claude-test-premium", "claude-test-voter", "claude-test-sonnet",
               "claude-test-haiku", "claude-test-voter-haiku", "claude-test-vision", "claude-test-code")

# Fast, deterministic defaults for tests; each can be overridden per test.
TEST_CONFIG: dict[str, str] = {
    "typing_speed_cpm": "600000",
    "min_typing_time": "0",
    "max_typing_time": "0.05",
    "typing_variance": "0",
    "reply_cooldown": "0",
    "llm_timeout": "5",
    "should_reply_timeout": "3",
    "summarize_timeout": "5",
    "default_model": "claude-test-default",
    "premium_model": "claude-test-premium",
    "voting_model": "claude-test-voter",
    # The test names follow the lineup the suite runs on (KINDRED_TEST_LINEUP: 5.5 by default, or 4.x), on
    # the bot's side as in the fake Claude's rules (tests/fakes/claude_models.py).
    # The fake Claude here caches prompts of any length (min_cache_tokens=0): so does the bot's table, or it
    # would drop the breakpoints of the suite's short prompts (bot/core/models/caching.py).
    "model_capabilities": ",".join(
        [lineup_capabilities(TEST_MODELS)] + [f"{name}[min_cache_tokens]=0" for name in TEST_MODELS]),
    "stream_replies": "true",
    # The embedding model loads when a test's facts need it, not in the background of every bot start.
    "preload_embedding_model": "false",
    # One message per reply, as the suite was written for; the delivery tests choose their mode.
    "reply_delivery": "whole",
    # Writing a custom status at start-up is a Claude call: tests that count calls would count it. The
    # status tests switch it on.
    "custom_status": "false",
    # A first DM is greeted before it is answered: two posts, where the suite counts one. The greeting
    # tests switch it on (tests/test_greetings.py).
    "greetings": "false",
    # Tests that count votes per message judge each one at once; the burst window has tests of its own.
    "vote_window_seconds": "0",
    # Tests of voting vote on every unaddressed message; the first look has tests of its own
    # (tests/test_first_look.py).
    "first_look": "false",
}


class Harness:
    _counter = itertools.count()

    def __init__(self, *, db_url: str, tmp_path: Path, config: dict[str, Any] | None = None,
                 character_dir: Path | None = None, bot_options: dict[str, Any] | None = None,
                 cog_modules: Sequence[str] | None = None, config_file: Path | None = None) -> None:
        self.db_url = db_url
        self.tmp_path = tmp_path
        self.config = {k: str(v) for k, v in (config or {}).items()}
        self.bot_options = bot_options or {}
        self.cog_modules = list(cog_modules) if cog_modules is not None else None  # None: every cog
        self.character_dir = character_dir or PROJECT_ROOT / "characters" / "finn"
        self.config_file = config_file  # a config.env of the test's own (None: settings from environ only)
        self.discord = FakeDiscord()
        # Test prompts are a few hundred tokens: cache any prefix, so tests can see turns hit the cache.
        # bench_cache and tests/test_prompt_cache.py set the documented minimums (cache.min_tokens = None).
        self.claude = FakeClaude(min_cache_tokens=0)
        self.openai = FakeOpenAI()  # serves nothing unless a setting points a model or voice at it
        self.bot: Kindred | None = None
        self.handled_ids: set[int] = set()  # messages whose handling the bot finished (``message_handled``)
        self._runner: asyncio.Task[None] | None = None
        self.guild_id, self.channel_id, self.other_channel_id = GUILD_ID, CHANNEL_ID, OTHER_CHANNEL_ID
        self.log_channel_id, self.admin_id = LOG_CHANNEL_ID, ADMIN_ID
        self.user_id, self.user2_id = USER_ID, USER2_ID
        self.other_bot_id, self.owner_id = OTHER_BOT_ID, OWNER_ID

    # -- lifecycle

    def environ(self) -> dict[str, str]:
        return {
            "DISCORD_TOKEN": "fake-discord-token",
            "ANTHROPIC_API_KEY": "fake-anthropic-key",
            "ANTHROPIC_BASE_URL": self.claude.base_url,
            "OPENAI_BASE_URL": self.openai.base_url,
            "DISCORD_API_BASE_URL": self.discord.api_base,
            "DISCORD_GATEWAY_URL": self.discord.gateway_url,
            "DATABASE_URL": self.db_url,
            "LOG_CHANNEL_ID": str(LOG_CHANNEL_ID),
            "ADMIN_USER_IDS": str(ADMIN_ID),
            **TEST_CONFIG,
            **self.config,
        }

    def settings(self) -> Settings:
        return load_settings(self.character_dir, self.config_file, environ=self.environ())

    async def start(self) -> Harness:
        await self.start_world()
        await self.start_bot()
        return self

    async def start_world(self, *, other_guild: tuple[int, int] | None = None) -> Harness:
        """Every fake server and the usual world, before the bot starts; ``other_guild``: (guild, channel) of
        a second server alice is in too."""
        await self.discord.start()
        await self.claude.start()
        await self.openai.start()
        self.build_world()
        if other_guild is not None:
            guild, channel = other_guild
            self.discord.add_guild(guild, "Other Reef", channels=[(channel, "lobby")])
            self.discord.add_member(guild, USER_ID)
        return self

    def build_world(self) -> None:
        """The usual world in the fake Discord (its users, the guild and its channels), with no bot of ours
        yet: :meth:`start_world` makes it after starting the fakes; a benchmark running them on a thread of
        their own makes it itself."""
        d = self.discord
        d.set_application_owner(OWNER_ID)
        d.add_user(ADMIN_ID, "admin")
        d.add_user(USER_ID, "alice")
        d.add_user(USER2_ID, "bob")
        d.add_user(OTHER_BOT_ID, "otherbot", bot=True)
        d.add_user(OWNER_ID, "owner")
        d.add_guild(GUILD_ID, "Tide Pool", channels=[(CHANNEL_ID, "general"), (OTHER_CHANNEL_ID, "random"),
                                                     (LOG_CHANNEL_ID, "bot-log")], owner_id=OWNER_ID)
        for uid in (ADMIN_ID, USER_ID, USER2_ID, OTHER_BOT_ID, OWNER_ID):
            d.add_member(GUILD_ID, uid)

    async def start_fakes(self) -> Harness:
        """The fakes and their world with no bot of ours: for tests that run main.py against them."""
        await self.discord.start()
        await self.claude.start()
        self.build_world()
        return self

    async def process_identified(self) -> None:
        """Wait until a bot process has identified on the fake gateway."""
        await self.discord.wait_for(lambda d: any(s.identified for s in d.sessions), timeout=PROCESS_WAIT,
                                    what="main.py")

    async def spawn_main(self, *args: str, env: dict[str, str] | None = None,
                         **pipes: Any) -> asyncio.subprocess.Process:
        """``main.py --character <this character> *args`` against these fakes; ``env`` defaults to this
        environment with the fakes' settings and LOG_LEVEL=INFO. ``pipes``: as :func:`spawn_main`."""
        if env is None:
            env = {**os.environ, **self.environ(), "LOG_LEVEL": "INFO"}
        return await spawn_main("--character", str(self.character_dir), *args, env=env, **pipes)

    async def shut_down(self, proc: asyncio.subprocess.Process, name: str = "Finn") -> str:
        """Ask a bot process to shut down from the log channel; its output once it has exited with 0."""
        await self.discord.user_message(LOG_CHANNEL_ID, ADMIN_ID, f"shutdown? {name}")
        output, _ = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
        text = output.decode(errors="replace")
        assert proc.returncode == 0, text[-3000:]
        return text

    async def end_process(self, proc: asyncio.subprocess.Process) -> None:
        """Kill the process if it is still running, then close the fakes (a test's ``finally``)."""
        await stop_process(proc)
        await self.claude.close()
        await self.discord.close()

    async def start_bot(self) -> Kindred:
        settings = self.settings()
        character = CharacterSource(self.character_dir, self.config_file, environ=self.environ())
        bot = create_bot(settings, character, guild_ready_timeout=0.05, **self.bot_options)
        if self.cog_modules is not None:
            bot.cog_modules = list(self.cog_modules)
        self.bot = bot
        track_handled(bot, self.handled_ids)
        self._runner = asyncio.create_task(bot.start(settings.secrets.discord_token), name="kindred-bot")
        await self.discord.wait_for(lambda d: bot.is_ready() or self._runner.done(), what="the bot ready")
        if self._runner.done():
            self._runner.result()  # surface a start-up failure
        # The timer loop's first pass (its rounds' rows made, what was due started) is start-up's, not the
        # test's: a test begins on a bot at rest.
        timers = bot.services.timers.timers
        await self.discord.wait_for(lambda d: timers.waking_at is not None or self._runner.done(),
                                    what="the timer loop's first pass")
        return bot

    async def lead_work_done(self, timeout: float = EVENT_WAIT) -> None:
        """Wait until this bot has become the cluster's leader and run its lead work (the slash commands'
        sync among it). On PostgreSQL that can come after start-up, from the cluster's loop: when the first
        try at the leader lock failed (a session of a process that just ended still held it)."""
        assert self.bot is not None
        await asyncio.wait_for(self.bot.services.cluster.led.wait(), timeout)

    async def stop_bot(self) -> None:
        if self.bot is not None and not self.bot.is_closed():
            await self.bot.close()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        self._runner = None
        # A bot process started again after one stopped does so past the IDENTIFY window (its model
        # loaded, its database opened), which a test need not wait out.
        self.discord.identify_windows_pass()

    async def restart(self, **config: Any) -> Kindred:
        """Stop the bot (closing its database) and start a new one on the same database."""
        await self.stop_bot()
        self.config.update({k: str(v) for k, v in config.items()})
        return await self.start_bot()

    async def close(self) -> None:
        await self.stop_bot()
        await self.claude.close()
        await self.openai.close()
        await self.discord.close()

    async def settled(self, timeout: float = EVENT_WAIT) -> None:
        """Wait until the bot has read every gateway event the fake Discord sent it and handled each: no
        listener of discord.py's is still running (a message's whole reply happens inside its on_message).
        What a test checks did NOT happen is then known not to happen, with no sleep guessing how long the
        bot would have taken."""
        bot = self.bot
        assert bot is not None

        def read_everything() -> bool:
            if isinstance(bot, commands.AutoShardedBot):
                sockets = {sid: info._parent.ws for sid, info in bot.shards.items()}
            else:
                sockets = {0: bot.ws}
            for session in self.discord.sessions:
                if not session.identified or session.ws.closed:
                    continue
                ws = sockets.get(session.shard[0])
                if ws is None or (ws.sequence or 0) < session.seq:
                    return False
            return True

        def idle() -> bool:
            return not any(t.get_name().startswith("discord.py: ") and not t.done()
                           for t in asyncio.all_tasks())

        quiet = 0
        deadline = asyncio.get_running_loop().time() + timeout
        while quiet < 3:  # a few loop turns in a row: a listener task read from the socket has started
            quiet = quiet + 1 if read_everything() and idle() else 0
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"the bot did not settle within {timeout}s")
            await asyncio.sleep(0.01)

    async def handled(self, *messages: dict[str, Any] | int, timeout: float = EVENT_WAIT) -> None:
        """Wait until the bot has finished with each message (its ``message_handled`` event: answered, voted
        down, skipped or failed). A reply to it that is not posted by then will not be: what a test checks did
        NOT happen is proven with no sleep guessing how long the bot would take."""
        ids = {int(m["id"]) if isinstance(m, dict) else int(m) for m in messages}
        await self.discord.wait_for(lambda d: ids <= self.handled_ids, timeout,
                                    what=f"the bot to finish with message(s) {sorted(ids)}")

    async def channel_handled(self, channel_id: int = CHANNEL_ID, *others: set[int],
                              timeout: float = EVENT_WAIT) -> None:
        """Wait until the bot (and each other bot whose ``track_handled`` set is in ``others``) has finished
        with every message in the channel, the bots' own posts included (one may draw an answer from another
        character), and with what those led to."""
        def done(d: FakeDiscord) -> bool:
            ids = [mid for mid, m in d.messages.items()  # interactions' messages are not echoed
                   if int(m["channel_id"]) == channel_id and "_interaction" not in m]
            return all(mid in seen for seen in (self.handled_ids, *others) for mid in ids)

        await self.discord.wait_for(done, timeout, what=f"the bot to finish with channel {channel_id}")

    async def at_rest(self) -> None:
        """Every reply finished, its echo read and every message logged (for tests that read stored rows)."""
        await self.settled()
        assert self.bot is not None
        await self.bot.in_flight.drain()
        await self.store.log.flush()

    # -- shortcuts

    @property
    def store(self) -> Store:
        assert self.bot is not None
        return self.bot.services.store

    @property
    def bot_user_id(self) -> int:
        assert self.bot is not None and self.bot.user is not None
        return self.bot.user.id

    async def say(self, content: str, *, user: int | None = None, channel: int | None = None,
                  mention: bool = False, reply_to: int | None = None, **carried: Any) -> dict[str, Any]:
        """Post in a channel; ``carried``: what the message holds besides text (FakeDiscord.user_message)."""
        mentions = [self.bot_user_id] if mention else []
        text = f"<@{self.bot_user_id}> {content}".rstrip() if mention else content
        return await self.discord.user_message(channel or CHANNEL_ID, user or USER_ID, text,
                                               mentions=mentions,
                                               reply_to=reply_to, **carried)

    async def dm(self, content: str, *, user: int | None = None, **carried: Any) -> dict[str, Any]:
        return await self.discord.dm_message(user or USER_ID, content, **carried)

    async def replies(self, channel_id: int, n: int = 1, timeout: float = EVENT_WAIT) -> list[dict[str, Any]]:
        """Wait until the bot has posted at least ``n`` messages in the channel; return them all."""
        return await self.discord.wait_for_messages(channel_id, n, timeout=timeout)

    async def ask_remember(self, channel: int | None, n: int) -> None:
        """alice asks "do you remember me?" in ``channel`` (None: her DMs), her ``n``-th message there;
        returns once it is answered and the exchange stored (the reply's request is then the fake's last)."""
        if channel is None:
            await self.dm("do you remember me?")
            await self.replies(await self.dm_channel_id(), n)
        else:
            await self.say("do you remember me?", channel=channel, mention=True)
            await self.replies(channel, n)
        await self.at_rest()

    async def dm_channel_id(self, user: int | None = None) -> int:
        return self.discord.dm_channel_for(user or USER_ID)

    async def slash(self, name: str, options: list[dict[str, Any]] | None = None, *, user: int | None = None,
                    channel: int | None = None, dm: bool = False) -> Any:
        return await self.discord.interaction_command(
            name, options or [], user_id=user or USER_ID, channel_id=None if dm else (channel or CHANNEL_ID),
            guild_id=None if dm else GUILD_ID)

    async def click(self, message: dict[str, Any], custom_id: str, *, user: int | None = None,
                    values: list[str] | None = None) -> Any:
        return await self.discord.interaction_component(message, custom_id, user_id=user or USER_ID,
                                                        values=values)


@functools.cache
def invited(*, voice_channels: bool = False) -> int:
    """The permissions the README's invite link gives the bot's role (its second link: with voice channels
    on). tests/test_startup.py and tests/test_voice_ops.py check that a started bot's invite link asks for
    these, so a test giving the bot's role "what the invite gives" gives what the loaded cogs ask for."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Discord set-up", 1)[1].split("\n## ", 1)[0]
    default, voice = dict.fromkeys(int(n) for n in re.findall(r"permissions=(\d+)", section))
    return voice if voice_channels else default


def track_handled(bot: commands.Bot, into: set[int]) -> set[int]:
    """Note in ``into`` the id of each message ``bot`` has finished with (its ``message_handled`` event)."""
    async def note(message: Any) -> None:
        into.add(message.id)

    bot.add_listener(note, "on_message_handled")
    return into


def button(message: dict[str, Any], action: str) -> dict[str, Any]:
    """The component whose custom id ends with ``:<action>``."""
    for comp in walk_components(message.get("components") or []):  # in a V2 panel's layout too
        if str(comp.get("custom_id", "")).endswith(":" + action):
            return comp
    raise AssertionError(f"no button {action!r} in {message.get('components')}")


class Clock:
    """The fake Discord's time: message ids (snowflakes) carry it; discord.py reads created_at from them."""

    def __init__(self, h: Harness, at: datetime) -> None:
        self.at = at
        counter = itertools.count(1)
        h.discord.snowflake = lambda: (  # type: ignore[method-assign]
            ((int(self.at.timestamp() * 1000) - DISCORD_EPOCH_MS) << 22) | (next(counter) & 0x3FFFFF))


# --------------------------------------------------------------------------- helpers the tests share

MakeHarness = Callable[..., Awaitable[Harness]]  # conftest.py's make_harness fixture
T = TypeVar("T")


def proactive_round(h: Harness) -> ProactiveRound:
    """The running bot's proactive round (bot/features/proactive/): its dice and its last verdicts. Run it
    with :func:`run_round`."""
    return h.bot.services.part(ProactiveTalk).round


async def run_round(h: Harness, name: str, now: datetime | None = None) -> str:
    """Run the bot's round ``name`` (its key's first part: "proactive", "checkins", "consolidation", ...)
    at ``now`` through its timer loop, as a pass runs a due one (its row claimed, its result recorded)."""
    loop = h.bot.services.timers
    [key] = [k for k in loop.rounds if k.split(":")[0] == name] or [name]  # none: the loop says so
    return await loop.run_round(key, now)


async def consolidate(h: Harness, now: datetime | None = None) -> ConsolidationReport:
    """The daily consolidation run now through the bot's timer loop (:func:`run_round`); its report."""
    result = await run_round(h, "consolidation", now)
    report = h.bot.services.memory_jobs.last
    assert report is not None and report.describe() == result, result
    return report


def bot_posts(h: Harness, channel_id: int | None = CHANNEL_ID) -> list[dict[str, Any]]:
    """What bot accounts (and webhooks) posted in the channel (None: anywhere), oldest first."""
    return [m for m in h.discord.posted(channel_id) if m["author"].get("bot")]


def log_posts(h: Harness) -> list[str]:
    """The texts the bot posted in the admin log channel (a report panel's text displays, one per line)."""
    return [m["content"] or "\n".join(panel_texts(m)) for m in h.discord.posted(LOG_CHANNEL_ID)]


_DM_MARKER = re.compile(r"\[(?:[^\]\n]{1,40} later, )?\w{3} \d{1,2} \w{3}, \d\d:\d\d\] ")


def said_in_dm(body: dict[str, Any]) -> str:
    """The message a DM reply request answers: its last user turn's cached block, as the history will show it
    from the next reply on (bot/reply/transcript.py ``dm_message``), without its time marker."""
    content = body["messages"][-1]["content"]
    [*_, said] = [b["text"] for b in content if "cache_control" in b]
    return _DM_MARKER.sub("", said.rsplit("\n\n", 1)[-1], count=1)


def vote_requests(h: Harness) -> list[Recorded]:
    """The yes/no vote requests to Claude (the voting model's)."""
    return h.claude.requests_for("claude-test-voter")


def reply_requests(h: Harness) -> list[Recorded]:
    """The requests to Claude that were not yes/no votes."""
    return [r for r in h.claude.requests if r.model != "claude-test-voter"]


def speaker(body: dict[str, Any]) -> str:
    """Which character a request to Claude speaks as (its system prompt's "You are ..."), "?" for none."""
    system = FakeClaude.system_text(body)
    return next((n for n in ("Finn", "Atlas", "Lumen") if system.startswith(f"You are {n}")), "?")


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """Every component of the message's rows."""
    return [c for row in message.get("components") or [] for c in row.get("components") or []]


async def exchange(h: Harness, text: str, n: int, *, user: int = USER_ID) -> dict[str, Any]:
    """@mention the character in the channel; its ``n``-th reply there, once the after-reply work (the
    exchange's turns saved) is done."""
    await h.say(text, mention=True, user=user)
    reply: dict[str, Any] = (await h.replies(CHANNEL_ID, n))[n - 1]
    assert h.bot is not None
    await h.bot.in_flight.drain()
    return reply


async def voted_in(h: Harness, server: FakeClaude | FakeOpenAI, voter: str, model: str, *, yes: int,
                   no: int) -> None:
    """A channel message the votes (``yes`` yeses, ``no`` noes, from ``voter``) let in: the answer ``model``
    writes is the one reply posted."""
    server.script("yes", model=voter, times=yes)
    server.script("no", model=voter, times=no)
    server.script("Tea, anyone?", model=model)
    await h.say("anyone fancy some tea?")
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == "Tea, anyone?"


async def ephemeral(ix: Any) -> dict[str, Any]:
    """The message an interaction answered with, asserting that only its user sees it."""
    message: dict[str, Any] = await ix.message()
    assert message["flags"] & EPHEMERAL, message
    return message


def panel_text(message: dict[str, Any]) -> str:
    """All the text of a Components V2 panel, asserting it is one (the V2 flag, no content or embeds)."""
    assert message["flags"] & COMPONENTS_V2 and not message["content"] and not message["embeds"], message
    return "\n".join(panel_texts(message))


def panel_fields(message: dict[str, Any]) -> dict[str, str]:
    """A Components V2 panel's figures by name (bot/discord/panels.py: a text display "**name**\nvalue" each),
    asserting the message is one: the V2 flag, no content, no embeds."""
    assert message["flags"] & COMPONENTS_V2 and not message["content"] and not message["embeds"], message
    fields = {}
    for text in panel_texts(message):
        name, _, value = text.partition("\n")
        if name.startswith("**") and name.endswith("**"):
            fields[name[2:-2]] = value
    return fields


async def press(h: Harness, message: dict[str, Any], action: str, *, user: int = USER_ID) -> Any:
    """Click the message's button ``action`` (see :func:`button`)."""
    return await h.click(message, button(message, action)["custom_id"], user=user)


async def dm_reply(h: Harness, text: str, n: int, *, user: int = USER_ID) -> str:
    """DM the bot and return its ``n``-th message in that DM."""
    sent = await h.dm(text, user=user)
    return str((await h.replies(int(sent["channel_id"]), n))[n - 1]["content"])


async def spawn_main(*args: str, env: dict[str, str], cwd: Path = PROJECT_ROOT, stdin: int | None = None,
                     stdout: int | None = asyncio.subprocess.PIPE,
                     stderr: int | None = asyncio.subprocess.STDOUT) -> asyncio.subprocess.Process:
    """``python main.py *args`` as a child process, run from ``cwd``; by default its stdout is piped and its
    stderr goes with it."""
    return await asyncio.create_subprocess_exec(sys.executable, str(PROJECT_ROOT / "main.py"), *args,
                                                cwd=str(cwd), env=env, stdin=stdin, stdout=stdout,
                                                stderr=stderr)


def run_main(*args: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_ROOT,
             python: Sequence[str] = (sys.executable,),
             drop: Collection[str] = ("discord_token", "anthropic_api_key"),
             ) -> subprocess.CompletedProcess[str]:
    """``python main.py *args`` to its end, its output captured as text; its environment is this one less
    the keys in ``drop`` (lower case: the secrets a developer's shell may hold), plus ``env``."""
    clean = {k: v for k, v in os.environ.items() if k.lower() not in drop}
    return subprocess.run([*python, str(PROJECT_ROOT / "main.py"), *args], capture_output=True, text=True,
                          env={**clean, **(env or {})}, timeout=PROCESS_WAIT, cwd=cwd)


async def start_main(h: Harness) -> asyncio.subprocess.Process:
    """main.py started against the fakes, once it has identified on the gateway (a restart's own identify,
    not the killed process's). Started past the killed one's IDENTIFY window, as a process the operator's
    supervisor starts again usually is, which a test need not wait out."""
    h.discord.identify_windows_pass()
    identified = sum(1 for op, _ in h.discord.gateway_log if op == "2")
    proc = await h.spawn_main(stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await h.discord.wait_for(lambda d: sum(1 for op, _ in d.gateway_log if op == "2") > identified
                             and any(s.identified for s in d.sessions), timeout=PROCESS_WAIT, what="main.py")
    return proc


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    """Kill a child process if it is still running (a test's ``finally``) and reap it."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


def check(condition: Callable[[], T]) -> Callable[[], Awaitable[T]]:
    """A plain condition as the async check :func:`eventually` polls."""
    async def checked() -> T:
        return condition()
    return checked


@contextmanager
def on_log(logger: str, text: str, level: int = logging.INFO) -> Iterator[asyncio.Event]:
    """An event set as ``logger`` (or a logger below it) writes a line holding ``text`` while the block
    runs: a step the product tells its operator of, waited for as it is written. The logger lets ``level``
    through meanwhile."""
    said = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if text in record.getMessage():
                said.set()

    target, watch = logging.getLogger(logger), Watch(level)
    kept = target.level
    if target.getEffectiveLevel() > level:
        target.setLevel(level)
    target.addHandler(watch)
    try:
        yield said
    finally:
        target.removeHandler(watch)
        target.setLevel(kept)


class AnnouncedDecisions(logging.Handler):
    """The decisions the bot announces on each message, read where an operator reads them (its log, at INFO:
    ``message <id> from <author> in <scope>: reply (addressed)``), while the ``with`` block runs: ``seen``
    holds each message's, in order (``reply (...)`` or ``stay quiet (...)``). ``quiet``: not passed on to
    the process's own handlers meanwhile (a benchmark's, printing warnings only)."""

    LINE = re.compile(r"message (\d+) from .* in \S+: ((?:reply|stay quiet) \(.*\))", re.DOTALL)
    LOGGER = "bot.reply.deciding"

    def __init__(self, *, quiet: bool = False) -> None:
        super().__init__(logging.INFO)
        self.seen: dict[int, list[str]] = {}
        self.quiet = quiet
        self._level = logging.NOTSET

    def emit(self, record: logging.LogRecord) -> None:
        found = self.LINE.fullmatch(record.getMessage())
        if found is not None:
            self.seen.setdefault(int(found[1]), []).append(found[2])

    def last(self, message_id: int) -> str:
        return self.seen[message_id][-1]

    def __enter__(self) -> AnnouncedDecisions:
        logger = logging.getLogger(self.LOGGER)
        self._level = logger.level
        logger.setLevel(min(logger.getEffectiveLevel(), logging.INFO))
        logger.addHandler(self)
        logger.propagate = not self.quiet
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger(self.LOGGER)
        logger.removeHandler(self)
        logger.setLevel(self._level)
        logger.propagate = True


async def eventually(check: Callable[[], Awaitable[T]], what: str, timeout: float = EVENT_WAIT) -> T:
    """Poll an async check until it returns something truthy; return that."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)
    return result


async def run_due(timers: Dispatcher, now: datetime | None = None) -> list[str]:
    """The timer loop's pass at ``now`` (its clock's time when not given: bot/core/timers.py
    ``Dispatcher.start_due``, what the loop runs), its runs waited for: their one-line results."""
    return list(await asyncio.gather(*await timers.start_due(now)))


async def logged(h: Harness, channel_id: int, message_id: int, timeout: float = EVENT_WAIT) -> SeenMessage:
    """The message as the short-term log holds it, once written."""
    async def found() -> SeenMessage | None:
        recent = await h.store.log.recent_messages(channel_id, limit=50)
        return next((m for m in recent if m.message_id == message_id), None)
    return await eventually(found, f"message {message_id} in the log of channel {channel_id}", timeout)


async def stored_history(h: Harness, scope: str, turns: int, *, user: int = USER_ID,
                         timeout: float = EVENT_WAIT) -> History:
    """The conversation once it holds ``turns`` turns (an exchange is stored just after the reply is sent)."""
    assert h.bot is not None
    key = h.bot.services.pipeline.character_key

    async def found() -> History | None:
        history = await h.store.conversations.history(key, user, scope)
        return history if len(history.turns) >= turns else None
    return await eventually(found, f"{turns} turns in {scope}", timeout)


async def nothing_owed(store: Store, timeout: float = EVENT_WAIT) -> None:
    """Wait until no reply is owed in the database any more: every process's answers posted and settled."""
    deadline = asyncio.get_running_loop().time() + timeout
    while await store.owed.count():
        assert asyncio.get_running_loop().time() < deadline, "replies still owed"
        await asyncio.sleep(0.05)


def touch_later(path: Path, seconds: int = 10) -> None:
    """Move a file's modification time on, so an edit is seen however coarsely the filesystem's clock ticks
    (two writes in a row may share one time)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 1_000_000_000))


def rewrite(path: Path, text: str, seconds: int = 10) -> None:
    """An edit a watcher must see: the file written anew and its time moved on (:func:`touch_later`)."""
    path.write_text(text)
    touch_later(path, seconds)
