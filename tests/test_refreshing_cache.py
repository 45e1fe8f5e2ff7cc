"""database/refreshing.py: answers asked for at every message, refreshed without making a message wait."""

from __future__ import annotations

import asyncio

from database.refreshing import RefreshingCache


class Source:
    """A value per key, read through a gate the test opens."""

    def __init__(self) -> None:
        self.value = "one"
        self.reads = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def load(self, key: int) -> str:
        self.reads += 1
        await self.gate.wait()
        return f"{self.value}:{key}"


async def test_callers_that_find_nothing_share_one_read() -> None:
    source = Source()
    source.gate.clear()
    cache: RefreshingCache[int, str] = RefreshingCache(60, source.load)
    waiting = [asyncio.ensure_future(cache.get(1)) for _ in range(5)]
    await asyncio.sleep(0)
    source.gate.set()
    assert await asyncio.gather(*waiting) == ["one:1"] * 5
    assert source.reads == 1
    assert await cache.get(1) == "one:1" and source.reads == 1  # kept


async def test_an_expired_answer_is_served_while_one_read_refreshes_it() -> None:
    source = Source()
    cache: RefreshingCache[int, str] = RefreshingCache(0.0, source.load)  # every answer expired at once
    assert await cache.get(1) == "one:1"
    source.value, source.gate = "two", asyncio.Event()
    assert await cache.get(1) == "one:1"  # no wait: the stale answer, and a refresh under way
    assert await cache.get(1) == "one:1"
    await asyncio.sleep(0)  # the refresh begins
    assert source.reads == 2  # one refresh, however many callers
    source.gate.set()
    await cache.close()
    assert await cache.get(1) == "two:1"


async def test_a_change_made_during_a_read_is_not_undone_by_it() -> None:
    source = Source()
    source.gate.clear()
    cache: RefreshingCache[int, str] = RefreshingCache(60, source.load)
    first = asyncio.ensure_future(cache.get(1))
    await asyncio.sleep(0)
    source.value = "changed"
    cache.clear()  # our own change: the read under way may have found the old value
    source.gate.set()
    assert await first == "changed:1"  # its caller gets what it read...
    assert await cache.get(1) == "changed:1" and source.reads == 2  # ...but it was not kept


async def test_fresh_reads_anew_and_a_failed_refresh_keeps_the_old_answer() -> None:
    source = Source()
    cache: RefreshingCache[int, str] = RefreshingCache(0.0, source.load)
    assert await cache.get(2) == "one:2"
    source.value = "two"
    assert await cache.get(2, fresh=True) == "two:2"

    async def broken(key: int) -> str:
        raise RuntimeError("database down")

    cache._load = broken
    assert await cache.get(2) == "two:2"
    await cache.close()
    assert await cache.get(2) == "two:2"  # still served; the next call tries again
