"""Images and files a message carries, read so Claude can look at them (transport-free).

bot/core/attachments.py notes what a message carried (``[image: cat.png]``); that note is what the log and the
conversation history keep, never the bytes, so later prompts stay small and cacheable. Here, only for a
message that will be answered, the attachments are downloaded (through a fetcher the transport gives: the
Discord cog reads ``discord.Attachment.read()``, the attachment's own CDN URL and nothing else) and turned
into what this one request shows Claude:

* an image (PNG, JPEG, GIF, WebP, recognised by its bytes, not by its name or declared type) up to
  ``max_image_bytes``, at most ``max_images_per_message`` of them: an image block (base64, media type); its
  size is read from its header (never decoded), and one with a side over 8,000 px or a header that does not
  parse is not sent (the API would refuse the whole request with a 400);
* a text file (``.txt``, ``.md``, source code, ``.json``, ``.csv``): a fenced block of its first
  ``max_attachment_chars`` characters;
* anything else, too large, broken or that failed to download: one in-character line
  (``unreadable_attachment_line``) said with the reply, and a note for Claude that it was not seen.

The declared size is checked before anything is read: a 100 MB file is refused without a byte downloaded.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import struct
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from bot.core.attachments import Attachment, Carried
from bot.core.config.messages import MediaSettings
from bot.core.i18n import listed
from bot.core.models.base import Prompt
from bot.core.tokens import count_tokens, truncate_tokens
from database.boundary import JsonObject

log = logging.getLogger(__name__)

Fetch = Callable[[Attachment, int], Awaitable[bytes]]
"""Downloads one attachment's bytes, at most the given number of them (raises :class:`TooLarge` as soon as
more arrive, or on any other failure); the transport's side of reading a file."""


class TooLarge(Exception):
    """A download that brought more bytes than its cap: the size Discord declared was wrong."""

    def __init__(self, cap: int) -> None:
        super().__init__(f"more than {cap:,} bytes")
        self.cap = cap

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")  # what Claude accepts
TEXT_EXTENSIONS = frozenset({
    "txt", "text", "md", "markdown", "rst", "log", "json", "jsonl", "csv", "tsv", "yaml", "yml", "toml",
    "ini",
    "cfg", "conf", "xml", "html", "htm", "css", "scss", "js", "mjs", "cjs", "ts", "jsx", "tsx", "py", "pyi",
    "rb", "go", "rs", "java", "kt", "kts", "c", "h", "cc", "cpp", "hpp", "cs", "php", "sh", "bash", "zsh",
    "ps1", "bat", "sql", "lua", "swift", "r", "scala", "hs", "ex", "exs", "erl", "pl", "dart", "vue",
    "svelte", "diff", "patch", "tex", "gradle", "cmake", "mk", "dockerfile", "gitignore", "srt", "vtt"})
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml", "application/toml")
BYTES_PER_CHAR = 4  # UTF-8's longest character: a file within max_attachment_chars is within 4 bytes each
TEXT_READ_BYTES = 1_000_000  # a text file up to this size is read (and cut), whatever max_attachment_chars
SNIFF_BYTES = 1024  # a text file with a NUL byte here is binary, whatever its name says
OFF_LOOP_BYTES = 64 * 1024  # text files larger than this together are decoded and counted in a thread
CUT_MIN_TOKENS = 200  # a file is cut to the budget's rest only when at least this much of it would show
FENCE_TOKENS = 60  # what a fenced block's header, fences and cut note cost beside the file's own text
MAX_IMAGE_SIDE = 8000  # pixels: the Messages API refuses an image with a longer side (a 400 for the request)
_IMAGE_ERROR = re.compile(r"HTTP 400: messages\.(\d+)\.content\.(\d+)\.image\.source")
# JPEG start-of-frame markers (they carry the size); C4, C8 and CC are other segments in the same range.
_JPEG_FRAMES = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def image_size(data: bytes, media_type: str) -> tuple[int, int] | None:
    """(width, height) from the image's header, without decoding a pixel; None when the header does not
    parse (such a file the API cannot process either)."""
    try:
        if media_type == "image/png":
            if data[12:16] != b"IHDR":  # IHDR is always the first chunk
                return None
            width, height = struct.unpack(">II", data[16:24])
        elif media_type == "image/gif":
            width, height = struct.unpack("<HH", data[6:10])
        elif media_type == "image/jpeg":
            return _jpeg_size(data)
        else:
            return _webp_size(data)
    except struct.error:  # the header is cut short
        return None
    return (width, height) if width > 0 and height > 0 else None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    # Walk the segments from SOI: each is FF, a marker, then a big-endian length that counts itself.
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2:
            return None
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return (width, height) if width > 0 and height > 0 else None
        if marker == 0xDA:  # the scan began without a frame header
            return None
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", data[26:30])
        width, height = width & 0x3FFF, height & 0x3FFF
    elif chunk == b"VP8L":  # lossless: a signature byte, then 14 bits each of size - 1
        if data[20:21] != b"\x2f":
            return None
        (bits,) = struct.unpack("<I", data[21:25])
        width, height = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    elif chunk == b"VP8X":  # extended: 24 bits each of canvas size - 1
        if len(data) < 30:
            return None
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
    else:
        return None
    return (width, height) if width > 0 and height > 0 else None


