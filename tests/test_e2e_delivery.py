"""Reply delivery (issue 12) over the wire: ``whole``, ``chunked`` and ``streamed`` as the fake Discord sees
them (messages, typing, edits), with the fake Claude streaming its answer; and the fake Discord's rules for an
edit. The splitting rules themselves are unit-tested at the end."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.core.claude import Completion
from bot.core.models.base import CallUsage
from bot.reply.delivery import MIN_BURST, Delivered, Delivery, chunks, complete_sentences, paragraphs
from tests.fakes.claude_server import Reply
from tests.harness import CHANNEL_ID, USER_ID, Harness, buttons, stored_history

REPLY_MODEL = "claude-test-default"
PARAGRAPHS = [
    "The tide pools are best at dawn, when the water is still and the light comes in low. " * 3,
    "Bring shoes that can get wet. The rocks are slick with weed, and the barnacles are sharp. " * 3,
    "And leave everything where you found it! The crabs were there first, after all. " * 3,
]
LONG = "\n\n".join(p.strip() for p in PARAGRAPHS)


def edits(h: Harness) -> list[Any]:
    return [r for r in h.discord.requests if r.method == "PATCH" and "/messages/" in r.path]


async def test_whole_sends_one_message(make_harness: Any) -> None:
    h = await make_harness(reply_delivery="whole")
    h.claude.script(LONG, model=REPLY_MODEL)
    sent = await h.dm("tell me about the tide pools")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == LONG and edits(h) == []


async def test_chunked_sends_paragraphs_as_bursts_with_typing_before_each(make_harness: Any) -> None:
    h = await make_harness(reply_delivery="chunked")
    h.claude.script(LONG, model=REPLY_MODEL)
    sent = await h.dm("tell me about the tide pools")
    channel = int(sent["channel_id"])
    posted = await h.replies(channel, 3)
    assert [m["content"] for m in posted] == [p.strip() for p in PARAGRAPHS]
    typing = h.discord.typing(channel)
    for before, after in zip(posted, posted[1:], strict=False):  # the character types before each burst
        assert any(before["_at"] < t < after["_at"] for t in typing)
    stored = await stored_history(h, "dm", 2)
    assert stored.turns[1].content == LONG and stored.turns[1].discord_message_id == int(posted[-1]["id"])
    # A short answer stays one message.
    h.claude.script("Sure.\n\nSee you there.", model=REPLY_MODEL)
    await h.dm("dawn then?")
    posted = await h.replies(channel, 4)
    assert posted[-1]["content"] == "Sure.\n\nSee you there." and len(posted) == 4


async def test_streamed_posts_the_first_sentence_then_edits_to_the_full_text(make_harness: Any) -> None:
    h = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2)
    h.claude.chunk_size = 12
    h.claude.script(Reply(LONG, stream_delay=0.01), model=REPLY_MODEL)
    await h.say("tide pools?", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    await h.discord.wait_for(lambda d: d.messages[int(reply["id"])]["content"] == LONG,
                             what="the final edit")
    first = next(r for r in h.discord.requests if r.method == "POST" and r.path.endswith("/messages")
                 and r.body and "tide" in str(r.body.get("content", "")).lower())
    shown_first = first.body["content"]
    assert LONG.startswith(shown_first) and len(shown_first) < len(LONG)
    assert shown_first.endswith((".", "!"))  # a whole sentence, never half a word
    made = edits(h)
    assert made and all(r.body["content"] for r in made) and made[-1].body["content"] == LONG
    shown = [r.body["content"] for r in made]
    assert all(LONG.startswith(s) for s in shown) and shown == sorted(shown, key=len)  # it only grows
    assert h.discord.rate_limited == [] and len(h.discord.posted(CHANNEL_ID)) == 1
    stored = await stored_history(h, f"channel:{CHANNEL_ID}", 2)
    assert stored.turns[1].content == LONG
    [request] = h.claude.requests_for(REPLY_MODEL)
    assert request.stream


async def test_a_streamed_reply_gets_its_swipe_buttons_with_its_last_edit(make_harness: Any) -> None:
    """A streamed reply that stays one message shows its whole answer and its swipe buttons in the same
    last edit: no edit after it only for the buttons, which Discord's edit rate limit (five edits in five
    seconds in a channel, as the fake Discord enforces) would hold back for seconds after the words."""
    h = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2)
    h.claude.chunk_size = 12
    text = "The tide pools are best at dawn. Bring shoes that can get wet. Leave the crabs be!"
    h.claude.script(Reply(text, stream_delay=0.01), model=REPLY_MODEL)
    await h.say("tide pools?", mention=True)
    [reply] = await h.replies(CHANNEL_ID)
    await h.discord.wait_for(lambda d: buttons(d.messages[int(reply["id"])]), what="the swipe buttons")
    made = edits(h)
    whole = [r for r in made if r.body["content"] == text]
    assert len(whole) == 1 and whole[0].body.get("components")  # the words and buttons in one edit
    assert whole == made[-1:]
    await h.bot.in_flight.drain()
    assert edits(h) == made and h.discord.rate_limited == []
    assert (await stored_history(h, f"channel:{CHANNEL_ID}", 2)).turns[1].content == text


async def test_streamed_continues_in_new_messages_past_the_length_limit(make_harness: Any) -> None:
    h = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2, max_message_length=300)
    h.claude.chunk_size = 40
    h.claude.script(Reply(LONG, stream_delay=0.005), model=REPLY_MODEL)
    sent = await h.dm("tide pools?")
    channel = int(sent["channel_id"])
    await h.replies(channel, 3)

    def settled(d: Any) -> bool:
        contents = [m["content"] for m in d.posted(channel)]
        return "".join(contents).replace(" ", "").replace("\n", "") == LONG.replace(" ", "").replace("\n", "")

    await h.discord.wait_for(settled, what="the full text across messages")
    assert all(len(m["content"]) <= 300 for m in h.discord.posted(channel))
    assert h.discord.rate_limited == []


async def test_streamed_reply_that_fails_is_replaced_by_the_fallback(make_harness: Any) -> None:
    h = await make_harness(reply_delivery="streamed", stream_edit_interval=0.2, llm_timeout=2)
    h.claude.chunk_size = 30
    # Breaks off after a sentence or two (already posted), with an error not worth a retry.
    broken = Reply(LONG, stream_delay=0.05, stream_error="invalid_request_error", stream_error_after=6)
    h.claude.script(broken, model=REPLY_MODEL, times=None)
    sent = await h.dm("tide pools?")
    channel = int(sent["channel_id"])
    await h.replies(channel)
    await h.discord.wait_for(lambda d: [m["content"] for m in d.posted(channel)] == [
        h.settings().replies.fallback_reply.replace("{name}", "Finn")], what="the fallback")
    assert edits(h)  # the first sentence was out, and was replaced


async def test_streamed_through_a_characters_webhook(make_harness: Any) -> None:
    h = await make_harness(ensemble_characters="atlas", banter_chance=0, reply_delivery="streamed",
                           stream_edit_interval=0.2)
    h.claude.chunk_size = 12

    def atlas(body: dict[str, Any]) -> Reply | None:
        return Reply(LONG, stream_delay=0.01) if "You are Atlas" in str(body.get("system")) else None

    h.claude.responder = atlas
    await h.say("Atlas, tell me about the tide pools")
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["webhook_id"] and reply["author"]["username"] == "Atlas"
    await h.discord.wait_for(lambda d: d.messages[int(reply["id"])]["content"] == LONG,
                             what="the final webhook edit")
    hook_edits = [r for r in h.discord.requests if r.method == "PATCH" and r.path.startswith("/webhooks/")]
    assert hook_edits and hook_edits[-1].body["content"] == LONG


# -- the fake Discord's rules for an edit


async def test_fake_discord_edit_rules(harness: Harness) -> None:
    h = harness
    d = h.discord
    await h.say("hi", mention=True)
    [mine] = await h.replies(CHANNEL_ID)
    theirs = await h.say("not yours")
    base = f"{d.api_base}/channels/{CHANNEL_ID}/messages"
    headers = {"Authorization": "Bot fake-discord-token"}
    async with aiohttp.ClientSession(headers=headers) as http:
        async def patch(mid: Any, content: str) -> tuple[int, dict[str, Any], Any]:
            async with http.patch(f"{base}/{mid}", json={"content": content}) as r:
                return r.status, await r.json(), r.headers

        status, body, head = await patch(mine["id"], "edited")
        assert status == 200 and body["content"] == "edited" and body["edited_timestamp"]
        assert head["X-RateLimit-Limit"] == "5" and "X-RateLimit-Reset-After" in head
        assert (await patch(theirs["id"], "x"))[:2] == (
            403, {"message": "Cannot edit a message authored by another user", "code": 50005})
        assert (await patch(123, "x"))[:2] == (404, {"message": "Unknown Message", "code": 10008})
        status, body, _ = await patch(mine["id"], "x" * 2001)
        assert status == 400 and body["code"] == 50035 and "content" in body["errors"]
        async with http.post(base, json={"content": "x" * 2001}) as r:  # a new message too
            assert r.status == 400 and (await r.json())["code"] == 50035
        for _ in range(5):  # five per five seconds: the next is refused with Discord's 429
            status, body, _ = await patch(mine["id"], "again")
            if status == 429:
                break
        assert status == 429 and body["retry_after"] > 0 and d.rate_limited
    assert d.messages[int(mine["id"])]["content"] == "again"
    assert USER_ID  # the harness's user posted the other message


async def test_fake_discord_webhook_edit_rules(harness: Harness) -> None:
    d = harness.discord
    async with aiohttp.ClientSession() as http:
        async def call(method: str, path: str, body: dict[str, Any],
                       headers: dict[str, str] | None = None) -> tuple[int, Any]:
            async with http.request(method, f"{d.api_base}{path}", json=body, headers=headers) as r:
                return r.status, await r.json()

        async def made(name: str) -> Any:  # by the bot, as it makes its characters' webhooks
            status, hook = await call("POST", f"/channels/{CHANNEL_ID}/webhooks", {"name": name},
                                      {"Authorization": "Bot fake-discord-token"})
            assert status == 200, hook
            return hook

        hook, other = await made("Kindred atlas"), await made("someone else")

        status, sent = await call("POST", f"/webhooks/{hook['id']}/{hook['token']}?wait=true",
                                  {"content": "hello"})
        assert status == 200
        own = f"/webhooks/{hook['id']}/{hook['token']}/messages/{sent['id']}"
        assert (await call("PATCH", own, {"content": "hello again"}))[1]["content"] == "hello again"
        wrong = f"/webhooks/{hook['id']}/wrong/messages/{sent['id']}"
        assert (await call("PATCH", wrong, {"content": "x"})) == (404, {"message": "Unknown Webhook",
                                                                        "code": 10015})
        assert (await call("PATCH", f"/webhooks/{other['id']}/{other['token']}/messages/{sent['id']}",
                           {"content": "x"})) == (404, {"message": "Unknown Message", "code": 10008})
        status, body = await call("PATCH", own, {"content": "x" * 2001})
        assert status == 400 and body["code"] == 50035
        status, body = await call("POST", f"/webhooks/{hook['id']}/{hook['token']}?wait=true",
                                  {"content": "x" * 2001})
        assert status == 400 and body["code"] == 50035 and "content" in body["errors"]


# -- splitting rules (pure)


def test_paragraphs_keep_code_blocks_whole() -> None:
    text = "Look:\n\n```py\na = 1\n\nb = 2\n```\n\nDone."
    assert paragraphs(text) == ["Look:", "```py\na = 1\n\nb = 2\n```", "Done."]


def test_chunks_gather_short_paragraphs_and_respect_the_limit() -> None:
    assert chunks("Hi!\n\nHow are you?", 2000) == ["Hi!\n\nHow are you?"]
    long = ["x" * (MIN_BURST + 10)] * 3
    assert chunks("\n\n".join(long), 2000) == long
    huge = chunks(("word " * 100 + "\n\n") * 2, 300)
    assert all(len(c) <= 300 for c in huge) and len(huge) >= 4


@pytest.mark.parametrize(("text", "shown"), [
    ("Hello there. How are y", "Hello there."),
    ("No sentence yet", ""),
    ("*waves!* Oh hi", "*waves!*"),
    ("Line one\nline tw", "Line one"),
    ("Really?! Yes", "Really?!"),
])
def test_complete_sentences(text: str, shown: str) -> None:
    assert complete_sentences(text) == shown


# -- the delivery logic against a test outlet (no Discord)


class ListOutlet:
    """Posts into a list; ``broken_edits``: every edit fails, as when someone deleted the message."""

    def __init__(self, *, broken_edits: bool = False) -> None:
        self.sent: list[str] = []
        self.edited: list[tuple[int, str]] = []
        self.broken_edits = broken_edits

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield

    async def send(self, text: str, *, first: bool) -> int | None:
        self.sent.append(text)
        return len(self.sent)

    async def edit(self, message_id: int, text: str) -> None:
        if self.broken_edits:
            raise OSError("404 Unknown Message")
        self.edited.append((message_id, text))

    async def delete(self, message_id: int) -> None:
        raise AssertionError("nothing to delete here")


@dataclass
class Streaming:
    """A model call writing ``text`` in ``pieces`` (delivery's Writing)."""

    text: str
    pieces: int = 6
    notice: str = ""
    so_far: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    working: bool = False  # no tools here

    async def write(self, *, streamed: bool) -> Completion:
        step = len(self.text) // self.pieces + 1
        for end in range(step, len(self.text) + step, step):
            if streamed:
                self.so_far = self.text[:end]
                self.changed.set()
            await asyncio.sleep(0.01)
        return Completion(self.text, "m", CallUsage())


async def delivered(outlet: Any, mode: str, text: str) -> Delivered:
    settings = Harness(db_url="sqlite+aiosqlite:///unused.db", tmp_path=Path("."), config={
        "reply_delivery": mode, "stream_edit_interval": "0.2"}).settings()
    return await Delivery(settings, outlet, Streaming(text), lambda t: t, lambda: "fallback").run()


async def test_a_failed_edit_is_logged_and_the_reply_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    outlet = ListOutlet(broken_edits=True)
    result = await delivered(outlet, "streamed", LONG)
    assert result.ok and result.text == LONG and outlet.sent and LONG.startswith(outlet.sent[0])
    assert any("could not be updated" in r.getMessage() for r in caplog.records)


async def test_streamed_on_an_outlet_that_cannot_edit_is_chunked() -> None:
    class Plain:
        def __init__(self) -> None:
            self.sent: list[str] = []

        @contextlib.asynccontextmanager
        async def typing(self) -> AsyncIterator[None]:
            yield

        async def send(self, text: str, *, first: bool) -> int | None:
            self.sent.append(text)
            return None

    outlet = Plain()
    result = await delivered(outlet, "streamed", LONG)
    assert outlet.sent == [p.strip() for p in PARAGRAPHS] and result.parts == outlet.sent
