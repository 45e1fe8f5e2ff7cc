"""Messages without text (issue 19) over the wire: an image, a sticker, an embed or a bare mention is
answered with a prompt that says what came, is stored as that note (never as an empty turn), and a
conversation that already holds an empty turn heals without a reset. The fake Claude rejects blank
content as the real Messages API does, so an empty turn anywhere in a request would show as a fallback."""

from __future__ import annotations

from typing import Any

from bot.core.attachments import NO_TEXT
from tests.dbtools import store_raw_turns
from tests.fakes.claude_server import Recorded, content_text
from tests.harness import CHANNEL_ID, OTHER_BOT_ID, USER_ID, Harness, logged, said_in_dm, stored_history

REPLY_MODEL = "claude-test-default"


def reply_requests(h: Harness) -> list[Recorded]:
    return h.claude.requests_for(REPLY_MODEL)


def last_user_text(request: Recorded) -> str:
    messages = request.body["messages"]
    assert messages[-1]["role"] == "user"
    return content_text(messages[-1]["content"])


def assert_no_blank_content(request: Recorded) -> None:
    """What the real API checks: no message without content, no empty or whitespace-only text block."""
    assert request.status == 200, request.error_type
    for message in request.body["messages"]:
        content = message["content"]
        texts = [content] if isinstance(content, str) else [b["text"] for b in content
                                                            if b.get("type") == "text"]
        assert texts and all(t.strip() for t in texts), message
    for block in request.body.get("system") or []:
        assert block["text"].strip()


async def test_image_only_dm_is_answered_with_a_note_and_stored_as_it(harness: Harness) -> None:
    h = harness
    h.claude.script("What a fine cat!", model=REPLY_MODEL)
    sent = await h.dm("", attachments=[h.discord.attachment("cat.png", content_type="image/png")])
    channel = int(sent["channel_id"])
    [reply] = await h.replies(channel)
    assert reply["content"] == "What a fine cat!"  # not the fallback
    [request] = reply_requests(h)
    assert said_in_dm(request.body) == "[image: cat.png]"
    assert_no_blank_content(request)
    stored = await stored_history(h, "dm", 2)
    assert [(t.role, t.content) for t in stored.turns] == [("user", "[image: cat.png]"),
                                                           ("assistant", "What a fine cat!")]
    # the short-term log (channel context, consolidation) too
    assert (await logged(h, channel, int(sent["id"]))).content == "[image: cat.png]"

    # The next message carries that turn in its history, and Claude accepts it.
    h.claude.script("Yes, very fluffy.", model=REPLY_MODEL)
    await h.dm("isn't she fluffy?")
    await h.replies(channel, 2)
    second = reply_requests(h)[-1]
    assert_no_blank_content(second)
    # the first turn, after the conversation's cached opening (where, and who: bot/reply/prompting.py),
    # with when it was written (bot/reply/transcript.py)
    assert content_text(second.body["messages"][0]["content"][1:]).endswith("] [image: cat.png]")


async def test_files_by_kind_and_text_beside_them(harness: Harness) -> None:
    h = harness
    files = [h.discord.attachment("voice-message.ogg", content_type="audio/ogg"),
             h.discord.attachment("IMG_0042.JPG"),  # no content type: told by the extension
             h.discord.attachment("notes.pdf", content_type="application/pdf")]
    sent = await h.dm("  look at these  ", attachments=files)
    await h.replies(int(sent["channel_id"]))
    expected = "look at these [audio: voice-message.ogg] [image: IMG_0042.JPG] [file: notes.pdf]"
    # What could not be opened is noted after the message (tests/test_e2e_media.py covers it).
    [request] = reply_requests(h)
    assert said_in_dm(request.body) == expected
    assert last_user_text(request).endswith("[Attachments you could not open, and have already said so: "
                                            "voice-message.ogg (an audio file it cannot open), notes.pdf "
                                            "(a file it cannot open)]")
    assert (await stored_history(h, "dm", 2)).turns[0].content == expected


async def test_sticker_only_dm(harness: Harness) -> None:
    h = harness
    sent = await h.dm("", stickers=[h.discord.sticker("wave")])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == h.claude.default_text
    [request] = reply_requests(h)
    assert said_in_dm(request.body) == "[sticker: wave]"
    assert_no_blank_content(request)
    assert (await stored_history(h, "dm", 2)).turns[0].content == "[sticker: wave]"


async def test_a_forward_is_answered_with_what_it_forwarded(harness: Harness) -> None:
    h = harness
    forward = h.discord.forward("meet me at the pier", attachments=[h.discord.attachment("map.png")])
    sent = await h.dm("", forwarded=forward)
    await h.replies(int(sent["channel_id"]))
    [request] = reply_requests(h)
    note = "[forwarded message: meet me at the pier] [image: map.png]"
    assert said_in_dm(request.body) == note
    assert (await stored_history(h, "dm", 2)).turns[0].content == note


