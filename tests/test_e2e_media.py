"""Images and files over the wire (issue 12): the fake Discord serves the attachment bytes from its CDN, the
real discord.py downloads them, the real anthropic SDK sends them, and the fake Claude checks each image block
as the Messages API does (base64, one of four media types matching the bytes, size). The history keeps the
placeholder, never the bytes. Malformed attachments get one clear line, and the message is still logged and
answered."""

from __future__ import annotations

import base64
import logging
import zlib
from typing import Any

import pytest

from bot.core.tokens import count_tokens
from tests.fakes.claude_server import Recorded, content_text, image_problem
from tests.fakes.discord_cdn import SAMPLES, png_bytes
from tests.harness import CHANNEL_ID, Harness, logged, said_in_dm, stored_history
from tests.test_e2e_empty_turns import REPLY_MODEL, reply_requests

PNG = (SAMPLES / "python.png").read_bytes()
JPEG = (SAMPLES / "python.jpg").read_bytes()
LINE = "*Finn squints at {file}.* I can't open that one here, sorry."


def images_in(request: Recorded) -> list[dict[str, Any]]:
    return [b for m in request.body["messages"] if isinstance(m["content"], list)
            for b in m["content"] if b.get("type") == "image"]


async def test_an_image_reaches_claude_as_a_valid_image_block_and_the_history_keeps_a_placeholder(
        harness: Harness) -> None:
    h = harness
    cat = h.discord.attachment("cat.png", content_type="image/png", data=PNG)
    photo = h.discord.attachment("photo.png", content_type="image/png", data=JPEG)  # a JPEG, misnamed
    h.claude.script("What a fine cat!", model=REPLY_MODEL)
    sent = await h.dm("look at her", attachments=[cat, photo])
    channel = int(sent["channel_id"])
    [reply] = await h.replies(channel)
    assert reply["content"] == "What a fine cat!"
    [request] = reply_requests(h)
    assert request.status == 200  # the fake Claude accepted both image blocks
    blocks = images_in(request)
    assert [b["source"]["media_type"] for b in blocks] == ["image/png", "image/jpeg"]
    assert [base64.b64decode(b["source"]["data"]) for b in blocks] == [PNG, JPEG]
    assert sorted(h.discord.cdn_requests) == sorted([int(cat["id"]), int(photo["id"])])
    assert said_in_dm(request.body) == "look at her [image: cat.png] [image: photo.png]"

    stored = await stored_history(h, "dm", 2)
    assert stored.turns[0].content == "look at her [image: cat.png] [image: photo.png]"
    assert (await logged(h, channel, int(sent["id"]))).content == stored.turns[0].content

    # The next prompt carries the placeholder, never the bytes.
    await h.dm("isn't she fluffy?")
    await h.replies(channel, 2)
    later = reply_requests(h)[-1]
    assert images_in(later) == [] and base64.b64encode(PNG).decode()[:200] not in str(later.body)
    first_turn = content_text(later.body["messages"][0]["content"])
    assert "look at her [image: cat.png] [image: photo.png]" in first_turn


async def test_an_image_in_a_channel_with_a_mention(harness: Harness) -> None:
    h = harness
    await h.say("what is this?", mention=True,
                attachments=[h.discord.attachment("meme.webp", content_type="image/webp")])
    await h.replies(CHANNEL_ID)
    [request] = reply_requests(h)
    assert [b["source"]["media_type"] for b in images_in(request)] == ["image/webp"]
    stored = await stored_history(h, f"channel:{CHANNEL_ID}", 2)
    assert stored.turns[0].content.endswith("what is this? [image: meme.webp]")


async def test_a_text_file_arrives_as_a_fenced_block(harness: Harness) -> None:
    h = harness
    code = "def tide(n):\n    return n * 2\n"
    source = h.discord.attachment("tide.py", content_type="text/x-python; charset=utf-8", data=code.encode())
    sent = await h.dm("can you check this?", attachments=[source])
    await h.replies(int(sent["channel_id"]))
    [request] = reply_requests(h)
    text = content_text(request.body["messages"][-1]["content"])
    assert said_in_dm(request.body) == "can you check this? [file: tide.py]"
    assert text.endswith(f"\n\n[Contents of tide.py]\n```py\n{code}\n```")  # in the turn, after the message
    assert images_in(request) == []
    stored = await stored_history(h, "dm", 2)
    assert stored.turns[0].content == "can you check this? [file: tide.py]"  # not the file itself


async def test_a_long_text_file_is_cut_with_a_note(make_harness: Any) -> None:
    h = await make_harness(max_attachment_chars=100)
    sent = await h.dm("", attachments=[h.discord.attachment("log.txt", data=("x" * 99 + "\n") * 30)])
    await h.replies(int(sent["channel_id"]))
    text = content_text(reply_requests(h)[0].body["messages"][-1]["content"])
    assert "```\n" + "x" * 99 + "\n\n```" in text
    assert "[log.txt is cut here: the first 100 of its 3,000 characters are shown]" in text


