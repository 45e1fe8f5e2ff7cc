"""What a message carried besides its text (files, stickers, embeds, a poll, a forward, a panel), as plain
values.

Discord lets a message hold no text at all: an image, a sticker, a bot's embed. The conversation must still
say something for it (the Messages API rejects an empty turn, and a blind reply is a poor one), so a short
note describes what came: ``[image: cat.png]``, ``[sticker: wave]``, ``[embed: Patch notes]``,
``[panel: ...]`` (a Components V2 message, which has no content: the text of its displays).
The types here are transport-free (the Discord cog fills them in, tests build them directly), and keep what
a later step needs to show Claude the image itself (url, content type, size).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NO_TEXT = "[no text]"
"""The turn of a message that had no text and carried nothing we can describe (or an empty turn already
stored by an older version, repaired when the prompt is built)."""

MAX_LABEL = 80  # characters of a file name, sticker name or embed title kept in a note
MAX_FORWARDED = 400  # characters of a forwarded message's text
MAX_PANEL = 400  # characters of a panel's text

IMAGE_EXTENSIONS = frozenset({"png", "jpg", "jpeg", "gif", "webp", "bmp", "tif", "tiff", "heic", "heif",
                              "avif", "svg"})
AUDIO_EXTENSIONS = frozenset({"mp3", "wav", "ogg", "oga", "opus", "flac", "m4a", "aac", "wma"})
VIDEO_EXTENSIONS = frozenset({"mp4", "mov", "webm", "mkv", "avi", "m4v"})

_SPACE = re.compile(r"\s+")
_BRACKETS = str.maketrans("[]", "()")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str | None = None
    size: int = 0
    url: str = ""
    # A recording the person made to be listened to (the transport marks it as one), and
    # its length in seconds as the transport measured it (None: unknown).
    recording: bool = False
    duration: float | None = None

    @property
    def kind(self) -> str:
        """``image``, ``audio``, ``video`` or ``file``: by content type, else by the name's extension."""
        return attachment_kind(self.filename, self.content_type)


@dataclass(frozen=True)
class Embed:
    title: str = ""
    url: str = ""


@dataclass(frozen=True)
class Carried:
    """Everything a message held besides its text; empty for a plain text message."""

    attachments: tuple[Attachment, ...] = ()
    stickers: tuple[str, ...] = ()  # sticker names
    embeds: tuple[Embed, ...] = ()
    poll: str | None = None  # the poll's question
    forwarded: str | None = None  # a forward's text ("" if none); the forwarding message's content is empty
    panel: str | None = None  # a Components V2 message's text displays, one after another

    def __bool__(self) -> bool:
        return bool(self.attachments or self.stickers or self.embeds or self.poll is not None
                    or self.forwarded is not None or self.panel is not None)


NOTHING = Carried()


def attachment_kind(filename: str, content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0].strip().lower()
    if major in ("image", "audio", "video"):
        return major
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if extension in IMAGE_EXTENSIONS:
        return "image"
    if extension in AUDIO_EXTENSIONS:
        return "audio"
    if extension in VIDEO_EXTENSIONS:
        return "video"
    return "file"


def _label(text: str, limit: int = MAX_LABEL) -> str:
    # One line, bounded, and no bracket that would end the note early or look like a note of its own.
    text = _SPACE.sub(" ", text).translate(_BRACKETS).strip()
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def describe(carried: Carried) -> str:
    """The notes for what ``carried`` holds, in one line (``""`` for nothing)."""
    if not carried:
        return ""
    notes: list[str] = []
    if carried.forwarded is not None:
        forwarded = _label(carried.forwarded, MAX_FORWARDED)
        notes.append(f"[forwarded message: {forwarded}]" if forwarded else "[forwarded message]")
    for a in carried.attachments:
        name = _label(a.filename)
        notes.append(f"[{a.kind}: {name}]" if name else f"[{a.kind}]")
    for sticker in carried.stickers:
        name = _label(sticker)
        notes.append(f"[sticker: {name}]" if name else "[sticker]")
    for embed in carried.embeds:
        title = _label(embed.title)
        notes.append(f"[embed: {title}]" if title else "[link]" if embed.url else "[embed]")
    if carried.poll is not None:
        question = _label(carried.poll)
        notes.append(f"[poll: {question}]" if question else "[poll]")
    if carried.panel is not None:
        shown = _label(carried.panel, MAX_PANEL)
        notes.append(f"[panel: {shown}]" if shown else "[panel]")
    return " ".join(notes)


def message_text(content: str, carried: Carried) -> str:
    """The message as the conversation keeps it: its text, then the notes of what it carried.
    ``""`` only when it has neither (see :data:`NO_TEXT` for the turn of such a message)."""
    note = describe(carried)
    if not note:
        return content if content and not content.isspace() else ""
    text = content.strip()
    return f"{text} {note}" if text else note
