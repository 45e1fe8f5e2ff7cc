"""Images and files read for Claude (bot/reply/media.py): pure logic, with a fetcher standing in for the CDN.
The over-the-wire proofs are in tests/test_e2e_media.py."""

from __future__ import annotations

import base64

import pytest

from bot.core.attachments import Attachment, Carried
from bot.core.models.base import Prompt
from bot.reply.media import MediaLimits, TextPart, image_damage, image_size, read_media, sniff_image
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

    async def __call__(self, attachment: Attachment) -> bytes:
        self.read.append(attachment.filename)
        if attachment.filename not in self.files:
            raise OSError("404 asset not found")
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

    async def fetch(a: Attachment) -> bytes:
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
