"""A cluster: several processes, each running some shards, on one PostgreSQL.

The process tests start real `main.py` processes (2 processes x 2 shards) against the fake Discord, whose
gateway gives each shard the guilds Discord would (``(guild_id >> 22) % shard_count``), and the fake Claude.
They need PostgreSQL (TEST_DATABASE_URL); the configuration and formatting tests run everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from bot.core.config import PROJECT_ROOT, load_settings
from bot.core.config.sections import ClusterSettings, parse_shard_ids
from bot.core.errors import ConfigError
from bot.core.ticker import Ticker
from bot.discord.rest_limits import LocalCounts, RestGovernor
from bot.runtime.cluster import (
    Cluster,
    ClusterNews,
    Handler,
    cache_invalidation,
    describe_shards,
    format_nodes,
)
from database.cluster import NodeRow, lock_key
from database.refreshing import CacheChanges
from database.store import Store
from tests.dbtools import end_session_holding, reset_schema
from tests.fakes import EVENT_WAIT, PROCESS_WAIT
from tests.fakes.claude_server import FakeClaude
from tests.fakes.discord_lead import FakeDiscord, panel_texts
from tests.felt_support import feels
from tests.harness import TEST_CONFIG, Harness, check, eventually, nothing_owed, stop_process
from tests.test_docker import cluster_shards

FINN = PROJECT_ROOT / "characters" / "finn"

SHARDS = 4
ADMIN = 910_000_000_000_000_100
USER = 910_000_000_000_000_101
needs_pg = pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="a cluster needs PostgreSQL")


def guild_on_shard(shard: int) -> int:
    """A guild id Discord would route to ``shard`` of SHARDS."""
    return (((1 << 30) * SHARDS + shard) << 22) | 12345


# -- configuration and pure parts


def test_shard_ids_parse_and_print_back() -> None:
    assert parse_shard_ids("0-3") == (0, 1, 2, 3)
    assert parse_shard_ids("0-1, 4,6-7") == (0, 1, 4, 6, 7)
    assert parse_shard_ids("") == ()
    for bad in ("a", "3-1", "1-x", "-2"):
        with pytest.raises(ValueError):
            parse_shard_ids(bad)
    assert describe_shards((0, 1, 4, 6, 7), 8) == "0-1,4,6-7"
    assert describe_shards(None, 4) == "0-3"
    assert describe_shards(None, 1) == "0"


def _settings(**env: str) -> Any:
    return load_settings(FINN, None, environ={"DISCORD_TOKEN": "t", "ANTHROPIC_API_KEY": "k", **env})


def test_a_cluster_on_sqlite_is_refused_with_a_clear_line() -> None:
    with pytest.raises(ConfigError) as err:
        _settings(SHARD_IDS="0-1", SHARD_COUNT="4")
    assert "shard_ids" in str(err.value) and "PostgreSQL" in str(err.value)
    # One process running every shard is no cluster: SQLite is fine.
    assert _settings(SHARD_IDS="0-3", SHARD_COUNT="4").shard_id_list == (0, 1, 2, 3)


def test_shard_ids_out_of_range_are_refused() -> None:
    with pytest.raises(ConfigError) as err:
        _settings(SHARD_IDS="2-4", SHARD_COUNT="4", DATABASE_URL="postgresql+asyncpg://x@h/db")
    assert "out of range" in str(err.value)
    ok = _settings(SHARD_IDS="2-3", SHARD_COUNT="4", DATABASE_URL="postgresql+asyncpg://x@h/db")
    assert ok.shard_id_list == (2, 3)


def test_status_report_names_the_leader_and_the_silent() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def row(node: str, *, leader: bool, ago: float, stopped: bool = False) -> NodeRow:
        seen = now - timedelta(seconds=ago)
        return NodeRow(node, "finn", "h", 1, "0-1", 4, leader, now - timedelta(hours=1), seen,
                       seen if stopped else None)

    text = format_nodes([row("a", leader=True, ago=2), row("b", leader=False, ago=3),
                         row("c", leader=True, ago=100), row("d", leader=False, ago=1, stopped=True)],
                        now, 5.0)
    lines = {line.split()[0]: line for line in text.splitlines()[1:-1]}
    assert lines["a"].endswith("LEADER") and lines["b"].endswith("running")
    assert lines["c"].endswith("silent (gone?)") and lines["d"].endswith("stopped")
    assert text.splitlines()[-1] == "leader: a"
    assert "no Kindred process" in format_nodes([], now, 5.0)


def cluster_of(store: Store, settings: ClusterSettings, key: str, *, shard_ids: tuple[int, ...] | None,
               shard_count: int, heard: Mapping[str, Sequence[Handler]] | None = None) -> Cluster:
    """One process's cluster membership, built as the composition root builds it."""
    news = ClusterNews(store, key, shard_ids=shard_ids, shard_count=shard_count)
    return Cluster(news, settings, Ticker(), heard=heard)


