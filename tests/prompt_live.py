"""A live run for docs/prompts.md: the bot itself (tests/harness.py: the real bot against the fake Discord
and the fake Claude) answers Alice in a DM and in #general on a fixed clock, with a remembered note, core
memories, facts to recall and a daily mood; the reply requests the fake Claude received are what the page
shows for those kinds, pins and recall as sent (tests/prompt_docs.py renders them).
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.core.models.base import CallUsage
from bot.core.models.sent import SentRequest
from tests.harness import CHANNEL_ID, USER_ID, Clock, Harness

AT = datetime(2026, 11, 20, 18, 30, tzinfo=UTC)
REPLY_MODEL = "claude-test-default"
FACTS = ("Alice has a cat called Miso", "Alice works night shifts at the lighthouse",
         "Alice is allergic to shellfish")
DM_LINES = ("hi finn! the gulls were loud at the lighthouse last night",
            "I'M SO TIRED!!! night shifts are the worst",
            "anyway, how is the tea stall doing?",
            "do you have anything for a sleepy keeper? not with fish in it, remember")
ANSWERS = ("Glub, gulls! They steal my biscuits too.", "Oh no. Sit, I'll put the kettle on.",
           "Busy! The crabs queued all morning for oolong.", "Glub, chamomile and kelp-free honey, then.")


async def live_requests() -> dict[str, SentRequest]:
    """The live DM reply and channel reply requests ("dm reply", "channel reply")."""
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        # feelings off: their circadian part follows the wall clock, which a page kept in git cannot
        h = Harness(db_url=f"sqlite+aiosqlite:///{tmp / 'kindred.db'}", tmp_path=tmp,
                    config={"emotions": "false"})
        await h.start()
        try:
            return await _run(h)
        finally:
            await h.close()


async def _run(h: Harness) -> dict[str, SentRequest]:
    clock = Clock(h, AT)
    store, bot = h.store, h.bot
    assert bot is not None
    key = bot.services.engine.character_key
    await store.people.ensure_user(USER_ID, "alice")
    await store.state.set("daily_mood", "Cheerful: the tide came in warm this morning.")
    await store.memories.add_core_memory(key, USER_ID, "Alice keeps the Greywick lighthouse", source="model")
    remembered = await h.slash("remember", [{"name": "memory", "type": 3,
                                             "value": "never offer me anything made of fish"}])
    await remembered.message()
    for text in FACTS:
        await store.facts.add(USER_ID, text, embedding=await bot.services.memory.embed(text),
                              said_at=AT - timedelta(days=9))
    dm = await h.dm_channel_id()
    for n, (text, answer) in enumerate(zip(DM_LINES, ANSWERS, strict=True), 1):
        clock.at = AT + timedelta(minutes=7 * n)
        h.claude.script(answer, model=REPLY_MODEL)
        await h.dm(text)
        await h.replies(dm, n)
        await h.at_rest()
    dm_request = h.claude.last_request(REPLY_MODEL)
    clock.at = AT + timedelta(hours=1)
    await h.say("finn, does Miso like the tea stall?", mention=True)
    await h.replies(CHANNEL_ID, 1)
    await h.at_rest()
    channel_request = h.claude.last_request(REPLY_MODEL)
    # the client's own record of what it sent, with the parts the layout named (the prompt inspector's)
    kept = bot.services.claude.sent.recent()
    out: dict[str, SentRequest] = {}
    live = (("dm reply", dm_request), ("channel reply", channel_request))
    for number, (kind, recorded) in enumerate(live, 1):
        match = next((r for r in kept if r.request.get("messages") == recorded.body["messages"]), None)
        parts = match.parts if match is not None else ()
        out[kind] = SentRequest(number, AT, kind, REPLY_MODEL, None, recorded.body, parts, CallUsage(), "")
    return out
