"""Images and files read for Claude (bot/reply/media.py): pure logic, with a fetcher standing in for the CDN.
The over-the-wire proofs are in tests/test_e2e_media.py."""

from __future__ import annotations

import base64
import threading

import pytest

from bot.core.attachments import Attachment, Carried
from bot.core.models.base import Prompt
from bot.core.tokens import count_tokens
from bot.reply.media import MediaLimits, TextPart, TooLarge, image_damage, image_size, read_media, sniff_image
from tests.fakes.claude_server import image_problem
from tests.fakes.discord_cdn import SAMPLES, png_bytes

LIMITS = MediaLimits(max_image_bytes=10_000, max_images_per_message=4, max_attachment_chars=50,
                     attachment_timeout=2.0)
SAMPLE = {kind: (SAMPLES / f"python.{ext}").read_bytes()
          for kind, ext in (("image/png", "png"), ("image/jpeg", "jpg"), ("image/gif", "gif"),
                            ("image/webp", "webp"))}


@pytest.mark.parametrize("media_type", list(SAMPLE))
def test_images_are_known_by_their_bytes_and_a_cut_one_is_found(media_type: str) -> None:
    data = SAMPLE[media_type]
    assert sniff_image(data) == media_type and image_damage(data, media_type) is None
    assert image_damage(data[:len(data) // 2], media_type) == "cut short"
    assert sniff_image(b"just some text, named cat.png") is None


def test_generated_png_is_whole() -> None:
    data = png_bytes(3, 2)
    assert sniff_image(data) == "image/png" and image_damage(data, "image/png") is None


def webp(chunk: bytes, body: bytes) -> bytes:
    payload = b"WEBP" + chunk + len(body).to_bytes(4, "little") + body
    return b"RIFF" + len(payload).to_bytes(4, "little") + payload


def test_image_sizes_are_read_from_the_header_without_decoding() -> None:
    """Issue 49 item 11: each format's own header, and None for one that does not parse."""
    for media_type, data in SAMPLE.items():
        assert image_size(data, media_type) == (16, 16), media_type
    assert image_size(png_bytes(9000, 2), "image/png") == (9000, 2)
    gif = bytearray(SAMPLE["image/gif"])
    gif[6:10] = (8001).to_bytes(2, "little") + (3).to_bytes(2, "little")
    assert image_size(bytes(gif), "image/gif") == (8001, 3)
    # A progressive JPEG (SOF2) after an APP0 segment and a fill byte.
    jpeg = (b"\xff\xd8" + b"\xff\xe0\x00\x04ab" + b"\xff\xff\xc2\x00\x11\x08" + (600).to_bytes(2, "big")
            + (9000).to_bytes(2, "big") + b"\x03" + bytes(9) + b"\xff\xd9")
    assert image_size(jpeg, "image/jpeg") == (9000, 600)
    assert image_size(b"\xff\xd8\xff\xda\x00\x08" + bytes(6) + b"\xff\xd9", "image/jpeg") is None  # no frame
    sizes = (8001).to_bytes(2, "little") + (50).to_bytes(2, "little")
    lossy = webp(b"VP8 ", bytes(3) + b"\x9d\x01\x2a" + sizes)
    assert image_size(lossy, "image/webp") == (8001, 50)
    bits = (300 - 1) | (200 - 1) << 14
    assert image_size(webp(b"VP8L", b"\x2f" + bits.to_bytes(4, "little")), "image/webp") == (300, 200)
    assert image_size(webp(b"VP8 ", bytes(10)), "image/webp") is None  # no key-frame start code
    assert image_size(b"\x89PNG\r\n\x1a\ngarbage", "image/png") is None
    assert image_size(b"GIF89a\x00\x00\x00\x00;", "image/gif") is None  # a zero-sized screen


async def test_an_image_too_big_or_unparseable_is_unreadable_and_the_rest_is_kept() -> None:
    wide = png_bytes(8001, 1)
    headless = b"\x89PNG\r\n\x1a\n" + b"no header here" + png_bytes()[-12:]
    fetch = Fetcher({"wide.png": wide, "headless.png": headless, "ok.png": SAMPLE["image/png"],
                     "edge.png": png_bytes(8000, 1)})
    carried = Carried(attachments=tuple(att(n, "image/png", len(d)) for n, d in fetch.files.items()))
    media = await read_media(carried, fetch, MediaLimits(100_000, 4, 50, 2.0))
    assert [i.filename for i in media.images] == ["ok.png", "edge.png"]
    assert [(u.filename, u.reason) for u in media.unreadable] == [
        ("wide.png", "too big a picture: 8,001 × 1 pixels"),
        ("headless.png", "the picture's header is broken")]


class Fetcher:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.read: list[str] = []

    async def __call__(self, attachment: Attachment, cap: int) -> bytes:
        self.read.append(attachment.filename)
        if attachment.filename not in self.files:
            raise OSError("404 asset not found")
        if len(self.files[attachment.filename]) > cap:  # as the streamed download stops at its cap
            raise TooLarge(cap)
        return self.files[attachment.filename]


def att(name: str, content_type: str | None, size: int) -> Attachment:
    return Attachment(name, content_type, size, f"https://cdn.example/attachments/1/2/{name}")


async def test_read_media_sorts_images_text_and_what_it_cannot_open() -> None:
    jpeg = SAMPLE["image/jpeg"]
    fetch = Fetcher({"cat.png": jpeg, "notes.md": ("é" * 80).encode(), "fake.png": b"hello, I am text",
                     "broken.gif": SAMPLE["image/gif"][:-5]})
    carried = Carried(attachments=(
        att("cat.png", "image/png", len(jpeg)),  # declared PNG, really a JPEG: the bytes decide
        att("notes.md", None, 160),
        att("huge.png", "image/png", 100_000_000),  # refused before any byte is read
        att("fake.png", "image/png", 16),
        att("broken.gif", "image/gif", 600),
        att("movie.mp4", "video/mp4", 10),
        att("gone.txt", "text/plain", 10),  # the download fails: the reply goes on without it
    ))
    media = await read_media(carried, fetch, LIMITS)
    assert "huge.png" not in fetch.read and "movie.mp4" not in fetch.read
    assert [(i.filename, i.media_type) for i in media.images] == [("cat.png", "image/jpeg")]
    [notes] = media.texts
    assert notes.text == "é" * 50 and notes.total_chars == 80
    assert [u.filename for u in media.unreadable] == ["huge.png", "fake.png", "broken.gif", "movie.mp4",
                                                      "gone.txt"]
    reasons = {u.filename: u.reason for u in media.unreadable}
    assert reasons["huge.png"] == "too large: 100.0 MB" and "cut short" in reasons["broken.gif"]
    assert reasons["gone.txt"] == "could not be downloaded"
    assert media.notice("*{name} squints at {file}.*", "Finn") == \
        "*Finn squints at huge.png, fake.png, broken.gif, movie.mp4 and gone.txt.*"


async def test_image_count_limit_and_no_fetcher() -> None:
    png = SAMPLE["image/png"]
    carried = Carried(attachments=tuple(att(f"{n}.png", "image/png", len(png)) for n in "abcde"))
    media = await read_media(carried, Fetcher({f"{n}.png": png for n in "abcde"}), LIMITS)
    assert len(media.images) == 4 and [u.reason for u in media.unreadable] == ["one picture too many"]
    nothing = await read_media(carried, None, LIMITS)
    assert not nothing.images and len(nothing.unreadable) == 5


async def test_a_slow_download_times_out_and_the_rest_still_arrives() -> None:
    import asyncio

    async def fetch(a: Attachment, cap: int) -> bytes:
        if a.filename == "slow.png":
            await asyncio.sleep(30)
        return SAMPLE["image/png"]

    limits = MediaLimits(10_000, 4, 50, attachment_timeout=0.2)
    carried = Carried(attachments=(att("slow.png", "image/png", 100), att("fast.png", "image/png", 100)))
    media = await read_media(carried, fetch, limits)
    assert [i.filename for i in media.images] == ["fast.png"]
    assert media.unreadable[0].reason == "download timed out after 0.2s"


def test_fenced_text_cannot_be_closed_by_the_file_and_says_when_cut() -> None:
    part = TextPart("x.py", "print('```')\n````", 100)
    fenced = part.fenced()
    assert fenced.startswith("[Contents of x.py]\n`````py\n") and "\n`````\n[x.py is cut here" in fenced


async def test_media_goes_into_the_last_user_turn_after_cached_blocks() -> None:
    media_prompt = Prompt(system=[{"type": "text", "text": "sys"}], messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [{"type": "text", "text": "transcript", "cache_control": {"type": "x"}},
                                     {"type": "text", "text": "alice: look [image: a.png]"}]}])

    async def run() -> None:
        png = SAMPLE["image/png"]
        carried = Carried(attachments=(att("a.png", "image/png", len(png)), att("b.txt", None, 5)))
        media = await read_media(carried, Fetcher({"a.png": png, "b.txt": b"hello"}), LIMITS)
        out = media.into(media_prompt)
        blocks = out.messages[-1]["content"]
        assert [b["type"] for b in blocks] == ["text", "image", "text"]
        assert blocks[0]["text"] == "transcript"  # the cached prefix is untouched
        assert base64.b64decode(blocks[1]["source"]["data"]) == png
        assert blocks[2]["text"].startswith("alice: look [image: a.png]\n\n[Contents of b.txt]\n```\nhello")
        assert image_problem({"messages": out.messages}) is None  # what the API would accept
        assert media_prompt.messages[-1]["content"][1]["text"] == "alice: look [image: a.png]"  # not changed
        plain = media.into(Prompt(messages=[{"role": "user", "content": "alice: look"}]))
        assert [b["type"] for b in plain.messages[0]["content"]] == ["image", "text"]
        # a DM's message is a cached block (as its history shows it next time): the media go after it
        cached = {"type": "text", "text": "look [image: a.png]", "cache_control": {"type": "ephemeral"}}
        dm = media.into(Prompt(messages=[{"role": "user", "content": [cached]}]))
        assert [b["type"] for b in dm.messages[0]["content"]] == ["text", "image", "text"]
        assert dm.messages[0]["content"][0] == cached and dm.messages[0]["content"][2]["text"].startswith(
            "[Contents of b.txt]")

    await run()