async def test_on_sqlite_the_one_process_leads_and_signals_go_nowhere(tmp_path: Path) -> None:
    store = await Store(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}").open()
    ran: list[str] = []
    cluster = cluster_of(store, ClusterSettings(), "finn", shard_ids=None, shard_count=1)

    async def hook() -> None:
        ran.append("lead")

    try:
        await cluster.start(lead_work=(hook,))
        assert cluster.leading and ran == ["lead"] and not cluster.shared
        assert await cluster.publish("shutdown") is False
        [node] = await store.cluster.nodes()
        assert node.leader and node.shards == "0"
    finally:
        await cluster.close()
        await store.close()
    store = await Store(f"sqlite+aiosqlite:///{tmp_path / 'k.db'}").open()
    assert (await store.cluster.nodes())[0].stopped_at is not None
    await store.close()


# -- two processes' Cluster objects in one test process (PostgreSQL)


@pytest.fixture
async def pg_url(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("a cluster needs PostgreSQL (TEST_DATABASE_URL)")
    url = request.getfixturevalue("postgres_url")
    await reset_schema(url)
    yield url


async def _close(clusters: list[Cluster], stores: list[Store]) -> None:
    for cluster in clusters:
        await cluster.close()
    for store in stores:
        await store.close()


async def test_one_leader_failover_and_signals_between_processes(pg_url: str) -> None:
    fast = ClusterSettings(leader_failover_seconds=1.5, cluster_heartbeat_seconds=0.5)
    stores = [await Store(pg_url).open(), await Store(pg_url).open()]
    led: list[int] = []
    heard: list[tuple[int, dict[str, Any]]] = []
    hooks = []
    signals: list[dict[str, tuple[Any, ...]]] = []
    for i in range(len(stores)):
        async def hook(i: int = i) -> None:
            led.append(i)

        async def on_signal(message: dict[str, Any], i: int = i) -> None:
            heard.append((i, message))

        hooks.append(hook)
        signals.append({"invalidate": (on_signal,)})
    clusters = [cluster_of(s, fast, "finn", shard_ids=(i * 2, i * 2 + 1), shard_count=4, heard=signals[i])
                for i, s in enumerate(stores)]
    try:
        await clusters[0].start(lead_work=(hooks[0],))
        await clusters[1].start(lead_work=(hooks[1],))
        assert clusters[0].leading and not clusters[1].leading and led == [0]
        # A signal reaches the other process, not the sender.
        assert await clusters[0].publish("invalidate", what="server", id=7)
        await eventually(check(lambda: heard), "the signal")
        # A signal back, sent after it: PostgreSQL hands a session its notifications in the order they were
        # sent, so once the sender hears this one it would have heard its own before.
        assert await clusters[1].publish("invalidate", what="server", id=8)
        await eventually(check(lambda: len(heard) >= 2), "the signal back")
        assert [(i, m["what"], m["id"]) for i, m in heard] == [(1, "server", 7), (0, "server", 8)]
        # The leader dies as with kill -9: its beat stops, its session ends (no unlock, no goodbye), seen
        # by the database. The other takes over.
        await clusters[0].ticker.stop()
        assert await end_session_holding(pg_url, lock_key("leader:finn")) == 1
        # Waited for as an event: how soon it comes is the lease's and the loop's, no guess of this test's.
        await eventually(check(lambda: clusters[1].leading), "the takeover")
        await eventually(check(lambda: led == [0, 1]), "the new leader's hooks (the schedule's catch-up)")
        node = clusters[1].node_id

        async def leader_row() -> NodeRow | None:
            row = {r.node_id: r for r in await stores[1].cluster.nodes("finn")}[node]
            return row if row.leader else None

        row = await eventually(leader_row, "the new leader's heartbeat row")
        assert row is not None and row.shards == "2-3"
    finally:
        await _close(clusters, stores)


async def test_signals_sent_together_all_arrive_and_the_session_stays_up(pg_url: str) -> None:
    """A burst of signals (replies posted at once) and the heartbeat's ping share one session: each waits
    its turn, none is refused as "another operation is in progress", and the ping never mistakes a busy
    session for a dead one (a leader would give up its lock)."""
    stores = [await Store(pg_url).open(), await Store(pg_url).open()]
    slow = ClusterSettings(cluster_heartbeat_seconds=300)  # no heartbeat count during the test
    heard: list[int] = []

    async def on_posted(message: dict[str, Any]) -> None:
        heard.append(int(message["message_id"]))

    clusters = [cluster_of(s, slow, "finn", shard_ids=(i,), shard_count=2, heard=heard_by)
                for i, (s, heard_by) in enumerate(zip(stores, ({}, {"posted": (on_posted,)}), strict=True))]
    try:
        for cluster in clusters:
            await cluster.start()
        # The first counted no one at its start; the second's hello tells it at once (the heartbeat's
        # count comes far later), so news only peers need is not dropped meanwhile.
        await eventually(check(lambda: clusters[0].peers), "the newcomer's hello")
        link = clusters[0].news.link
        assert link is not None
        sent = await asyncio.gather(*(clusters[0].publish("posted", message_id=n) for n in range(20)),
                                    link.ping(), link.ping())
        assert all(sent), sent
        await eventually(check(lambda: len(heard) >= 20), "every signal of the burst")
        assert sorted(heard) == list(range(20))
    finally:
        await _close(clusters, stores)


async def test_cache_changes_wait_for_the_cluster_once_per_server() -> None:
    """What the store notes of its cached tables' changes is held for the cluster to pass on: a server
    changed twice before it is taken is told once, and a take leaves nothing waiting."""
    changes = CacheChanges()
    changes.server(7)
    changes.server(7)
    changes.server(9)
    changes.places()
    await asyncio.wait_for(changes.wait(), EVENT_WAIT)  # noted: the cluster's task wakes
    assert changes.take() == (frozenset({7, 9}), True)
    assert changes.take() == (frozenset(), False)
    changes.places()
    assert changes.take() == (frozenset(), True)


async def test_cluster_signals_invalidate_the_other_process_caches(pg_url: str) -> None:
    """An admin's /settings edit (or a place switched on or off) in one process applies to the very next
    message in the other: the store notes the change, its cluster tells the others."""
    fast = ClusterSettings(leader_failover_seconds=3, cluster_heartbeat_seconds=1)
    stores = [await Store(pg_url).open(), await Store(pg_url).open()]
    clusters = [cluster_of(s, fast, "finn", shard_ids=(i,), shard_count=2, heard=heard_by)
                for i, (s, heard_by) in enumerate(zip(
                    stores, ({}, {"invalidate": (cache_invalidation(stores[1]),)}), strict=True))]
    guild = 42
    try:
        for cluster in clusters:
            await cluster.start()
        assert (await stores[1].servers.get(guild)).guild_id == guild  # cached in process 2
        assert (await stores[1].servers.get(guild)).vote_count is None
        changed = await stores[0].servers.update(guild, vote_count=1)
        await eventually(check(lambda: not stores[1].config.held), "the invalidation")
        assert await stores[1].servers.get(guild) == changed
        assert await stores[1].places.is_active(7, guild)  # cached in process 2
        await stores[0].places.set_active("channel", 7, False)
        await eventually(check(lambda: not stores[1].config.held), "the places' invalidation")
        assert not await stores[1].places.is_active(7, guild)
    finally:
        await _close(clusters, stores)


# -- real processes: main.py x 2 against the fakes (PostgreSQL)


class ClusterWorld:
    """The fake Discord with one guild per shard, the fake Claude, and main.py processes."""

    def __init__(self, db_url: str, tmp_path: Path) -> None:
        self.db_url = db_url
        self.tmp_path = tmp_path
        self.discord = FakeDiscord()
        self.claude = FakeClaude()
        self.procs: dict[str, asyncio.subprocess.Process] = {}
        self.logs: dict[str, Path] = {}
        self.guilds = [guild_on_shard(s) for s in range(SHARDS)]
        self.channels = [g + 1 for g in self.guilds]
        self.log_channel = self.guilds[3] + 2  # on shard 3

    async def start(self) -> None:
        await self.discord.start()
        await self.claude.start()
        d = self.discord
        d.add_user(ADMIN, "admin")
        d.add_user(USER, "alice")
        for shard, (guild, channel) in enumerate(zip(self.guilds, self.channels, strict=True)):
            extra = [(self.log_channel, "bot-log")] if shard == 3 else []
            d.add_guild(guild, f"Server {shard}", channels=[(channel, "general"), *extra])
            d.add_member(guild, ADMIN)
            d.add_member(guild, USER)

    def environ(self) -> dict[str, str]:
        return {**os.environ, **TEST_CONFIG,
                "DISCORD_TOKEN": "fake-discord-token", "ANTHROPIC_API_KEY": "fake-anthropic-key",
                "ANTHROPIC_BASE_URL": self.claude.base_url, "DISCORD_API_BASE_URL": self.discord.api_base,
                "DISCORD_GATEWAY_URL": self.discord.gateway_url, "DATABASE_URL": self.db_url,
                "LOG_CHANNEL_ID": str(self.log_channel), "ADMIN_USER_IDS": str(ADMIN), "LOG_LEVEL": "INFO",
                "LEADER_FAILOVER_SECONDS": "3", "CLUSTER_HEARTBEAT_SECONDS": "1"}

    async def launch(self, name: str, shard_ids: str, shard_count: int = SHARDS) -> None:
        self.logs[name] = self.tmp_path / f"{name}.log"
        out = self.logs[name].open("wb")
        self.procs[name] = await asyncio.create_subprocess_exec(
            sys.executable, "main.py", "--character", str(FINN), "--shard-ids", shard_ids,
            "--shard-count", str(shard_count), cwd=str(PROJECT_ROOT), env=self.environ(), stdout=out,
            stderr=asyncio.subprocess.STDOUT)
        out.close()
        wanted = set(parse_shard_ids(shard_ids))
        await self.discord.wait_for(
            lambda d: wanted <= {s.shard[0] for s in d.sessions if s.identified}, timeout=PROCESS_WAIT,
            what=f"{name}'s shards {shard_ids}")

    def log(self, name: str) -> str:
        return self.logs[name].read_text(errors="replace")

    async def close(self) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await self.claude.close()
        await self.discord.close()


@pytest.fixture
async def world(pg_url: str, tmp_path: Path) -> AsyncIterator[ClusterWorld]:
    w = ClusterWorld(pg_url, tmp_path)
    await w.start()
    try:
        yield w
    finally:
        await w.close()


async def _cortisol_reported(world: ClusterWorld) -> float:
    """The log channel's `status` (answered by the process running shard 3): the character's cortisol."""
    import re

    count = len(world.discord.posted(world.log_channel))
    await world.discord.user_message(world.log_channel, ADMIN, "status")
    await world.discord.wait_for_messages(world.log_channel, count + 1, timeout=EVENT_WAIT)
    text = "\n".join(m["content"] or "\n".join(panel_texts(m))  # the status report is a V2 panel
                     for m in world.discord.posted(world.log_channel)[count:])
    found = re.search(r"cortisol (\d\.\d\d)", text)
    assert found, text
    return float(found.group(1))


async def _nothing_owed(db_url: str) -> None:
    store = await Store(db_url).open()
    try:
        await nothing_owed(store)
    finally:
        await store.close()


async def _leader_pid(db_url: str) -> int | None:
    store = await Store(db_url).open()
    try:
        rows = await store.cluster.nodes("finn")
    finally:
        await store.close()
    leaders = [r.pid for r in rows if r.leader and r.stopped_at is None]
    return leaders[0] if len(leaders) == 1 else None


@needs_pg
async def test_two_processes_answer_each_message_once_and_stop_together(world: ClusterWorld) -> None:
    await world.launch("low", "0-1")
    await world.launch("high", "2-3")
    sent = []
    for channel in world.channels:
        sent.append(await world.discord.user_message(channel, USER, "Finn, what's the tide doing today?"))
    for channel in world.channels:
        await world.discord.wait_for_messages(channel, 1, timeout=EVENT_WAIT)
    await _nothing_owed(world.db_url)  # each answer settled: its exchange is over in every process
    for shard, (channel, message) in enumerate(zip(world.channels, sent, strict=True)):
        assert len(world.discord.posted(channel)) == 1, f"shard {shard}: not exactly one answer"
        owner, other = ("low", "high") if shard < 2 else ("high", "low")
        mid = str(message["id"])
        assert f"message {mid} from" in world.log(owner)
        assert f"message {mid} from" not in world.log(other)
    # One character, one mood: what people say to "low" moves the feelings "high" reports.
    before = await _cortisol_reported(world)
    # The reply's model judges each insult (the <felt> tag it starts its answer with: bot/reply/felt.py)
    for _ in range(3):
        feels(world.claude, "conflict", "Rude.")
    for n in range(3):
        await world.discord.user_message(world.channels[0], USER,
                                         f"Finn you stupid useless idiot, shut up {n}")
    await world.discord.wait_for_messages(world.channels[0], 4, timeout=EVENT_WAIT)
    deadline = asyncio.get_running_loop().time() + EVENT_WAIT
    while await _cortisol_reported(world) <= before + 0.2:  # "high" hears the last save's signal
        assert asyncio.get_running_loop().time() < deadline, "the mood never reached the other process"
    # The log channel lives on shard 3 ("high"); its shutdown stops the whole cluster.
    await world.discord.user_message(world.log_channel, ADMIN, "shutdown? Finn")
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in world.procs.values())),
                                   timeout=PROCESS_WAIT)
    assert codes == [0, 0], {n: world.log(n)[-2000:] for n in world.procs}
    assert "another process of the cluster" in world.log("low")
    for name in world.procs:
        assert "Traceback" not in world.log(name), world.log(name)[-3000:]


