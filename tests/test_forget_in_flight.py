"""/forget_me while the person's own reply is being written (issue 49, item 1): the reply still reaches
them, but nothing of that exchange outlives the deletion (its history, its usage row, the character's answer
in their DMs), and nothing of it comes back when they write again."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import String, Text, or_, select

import database.store  # noqa: F401  (imports every model module: the whole schema is on Base)
from bot.core.tokens import counted
from database.models import Base
from database.records import Turn
from database.store import Store
from tests.fakes.claude_server import Reply
from tests.harness import CHANNEL_ID, USER_ID, Harness, check, eventually
from tests.test_memory_commands import forget

SECRET = "PINEAPPLE-42"


async def tables_saying(h: Harness, text: str) -> dict[str, int]:
    """Rows of every table with ``text`` in any of their text columns, per table (none: {})."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        columns = [c for c in table.c if isinstance(c.type, String | Text)]
        if columns:
            rows = await h.store.db.rows(select(*table.c).where(or_(*(c.contains(text) for c in columns))))
            if rows:
                found[table.name] = len(rows)
    return found


async def test_forget_me_while_their_dm_reply_is_in_flight(harness: Harness) -> None:
    h = harness
    held = asyncio.Event()
    h.claude.script(Reply(f"{SECRET} is safe with me.", held=held), model="claude-test-default")
    await h.dm(f"my secret is {SECRET}")
    dm = await h.dm_channel_id()
    await h.claude.wait_for_requests(1, model="claude-test-default")
    await forget(h)
    held.set()
    [reply] = await h.replies(dm, 1)
    assert SECRET in reply["content"]  # answered all the same
    await h.at_rest()
    # Nothing about them, the character's answer in their DMs included (its usage row, its history).
    assert await h.store.privacy.rows_about_user(USER_ID, [dm]) == {}
    assert await tables_saying(h, SECRET) == {}

    # Writing again starts from nothing: the exchange from before the deletion does not come back.
    await h.dm("hello again")
    await h.replies(dm, 2)
    await h.at_rest()
    assert await tables_saying(h, SECRET) == {}
    assert SECRET not in h.claude.all_text(h.claude.last_request("claude-test-default"))


async def test_forget_me_while_their_channel_reply_is_in_flight(harness: Harness) -> None:
    h = harness
    held = asyncio.Event()
    h.claude.script(Reply("Noted, I will keep it.", held=held), model="claude-test-default")
    await h.say(f"my secret is {SECRET}", mention=True)
    await h.claude.wait_for_requests(1, model="claude-test-default")
    await forget(h)
    held.set()
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    assert await h.store.privacy.rows_about_user(USER_ID) == {}
    assert await tables_saying(h, SECRET) == {}

    await h.say("hello again", mention=True)
    await h.replies(CHANNEL_ID, 2)
    await h.at_rest()
    assert await tables_saying(h, SECRET) == {}
    assert SECRET not in h.claude.all_text(h.claude.last_request("claude-test-default"))
    rows: Any = await h.store.conversations.history(h.bot.services.pipeline.character_key, USER_ID,
                                                    f"channel:{CHANNEL_ID}")
    assert [t.content for t in rows.turns][-1] != "Noted, I will keep it."


async def test_a_forget_while_an_exchange_is_stored_waits_for_it_then_deletes_it(store: Store) -> None:
    """The other order: the exchange was being stored (its author not forgotten yet) when /forget_me came.
    The deletion waits for it, then takes it with the rest; a reply seen before the forget and stored
    after it stores nothing."""
    await store.people.ensure_user(5, "alice")
    mark = store.privacy.mark()
    entered, release = asyncio.Event(), asyncio.Event()

    async def storing() -> None:
        async with store.privacy.storing(5, mark) as keep:
            assert keep
            entered.set()
            await release.wait()
            await store.conversations.append_turns("finn", 5, "dm", [counted(Turn("user", SECRET))])

    reply = asyncio.create_task(storing())
    await entered.wait()
    forgetting = asyncio.create_task(store.privacy.delete_user_data(5))
    # The forget has begun (it marks its person first thing) while the exchange is still being stored;
    # when it ends, the exchange must be over: it waited for it.
    await eventually(check(lambda: store.privacy.forgotten_since(5, mark)), "the forget to begin")
    reply_over_when_forgotten: list[bool] = []
    forgetting.add_done_callback(lambda _: reply_over_when_forgotten.append(reply.done()))
    release.set()
    await reply
    await forgetting
    await eventually(check(lambda: reply_over_when_forgotten), "the forget's done callback")
    assert reply_over_when_forgotten == [True]
    assert await store.privacy.rows_about_user(5) == {}
    async with store.privacy.storing(5, mark) as keep:
        assert keep is False
