"""Maps kept per person do not grow forever (issue 26, item 7): the reply engine's per-conversation locks
live only while in use (KeyedLocks), and the log's cache of recently upserted authors keeps a bounded number.
"""

from __future__ import annotations

import asyncio

import pytest

import database.conversations
import database.log
import database.privacy
from bot.core.keyed import KeyedLocks
from bot.core.tokens import counted
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


async def test_the_engine_keeps_no_lock_per_person_after_answering(harness: Harness) -> None:
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
    monkeypatch.setattr(database.log, "RECENT_AUTHORS", 10)
    for author in range(1, 51):
        await store.log.log_message(seen(author * 10, author, f"message from {author}"))
    await store.log.flush()
    assert len(store.log._recent_authors) == 10
    assert list(store.log._recent_authors) == list(range(41, 51))  # the most recent kept


async def test_the_conversations_appends_map_is_bounded_and_its_stamps_stay_true(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 49, item 8: an entry per conversation ever answered is no longer kept; a stamp taken before a
    conversation's entry was dropped still differs from one taken after its next append."""
    monkeypatch.setattr(database.conversations, "APPENDS_KEPT", 10)
    conversations = store.conversations
    first = conversations.history_stamp("finn", 1, "dm")
    for user in range(1, 51):
        await store.people.ensure_user(user, f"user{user}")
        await conversations.append_turns("finn", user, "dm", [counted(Turn("user", "hi"))])
    assert len(conversations._appends) == 10
    assert list(conversations._appends) == [("finn", u, "dm") for u in range(41, 51)]  # the latest kept
    dropped = conversations.history_stamp("finn", 1, "dm")
    assert dropped != first  # user 1 was appended to since ``first``, then dropped: never mistaken
    await conversations.append_turns("finn", 1, "dm", [counted(Turn("user", "again"))])
    assert conversations.history_stamp("finn", 1, "dm") not in (first, dropped)
    assert len(conversations._appends) == 10


async def test_the_privacy_marks_and_forgets_are_bounded(store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The marks of messages in flight and the people forgotten lately (issue 49, item 1) keep the latest;
    someone forgotten longer ago than is kept still counts as forgotten for a reply seen before."""
    monkeypatch.setattr(database.privacy, "MARKS_KEPT", 10)
    monkeypatch.setattr(database.privacy, "FORGETS_KEPT", 3)
    privacy = store.privacy
    for message in range(50):
        privacy.seen(message)
    assert len(privacy._marks) == 10 and list(privacy._marks) == list(range(40, 50))
    early = privacy.mark()
    for user in range(1, 6):
        await privacy.delete_user_data(user)
    assert list(privacy._forgotten) == [3, 4, 5]
    assert privacy.forgotten_since(1, early) and privacy.forgotten_since(5, early)
    assert not privacy.forgotten_since(9, privacy.mark()) and not privacy.forgotten_since(1, privacy.mark())