def sniff_image(data: bytes) -> str | None:
    """The media type the bytes are (one of :data:`IMAGE_TYPES`), by their magic numbers; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_damage(data: bytes, media_type: str) -> str | None:
    """Why an image whose magic number is right is still unusable (cut short), else None. Each format has
    an end that a truncated download lacks: PNG's IEND chunk, JPEG's EOI marker, GIF's trailer byte, and the
    length a WebP (RIFF) file declares in its header."""
    if media_type == "image/png":
        ok = len(data) > 8 + 12 and data.rstrip(b"\x00")[-12:-4] == b"\x00\x00\x00\x00IEND"
    elif media_type == "image/jpeg":
        ok = b"\xff\xd9" in data[-64:]  # some cameras append a few bytes after the end marker
    elif media_type == "image/gif":
        ok = data.rstrip(b"\x00").endswith(b"\x3b")
    else:
        ok = len(data) >= 12 and struct.unpack("<I", data[4:8])[0] + 8 <= len(data)
    return None if ok else "cut short"


def is_text_file(attachment: Attachment) -> bool:
    name = attachment.filename.lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else name
    kind = (attachment.content_type or "").split(";", 1)[0].strip().lower()
    return extension in TEXT_EXTENSIONS or kind.startswith(TEXT_TYPES)


@dataclass(frozen=True)
class ImagePart:
    """An image as the request carries it: its base64 only, made once (the downloaded bytes are let go as
    soon as it is made; every prompt built with it shares the one string)."""

    filename: str
    media_type: str
    encoded: str  # the base64 of its bytes

    @classmethod
    def of(cls, filename: str, media_type: str, data: bytes) -> ImagePart:
        return cls(filename, media_type, base64.b64encode(data).decode("ascii"))

    def block(self) -> JsonObject:
        return {"type": "image", "source": {"type": "base64", "media_type": self.media_type,
                                            "data": self.encoded}}


@dataclass(frozen=True)
class TextPart:
    filename: str
    text: str
    total_chars: int  # the whole file's length; more than len(text) when it was cut

    def fenced(self) -> str:
        """The file as a Markdown code block, with a fence no line of the file can close early."""
        longest = max((len(run) for run in re.findall(r"`{3,}", self.text)), default=2)
        fence = "`" * (longest + 1)
        extension = self.filename.rsplit(".", 1)[-1].lower() if "." in self.filename else ""
        language = "" if extension in ("txt", "text", "log") else re.sub(r"[^a-z0-9+#-]", "", extension)
        body = f"[Contents of {self.filename}]\n{fence}{language}\n{self.text}\n{fence}"
        if self.total_chars > len(self.text):
            body += (f"\n[{self.filename} is cut here: the first {len(self.text):,} of its "
                     f"{self.total_chars:,} characters are shown]")
        return body


@dataclass(frozen=True)
class Unreadable:
    filename: str
    reason: str  # for the log and for Claude's note: "too large", "not an image it can view"...


@dataclass(frozen=True)
class Media:
    """What one message's attachments became for its reply."""

    images: tuple[ImagePart, ...] = ()
    texts: tuple[TextPart, ...] = ()
    unreadable: tuple[Unreadable, ...] = ()
    left_out: tuple[str, ...] = ()  # text files cut or left out for max_attachment_tokens

    def __bool__(self) -> bool:
        return bool(self.images or self.texts or self.unreadable or self.left_out)

    def seen(self) -> Media:
        """This media without its images' data, once the request that showed them is answered: what the
        reply keeps after its call need not hold the pictures."""
        return Media((), self.texts, self.unreadable, self.left_out)

    def without(self, image: ImagePart, reason: str) -> Media:
        """This media with ``image`` moved to the unreadable ones (``reason``)."""
        return Media(tuple(i for i in self.images if i is not image), self.texts,
                     (*self.unreadable, Unreadable(image.filename, reason)), self.left_out)

    def refused_image(self, prompt: Prompt, error: str) -> ImagePart | None:
        """Which of these images a failed call's error says the Messages API refused (a 400 naming
        ``messages.<i>.content.<j>.image.source``: pixels it could not decode, a size it does not take),
        ``prompt`` being what :meth:`into` built; None when the error is about anything else."""
        found = _IMAGE_ERROR.match(error)
        if found is None or not self.images or int(found[1]) != len(prompt.messages) - 1:
            return None
        content = prompt.messages[-1].get("content")
        blocks = content if isinstance(content, list) else []
        at = [j for j, block in enumerate(blocks) if block.get("type") == "image"][-len(self.images):]
        return self.images[at.index(int(found[2]))] if int(found[2]) in at else None

    def notice(self, line: str, name: str, left_out_line: str = "", language: str = "") -> str:
        """The in-character lines about what could not be looked at, and what was too much to read at once
        ("" when everything was read); the files listed as ``language`` lists things (its "and")."""
        lines = []
        if self.unreadable:
            files = _names([u.filename for u in self.unreadable], language)
            lines.append(line.replace("{name}", name).replace("{file}", files))
        if self.left_out and left_out_line:
            lines.append(left_out_line.replace("{name}", name).replace("{file}",
                                                                        _names(self.left_out, language)))
        return "\n".join(lines)

    def into(self, prompt: Prompt) -> Prompt:
        """``prompt`` with this media in its final user turn: the images as blocks right before the turn's
        last text block (after any cached blocks, so the cached prefix is unchanged), the text files and a
        note of what was not seen appended to that text."""
        if not self or not prompt.messages or prompt.messages[-1].get("role") != "user":
            return prompt
        notes = [t.fenced() for t in self.texts]
        if self.unreadable:
            unseen = ", ".join(f"{u.filename} ({u.reason})" for u in self.unreadable)
            notes.append(f"[Attachments you could not open, and have already said so: {unseen}]")
        if self.left_out:
            notes.append("[Too much to read at once, so these files were cut or left out, and you have "
                          f"already said so: {', '.join(self.left_out)}]")
        extra = "".join("\n\n" + n for n in notes)
        last = dict(prompt.messages[-1])
        content = last["content"]
        images = [i.block() for i in self.images]
        if isinstance(content, str):
            last["content"] = [*images, {"type": "text", "text": content + extra}] if images \
                else content + extra
        else:
            blocks = list(content)
            # never into a cached block (a DM's message is one): the next request reads it as it was
            at = max((i for i, b in enumerate(blocks)
                      if b.get("type") == "text" and "cache_control" not in b), default=-1)
            if at < 0:
                blocks.append({"type": "text", "text": extra.strip() or "[attachments]"})
                at = len(blocks) - 1
            elif extra:
                blocks[at] = {**blocks[at], "text": blocks[at]["text"] + extra}
            blocks[at:at] = images
            last["content"] = blocks
        # The rest as built: the layout's parts (the prompt inspector itemizes by them, and marks a DM's
        # request private by them) and the conversation's pauses (its cache entries' lifetime).
        return replace(prompt, messages=[*prompt.messages[:-1], last])