@pytest.mark.parametrize(("source", "problem"), [
    ({"type": "base64", "media_type": "image/bmp", "data": "AAAA"}, "Input should be 'image/jpeg'"),
    ({"type": "base64", "media_type": "image/png", "data": "not base64!"}, "not valid base64"),
    ({"type": "base64", "media_type": "image/png", "data": base64.b64encode(SAMPLE["image/jpeg"]).decode()},
     "specified using the image/png media type, but the image appears to be a image/jpeg image"),
    ({"type": "base64", "media_type": "image/png", "data": base64.b64encode(b"text").decode()},
     "Could not process image"),
    ({"type": "base64", "media_type": "image/png",
      "data": base64.b64encode(SAMPLE["image/png"][:-20]).decode()}, "Could not process image"),
    ({"type": "base64", "media_type": "image/png", "data": "A" * (5 * 1024 * 1024 + 4)},
     "image exceeds 5 MB maximum"),
    ({"type": "base64", "media_type": "image/png", "data": base64.b64encode(png_bytes(1, 8001)).decode()},
     "At least one of the image dimensions exceed max allowed size: 8000 pixels"),
    ({"type": "base64", "media_type": "image/png",
      "data": base64.b64encode(b"\x89PNG\r\n\x1a\nno header" + png_bytes()[-12:]).decode()},
     "Could not process image"),
])
def test_fake_claude_rejects_bad_image_blocks_like_the_api(source: dict[str, str], problem: str) -> None:
    body = {"messages": [{"role": "user", "content": [{"type": "image", "source": source},
                                                      {"type": "text", "text": "?"}]}]}
    found = image_problem(body)
    assert found is not None and found.startswith("messages.0.content.0.image.source") and problem in found


