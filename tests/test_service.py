"""Running as a service (issue 17): SIGTERM/SIGINT stop the real process gracefully, and config.env and the
character files are reloaded while the bot runs, both proven over the wire against the fakes."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import shutil
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.core.character import CharacterSource
from bot.core.config import BY_KEY, PROJECT_ROOT, SETTINGS, MemorySettings, ReplySettings, load_settings
from bot.core.config.docs import render_example, render_markdown
from bot.core.config.holder import SettingsHolder, section_of, snapshot
from bot.core.config.live import changes, live_settings
from bot.core.config.service import LimitSettings
from bot.core.ticker import Ticker
from bot.reply.throttle import BotThrottle
from bot.runtime.reloader import ConfigReloader
from database.store import Store
from tests.fakes import EVENT_WAIT, PROCESS_WAIT
from tests.harness import CHANNEL_ID, USER2_ID, USER_ID, Harness

FINN = PROJECT_ROOT / "characters" / "finn"

DEFAULT = "claude-test-default"


# --------------------------------------------------------------------------- SIGTERM / SIGINT


async def _read_until(stream: asyncio.StreamReader, needle: str, seen: list[str],
                      timeout: float = PROCESS_WAIT) -> None:
    async def scan() -> None:
        while True:
            line = (await stream.readline()).decode(errors="replace")
            if not line:
                raise AssertionError(f"output ended before {needle!r}:\n" + "".join(seen)[-3000:])
            seen.append(line)
            if needle in line:
                return

    await asyncio.wait_for(scan(), timeout)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_stop_signal_finishes_the_reply_in_flight_and_exits_0(db_url: str, tmp_path: Path,
                                                                      sig: signal.Signals) -> None:
    """main.py as systemd or Docker runs it: a signal while a reply is being generated. The reply still
    reaches Discord and the database, a message sent after the signal is not taken, the process exits 0."""
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    h.claude.script("A slow, careful answer.", model=DEFAULT, delay=3.0)
    proc = await h.spawn_main()
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        await h.process_identified()
        bot_id = int(next(iter(h.discord.bots.values()))["id"])
        await h.discord.user_message(CHANNEL_ID, USER_ID, f"<@{bot_id}> tell me slowly", mentions=[bot_id])
        await h.claude.wait_for_requests(1, timeout=EVENT_WAIT)  # the reply is in flight
        proc.send_signal(sig)
        await _read_until(proc.stdout, f"{sig.name} received", seen)
        proc.send_signal(sig)  # impatience (a second Ctrl-C) changes nothing: the close under way goes on
        # Sent after the signal: not taken (no second model request, no second reply).
        await h.discord.user_message(CHANNEL_ID, USER2_ID, f"<@{bot_id}> and me?", mentions=[bot_id])
        rest, _ = await asyncio.wait_for(proc.communicate(), timeout=PROCESS_WAIT)
    finally:
        await h.end_process(proc)
    text = "".join(seen) + rest.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert "Unclosed" not in text, text[-3000:]  # aiohttp's warning for an HTTP session left open
    assert "stopped cleanly: Discord connection and database closed" in text, text[-3000:]
    assert f"{sig.name} received again: already stopping" in text, text[-3000:]
    assert "event loop: uvloop" in text, text[-3000:]  # the default: the signals above went through libuv
    assert [m["content"] for m in h.discord.posted(CHANNEL_ID)] == ["A slow, careful answer."]
    assert len(h.claude.requests) == 1
    store = await Store(db_url).open()
    try:
        hist = await store.conversations.history("finn", USER_ID, f"channel:{CHANNEL_ID}")
        assert [t.content for t in hist.turns][-1] == "A slow, careful answer."
        later = await store.conversations.history("finn", USER2_ID, f"channel:{CHANNEL_ID}")
        assert not later.turns  # the message sent after the signal was not taken
    finally:
        await store.close()


def test_event_loop_setting_picks_the_loop(monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """``event_loop``: uvloop's loop by default, asyncio's own when asked, and when uvloop is missing (as on
    Windows) asyncio's with a warning instead of a failed start."""
    import uvloop

    from bot.runtime.lifecycle import run_on

    ran: list[type] = []

    async def note() -> None:
        ran.append(type(asyncio.get_running_loop()))

    run_on("uvloop", note)
    run_on("asyncio", note)
    monkeypatch.setitem(sys.modules, "uvloop", None)  # `import uvloop` now raises ImportError
    with caplog.at_level(logging.WARNING, logger="bot.runtime.lifecycle"):
        run_on("uvloop", note)
    assert ran[0] is uvloop.Loop
    for standard in ran[1:]:
        assert not issubclass(standard, uvloop.Loop) and standard.__module__.startswith("asyncio")
    assert "uvloop is not installed" in caplog.text
    assert BY_KEY["event_loop"].default == "uvloop" and BY_KEY["event_loop"].restart


