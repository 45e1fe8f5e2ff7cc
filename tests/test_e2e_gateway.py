"""Gateway behaviour over the wire: shards, heartbeats, resume, typing refresh."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bot.discord.client import KindredShardedBot
from tests.fakes import EVENT_WAIT
from tests.harness import CHANNEL_ID, Harness, MakeHarness


async def test_two_shards_connect_and_answer(make_harness: MakeHarness) -> None:
    h = await make_harness(shard_count=2)
    assert isinstance(h.bot, KindredShardedBot)
    identifies = [data for op, data in h.discord.gateway_log if op == "2"]
    assert sorted(tuple(d["shard"]) for d in identifies) == [(0, 2), (1, 2)]
    await h.say("hello, shards", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"]
    assert set(h.bot.latencies and [s for s, _ in h.bot.latencies]) == {0, 1}


async def test_heartbeats_are_sent_at_the_hello_interval_and_acknowledged(db_url: str,
                                                                          tmp_path: Path) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path)
    h.discord.heartbeat_interval_ms = 50  # HELLO tells the client this; Discord says ~41-45 s
    try:
        await h.start()
        # Each heartbeat carries the last sequence number the client saw: once it has read READY and
        # GUILD_CREATE (1 and 2), a beat says so. The beats before depend on how fast the client reads, so
        # the test waits for one, and holds every beat to the order: never lower than the one before, never
        # past what was sent.
        def beats() -> list[int]:
            return [seq or 0 for op, seq in h.discord.gateway_log if op == "1"]

        await h.discord.wait_for(lambda _: len(beats()) >= 3 and beats()[-1] >= 2,
                                 what="three heartbeats, the last after READY and GUILD_CREATE")
        said = beats()
        assert said == sorted(said), said
        assert said[-1] <= max(s.seq for s in h.discord.sessions), said
        # discord.py measures latency only from a heartbeat ACK (op 11): a finite latency means acks arrived.
        assert h.bot is not None and math.isfinite(h.bot.latency)
        await h.say("still beating?", mention=True)
        [reply] = await h.replies(CHANNEL_ID)
        assert reply["content"]
    finally:
        await h.close()


async def test_reconnect_resumes_and_keeps_answering(harness: Harness) -> None:
    await harness.discord.force_reconnect()
    await harness.discord.wait_for(lambda d: any(op == "6" for op, _ in d.gateway_log), timeout=EVENT_WAIT,
                                   what="a RESUME")
    await harness.say("still there?", mention=True)
    [reply] = await harness.replies(CHANNEL_ID)
    assert reply["content"]
    # Resumed, not started again: one IDENTIFY in all (a new session would also wait out Discord's window).
    assert [op for op, _ in harness.discord.gateway_log].count("2") == 1


async def test_typing_is_refreshed_while_a_slow_reply_is_generated(
        harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.discord.outlets

    monkeypatch.setattr(bot.discord.outlets, "TYPING_REFRESH_SECONDS", 0.1)  # Discord's cadence is ~8 s
    harness.claude.script("Sorry, I was steeping the tea.", model="claude-test-default", delay=0.6)
    sent = await harness.dm("are you typing?")
    channel = int(sent["channel_id"])
    [reply] = await harness.replies(channel)
    typing = harness.discord.typing(channel)
    assert len(typing) >= 3 and all(t < reply["_at"] for t in typing)