@needs_pg
async def test_kill_9_of_the_leader_hands_the_schedule_over(world: ClusterWorld) -> None:
    await world.launch("first", "0-1")
    first = world.procs["first"]
    deadline = asyncio.get_running_loop().time() + PROCESS_WAIT  # its start-up: imports, migrations
    while await _leader_pid(world.db_url) != first.pid:
        assert asyncio.get_running_loop().time() < deadline, world.log("first")[-2000:]
        await asyncio.sleep(0.2)
    await world.launch("second", "2-3")
    second = world.procs["second"]
    first.send_signal(signal.SIGKILL)
    await first.wait()
    killed_at = asyncio.get_running_loop().time()
    while await _leader_pid(world.db_url) != second.pid:  # its session gone, the other's loop takes the lock
        assert asyncio.get_running_loop().time() - killed_at < EVENT_WAIT, world.log("second")[-2000:]
        await asyncio.sleep(0.2)
    assert "leads the scheduled work" in world.log("second")
    # It still answers, and `main.py cluster status` shows who leads now.
    await world.discord.user_message(world.channels[2], USER, "Finn, are you still there?")
    await world.discord.wait_for_messages(world.channels[2], 1, timeout=EVENT_WAIT)
    status = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "--character", str(FINN), "cluster", "status", cwd=str(PROJECT_ROOT),
        env=world.environ(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(status.communicate(), timeout=PROCESS_WAIT))[0].decode()
    assert status.returncode == 0, output
    assert f"leader: {_node_of(output, second.pid)}" in output, output
    lines = [line for line in output.splitlines() if f"-{first.pid}-" in line]
    assert lines and "LEADER" not in lines[0], output
    second.send_signal(signal.SIGKILL)
    await second.wait()