def _names(names: Sequence[str], language: str = "") -> str:
    """"a, b and c"; in another language, as CLDR lists ("a, b y c", "a、b、c"): no English "and" in a
    line said in Spanish."""
    return listed(language, names)


@dataclass(frozen=True)
class MediaLimits:
    max_image_bytes: int
    max_images_per_message: int
    max_attachment_chars: int
    attachment_timeout: float
    max_attachment_tokens: int = 12_000

    @classmethod
    def of(cls, settings: MediaSettings) -> MediaLimits:
        return cls(settings.max_image_bytes, settings.max_images_per_message, settings.max_attachment_chars,
                   settings.attachment_timeout, settings.max_attachment_tokens)

    @property
    def text_read_bytes(self) -> int:
        """The most bytes of one text file read (a longer one is refused by its declared size)."""
        return max(self.max_attachment_chars * BYTES_PER_CHAR, TEXT_READ_BYTES)


def _select(carried: Carried, limits: MediaLimits) -> tuple[list[tuple[Attachment, str]], list[Unreadable]]:
    """The attachments to download, each as ``"image"`` or ``"text"``, and those refused by what they
    declare (nothing is read for these)."""
    wanted: list[tuple[Attachment, str]] = []  # (attachment, "image" | "text")
    unreadable: list[Unreadable] = []
    images = 0
    for a in carried.attachments:
        declared = (a.content_type or "").split(";", 1)[0].strip().lower()
        if a.kind == "image":
            if declared.startswith("image/") and declared not in IMAGE_TYPES:
                unreadable.append(Unreadable(a.filename, f"{declared} is not a picture it can view"))
            elif images >= limits.max_images_per_message:
                unreadable.append(Unreadable(a.filename, "one picture too many"))
            elif a.size > limits.max_image_bytes:
                unreadable.append(Unreadable(a.filename, f"too large: {_mb(a.size)}"))
            else:
                images += 1
                wanted.append((a, "image"))
        elif a.kind == "file" and is_text_file(a):
            if a.size > limits.text_read_bytes:
                unreadable.append(Unreadable(a.filename, f"too large: {_mb(a.size)}"))
            else:
                wanted.append((a, "text"))
        else:
            what = {"audio": "an audio file", "video": "a video", "image": "an image"}.get(a.kind, "a file")
            unreadable.append(Unreadable(a.filename, f"{what} it cannot open"))
    return wanted, unreadable