async def test_malformed_attachments_get_one_clear_line_and_the_message_is_still_answered(
        make_harness: Any, caplog: pytest.LogCaptureFixture) -> None:
    h = await make_harness(unreadable_attachment_line=LINE.replace("Finn", "{name}"))
    caplog.set_level(logging.INFO, logger="bot.reply.media")
    d = h.discord
    liar = d.attachment("cat.png", content_type="image/png", data=b"I am not a picture, just text.\n")
    cut = d.attachment("beach.jpg", content_type="image/jpeg", data=JPEG[: len(JPEG) // 2])
    huge = d.attachment("movie-night.png", content_type="image/png", size=100 * 1024 * 1024, data=PNG)
    good = d.attachment("dog.gif", content_type="image/gif")
    h.claude.script("Cute dog!", model=REPLY_MODEL)
    sent = await h.say("pics from the weekend", mention=True, attachments=[liar, cut, huge, good])
    [reply] = await h.replies(CHANNEL_ID)
    assert reply["content"] == LINE.format(file="cat.png, beach.jpg and movie-night.png") + "\n\nCute dog!"
    [request] = reply_requests(h)
    assert request.status == 200 and [b["source"]["media_type"] for b in images_in(request)] == ["image/gif"]
    text = content_text(request.body["messages"][-1]["content"])
    assert "[Attachments you could not open, and have already said so: cat.png (not a picture" in text
    assert "beach.jpg (the picture is cut short)" in text and "movie-night.png (too large: 104.9 MB)" in text
    assert int(huge["id"]) not in d.cdn_requests  # refused by its declared size, before reading
    note = ("pics from the weekend [image: cat.png] [image: beach.jpg] [image: movie-night.png] "
            "[image: dog.gif]")
    assert (await logged(h, CHANNEL_ID, int(sent["id"]))).content.endswith(note)
    stored = await stored_history(h, f"channel:{CHANNEL_ID}", 2)
    assert stored.turns[0].content.endswith(note) and stored.turns[1].content == reply["content"]
    assert any("movie-night.png not shown to Claude: too large" in r.getMessage() for r in caplog.records)


async def test_a_failed_download_is_logged_and_the_reply_goes_on(harness: Harness,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    h = harness
    caplog.set_level(logging.WARNING, logger="bot.reply.media")
    gone = h.discord.attachment("gone.png", content_type="image/png")
    h.discord.forget_file(gone)  # the CDN answers 404
    h.claude.script("Hm, anyway: hello!", model=REPLY_MODEL)
    sent = await h.dm("did you see it?", attachments=[gone])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"].endswith("Hm, anyway: hello!") and "gone.png" in reply["content"]
    assert any("gone.png could not be downloaded" in r.getMessage() for r in caplog.records)
    assert images_in(reply_requests(h)[0]) == []


async def test_an_image_claude_would_refuse_is_named_and_the_rest_of_the_message_kept(
        make_harness: Any) -> None:
    """Issue 49 item 11: a picture over 8,000 px a side, or whose header does not parse, is refused by the
    Messages API with a 400 for the whole request (the fake Claude does the same). It is named in the
    in-character line instead, and the good picture and the text beside it still reach Claude."""
    h = await make_harness(unreadable_attachment_line=LINE.replace("Finn", "{name}"))
    d = h.discord
    gif = bytearray((SAMPLES / "python.gif").read_bytes())
    gif[6:8] = (9000).to_bytes(2, "little")  # the logical screen's width
    wide = d.attachment("banner.gif", content_type="image/gif", data=bytes(gif))
    tall = d.attachment("scroll.png", content_type="image/png", data=png_bytes(1, 8001))
    headless = d.attachment("odd.png", content_type="image/png",
                            data=b"\x89PNG\r\n\x1a\nnot a header" + png_bytes()[-12:])
    good = d.attachment("beach.jpg", content_type="image/jpeg", data=JPEG)
    h.claude.script("Lovely beach!", model=REPLY_MODEL)
    sent = await h.dm("holiday pics", attachments=[wide, good, tall, headless])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == LINE.format(file="banner.gif, scroll.png and odd.png") + "\n\nLovely beach!"
    [request] = reply_requests(h)
    assert request.status == 200
    assert [base64.b64decode(b["source"]["data"]) for b in images_in(request)] == [JPEG]
    text = content_text(request.body["messages"][-1]["content"])
    assert said_in_dm(request.body).startswith("holiday pics [image: banner.gif] [image: beach.jpg]")
    assert "banner.gif (too big a picture: 9,000 × 16 pixels)" in text
    assert "scroll.png (too big a picture: 1 × 8,001 pixels)" in text
    assert "odd.png (the picture's header is broken)" in text


async def test_one_messages_text_files_share_a_token_budget_and_the_character_says_what_was_left(
        harness: Harness) -> None:
    """Issue 49 item 12: ten text files of 20,000 characters (about 50,000 tokens) would all go into one
    request; max_attachment_tokens (12,000 by default) bounds them, and the character names what it left."""
    h = harness
    body = "\n".join(f"line {i}: the tide came in over the kelp beds again" for i in range(400))[:20_000]
    files = [h.discord.attachment(f"notes{i}.txt", content_type="text/plain", data=body.encode())
             for i in range(1, 11)]
    h.claude.script("That's a lot of notes!", model=REPLY_MODEL)
    sent = await h.dm("read all of these please", attachments=files)
    [reply] = await h.replies(int(sent["channel_id"]))
    [request] = reply_requests(h)
    text = content_text(request.body["messages"][-1]["content"])
    shown = [i for i in range(1, 11) if f"[Contents of notes{i}.txt]" in text]
    assert shown and shown == list(range(1, len(shown) + 1)) and len(shown) < 10  # the first ones, in order
    assert count_tokens(text) < 12_000 + 1_000  # the files' budget and the message around them
    first_left = shown[-1] if f"[notes{shown[-1]}.txt is cut here" in text else shown[-1] + 1
    left = [f"notes{i}.txt" for i in range(first_left, 11)]
    assert reply["content"] == ("*Finn eyes the pile of files.* That's a lot to read at once: I only got "
                                f"partway, and left {', '.join(left[:-1])} and {left[-1]} for later."
                                "\n\nThat's a lot of notes!")
    assert f"you have already said so: {', '.join(left)}]" in text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_a_download_larger_than_declared_stops_at_its_cap(harness: Harness, chunked: bool) -> None:
    """Issue 49 item 13: Discord declares 100 bytes, the CDN sends 32 MB. The download is streamed and
    dropped at the text cap (1 MB), never read whole, and the file is named as too large."""
    h = harness
    h.discord.cdn_chunked = chunked
    liar = h.discord.attachment("tiny.txt", content_type="text/plain", size=100, data=b"a" * (32 << 20))
    h.claude.script("Hello!", model=REPLY_MODEL)
    sent = await h.dm("here's a small file", attachments=[liar])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == "*Finn squints at tiny.txt.* I can't open that one here, sorry.\n\nHello!"
    text = content_text(reply_requests(h)[0].body["messages"][-1]["content"])
    assert "tiny.txt (too large: more than 1.0 MB)" in text and "aaaa" not in text
    assert h.discord.cdn_sent[int(liar["id"])] < 16 << 20  # stopped near the cap, not all 32 MB


async def test_a_picture_claude_cannot_decode_is_named_and_the_rest_answered(harness: Harness) -> None:
    """Issue 49 item 11: a PNG whose header and end are sound but whose pixel data does not inflate passes
    every check short of decoding; the Messages API refuses it with a 400 naming its block. The reply asks
    again without that picture: the good one and the text still reach Claude, and the broken one is named."""
    h = harness
    good = png_bytes(2, 2)
    ihdr_end = 8 + 25  # signature, then IHDR (length, type, 13 bytes, CRC)
    junk = b"not zlib at all"
    idat = len(junk).to_bytes(4, "big") + b"IDAT" + junk + zlib.crc32(b"IDAT" + junk).to_bytes(4, "big")
    broken = good[:ihdr_end] + idat + good[-12:]
    h.claude.script("What a view!", model=REPLY_MODEL)
    sent = await h.dm("two photos", attachments=[
        h.discord.attachment("glitch.png", content_type="image/png", data=broken),
        h.discord.attachment("view.jpg", content_type="image/jpeg", data=JPEG)])
    [reply] = await h.replies(int(sent["channel_id"]))
    assert reply["content"] == LINE.format(file="glitch.png") + "\n\nWhat a view!"
    refused, answered = reply_requests(h)
    assert refused.status == 400
    last = len(refused.body["messages"]) - 1  # the message's own turn; its first picture the broken one
    first = next(j for j, b in enumerate(refused.body["messages"][last]["content"]) if b["type"] == "image")
    assert image_problem(refused.body) == f"messages.{last}.content.{first}.image.source.base64.data: " \
        "Could not process image"
    assert answered.status == 200
    assert [base64.b64decode(b["source"]["data"]) for b in images_in(answered)] == [JPEG]
    text = content_text(answered.body["messages"][-1]["content"])
    assert said_in_dm(answered.body) == "two photos [image: glitch.png] [image: view.jpg]"
    assert "glitch.png (Claude could not process it)" in text