def _node_of(status: str, pid: int) -> str:
    return next(line.split()[0] for line in status.splitlines() if f"-{pid}-" in line)


async def test_a_turn_answered_in_another_process_ends_the_wait_at_once(
        db_url: str, make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    """Finn, named second, waits for Atlas's answer; Atlas lives in another process of the cluster, whose
    answer arrives as a `posted` signal (before, or without, the gateway's copy)."""
    if "postgresql" not in db_url:
        pytest.skip("signals between processes go through PostgreSQL")
    from tests.harness import CHANNEL_ID, GUILD_ID

    h = await make_harness(turn_wait_after_human="600", peer_characters="Atlas")
    caplog.set_level(logging.DEBUG, logger="bot.reply.deciding.turns")
    other_store = await Store(db_url).open()
    other = cluster_of(other_store, ClusterSettings(), "atlas", shard_ids=(1,), shard_count=2)
    await other.start()
    try:
        sent = await h.say("Atlas, then Finn: hello!")
        # Parked on its arrivals (the log holds no answer of Atlas's): only the signal can end it now.
        await h.discord.wait_for(lambda _: any(f"message {sent['id']}: waiting for Atlas" in r.getMessage()
                                               for r in caplog.records), what="the wait for Atlas's turn")
        assert h.discord.posted(CHANNEL_ID) == []
        assert await other.publish("posted", channel_id=CHANNEL_ID, guild_id=GUILD_ID,
                                   message_id=int(sent["id"]) + 1, author_name="Atlas")
        await h.replies(CHANNEL_ID, 1)  # long before the wait would run out: the signal ended it
    finally:
        await other.close()
        await other_store.close()


async def test_the_custom_status_is_shared_with_the_clusters_other_processes(db_url: str,
                                                                             make_harness: Any) -> None:
    """One character, one status on every shard: a status shown by another process of the cluster is shown
    here (the composition root's `status` handler), and one shown here is told to the others."""
    if "postgresql" not in db_url:
        pytest.skip("signals between processes go through PostgreSQL")
    h = await make_harness()
    other_store = await Store(db_url).open()
    heard: list[dict[str, Any]] = []

    async def on_status(message: dict[str, Any]) -> None:
        heard.append(message)

    other = cluster_of(other_store, ClusterSettings(), h.bot.services.pipeline.character_key, shard_ids=(1,),
                       shard_count=2, heard={"status": (on_status,)})
    await other.start()
    try:
        assert await other.publish("status", text="Mending nets at dusk")
        await h.discord.wait_for(lambda d: d.custom_status() == "Mending nets at dusk",
                                 what="the status another process showed")
        await eventually(check(lambda: h.bot.services.cluster.peers), "the other process counted")
        await h.store.state.set("custom_status", "After the tide turned")
        await h.bot.services.alive.status.reapply()
        await eventually(check(lambda: [m["text"] for m in heard]), "the status told to the other process")
        assert [m["text"] for m in heard] == ["After the tide turned"]
    finally:
        await other.close()
        await other_store.close()


@needs_pg
async def test_a_dm_reminder_is_delivered_once_by_the_cluster_after_a_restart(world: ClusterWorld) -> None:
    """"Remind me in 2 minutes to stretch" in a DM: both processes stop and start again, the reminder comes
    due (its row moved to now while they are down: time driven, not waited for), both see it, and one of
    them delivers it, once, in the DM."""
    from sqlalchemy import update

    from database.alive_models import ScheduledJob
    from database.reminders import Reminder, reminder_key
    from tests.fakes.claude_server import Reply
    from tests.fakes.claude_tools import UseTool

    await world.launch("low", "0-1")
    await world.launch("high", "2-3")
    asked = {"text": "stretch", "local_time": None, "in_minutes": 2, "repeat": None}
    world.claude.script(Reply(tools=UseTool("set_reminder", asked, answer="Will do!")), times=2)
    sent = await world.discord.dm_message(USER, "remind me in 2 minutes to stretch")
    dm = int(sent["channel_id"])
    await world.discord.wait_for_messages(dm, 1, timeout=EVENT_WAIT)
    for proc in world.procs.values():
        proc.send_signal(signal.SIGTERM)
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in world.procs.values())),
                                   timeout=PROCESS_WAIT)
    assert codes == [0, 0], {n: world.log(n)[-2000:] for n in world.procs}
    store = await Store(world.db_url).open()
    try:
        [row] = await store.reminders.open_for(USER)  # the DM came on shard 0 only: one reply set one
        now = datetime.now(UTC)
        async with store.engine.begin() as conn:
            await conn.execute(update(Reminder).where(Reminder.id == row.id).values(due_at=now))
            await conn.execute(update(ScheduledJob).where(ScheduledJob.name == reminder_key(row.id))
                               .values(next_due=now))
        world.claude.script("Stretch time, friend!", times=2)  # a second delivery would say it again
        await world.launch("low again", "0-1")
        await world.launch("high again", "2-3")
        await world.discord.wait_for(
            lambda d: [m for m in d.posted(dm) if "Stretch time" in m["content"]], timeout=EVENT_WAIT,
            what="the reminder")

        async def retired() -> bool:
            return await store.timers.get(reminder_key(row.id)) is None

        await eventually(retired, "the reminder's timer to retire")
        assert len([m for m in world.discord.posted(dm) if "Stretch time" in m["content"]]) == 1
        delivered = [n for n in ("low again", "high again") if f"reminder {row.id} delivered" in world.log(n)]
        assert len(delivered) == 1, {n: world.log(n)[-2000:] for n in world.procs}
        assert all(int(m["channel_id"]) == dm for m in world.discord.posted() if "Stretch" in m["content"])
    finally:
        await store.close()