async def test_fake_claude_answers_a_bad_image_with_the_apis_400_over_the_wire() -> None:
    import anthropic

    from tests.fakes.claude_server import FakeClaude

    async with FakeClaude() as fake:
        client = anthropic.AsyncAnthropic(base_url=fake.base_url, api_key="k", max_retries=0, timeout=5.0)
        try:
            def image(media_type: str, data: bytes) -> list[dict[str, object]]:
                return [{"type": "image", "source": {"type": "base64", "media_type": media_type,
                                                     "data": base64.b64encode(data).decode()}},
                        {"type": "text", "text": "what is this?"}]

            ok = await client.messages.create(model="m", max_tokens=10, messages=[
                {"role": "user", "content": image("image/png", SAMPLE["image/png"])}])  # type: ignore[misc]
            assert ok.content[0].text == fake.default_text  # type: ignore[union-attr]
            with pytest.raises(anthropic.BadRequestError) as refused:
                await client.messages.create(model="m", max_tokens=10, messages=[
                    {"role": "user", "content": image("image/png", SAMPLE["image/gif"])}])  # type: ignore[misc]
            assert refused.value.status_code == 400
            assert refused.value.body["error"]["type"] == "invalid_request_error"  # type: ignore[index]
            assert "appears to be a image/gif image" in str(refused.value)
        finally:
            await client.close()


