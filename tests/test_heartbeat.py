"""The latency heartbeat: the check itself, and warnings reaching the log and the log channel over the wire."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

import pytest

from bot.admin import format_duration, format_latency, slow_shards
from tests.harness import LOG_CHANNEL_ID, Harness

MakeHarness = Callable[..., Awaitable[Harness]]
WARNING = "Gateway latency warning"


def test_slow_shards_are_those_above_the_threshold() -> None:
    latencies = [(0, 0.120), (1, 1.500), (2, math.inf), (3, math.nan), (4, 1.000)]
    slow = slow_shards(latencies, 1000)
    assert [(s.shard_id, round(s.latency_ms)) for s in slow] == [(1, 1500)]
    assert slow[0].describe(1000) == "⚠️ Gateway latency warning: shard 1 at 1500 ms (threshold 1000 ms)."
    assert slow_shards([(None, 0.001)], 0)[0].describe(0).startswith("⚠️ Gateway latency warning: gateway at 1 ms")
    assert slow_shards([(None, 0.5)], 500) == []  # at the threshold is not above it


def test_latency_and_duration_texts() -> None:
    assert format_latency(0.0424) == "42 ms"
    assert format_latency(math.inf) == "no heartbeat acknowledged yet"
    assert format_duration(5) == "5s"
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h 0m 5s"


async def test_warning_reaches_the_log_and_the_log_channel(make_harness: MakeHarness,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="cogs.admin")
    h = await make_harness(heartbeat_interval_seconds="0.05", latency_warning_ms="0")
    [first, *_] = await h.replies(LOG_CHANNEL_ID, 2)  # it keeps checking, every interval
    assert first["content"].startswith(f"⚠️ {WARNING}: gateway at ")
    assert "(threshold 0 ms)" in first["content"]
    assert any(WARNING in r.getMessage() for r in caplog.records)
    assert h.claude.requests == []


async def test_each_shard_is_checked(make_harness: MakeHarness) -> None:
    h = await make_harness(shard_count="2", heartbeat_interval_seconds="0.05", latency_warning_ms="0")
    await h.discord.wait_for(
        lambda d: {"shard 0", "shard 1"} <= {m["content"].split(" at ")[0].split(": ")[-1]
                                             for m in d.posted(LOG_CHANNEL_ID)},
        timeout=5, what="a warning for each shard")


async def test_no_warning_below_the_threshold_and_none_after_close(make_harness: MakeHarness) -> None:
    h = await make_harness(heartbeat_interval_seconds="0.05")  # threshold 1000 ms: a local fake is far faster
    cog = h.bot.get_cog("Admin")
    assert cog is not None and cog.heartbeat.is_running()  # type: ignore[attr-defined]
    await asyncio.sleep(0.3)
    assert h.discord.posted(LOG_CHANNEL_ID) == []
    await h.bot.close()
    await h.discord.wait_for(lambda d: not cog.heartbeat.is_running(), timeout=2,  # type: ignore[attr-defined]
                             what="the heartbeat to stop")