# --------------------------------------------------------------------------- live config reload


def _rewrite(path: Path, text: str) -> None:
    """Write and move the modification time on, so a change within the file system's clock tick counts."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, max(st.st_mtime_ns, before + 1_000_000_000)))


async def _logged(caplog: pytest.LogCaptureFixture, needle: str, timeout: float = EVENT_WAIT) -> str:
    async def scan() -> str:
        while True:
            for message in caplog.messages:
                if needle in message:
                    return message
            await asyncio.sleep(0.02)

    try:
        return await asyncio.wait_for(scan(), timeout)
    except TimeoutError:
        raise AssertionError(f"no log line with {needle!r}:\n" + "\n".join(caplog.messages[-30:])) from None


async def _exchange(h: Harness, text: str, answer: str, n: int) -> Any:
    h.claude.script(answer, model=DEFAULT)
    await h.say(text, mention=True)
    assert (await h.replies(CHANNEL_ID, n))[-1]["content"] == answer
    return h.claude.last_request(DEFAULT)


def test_settling_the_heap_freezes_start_up_and_makes_full_collections_rarer() -> None:
    """What main.py's bot does once set up: start-up's objects frozen out of the collector's
    sight, and a full collection only every FULL_COLLECTION_EVERY middle ones (young ones untouched)."""
    from bot.runtime.lifecycle import FULL_COLLECTION_EVERY, settle_heap

    before = gc.get_threshold()
    try:
        settle_heap()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_EVERY) != before
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


async def test_config_and_character_changes_apply_live(db_url: str, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    folder = tmp_path / "finn"
    shutil.copytree(FINN, folder)
    config = tmp_path / "config.env"
    config.write_text("default_max_tokens=700\nrecall_token_budget=400\n", encoding="utf-8")
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=folder, config_file=config,
                config={"config_reload_seconds": "0.05"})
    caplog.set_level(logging.INFO, logger="bot")
    caplog.set_level(logging.INFO, logger="memory.identity")  # where the seeding is logged
    await h.start()
    try:
        first = await _exchange(h, "hello", "First.", 1)
        # the reading budget, plus the same room for the reply effort's thinking on a 5.x model
        room = first.json["max_tokens"] - 700
        assert room >= 0
        assert "sells lemonade" not in first.system_text()

        # A model setting, a memory budget and a reply setting in config.env, the prompt in character.env,
        # a restart-only key beside them.
        _rewrite(config, "default_max_tokens=321\nrecall_token_budget=123\nyes_no_vote_count=1\n"
                         "shard_count=2\n")
        env = (folder / "character.env").read_text(encoding="utf-8")
        lemonade = "You are Finn, a walking fish who sells lemonade."
        _rewrite(folder / "character.env", env.replace("You are Finn, a walking fish.", lemonade))
        line = await _logged(caplog, "default_max_tokens 700 -> 321")
        assert str(config) in line
        restart = await _logged(caplog, "shard_count 1 -> 2: read at start-up, applies after a restart")
        assert "core_prompt changed" in await _logged(caplog, "core_prompt")
        assert h.bot is not None
        assert h.bot.settings.discord.shard_count == 1  # the running value stays
        # memory/ was handed its section, and reads it through the bot's settings
        assert h.bot.services.memory.recall.settings.recall_token_budget == 123
        second = await _exchange(h, "again", "Second.", 2)
        assert second.json["max_tokens"] == 321 + room
        assert lemonade in second.system_text()
        assert [r.levelname for r in caplog.records if r.getMessage() == restart] == ["WARNING"]
        # A reply decision: one vote now (3 by default) for a message nobody addressed.
        assert "yes_no_vote_count 3 -> 1" in await _logged(caplog, "yes_no_vote_count")
        unaddressed = await h.say("nice weather for tea today")
        await _logged(caplog, f"message {unaddressed['id']} from alice")
        assert len(h.claude.requests_for("claude-test-voter")) == 1

        # An invalid value: one line naming the file and the key; the running configuration stays.
        _rewrite(config, "default_max_tokens=lots\n")
        line = await _logged(caplog, "keeping the running configuration")
        assert f"{config}: default_max_tokens: expected a whole number, got 'lots'" in line
        third = await _exchange(h, "and now?", "Third.", 3)
        assert third.json["max_tokens"] == 321 + room
    finally:
        await h.close()


async def test_an_identity_file_added_while_running_is_seeded(db_url: str, tmp_path: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    """identity.json is seeded as at start-up (memory.identity.seed_identity decides what a seed adds)."""
    folder = tmp_path / "finn"
    shutil.copytree(FINN, folder)
    identity = folder / "identity.json"
    seed = identity.read_text(encoding="utf-8")
    identity.unlink()
    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=folder,
                config={"config_reload_seconds": "0.05"})
    caplog.set_level(logging.INFO, logger="bot")
    caplog.set_level(logging.INFO, logger="memory.identity")  # where the seeding is logged
    await h.start()
    try:
        assert h.bot is not None and not await h.store.identity.entries("finn")
        _rewrite(identity, seed)
        await _logged(caplog, f"seeded 20 identity entries from {identity}")
        assert len(await h.store.identity.entries("finn")) == 20
    finally:
        await h.close()


class Output:
    """A child process's output, read line by line as it comes (its pipe never fills while a test waits on
    something else)."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.lines: list[str] = []
        self._grew = asyncio.Condition()
        self._task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            async with self._grew:
                self.lines.append(line.decode(errors="replace"))
                self._grew.notify_all()
        async with self._grew:
            self._grew.notify_all()

    async def line(self, found: Any, what: str, timeout: float = EVENT_WAIT) -> str:
        """The first line (since the start) that ``found(line)`` accepts."""
        async def scan() -> str:
            async with self._grew:
                while True:
                    hit = next((line for line in self.lines if found(line)), None)
                    if hit is not None:
                        return hit
                    if self._task.done():
                        raise AssertionError(f"output ended before {what}:\n" + "".join(self.lines)[-3000:])
                    await self._grew.wait()

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            raise AssertionError(f"no line for {what}:\n" + "".join(self.lines)[-3000:]) from None

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