async def test_text_files_share_a_token_budget_first_files_first() -> None:
    """Issue 49 item 12: one message's text files add at most max_attachment_tokens; the file that does not
    fit whole is cut to the rest (when a useful part fits), the files after it left out, and all named."""
    words = " ".join(f"word{i}" for i in range(600))  # 1,200 tokens, 4,689 characters
    files = {f"n{i}.txt": words.encode() for i in range(1, 5)}
    fetch = Fetcher(files)
    carried = Carried(attachments=tuple(att(n, "text/plain", len(d)) for n, d in files.items()))
    limits = MediaLimits(10_000, 4, 10_000, 2.0, max_attachment_tokens=3_000)
    media = await read_media(carried, fetch, limits)
    assert [t.filename for t in media.texts] == ["n1.txt", "n2.txt", "n3.txt"]
    assert media.texts[0].text == media.texts[1].text == words and len(media.texts[2].text) < len(words)
    assert media.left_out == ("n3.txt", "n4.txt") and media.unreadable == ()
    assert sum(count_tokens(t.fenced()) for t in media.texts) <= 3_000
    line = "*{name} sighs.* I left {file} for later."
    assert media.notice("*{name} squints at {file}.*", "Finn", line) == \
        "*Finn sighs.* I left n3.txt and n4.txt for later."
    prompt = media.into(Prompt(system="s", messages=[{"role": "user", "content": "alice: files"}]))
    text = prompt.messages[-1]["content"]
    assert "[Contents of n3.txt]" in text and "[Contents of n4.txt]" not in text
    assert "so these files were cut or left out, and you have already said so: n3.txt, n4.txt]" in text
    nothing = await read_media(carried, fetch, MediaLimits(10_000, 4, 10_000, 2.0, max_attachment_tokens=0))
    assert nothing.texts == () and nothing.left_out == tuple(files)


async def test_large_text_is_decoded_and_counted_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 49 item 13: a megabyte of text is decoded and counted in a worker thread, never on the loop."""
    import bot.reply.media as media_module

    threads: list[int] = []  # where each file's text was counted (it is decoded just before, in one step)
    real = media_module.count_tokens

    def spy(text: str) -> int:
        threads.append(threading.get_ident())
        return real(text)

    monkeypatch.setattr(media_module, "count_tokens", spy)
    big, small = ("é" * 400_000).encode(), b"short"
    fetch = Fetcher({"big.txt": big, "small.txt": small})
    limits = MediaLimits(10_000, 4, 1_000, 2.0)
    await read_media(Carried(attachments=(att("small.txt", None, 5),)), fetch, limits)
    await read_media(Carried(attachments=(att("big.txt", None, len(big)),)), fetch, limits)
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()


async def test_a_download_past_its_cap_is_refused_by_size() -> None:
    """A body larger than Discord declared: the fetcher stops at the cap, and the file is named too large."""
    fetch = Fetcher({"liar.txt": b"x" * 2_000_001, "liar.png": SAMPLE["image/png"] + bytes(20_000)})
    carried = Carried(attachments=(att("liar.txt", None, 10), att("liar.png", "image/png", 10)))
    media = await read_media(carried, fetch, LIMITS)
    assert [(u.filename, u.reason) for u in media.unreadable] == [
        ("liar.txt", "too large: more than 1.0 MB"), ("liar.png", "too large: more than 10,000 bytes")]


def test_the_picture_a_refusal_names_is_found_in_the_built_prompt() -> None:
    """The Messages API names the refused block (messages.<i>.content.<j>.image.source): it maps back to
    this message's picture, and any other error (or another turn's block) to none."""
    from bot.reply.media import ImagePart, Media

    a = ImagePart.of("a.png", "image/png", SAMPLE["image/png"])
    b = ImagePart.of("b.gif", "image/gif", SAMPLE["image/gif"])
    media = Media(images=(a, b))
    built = media.into(Prompt(system="s", messages=[
        {"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
        {"role": "user", "content": [
            {"type": "text", "text": "cached", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "alice: look"}]}]))
    error = "HTTP 400: messages.2.content.{}.image.source.base64.data: Could not process image"
    assert media.refused_image(built, error.format(1)) is a
    assert media.refused_image(built, error.format(2)) is b
    assert media.refused_image(built, error.format(0)) is None  # the cached text block, not a picture
    assert media.refused_image(built, error.replace("messages.2", "messages.0").format(1)) is None
    assert media.refused_image(built, "HTTP 400: messages: Too many images") is None
    assert media.refused_image(built, "HTTP 529: overloaded") is None
    left = media.without(a, "Claude could not process it")
    assert left.images == (b,) and [u.filename for u in left.unreadable] == ["a.png"]
