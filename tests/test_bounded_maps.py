"""Maps kept per person do not grow forever (issue 26, item 7): the reply engine's per-conversation locks
live only while in use (KeyedLocks), and the log's cache of recently upserted authors keeps a bounded number.
"""

from __future__ import annotations

import asyncio

import pytest

import database.log
from bot.core.keyed import KeyedLocks
from database.store import Store
from tests.harness import CHANNEL_ID, Harness
from tests.memory_support import seen


async def test_keyed_locks_exclude_per_key_and_keep_only_keys_in_use() -> None:
    locks: KeyedLocks[int] = KeyedLocks()
    inside: list[str] = []
    entered = {name: asyncio.Event() for name in ("first", "second", "other")}
    release = asyncio.Event()

    async def hold(name: str, key: int) -> None:
        async with locks(key):
            inside.append(name)
            entered[name].set()
            await release.wait()
            inside.remove(name)

    first = asyncio.create_task(hold("first", 1))
    await entered["first"].wait()
    second = asyncio.create_task(hold("second", 1))  # the same key: waits for the first
    other = asyncio.create_task(hold("other", 2))  # another key: gets in at once
    await entered["other"].wait()
    assert inside == ["first", "other"] and len(locks) == 2  # the second waits, its entry shared
    release.set()
    await asyncio.gather(first, second, other)
    assert entered["second"].is_set() and inside == [] and len(locks) == 0  # nothing kept once unused
    for key in range(1000):
        async with locks(key):
            pass
    assert len(locks) == 0


async def test_a_failure_inside_still_frees_the_key() -> None:
    locks: KeyedLocks[str] = KeyedLocks()
    with pytest.raises(RuntimeError):
        async with locks("a"):
            raise RuntimeError("boom")
    assert len(locks) == 0
    async with locks("a"):  # and it can be taken again
        assert len(locks) == 1


async def test_the_engine_keeps_no_lock_per_person_after_answering(harness: Harness) -> None:
    h = harness
    people = [900_000_000_000_000_700 + i for i in range(5)]
    for n, person in enumerate(people, start=1):
        h.discord.add_user(person, f"person{n}")
        h.discord.add_member(h.guild_id, person)
        await h.say(f"hello Finn, I am person {n}", user=person, mention=True)
        await h.replies(CHANNEL_ID, n)
    await h.bot.get_cog("Events").drain()  # type: ignore[union-attr]
    assert len(h.bot.engine._locks) == 0


async def test_the_log_remembers_a_bounded_number_of_recent_authors(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(database.log, "RECENT_AUTHORS", 10)
    for author in range(1, 51):
        await store.log.log_message(seen(author * 10, author, f"message from {author}"))
    await store.log.flush()
    assert len(store.log._recent_authors) == 10
    assert list(store.log._recent_authors) == list(range(41, 51))  # the most recent kept