KEEPING = "keeping the running configuration until it has settings again"


@pytest.mark.parametrize("gone", ["truncated", "removed"])
async def test_a_config_env_caught_mid_edit_keeps_the_running_configuration(db_url: str, tmp_path: Path,
                                                                            gone: str) -> None:
    """main.py as an operator runs it, config.env rewritten by an editor or a deploy: between two polls the
    file is empty (or gone). That is not "every key at its default": alice stays blocked (her DM reaches no
    model), one line says why; once the file has settings again, they apply."""
    config = tmp_path / "config.env"
    config.write_text(f"blocked_users={USER_ID}\n", encoding="utf-8")
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    await h.start_fakes()
    env = {**os.environ, **h.environ(), "LOG_LEVEL": "INFO", "CONFIG_RELOAD_SECONDS": "0.05"}
    proc = await h.spawn_main("--config", str(config), env=env)
    assert proc.stdout is not None
    out = Output(proc.stdout)
    try:
        await h.process_identified()
        if gone == "truncated":
            _rewrite(config, "")
        else:
            config.unlink()
        line = await out.line(lambda t: "config reload" in t and (KEEPING in t or "blocked_users" in t),
                              "the reload")
        why = "empty" if gone == "truncated" else "missing"
        assert f"config reload: {config} is {why}; {KEEPING}" in line
        _rewrite(config, "\n")  # still no settings (blank, or back but empty): nothing more to say

        sent = await h.dm("secret knock", user=USER_ID)
        decided = await out.line(lambda t: f"message {sent['id']} from" in t, "alice's DM decided")
        assert "on blocked_users" in decided
        h.claude.script("Hi Bob.", model=DEFAULT)
        sent = await h.dm("hello?", user=USER2_ID)
        assert [m["content"] for m in await h.replies(int(sent["channel_id"]))] == ["Hi Bob."]
        assert not any("secret knock" in h.claude.all_text(r) for r in h.claude.requests)

        _rewrite(config, "blocked_users=\n")  # the edit is done: it applies
        await out.line(lambda t: f"blocked_users '{USER_ID}' -> ''" in t, "the reload of the new file")
        h.claude.script("Hi Alice.", model=DEFAULT)
        sent = await h.dm("may I now?", user=USER_ID)
        assert [m["content"] for m in await h.replies(int(sent["channel_id"]))] == ["Hi Alice."]
        assert sum(KEEPING in t for t in out.lines) == 1, "".join(out.lines)[-3000:]
    finally:
        await h.end_process(proc)
        await out.close()


