"""Maps kept per person do not grow forever (issue 26, item 7): the reply writer's per-conversation locks
live only while in use (KeyedLocks), and the log's cache of recently upserted authors keeps a bounded number.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import pytest
from sqlalchemy import select, update

import database.conversations
import database.log
import database.privacy
from bot.core.keyed import KeyedLocks
from bot.core.tokens import counted
from database.models import User
from database.records import Turn
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


async def test_the_writer_keeps_no_lock_per_person_after_answering(harness: Harness) -> None:
    h = harness
    people = [900_000_000_000_000_700 + i for i in range(5)]
    for n, person in enumerate(people, start=1):
        h.discord.add_user(person, f"person{n}")
        h.discord.add_member(h.guild_id, person)
        await h.say(f"hello Finn, I am person {n}", user=person, mention=True)
        await h.replies(CHANNEL_ID, n)
    await h.bot.in_flight.drain()
    assert len(h.bot.services.conversation_locks) == 0


async def test_the_log_remembers_a_bounded_number_of_recent_authors(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """An author remembered as upserted lately has their next message written without the upsert: their
    users row, renamed past the store, keeps that name; a forgotten one's is written again."""
    monkeypatch.setattr(database.log, "RECENT_AUTHORS", 10)
    for author in range(1, 51):
        await store.log.log_message(seen(author * 10, author, f"message from {author}"))
    await store.log.flush()
    async with store.engine.begin() as conn:
        await conn.execute(update(User).values(name="renamed"))
    # The remembered first (a message of theirs upserts nothing, so it moves nothing in the cache), then the
    # others, the latest first (one remembered past the bound would be the 40th).
    for author in [*range(41, 51), *range(40, 0, -1)]:
        await store.log.log_message(seen(author * 10 + 1, author, "again"))
    names = {int(r.id): r.name for r in await store.db.rows(select(User.id, User.name))}
    assert [a for a in range(1, 51) if names[a] == "renamed"] == list(range(41, 51))  # the most recent kept
    assert all(names[a] == f"user{a}" for a in range(1, 41))


async def test_the_conversations_appends_map_is_bounded_and_its_stamps_stay_true(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 49, item 8: an entry per conversation ever answered is no longer kept; a stamp taken before a
    conversation's entry was dropped still differs from one taken after its next append. A conversation
    whose entry was dropped stamps as the newest append forgotten; a kept one, as its own."""
    monkeypatch.setattr(database.conversations, "APPENDS_KEPT", 10)
    conversations = store.conversations

    def stamps(users: Iterable[int]) -> list[tuple[int, int]]:
        return [conversations.history_stamp("finn", u, "dm") for u in users]

    first = conversations.history_stamp("finn", 1, "dm")
    for user in range(1, 51):
        await store.people.ensure_user(user, f"user{user}")
        await conversations.append_turns("finn", user, "dm", [counted(Turn("user", "hi"))])
    dropped = set(stamps(range(1, 41)))
    kept = stamps(range(41, 51))
    assert len(dropped) == 1 and len(set(kept)) == 10 and not dropped & set(kept)  # the latest 10 kept
    (dropped_stamp,) = dropped
    assert dropped_stamp != first  # user 1 was appended to since ``first``, then dropped: never mistaken
    await conversations.append_turns("finn", 1, "dm", [counted(Turn("user", "again"))])
    assert conversations.history_stamp("finn", 1, "dm") not in (first, dropped_stamp)
    # Still 10 kept: user 1's entry in, the oldest (41's) out, with the others dropped before.
    dropped = set(stamps([*range(2, 42)]))
    kept = stamps([1, *range(42, 51)])
    assert len(dropped) == 1 and len(set(kept)) == 10 and not dropped & set(kept)


async def test_the_privacy_marks_and_forgets_are_bounded(store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The marks of messages in flight and the people forgotten lately (issue 49, item 1) keep the latest;
    someone forgotten longer ago than is kept still counts as forgotten for a reply seen before."""
    monkeypatch.setattr(database.privacy, "MARKS_KEPT", 10)
    monkeypatch.setattr(database.privacy, "FORGETS_KEPT", 3)
    privacy = store.privacy
    for message in range(50):
        privacy.seen(message)
    early = privacy.mark()
    for user in range(1, 6):
        await privacy.delete_user_data(user)
    # A message's mark kept reads as when it was seen; one no longer kept, as now (five forgets later).
    assert [m for m in range(50) if privacy.mark_of(m) == early] == list(range(40, 50))
    assert all(privacy.mark_of(m) == privacy.mark() != early for m in range(40))
    assert [u for u in range(1, 6) if privacy.forgotten_at(u) is not None] == [3, 4, 5]
    assert privacy.forgotten_since(1, early) and privacy.forgotten_since(5, early)
    assert not privacy.forgotten_since(9, privacy.mark()) and not privacy.forgotten_since(1, privacy.mark())