async def test_embed_only_reply_from_another_bot(harness: Harness) -> None:
    h = harness
    await h.say("anything new?", mention=True)
    [mine] = await h.replies(CHANNEL_ID)
    h.claude.script("Patch notes, how exciting.", model=REPLY_MODEL)
    # Bots post embeds with no text; this one answers the character's message (so it is addressed).
    await h.discord.user_message(CHANNEL_ID, OTHER_BOT_ID, "", reply_to=int(mine["id"]), embeds=[
        {"type": "rich", "title": "Patch notes 1.2", "description": "Fixed the tides."},
        {"type": "link", "url": "https://example.com/tides"}])
    await h.replies(CHANNEL_ID, 2)
    request = reply_requests(h)[-1]
    assert last_user_text(request).endswith("otherbot, replying to you: [embed: Patch notes 1.2] [link]")
    assert_no_blank_content(request)
    stored = await stored_history(h, f"channel:{CHANNEL_ID}", 2, user=OTHER_BOT_ID)
    assert [t.content for t in stored.turns] == ["[embed: Patch notes 1.2] [link]",
                                                 "Patch notes, how exciting."]


async def test_a_bare_mention_and_a_mention_with_an_image_in_a_channel(harness: Harness) -> None:
    h = harness
    scope = f"channel:{CHANNEL_ID}"
    await h.say("", mention=True)  # the message is "<@bot>" and nothing else
    await h.replies(CHANNEL_ID)
    first = reply_requests(h)[0]
    assert last_user_text(first).endswith("alice: @Finn")
    assert_no_blank_content(first)
    assert (await stored_history(h, scope, 2)).turns[0].content == "@Finn"

    await h.say("", mention=True, attachments=[h.discord.attachment("cat.gif", content_type="image/gif")])
    await h.replies(CHANNEL_ID, 2)
    second = reply_requests(h)[-1]
    assert last_user_text(second).endswith("alice: @Finn [image: cat.gif]")
    assert_no_blank_content(second)
    assert (await stored_history(h, scope, 4)).turns[2].content == "@Finn [image: cat.gif]"


async def test_unaddressed_image_is_logged_with_its_note_and_asks_no_vote(harness: Harness) -> None:
    h = harness
    sent = await h.say("", attachments=[h.discord.attachment("meme.webp", content_type="image/webp")])
    assert (await logged(h, CHANNEL_ID, int(sent["id"]))).content == "[image: meme.webp]"
    await h.settled()  # every event read and handled: what did not happen, will not
    # No text of its own: no vote is asked (as before), so an image stream costs no Claude calls.
    assert h.claude.requests == [] and h.discord.posted(CHANNEL_ID) == []


async def test_a_conversation_with_empty_turns_stored_heals_without_a_reset(harness: Harness) -> None:
    h = harness
    assert h.bot is not None
    key = h.bot.services.pipeline.character_key
    # As an older version left it: an empty user turn (an image-only DM) whose answer failed, more messages
    # after it, and an answer since edited to nothing.
    await h.store.people.ensure_user(USER_ID, "alice")
    await store_raw_turns(h.store, key, USER_ID, "dm", [
        ("user", ""), ("user", "hello?"), ("assistant", "Oh! Hello."), ("user", "  \n "), ("assistant", "")])
    h.claude.script("Glad you're still here.", model=REPLY_MODEL)
    sent = await h.dm("are you still there?")
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == "Glad you're still here."  # a real answer, not the fallback
    [request] = reply_requests(h)
    assert_no_blank_content(request)
    messages: list[dict[str, Any]] = request.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert content_text(messages[0]["content"][1:]) == f"{NO_TEXT}\n\nhello?"  # after the opening block
    assert content_text(messages[1]["content"]) == "Oh! Hello."
    assert content_text(messages[2]["content"]).startswith(f"{NO_TEXT}\n\n")  # the blank turn, repaired
    assert said_in_dm(request.body) == "are you still there?"
    stored = await stored_history(h, "dm", 7)
    assert [t.content for t in stored.turns[-2:]] == ["are you still there?", "Glad you're still here."]


async def test_a_blank_answer_is_neither_posted_nor_stored(harness: Harness) -> None:
    h = harness
    h.claude.script(" \n ", model=REPLY_MODEL)
    sent = await h.dm("say nothing")
    channel = int(sent["channel_id"])
    [fallback] = await h.replies(channel)
    assert "lost in thought" in fallback["content"]
    h.claude.script("Sorry, I drifted off.", model=REPLY_MODEL)
    await h.dm("hello?")
    await h.replies(channel, 2)
    request = reply_requests(h)[-1]
    assert_no_blank_content(request)  # the blank answer never reached the history
    assert [t.role for t in (await stored_history(h, "dm", 3)).turns] == ["user", "user", "assistant"]