# --------------------------------------------------------------------------- the pieces, without the wire


def test_restart_only_keys_are_declared_and_documented() -> None:
    restart = {s.key for s in SETTINGS if s.restart}
    assert {"discord_token", "database_url", "shard_count", "dashboard_port", "ensemble_characters",
            "embedding_model"} <= restart
    assert not {"default_model", "default_max_tokens", "typing_speed_cpm", "recall_token_budget",
                "config_reload_seconds", "shutdown_grace_seconds", "log_level"} & restart
    assert f"| {BY_KEY['shard_count'].help} Applies after a restart. |" in render_markdown()
    assert "Applies after a restart." not in render_example().split("default_max_tokens=")[0].split(
        "default_model=")[1]  # a live key's comment does not say so


def _settings(tmp_path: Path, **env: str) -> Any:
    return load_settings(FINN, None, environ={"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k", **env})


def test_a_reload_is_swapped_in_keeping_restart_keys(tmp_path: Path) -> None:
    first = _settings(tmp_path, DEFAULT_MAX_TOKENS="700", SHARD_COUNT="1", DISCORD_TOKEN="old-secret")
    holder = SettingsHolder(first)
    running = holder.current  # what the bot hands its components
    memory = holder.follow(MemorySettings)  # what a class taking its section is handed
    limits = holder.follow(LimitSettings)
    access = running.access  # the running section itself: a reload writes its new values into it
    kept = snapshot(access)  # what a class deriving from a section compares it with
    throttle = BotThrottle(section_of(running, ReplySettings))
    new = _settings(tmp_path, DEFAULT_MAX_TOKENS="321", SHARD_COUNT="2", DISCORD_TOKEN="new-secret",
                    RECALL_TOKEN_BUDGET="5", REPLY_COOLDOWN="2.5", DAILY_TOKEN_BUDGET="9",
                    BLOCKED_USERS="42")
    found = {c.key: c for c in changes(running, new)}
    assert set(found) == {"default_max_tokens", "shard_count", "discord_token", "recall_token_budget",
                          "reply_cooldown", "daily_token_budget", "blocked_users"}
    assert found["default_max_tokens"].describe() == "default_max_tokens 700 -> 321"
    assert found["discord_token"].describe() == ("discord_token changed: read at start-up, applies after a "
                                                 "restart (the running value stays)")  # no secret logged
    holder.update(live_settings(holder.current, new))
    assert first.models.default_max_tokens == 700 and new.models.default_max_tokens == 321  # neither written
    assert running is holder.current and running.models.default_max_tokens == 321
    assert memory.recall_token_budget == 5 and memory is running.memory and isinstance(memory, MemorySettings)
    assert limits.daily_token_budget == 9 and isinstance(limits, LimitSettings)
    assert access.blocked_users == "42" and access is running.access
    assert kept.blocked_users == "" and kept != access  # the copy keeps the values from before
    assert section_of(running, LimitSettings).daily_token_budget == 9  # follows, as the running settings do
    assert section_of(first, LimitSettings) is first.limits  # a fixed Settings: its own section
    assert throttle.cooldown == 2.5  # the engine's bot-to-bot throttle reads the settings at each decision
    assert running.discord.shard_count == 1 and running.secrets.discord_token == "old-secret"
    assert running.raw is new.raw  # what is not a section (the persona's raw keys) is the reload's too
    persona = replace(new, raw={**new.raw, "core_prompt": "x" * 500})
    [prompt] = [c for c in changes(new, persona) if c.key == "core_prompt"]
    assert prompt.describe() == "core_prompt changed (the persona follows it from the next message)"


