"""The settings of what crosses Discord beside a reply's text: the images and files people send, and how
replies are delivered (declared here as in sections.py, which gathers them
into :class:`~bot.core.config.sections.Settings`)."""

# No ``from __future__ import annotations`` here: keys.py reads each field's type as the class itself.
from dataclasses import dataclass
from typing import ClassVar

from bot.core.config import checks
from bot.core.config.keys import key
from bot.core.i18n import N_


@dataclass(frozen=True)
class MediaSettings:
    """Images and files a message carries, read for Claude (bot/reply/media.py)."""

    TITLE: ClassVar[str] = "Images and files"
    max_image_bytes: int = key(
        3_932_160, "Largest image (bytes) shown to Claude; Claude takes at most 5 MB of base64 per image, "
        "3,932,160 bytes.", above=0, check=checks.image_bytes)
    max_images_per_message: int = key(4, "Images of one message shown to Claude (0: none).", min=0, max=20)
    image_bytes_in_flight: int = key(
        32 * 1024 * 1024, "Image bytes the whole process holds for replies at once (downloaded, encoded, "
        "sent; about four copies each at the peak): a reply whose images would pass it waits for earlier "
        "replies' calls to end (never refused; one larger alone goes through).", above=0)
    max_attachment_chars: int = key(
        20_000, "Characters of a text file (.txt, .md, source code, .json, .csv) read into the message; a "
        "longer file is cut there, with a note.", min=0)
    max_attachment_tokens: int = key(
        12_000, "Tokens the text files of one message may add to its request together (about 4 characters "
        "each); past it a file is cut and the rest left out, and the character says so "
        "(attachments_left_out_line).", min=0)
    attachment_timeout: float = key(10.0, "Seconds to download one message's attachments.", above=0)
    unreadable_attachment_line: str = key(
        N_("*{name} squints at {file}.* I can't open that one here, sorry."),
        "The line the character says about files it could not look at ({name}: the character's name, "
        "{file}: the files). Unset, it is said in the person's language (docs/languages.md); set, as "
        "written.")
    attachments_left_out_line: str = key(
        N_("*{name} eyes the pile of files.* That's a lot to read at once: I only got partway, and left "
           "{file} for later."),
        "The line the character says about text files cut or left out for max_attachment_tokens ({name}: the "
        "character's name, {file}: the files). Unset, it is said in the person's language; set, as written.")


@dataclass(frozen=True)
class DeliverySettings:
    """How a reply reaches the channel (bot/reply/delivery.py)."""

    TITLE: ClassVar[str] = "Reply delivery"
    reply_delivery: str = key(
        "chunked", "whole (one message, split only at the length limit), chunked (a long answer as several "
        "messages at paragraph breaks, typing before each) or streamed (posted as soon as a sentence is "
        "written, then edited as the rest arrives).", choices=("whole", "chunked", "streamed"))
    stream_edit_interval: float = key(
        1.0, "Seconds between edits of a streamed reply (Discord allows about 5 edits per 5 seconds in a "
        "channel).", min=0.2)