def image_bytes(carried: Carried, limits: MediaLimits) -> int:
    """The bytes of the pictures :func:`read_media` would download for ``carried``: the sizes Discord
    declares (a file larger than declared is still cut at ``max_image_bytes``), an undeclared one counted
    at that cap. What a reply takes of the image budget (bot/reply/imagebudget.py) before reading them."""
    if not carried.attachments:
        return 0
    wanted, _ = _select(carried, limits)
    return sum(min(a.size, limits.max_image_bytes) if a.size > 0 else limits.max_image_bytes
               for a, kind in wanted if kind == "image")


async def read_media(carried: Carried, fetch: Fetch | None, limits: MediaLimits) -> Media:
    """Download and check what ``carried`` holds (only what is within the limits is downloaded)."""
    if not carried.attachments:
        return Media()
    wanted, unreadable = _select(carried, limits)
    if fetch is None:
        unreadable.extend(Unreadable(a.filename, "not downloadable here") for a, _ in wanted)
        wanted = []
    caps = [limits.max_image_bytes if kind == "image" else limits.text_read_bytes for _, kind in wanted]
    downloads = await _download_all([a for a, _ in wanted], caps, fetch, limits.attachment_timeout)
    parts_images: list[ImagePart] = []
    files: list[tuple[Attachment, bytes]] = []
    for a, kind in wanted:
        data = downloads.pop(0)  # each download let go once it is made into its part
        if isinstance(data, str):
            unreadable.append(Unreadable(a.filename, data))
        elif kind == "image":
            image = _image(a, data, limits)
            if isinstance(image, ImagePart):
                parts_images.append(image)
            else:
                unreadable.append(image)
        else:
            files.append((a, data))
    # Decoding and counting a megabyte of text takes tens of milliseconds: not on the event loop.
    if sum(len(data) for _, data in files) > OFF_LOOP_BYTES:
        parts_texts, refused, left_out = await asyncio.to_thread(_texts, files, limits)
    else:
        parts_texts, refused, left_out = _texts(files, limits)
    unreadable.extend(refused)
    # Keep the message's own order of attachments in the line (the loop above put refusals first).
    order = {a.filename: i for i, a in enumerate(carried.attachments)}
    unreadable.sort(key=lambda u: order.get(u.filename, 0))
    for u in unreadable:
        log.info("attachment %s not shown to Claude: %s", u.filename, u.reason)
    if left_out:
        log.info("attachments cut or left out for max_attachment_tokens: %s", ", ".join(left_out))
    return Media(tuple(parts_images), tuple(parts_texts), tuple(unreadable), tuple(left_out))