async def test_config_reload_seconds_0_watches_nothing(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CONFIG_RELOAD_SECONDS="0")

    async def reseed(folder: Path) -> None:
        raise AssertionError("nothing is watched")

    ticker = Ticker()
    reloader = ConfigReloader(SettingsHolder(settings), [CharacterSource(FINN, None, {})], reseed, ticker)
    reloader.start()
    assert ticker.jobs == set()  # no poll was asked for
    await reloader.stop()


async def test_an_emptied_config_env_is_said_once_and_keeps_settings_and_persona(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Every poll that finds config.env without settings keeps what runs, settings and the persona keys it
    held alike; only the first says so. The file back with settings: they apply."""
    config = tmp_path / "config.env"
    config.write_text('blocked_users=42\nconfig_reload_seconds=3600\npost_history_instructions="Be brief."\n',
                      encoding="utf-8")
    environ = {"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k"}
    holder = SettingsHolder(load_settings(FINN, config, environ=environ))
    source = CharacterSource(FINN, config, environ)
    persona = source.load()
    assert persona.post_history_instructions == "Be brief."

    async def reseed(folder: Path) -> None:
        raise AssertionError("no identity.json changed")

    reloader = ConfigReloader(holder, [source], reseed, Ticker())
    reloader.start()  # polls hourly: each look below is asked for
    caplog.set_level(logging.INFO, logger="bot")
    try:
        _rewrite(config, "")
        assert await reloader.check() == [str(config)]
        _rewrite(config, " \n\n")
        assert await reloader.check() == [str(config)]
        config.unlink()
        assert await reloader.check() == [str(config)]
        assert holder.current.access.blocked_users == "42"
        assert source.current().post_history_instructions == "Be brief."
        kept = [m for m in caplog.messages if "keeping the running configuration" in m]
        assert kept == [f"config reload: {config} is empty; {KEEPING} (restart to run without it)"]

        _rewrite(config, "blocked_users=7\nconfig_reload_seconds=3600\n")
        await reloader.check()
        assert holder.current.access.blocked_users == "7"
        assert any("blocked_users '42' -> '7'" in m for m in caplog.messages)
        assert source.current().post_history_instructions == ""
        config.unlink()  # and a second edit caught midway is said again
        await reloader.check()
        assert sum("keeping the running configuration" in m for m in caplog.messages) == 2
        assert holder.current.access.blocked_users == "7"
    finally:
        await reloader.stop()
