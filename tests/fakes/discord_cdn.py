"""The fake Discord's CDN: attachment files served the way cdn.discordapp.com serves them.

A message's attachment (MESSAGE_CREATE ``attachments``: id, filename, size, url, proxy_url, content_type)
points at ``/attachments/{channel_id}/{attachment_id}/{filename}?ex=&is=&hm=`` (``proxy_url``: the same under
``/media``, as media.discordapp.net). As on Discord, the URL is signed: ``ex`` is its expiry (hex Unix
seconds), ``is`` when it was issued, ``hm`` an HMAC of the path and both; an unknown file, a wrong or missing
signature or an expired link is a 404 with Discord's text body. ``size`` is what the message declares, which a
test may set to anything (a 100 MB file costs no memory: its bytes are only what ``data`` holds).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "media"
_SECRET = b"fake-cdn-signing-key"
LINK_LIFETIME = 24 * 3600  # seconds a signed attachment link is good for (Discord: about a day)


@dataclass
class CdnFile:
    channel_id: int
    filename: str
    content_type: str | None
    data: bytes


def png_bytes(width: int = 1, height: int = 1) -> bytes:
    """A valid greyscale PNG (signature, IHDR, IDAT, IEND, each with its CRC)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    raw = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def padded_png(size: int) -> bytes:
    """A valid 1x1 PNG of about ``size`` bytes: the pixel, then a private ancillary chunk of noise (which a
    decoder skips, and which base64 cannot shrink)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    head = png_bytes()[:33]  # the signature and IHDR
    tail = png_bytes()[33:]  # IDAT and IEND
    return head + chunk(b"noIS", os.urandom(max(0, size - len(head) - len(tail) - 12))) + tail


def sample_bytes(filename: str, content_type: str | None) -> bytes:
    """A real file of the kind the name or type says (images: the samples in tests/data/media)."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    kind = (content_type or "").lower()
    for ext, mime in (("png", "image/png"), ("jpg", "image/jpeg"), ("jpeg", "image/jpeg"),
                      ("gif", "image/gif"), ("webp", "image/webp")):
        if kind == mime or (not kind.startswith("image/") and extension == ext):
            sample = {"jpeg": "jpg"}.get(ext, ext)
            return (SAMPLES / f"python.{sample}").read_bytes()
    if kind.startswith("text/") or extension in ("txt", "md", "py", "json", "csv"):
        return f"the contents of {filename}\n".encode()
    return bytes(range(256)) * 4  # some binary file


class CdnWorld:
    """The CDN side of the fake Discord (mixed into FakeDiscord, whose ``port`` and ``snowflake`` it uses)."""

    port: int
    cdn_requests: list[int]
    snowflake: Callable[[], int]

    def _init_cdn(self) -> None:
        self.cdn_files: dict[int, CdnFile] = {}
        # id -> payload (an attachment option's resolved block)
        self.cdn_attachments: dict[str, dict[str, Any]] = {}
        self.cdn_sent: dict[int, int] = {}  # attachment id -> bytes of it written before the client left
        self.cdn_chunked = False  # True: no Content-Length (chunked transfer), so only the bytes tell

    def add_cdn_routes(self, app: web.Application) -> None:
        app.router.add_get("/attachments/{cid}/{aid}/{filename}", self._cdn_file)
        app.router.add_get("/media/attachments/{cid}/{aid}/{filename}", self._cdn_file)

    @property
    def cdn_base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def attachment(self, filename: str, *, content_type: str | None = None, size: int | None = None,
                   data: bytes | None = None, channel_id: int | None = None) -> dict[str, Any]:
        """An attachment payload as Discord sends it in MESSAGE_CREATE (for ``attachments=``), its file on
        this CDN. ``data``: the file (default: a real file of the kind its name or type says); ``size``: the
        size the message declares (default: the file's)."""
        aid = self.snowflake()
        body = sample_bytes(filename, content_type) if data is None else data
        cid = channel_id or self.snowflake()
        self.cdn_files[aid] = CdnFile(cid, filename, content_type, body)
        path = f"/attachments/{cid}/{aid}/{filename}"
        query = _signed(path)
        payload: dict[str, Any] = {"id": str(aid), "filename": filename,
                                   "size": len(body) if size is None else size,
                                   "url": f"{self.cdn_base}{path}?{query}",
                                   "proxy_url": f"{self.cdn_base}/media{path}?{query}"}
        if content_type is not None:  # Discord leaves it out when it cannot tell
            payload["content_type"] = content_type
        self.cdn_attachments[str(aid)] = payload
        return payload

    def forget_file(self, attachment: dict[str, Any]) -> None:
        """The file is gone from the CDN (a deleted message): its links answer 404."""
        self.cdn_files.pop(int(attachment["id"]), None)

    async def _cdn_file(self, request: web.Request) -> web.StreamResponse:
        aid, cid = int(request.match_info["aid"]), int(request.match_info["cid"])
        found = self.cdn_files.get(aid)
        path = request.path.removeprefix("/media")
        if (found is None or found.channel_id != cid or found.filename != request.match_info["filename"]
                or not _valid(path, request.query)):
            return web.Response(status=404, text="This content is no longer available.")
        self.cdn_requests.append(aid)
        # Streamed in pieces, counting what was written: a client that stops reading (and closes) at its cap
        # gets no more than the transport's buffers beyond it.
        kind = found.content_type or "application/octet-stream"
        response = web.StreamResponse(headers={"Content-Type": kind})
        data = found.data.encode() if isinstance(found.data, str) else found.data  # a test may give text
        if not self.cdn_chunked:
            response.content_length = len(data)
        await response.prepare(request)
        self.cdn_sent[aid] = 0
        view = memoryview(data)
        try:
            for start in range(0, len(view), 256 * 1024):
                await response.write(view[start:start + 256 * 1024])
                self.cdn_sent[aid] += len(view[start:start + 256 * 1024])
            await response.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass  # the client hung up
        return response


def _signature(path: str, ex: str, issued: str) -> str:
    return hmac.new(_SECRET, f"{path}|{ex}|{issued}".encode(), hashlib.sha256).hexdigest()


def _signed(path: str) -> str:
    now = int(time.time())
    ex, issued = f"{now + LINK_LIFETIME:x}", f"{now:x}"
    return f"ex={ex}&is={issued}&hm={_signature(path, ex, issued)}&"


def _valid(path: str, query: Any) -> bool:
    ex, issued, mac = query.get("ex", ""), query.get("is", ""), query.get("hm", "")
    try:
        expired = int(ex, 16) < time.time()
    except ValueError:
        return False
    return not expired and hmac.compare_digest(mac, _signature(path, ex, issued))
