"""The ticker, the one mechanism for this process's periodic work (bot/core/ticker.py), on a clock of the
test's own: each wait a job asks for is recorded and lasts until the test lets it end."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest

from bot.core.ticker import Ticker
from tests.fakes import EVENT_WAIT
from tests.harness import check, eventually


class FakeClock:
    """A job's waits: the seconds each asked for, each over when :meth:`advance` says so."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self._waiting: asyncio.Queue[asyncio.Future[None]] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        done = asyncio.get_running_loop().create_future()
        await self._waiting.put(done)
        await done

    async def advance(self) -> None:
        """End the next wait a job is in (waiting for a job to start one)."""
        done = await asyncio.wait_for(self._waiting.get(), EVENT_WAIT)
        done.set_result(None)


async def until(condition: Callable[[], bool], what: str) -> None:
    await eventually(check(condition), what)


async def test_a_job_waits_its_interval_read_at_each_round_then_ticks() -> None:
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    intervals = iter([5.0, 7.0, 0.5, 0.5])
    ticks: list[int] = []

    async def tick() -> None:
        ticks.append(len(clock.waits))

    job = ticker.every("counting", lambda: next(intervals), tick)
    await clock.advance()
    await until(lambda: ticks == [1], "the first tick, after the first wait")
    await clock.advance()
    await clock.advance()
    await until(lambda: len(ticks) == 3, "two more ticks")
    assert clock.waits[:3] == [5.0, 7.0, 0.5]  # a changed interval applies from the next wait on
    assert job.rounds == 3 and job.running
    await ticker.stop()
    assert not job.running and not ticker.jobs


async def test_at_once_ticks_before_the_first_wait() -> None:
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        ticks += 1

    job = ticker.every("at once", lambda: 60.0, tick, at_once=True)
    await until(lambda: ticks == 1 and clock.waits == [60.0], "a tick, then the wait")
    await job.stop()
    assert not job.running and job not in ticker.jobs


async def test_a_failing_tick_is_logged_with_the_jobs_name_and_the_job_goes_on(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.core.ticker")
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    outcomes = iter([ValueError("first"), ValueError("second"), None, None])

    async def tick() -> None:
        if (failure := next(outcomes)) is not None:
            raise failure

    job = ticker.every("flaky job", lambda: 1.0, tick)
    for _ in range(3):
        await clock.advance()
    await until(lambda: job.rounds == 3, "three rounds")
    records = [r for r in caplog.records if r.name == "bot.core.ticker"]
    assert [r.getMessage() for r in records] == [
        "flaky job failed (ValueError: first); it runs again at its next round",
        "flaky job failed (ValueError: second); it runs again at its next round",
        "flaky job works again after 2 failed round(s)"]
    # The traceback once, with the first failure of the run; not again while it keeps failing.
    assert [bool(r.exc_info) for r in records] == [True, False, False]
    assert job.failures == 0 and job.running
    await ticker.stop()


async def test_an_interval_of_zero_ends_the_job(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.core.ticker")
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    intervals = iter([1.0, 0.0])
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        ticks += 1

    job = ticker.every("polls", lambda: next(intervals), tick)
    await clock.advance()
    await until(lambda: not job.running, "the job to end")
    assert ticks == 1 and clock.waits == [1.0] and not ticker.jobs
    assert "polls: its interval is now 0; it stops" in caplog.messages


async def test_stop_cuts_a_wait_and_cancels_a_tick_unless_asked_to_let_it_finish() -> None:
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    entered = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    def slow(name: str) -> Callable[[], Awaitable[None]]:
        async def tick() -> None:
            entered.set()
            await release.wait()
            finished.append(name)
        return tick

    # Waiting: stopped at once.
    waiting = ticker.every("waiting", lambda: 3600.0, slow("waiting"))
    await until(lambda: clock.waits == [3600.0], "the wait")
    await waiting.stop()
    assert not waiting.running and finished == []

    # A tick under way, stopped plainly: cancelled.
    cut = ticker.every("cut", lambda: 1.0, slow("cut"), at_once=True)
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    await cut.stop()
    assert not cut.running and finished == []

    # A tick under way, stopped with finish=True: it runs to its end, and no round follows.
    entered.clear()
    kept = ticker.every("kept", lambda: 1.0, slow("kept"), at_once=True)
    await asyncio.wait_for(entered.wait(), EVENT_WAIT)
    stopping = asyncio.create_task(kept.stop(finish=True))
    await asyncio.sleep(0)
    assert not stopping.done()
    release.set()
    await asyncio.wait_for(stopping, EVENT_WAIT)
    assert finished == ["kept"] and not kept.running and kept.rounds == 1


async def test_after_the_ticker_stopped_no_job_runs() -> None:
    clock = FakeClock()
    ticker = Ticker(clock.sleep)
    await ticker.stop()

    async def tick() -> None:
        raise AssertionError("never runs")

    job = ticker.every("late", lambda: 1.0, tick, at_once=True)
    await asyncio.sleep(0)
    assert not job.running and not ticker.jobs
    await job.stop()
