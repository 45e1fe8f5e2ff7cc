"""A crash between two parts of a chunked reply (issue 49, item 6): the parts are recorded before the first
goes out, and how many went out after each; the restart sends the rest, from the first part not posted,
without asking Claude again, and never a part twice (the resumed parts carry their own nonces)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.discord.posting import reply_nonce
from tests.fakes import EVENT_WAIT
from tests.harness import CHANNEL_ID, USER_ID, Harness

PARAGRAPHS = [f"Part {n}: " + " ".join(f"kelp{n}-{i}" for i in range(30)) + "." for n in (1, 2, 3)]
ANSWER = "\n\n".join(PARAGRAPHS)


@pytest.mark.parametrize("where", ["channel", "dm"])
async def test_a_crash_between_two_parts_sends_the_rest_once(db_url: str, tmp_path: Path, where: str) -> None:
    h = Harness(db_url=db_url, tmp_path=tmp_path, config={"reply_delivery": "chunked",
                                                          "shutdown_grace_seconds": "0.2"})
    await h.start()
    try:
        key = h.bot.services.pipeline.character_key
        h.claude.script(ANSWER, model="claude-test-default")
        h.discord.stall_posts(after=1)  # the first part is answered; the second is created, its answer held
        sent = await (h.dm("tell me everything") if where == "dm" else h.say("tell me everything",
                                                                             mention=True))
        channel = int(sent["channel_id"])
        await h.discord.wait_for(lambda d: d.stalled_posts == 1, timeout=EVENT_WAIT, what="the second part")
        [owed] = await h.store.owed.pending(key)
        assert owed.parts == tuple(PARAGRAPHS) and owed.delivered == 1
        await h.stop_bot()  # the crash: the reply is cut short between its second and third parts
        h.discord.release_posts()
        assert [m["content"] for m in h.discord.posted(channel) if m["author"].get("bot")] == PARAGRAPHS[:2]

        await h.start_bot()
        await h.discord.wait_for(lambda d: len([m for m in d.posted(channel) if m["author"].get("bot")]) == 3,
                                 timeout=EVENT_WAIT, what="the rest of the reply")
        await h.settled()
        await h.bot.in_flight.drain()
        posts = [m for m in h.discord.posted(channel) if m["author"].get("bot")]
        assert [m["content"] for m in posts] == PARAGRAPHS  # each part once, in order
        assert h.discord.duplicate_nonces == [reply_nonce(int(sent["id"]), 1)]  # the second, re-sent
        assert len(h.claude.requests_for("claude-test-default")) == 1  # not written again
        assert await h.store.owed.pending(key) == []
        history = await h.store.conversations.history(key, USER_ID, "dm" if where == "dm"
                                                      else f"channel:{CHANNEL_ID}")
        assert [t.content for t in history.turns][-1] == ANSWER
    finally:
        await h.close()


async def test_a_resumed_reply_after_a_greeting_sends_the_rest_of_the_answer(db_url: str,
                                                                            tmp_path: Path) -> None:
    """A first DM: the greeting, then the answer in parts, cut short after its first part. The resumed parts
    carry the answer's own part numbers in their nonces, not numbers shifted by the greeting posted first."""
    from tests.test_greetings import lumen_folder

    h = Harness(db_url=db_url, tmp_path=tmp_path, character_dir=lumen_folder(tmp_path),
                config={"reply_delivery": "chunked", "shutdown_grace_seconds": "0.2", "greetings": "true"})
    await h.start()
    try:
        h.claude.script(ANSWER, model="claude-test-default")
        h.discord.stall_posts(after=2)  # the greeting and the first part answered, the second held
        sent = await h.dm("tell me everything")
        channel = int(sent["channel_id"])
        await h.discord.wait_for(lambda d: d.stalled_posts == 1, timeout=EVENT_WAIT, what="the second part")
        await h.stop_bot()
        h.discord.release_posts()
        [greeting, *answered] = [m["content"] for m in h.discord.posted(channel) if m["author"].get("bot")]
        assert answered == PARAGRAPHS[:2]

        await h.start_bot()
        await h.discord.wait_for(lambda d: len([m for m in d.posted(channel) if m["author"].get("bot")]) == 4,
                                 timeout=EVENT_WAIT, what="the rest of the reply")
        await h.settled()
        await h.bot.in_flight.drain()
        posts = [m["content"] for m in h.discord.posted(channel) if m["author"].get("bot")]
        assert posts == [greeting, *PARAGRAPHS]
        assert h.discord.duplicate_nonces == [reply_nonce(int(sent["id"]), 1)]  # the second part, re-sent
        assert await h.store.owed.pending(h.bot.services.pipeline.character_key) == []
    finally:
        await h.close()
