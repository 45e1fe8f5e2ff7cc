"""IDENTIFY pacing (bot/discord/identify.py): Discord's max_concurrency per five seconds, per bucket,
instead of
discord.py's five seconds before every IDENTIFY but the first."""

from __future__ import annotations

from bot.discord.identify import WINDOW, IdentifyPacer


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def pacer(clock: Clock, concurrency: int, asked: list[int] | None = None) -> IdentifyPacer:
    async def fetch() -> int:
        if asked is not None:
            asked.append(concurrency)
        return concurrency

    return IdentifyPacer(fetch, clock=clock, sleep=clock.sleep)


async def test_the_first_identify_never_waits_nor_asks_the_gateway() -> None:
    clock, asked = Clock(), []
    await pacer(clock, 1, asked).wait(0)
    assert clock.slept == [] and asked == []


async def test_shards_of_one_bucket_are_five_seconds_apart_others_go_at_once() -> None:
    clock = Clock()
    pace = pacer(clock, 16)
    for shard in range(16):  # sixteen buckets: a large bot's first sixteen shards start together
        await pace.wait(shard)
    assert clock.slept == []
    await pace.wait(16)  # bucket 0 again
    assert clock.slept == [WINDOW]

    clock = Clock()
    slow = pacer(clock, 1)
    await slow.wait(0)
    clock.now += 1.5
    await slow.wait(1)  # one bucket: the rest of the window
    assert clock.slept == [WINDOW - 1.5]


async def test_a_session_lost_long_after_its_identify_identifies_again_at_once() -> None:
    clock = Clock()
    pace = pacer(clock, 1)
    await pace.wait(0)
    clock.now += 3600
    await pace.wait(0)
    assert clock.slept == []
    await pace.wait(0)  # at once again: this one waits the whole window
    assert clock.slept == [WINDOW]


async def test_an_unreadable_limit_means_one_at_a_time() -> None:
    clock = Clock()

    async def broken() -> int:
        raise RuntimeError("gateway down")

    pace = IdentifyPacer(broken, clock=clock, sleep=clock.sleep)
    await pace.wait(0)
    await pace.wait(1)
    assert clock.slept == [WINDOW]
