"""PNG chunks for character cards, with ``struct``/``zlib`` (no imaging library): reading a card's text chunks
(``tEXt``/``zTXt``/``iTXt``), writing them into an image, and a small placeholder picture."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Collection, Mapping

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("ccv3", "chara")  # preference order when reading
TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
# The most one compressed text chunk may inflate to. A card's payload is base64 JSON (a big one with a
# lorebook is a few MB); a zTXt/iTXt of zeros inflates about 1,000 times, so without a cap a 97 KB file
# asks for hundreds of MB.
MAX_INFLATED_TEXT = 16 * 1024 * 1024


def inflate(data: bytes, limit: int = MAX_INFLATED_TEXT) -> bytes:
    """``data`` decompressed (zlib), never more than ``limit`` bytes of it: ValueError past that."""
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError(f"a compressed text chunk inflates past {limit // (1024 * 1024)} MB")
    out += inflater.flush()
    if len(out) > limit:
        raise ValueError(f"a compressed text chunk inflates past {limit // (1024 * 1024)} MB")
    return out


def read_png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``[(type, body), ...]`` up to and including IEND; ValueError for anything that is not a sound PNG."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG file (bad signature)")
    chunks: list[tuple[bytes, bytes]] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(data):
            raise ValueError("truncated PNG (no IEND chunk)")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length
        if end + 4 > len(data):
            raise ValueError(f"truncated PNG chunk {ctype.decode('latin-1')!r}")
        body = data[pos + 8:end]
        (crc,) = struct.unpack(">I", data[end:end + 4])
        if zlib.crc32(ctype + body) != crc:
            raise ValueError(f"corrupt PNG chunk {ctype.decode('latin-1')!r} (CRC mismatch)")
        chunks.append((ctype, body))
        pos = end + 4
        if ctype == b"IEND":
            return chunks


def write_png_chunks(chunks: list[tuple[bytes, bytes]]) -> bytes:
    out = bytearray(PNG_SIGNATURE)
    for ctype, body in chunks:
        out += struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))
    return bytes(out)


def decode_text_chunk(ctype: bytes, body: bytes) -> tuple[str, str]:
    """(keyword, text) of a tEXt, zTXt or iTXt chunk."""
    keyword, sep, rest = body.partition(b"\0")
    key = keyword.decode("latin-1")
    if not sep or (ctype == b"zTXt" and len(rest) < 1) or (ctype == b"iTXt" and len(rest) < 2):
        raise ValueError(f"malformed {ctype.decode('latin-1')} chunk")
    if ctype == b"tEXt":
        return key, rest.decode("latin-1")
    if ctype == b"zTXt":
        return key, inflate(rest[1:]).decode("latin-1")  # rest[0] is the method (always 0)
    if ctype == b"iTXt":
        compressed, _method = rest[0], rest[1]
        _lang, _, rest = rest[2:].partition(b"\0")
        _translated, _, text = rest.partition(b"\0")
        if compressed:
            text = inflate(text)
        return key, text.decode("utf-8")
    raise ValueError(f"not a text chunk: {ctype!r}")


def png_text(data: bytes, keywords: Collection[str] | None = None) -> dict[str, str]:
    """The text chunks of a PNG, keyword → text (the first chunk of a keyword wins): only those whose
    keyword is in ``keywords`` (case-insensitive) when given, so nothing else is ever inflated."""
    wanted = None if keywords is None else {k.lower() for k in keywords}
    texts: dict[str, str] = {}
    for ctype, body in read_png_chunks(data):
        if ctype in TEXT_CHUNKS and (
                wanted is None or body.partition(b"\0")[0].decode("latin-1").lower() in wanted):
            key, text = decode_text_chunk(ctype, body)
            texts.setdefault(key, text)
    return texts


def text_chunk(keyword: str, text: str) -> tuple[bytes, bytes]:
    """A tEXt chunk (card payloads are base64, so Latin-1 always suffices)."""
    return b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1")


def make_png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int]]) -> bytes:
    """A small 8-bit RGB PNG whose colour at (x, y) is ``pixel(x, y)``."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)  # filter type None for every scanline
        for x in range(width):
            rows.extend(bytes(pixel(x, y)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return write_png_chunks([(b"IHDR", ihdr), (b"IDAT", zlib.compress(bytes(rows), 9)), (b"IEND", b"")])


def placeholder_png(size: int = 16) -> bytes:
    """A soft two-tone square used when a card is exported without a picture of its own."""
    def pixel(x: int, y: int) -> tuple[int, int, int]:
        inside = (x - size / 2 + 0.5) ** 2 + (y - size / 2 + 0.5) ** 2 <= (size / 3) ** 2
        return (240, 200, 90) if inside else (40, 52, 84)
    return make_png(size, size, pixel)


def embed_card_png(image: bytes, payloads: Mapping[str, str]) -> bytes:
    """``image`` with its old card chunks removed and ``payloads`` (keyword → text) added before IEND."""
    kept = []
    for ctype, body in read_png_chunks(image):
        if ctype in TEXT_CHUNKS and body.partition(b"\0")[0].decode("latin-1").lower() in CARD_KEYWORDS:
            continue
        kept.append((ctype, body))
    iend = kept.pop()
    kept.extend(text_chunk(k, v) for k, v in payloads.items())
    kept.append(iend)
    return write_png_chunks(kept)
