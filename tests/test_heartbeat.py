"""The latency heartbeat: the check itself (a shard is reported only when slow on consecutive readings), and
warnings reaching the log and the log channel over the wire."""

from __future__ import annotations

import logging
import math

import pytest

from bot.core.i18n import t
from bot.operator.admin.heartbeat import LatencyWatch, slow_shards
from bot.operator.admin.language import format_duration, format_latency
from tests.fakes import EVENT_WAIT
from tests.harness import LOG_CHANNEL_ID, MakeHarness

WARNING = "Gateway latency warning"


def test_slow_shards_are_those_above_the_threshold() -> None:
    latencies = [(0, 0.120), (1, 1.500), (2, math.inf), (3, math.nan), (4, 1.000)]
    slow = slow_shards(latencies, 1000)
    assert [(s.shard_id, round(s.latency_ms)) for s in slow] == [(1, 1500)]
    assert slow[0].describe(1000) == "⚠️ Gateway latency warning: shard 1 at 1,500 ms (threshold 1,000 ms)."
    assert slow_shards([(None, 0.001)], 0)[0].describe(0).startswith(
        "⚠️ Gateway latency warning: gateway at 1 ms")
    assert slow_shards([(None, 0.5)], 500) == []  # at the threshold is not above it


def test_a_warning_is_said_in_the_log_channel_s_language_and_logged_in_english() -> None:
    [slow] = slow_shards([(1, 1.5)], 1000)
    german = slow.line(1000).render("de")  # as the log channel posts it in a German server
    assert german == t("de", "⚠️ Gateway latency warning: {shard} at {latency} ms (threshold {threshold} ms).",
                       shard=t("de", "shard {id}", id=1), latency="1.500", threshold="1.000")
    assert WARNING not in german and slow.line(1000).english() == slow.describe(1000)  # the bot's log
    assert format_latency(math.inf, "ja") == t("ja", "no heartbeat acknowledged yet")
    assert format_duration(3 * 86400 + 5, "de") == "3 Tg. 0 Std. 0 Min. 5 Sek."


def test_a_shard_is_reported_only_when_slow_on_consecutive_readings() -> None:
    watch = LatencyWatch()
    # After an invalidated session (op 9) discord.py's first reading includes its 5 s identify wait.
    assert watch.check([(None, 5.002)], 1000) == []
    assert watch.check([(None, 0.040)], 1000) == []  # ... and the next one is normal again: nothing said
    assert watch.check([(None, 1.500)], 1000) == []
    [slow] = watch.check([(None, 1.600)], 1000)  # slow twice in a row: reported
    assert slow.describe(1000) == "⚠️ Gateway latency warning: gateway at 1,600 ms (threshold 1,000 ms)."
    assert [round(s.latency_ms) for s in watch.check([(None, 1.700)], 1000)] == [1700]  # and while it lasts
    assert watch.check([(None, 0.500)], 1000) == []
    assert watch.check([(None, 1.500)], 1000) == []  # a new streak starts from one

    # Each shard has its own count; a reading without a measurement (inf) breaks a streak too.
    watch = LatencyWatch()
    assert watch.check([(0, 2.0), (1, 2.0), (2, 0.1)], 1000) == []
    assert [s.shard_id for s in watch.check([(0, 2.0), (1, math.inf), (2, 2.0)], 1000)] == [0]
    assert [s.shard_id for s in watch.check([(0, 2.0), (1, 2.0), (2, 2.0)], 1000)] == [0, 2]


def test_latency_and_duration_texts() -> None:
    assert format_latency(0.0424) == "42 ms"
    assert format_latency(math.inf) == "no heartbeat acknowledged yet"
    assert format_duration(5) == "5s"
    assert format_duration(3 * 86400 + 4 * 3600 + 5) == "3d 4h 0m 5s"


async def test_warning_reaches_the_log_and_the_log_channel(make_harness: MakeHarness,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.operator.admin.heartbeat")
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
        what="a warning for each shard")


async def test_no_warning_below_the_threshold_and_none_after_close(make_harness: MakeHarness) -> None:
    # A threshold no reading reaches, however loaded the machine (a stalled loop would otherwise read slow).
    h = await make_harness(heartbeat_interval_seconds="0.05", latency_warning_ms=str(int(EVENT_WAIT * 1000)))
    heartbeat = h.bot.services.heartbeat  # the runtime's, started by the bot's setup_hook
    assert heartbeat.running
    # Three checks done (a reading counts once its round, a warning's post included, has run).
    await h.discord.wait_for(lambda _: heartbeat.readings >= 3, what="three heartbeat checks")
    assert h.discord.posted(LOG_CHANNEL_ID) == []
    ticker = h.bot.services.ticker  # the process's periodic jobs: the heartbeat is one of them
    assert {"the latency heartbeat", "the activity counters' flush", "the cluster's heartbeat"} <= {
        job.name for job in ticker.jobs}
    await h.bot.close()
    await h.discord.wait_for(lambda d: not heartbeat.running, what="the heartbeat to stop")
    assert not ticker.jobs and ticker.stopped  # the close left no periodic job running


async def test_one_slow_reading_posts_nothing_two_in_a_row_do(make_harness: MakeHarness) -> None:
    """Over the wire: the fake gateway holds heartbeat ACKs back, as a slow (or just re-identified) gateway
    does; the test takes the readings itself instead of waiting for the monitor's interval."""
    h = await make_harness(latency_warning_ms="200")
    heartbeat = h.bot.services.heartbeat
    await heartbeat.stop()
    assert not heartbeat.running

    async def measured(ack_delay: float) -> float:
        """One new latency measurement, its ACK held back ``ack_delay`` seconds by the gateway."""
        before = h.bot.latency
        if ack_delay:
            h.discord.ack_delays.append(ack_delay)
        await h.discord.request_heartbeat()
        await h.discord.wait_for(lambda d: h.bot.latency != before,
                                 what="a new latency measurement")
        return h.bot.latency

    assert await measured(0.5) >= 0.5
    await heartbeat.check()
    assert h.discord.posted(LOG_CHANNEL_ID) == []  # one slow reading: nothing
    assert await measured(0) < 0.2
    await heartbeat.check()
    assert await measured(0.5) >= 0.5
    await heartbeat.check()
    assert h.discord.posted(LOG_CHANNEL_ID) == []  # slow, fast, slow: still nothing
    assert await measured(0.5) >= 0.5
    await heartbeat.check()
    [warning] = h.discord.posted(LOG_CHANNEL_ID)  # slow twice in a row: one warning
    assert warning["content"].startswith(f"⚠️ {WARNING}: gateway at ")
    assert warning["content"].endswith("(threshold 200 ms).")