@needs_pg
async def test_a_missed_daily_round_runs_once_in_the_cluster_then_waits_for_its_hour(
        world: ClusterWorld) -> None:
    """The cluster was down when its daily rounds were due (their rows two days past due): both processes
    start, both see them due, and each round runs once, in one of them, then is due at the next
    consolidation hour."""
    store = await Store(world.db_url).open()
    keys = [f"{name}:finn" for name in ("consolidation", "mood", "retention")]
    try:
        missed = datetime.now(UTC) - timedelta(days=2)
        for key in keys:
            await store.timers.ensure(key, missed)
        await world.launch("low", "0-1")
        await world.launch("high", "2-3")

        async def ran() -> list[Any] | None:
            rows = [await store.timers.get(key) for key in keys]
            return rows if all(r is not None and r.last_run is not None for r in rows) else None

        rows = await eventually(ran, "the missed daily rounds run")
        hour = load_settings(FINN, None, environ=world.environ()).memory.consolidation_hour_utc
        for row in rows:
            assert datetime.now(UTC) < row.due <= datetime.now(UTC) + timedelta(days=1)
            assert row.due.hour == hour and row.last_result and not row.last_result.startswith("failed")
        asked = [FakeClaude.all_text(r.body) for r in world.claude.requests]
        assert len([text for text in asked if "what mood you are in today" in text]) == 1
        runs = [n for n in world.procs for line in world.log(n).splitlines() if "consolidation: " in line
                and "messages:" in line]
        assert len(runs) == 1, {n: world.log(n)[-2000:] for n in world.procs}
    finally:
        await store.close()