async def _download_all(attachments: list[Attachment], caps: list[int], fetch: Fetch | None,
                        timeout: float) -> list[bytes | str]:
    """Each attachment's bytes (at most its cap), or why it could not be had; all within one ``timeout``."""
    if not attachments or fetch is None:
        return []

    async def one(a: Attachment, cap: int) -> bytes | str:
        try:
            return await fetch(a, cap)
        except asyncio.CancelledError:
            raise
        except TooLarge as exc:  # the declared size was a lie: the download stopped at the cap
            log.warning("attachment %s brought %s (declared %s)", a.filename, exc, f"{a.size:,}")
            return f"too large: more than {_mb(exc.cap)}"
        except Exception as exc:  # the transport's errors (HTTP 404/403, connection): the reply goes on
            log.warning("attachment %s could not be downloaded: %s", a.filename, exc)
            return "could not be downloaded"

    tasks = [asyncio.ensure_future(one(a, cap)) for a, cap in zip(attachments, caps, strict=True)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
        log.warning("%d attachment(s) not downloaded within %gs", len(pending), timeout)
    return [t.result() if t in done else f"download timed out after {timeout:g}s" for t in tasks]


def _image(a: Attachment, data: bytes, limits: MediaLimits) -> ImagePart | Unreadable:
    if len(data) > limits.max_image_bytes:  # the declared size was wrong
        return Unreadable(a.filename, f"too large: {_mb(len(data))}")
    media_type = sniff_image(data)
    if media_type is None:
        return Unreadable(a.filename, "not a picture it can view (PNG, JPEG, GIF or WebP)")
    damage = image_damage(data, media_type)
    if damage is not None:
        return Unreadable(a.filename, f"the picture is {damage}")
    size = image_size(data, media_type)
    if size is None:
        return Unreadable(a.filename, "the picture's header is broken")
    if max(size) > MAX_IMAGE_SIDE:
        return Unreadable(a.filename, f"too big a picture: {size[0]:,} × {size[1]:,} pixels")
    return ImagePart.of(a.filename, media_type, data)


def _texts(files: list[tuple[Attachment, bytes]],
           limits: MediaLimits) -> tuple[list[TextPart], list[Unreadable], list[str]]:
    """The text files read, those that are not text, and the names of those cut or left out because one
    message's files may add at most ``max_attachment_tokens`` to its request (the first files first)."""
    parts: list[TextPart] = []
    refused: list[Unreadable] = []
    left_out: list[str] = []
    budget = limits.max_attachment_tokens
    for a, data in files:
        text = _text(a, data, limits)
        if isinstance(text, Unreadable):
            refused.append(text)
            continue
        cost = count_tokens(text.fenced())
        if cost <= budget:
            parts.append(text)
            budget -= cost
            continue
        room = budget - FENCE_TOKENS
        if room >= CUT_MIN_TOKENS:
            parts.append(TextPart(a.filename, truncate_tokens(text.text, room), text.total_chars))
        left_out.append(a.filename)
        budget = 0  # once a file did not fit whole, the files after it are left out, in order
    return parts, refused, left_out


def _text(a: Attachment, data: bytes, limits: MediaLimits) -> TextPart | Unreadable:
    if b"\x00" in data[:SNIFF_BYTES]:
        return Unreadable(a.filename, "not a text file")
    text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    return TextPart(a.filename, text[:limits.max_attachment_chars], len(text))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB" if size >= 100_000 else f"{size:,} bytes"