# -- Discord's limits are the bot's, not the process's


@needs_pg
async def test_three_processes_started_at_once_identify_without_an_invalid_session(
        world: ClusterWorld) -> None:
    """A cluster started at once (compose, a reboot, a deploy): one IDENTIFY bucket (max_concurrency 1), so
    the three shards must IDENTIFY five seconds apart, which the fake gateway enforces with op 9 as Discord
    does. The bucket's window is held for every process through the shared PostgreSQL."""
    world.discord.max_concurrency = 1
    shards = cluster_shards()  # compose.cluster.yaml's processes, their commands run here without Docker
    await asyncio.gather(*(world.launch(name, ids, count) for name, (ids, count) in shards.items()))
    assert world.discord.too_early_identifies == 0, {n: world.log(n)[-1500:] for n in world.procs}
    [count] = {count for _, count in shards.values()}
    assert sorted(s.shard[0] for s in world.discord.sessions if s.identified) == list(range(count))
    assert sum(world.discord.session_starts.values()) == count  # no start spent on a refused IDENTIFY
    # The compose file's `status` service: every process running, one leading.
    status = await asyncio.create_subprocess_exec(
        sys.executable, "main.py", "--character", str(FINN), "cluster", "status", cwd=str(PROJECT_ROOT),
        env=world.environ(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    output = (await asyncio.wait_for(status.communicate(), timeout=PROCESS_WAIT))[0].decode()
    assert status.returncode == 0, output
    for proc in world.procs.values():
        [line] = [line for line in output.splitlines()
                  if f"-{proc.pid}-" in line and not line.startswith("leader:")]
        assert line.endswith(("running", "LEADER")), output
    assert "leader: none" not in output, output


async def test_a_crash_looping_process_stops_before_the_last_session_starts(tmp_path: Path) -> None:
    """Discord allows a bot so many session starts a day; a process restarted over and over (killed as a
    crash would) spends one each time. With only the reserve left it does not connect: it says so and waits
    for the reset, so the bot can still connect once whatever crashed is fixed."""
    h = Harness(db_url=f"sqlite+aiosqlite:///{tmp_path / 'k.db'}", tmp_path=tmp_path,
                config={"SESSION_START_RESERVE": "2"})
    await h.start_fakes()
    h.discord.session_start_total = 5
    proc: asyncio.subprocess.Process | None = None
    try:
        for started in (1, 2, 3):
            proc = await h.spawn_main(stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            await h.discord.wait_for(lambda d, n=started: d.session_starts.get("fake-discord-token") == n,
                                     timeout=PROCESS_WAIT, what=f"session start {started}")
            proc.kill()  # a crash
            await proc.wait()
        proc = await h.spawn_main()
        assert proc.stdout is not None
        said = ""
        while "kept in reserve" not in said:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=PROCESS_WAIT)
            assert line, said[-3000:]
            said += line.decode(errors="replace")
        assert "Discord session starts: 2 of 5 left" in said, said[-3000:]
        assert "resets in 24h00m" in said, said[-3000:]
        assert h.discord.session_starts == {"fake-discord-token": 3}  # the last two kept
        assert proc.returncode is None  # waiting for the reset, not exiting (a supervisor would restart it)
    finally:
        if proc is not None:
            await stop_process(proc)
        await h.claude.close()
        await h.discord.close()


async def _clients(fake: FakeDiscord, stores: Sequence[Store], governors: Sequence[RestGovernor],
                   token: str = "fake-discord-token") -> list[discord.http.HTTPClient]:
    """discord.py's own HTTP client per process, each in front of its governor, sharing its store's counts."""
    clients = []
    for store, governor in zip(stores, governors, strict=True):
        governor.share(store.shared_counts(), 800_000_000_000_000_001)
        http = discord.http.HTTPClient(asyncio.get_running_loop(), http_trace=governor.trace())
        await http.static_login(token)
        clients.append(http)
    return clients


async def test_three_processes_under_a_burst_stay_within_the_bots_global_limit_together(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Discord's 50 requests a second are the bot's: three processes each sending a burst at once stay
    within them together (the fake answers more with global 429s), where each alone would stay within its
    own 50 and the three would not."""
    fake = await FakeDiscord().start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    stores = [await Store(pg_url).open() for _ in range(3)]
    governors = [RestGovernor() for _ in stores]
    clients = await _clients(fake, stores, governors)
    try:
        fake.busiest_second.clear()
        answers = await asyncio.gather(*(http.request(discord.http.Route("GET", "/users/@me"))
                                         for http in clients for _ in range(40)))
        assert len(answers) == 120 and all(a["username"] == "Kindred" for a in answers)
        assert fake.global_limited == 0 and fake.invalid_requests == 0
        assert fake.busiest_second["fake-discord-token"] <= fake.global_limit
    finally:
        for http, governor in zip(clients, governors, strict=True):
            await http.close()
            await governor.close()
        for store in stores:
            await store.close()
        await fake.close()


async def test_an_invalid_request_streak_in_one_process_slows_the_others(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cloudflare bans a bot's address after 10,000 invalid requests (401, 403, 429) in ten minutes,
    whichever process sent them: a streak of 401s in one process slows every process of the cluster.
    (Thresholds scaled down: 5 invalid requests start the slowing, 25 bring it to a request a second.)"""
    fake = await FakeDiscord().start()
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    stores = [await Store(pg_url).open() for _ in range(2)]
    governors = [RestGovernor(slow_from=5, slowest_at=25) for _ in stores]
    [healthy] = await _clients(fake, stores[1:], governors[1:])
    governors[0].share(stores[0].shared_counts(), 800_000_000_000_000_001)
    broken = aiohttp.ClientSession(trace_configs=[governors[0].trace()])  # its token revoked
    try:
        for _ in range(20):
            async with broken.get(f"{fake.api_base}/users/@me",
                                  headers={"Authorization": "Bot revoked"}) as answer:
                assert answer.status == 401
        assert fake.invalid_requests == 20
        answers = await asyncio.gather(*(healthy.request(discord.http.Route("GET", "/users/@me"))
                                         for _ in range(30)))
        assert all(a["username"] == "Kindred" for a in answers)
        # 20 of 25: a quarter of the rate, 11 a second, where the burst alone went out in one second
        assert governors[1].slowed and governors[1].allowed() == 11
        assert fake.busiest_second["fake-discord-token"] <= 12, fake.busiest_second
        assert fake.global_limited == 0
    finally:
        await broken.close()
        await healthy.close()
        for governor in governors:
            await governor.close()
        for store in stores:
            await store.close()
        await fake.close()


async def test_one_process_bursting_paces_itself_within_the_global_limit(harness: Harness) -> None:
    """One process alone (SQLite, or PostgreSQL with no other process alive) keeps Discord's 50 a second by
    itself: the running bot's own HTTP client, a burst of 120 requests at once, and every one answered with
    no global 429, without a trip to the database for a permit."""
    h = harness
    assert h.bot is not None
    h.discord.busiest_second.clear()
    answers = await asyncio.gather(*(h.bot.http.request(discord.http.Route("GET", "/users/@me"))
                                     for _ in range(120)))
    assert len(answers) == 120 and all(a["username"] == "Kindred" for a in answers)
    assert h.discord.global_limited == 0
    assert h.discord.busiest_second["fake-discord-token"] <= h.discord.global_limit
    assert h.bot.rest_governor.leases == 0  # a cluster of one pays no round trip per request


async def test_a_global_429_is_waited_out_and_the_request_sent_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake answers past its global limit as Discord does (429, ``global``, retry_after,
    X-RateLimit-Global, X-RateLimit-Scope: global, Via): discord.py alone (no governor) holds every request
    for retry_after and sends again, so a burst past the limit gets 429s and still loses nothing. The limit
    is lowered to 20 a second here, so the burst meets it however slowly a loaded machine sends it
    (Discord's 50 is counted per second: 80 requests spread over two seconds could pass under it)."""
    fake = await FakeDiscord().start()
    fake.global_limit = 20
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    http = discord.http.HTTPClient(asyncio.get_running_loop())
    await http.static_login("fake-discord-token")
    try:
        answers = await asyncio.gather(*(http.request(discord.http.Route("GET", "/users/@me"))
                                         for _ in range(80)))
        assert len(answers) == 80 and all(a["username"] == "Kindred" for a in answers)
        assert fake.global_limited > 0  # the limit was met ...
        assert fake.busiest_second["fake-discord-token"] > fake.global_limit  # ... and enforced
    finally:
        await http.close()
        await fake.close()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_a_lone_process_counts_with_the_cluster_once_another_joins() -> None:
    """Alone, a process takes no permits from the shared count; once another process is alive, the
    requests it sent alone in the current second are counted first, so the two together stay within the
    bot's limit in the second the other joins. (One in-memory count stands for the database's.)"""
    clock = _Clock()
    shared = LocalCounts(clock)
    old, new = (RestGovernor(clock=clock, sleep=clock.sleep) for _ in range(2))
    peers = {"old": 0}
    old.share(shared, 1, lambda: peers["old"])
    new.share(shared, 1, lambda: 1)
    for _ in range(30):
        await old.permit()
    assert old.leases == 0 and clock.now == 1000.0  # its own pace, nothing leased
    peers["old"] = 1  # the newcomer's hello
    await old.permit()
    assert old.leases == 1 and (await shared.add("rest:1", 1.0, 0))[0] == 31 + 9  # 30 alone, 1 + 9 held
    started = clock.now
    for _ in range(5):
        await new.permit()
    assert clock.now == started  # 40 of 45 counted this second: the newcomer's five fit
    await new.permit()
    assert clock.now > started  # the sixth waits for the next second


class _LateCounts(LocalCounts):
    """The database's count, whose answer comes back ``late`` seconds after it was counted (a loaded
    machine, a far database)."""

    def __init__(self, clock: _Clock, late: float) -> None:
        super().__init__(clock)
        self._clock_, self.late = clock, late

    async def lease(self, name: str, seconds: float, n: int, other: str,
                    other_seconds: float) -> tuple[int, float, int, float]:
        answer = await super().lease(name, seconds, n, other, other_seconds)
        self._clock_.now += self.late
        return answer


async def test_permits_leased_late_in_a_second_are_not_spent_in_the_next() -> None:
    """A lease asked near a second's end and answered after it has ended counts for the second it was
    asked in: its permits are not spent in the next second, where the cluster's count would not hold
    them (and the cluster's next 45 would go out beside them, past Discord's 50)."""
    clock = _Clock()
    clock.now = 1000.8
    counts = _LateCounts(clock, late=0.3)
    governor = RestGovernor(clock=clock, sleep=clock.sleep)
    governor.share(counts, 1, lambda: 1)
    spent: dict[int, int] = {}
    for _ in range(10):
        await governor.permit()
        spent[int(clock.now)] = spent.get(int(clock.now), 0) + 1
    counts.late = 0.0
    for second, n in spent.items():
        clock.now = second + 0.5
        assert (await counts.add("rest:1", 1.0, 0))[0] >= n, (second, spent)
    assert spent == {1001: 10}
