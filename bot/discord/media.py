"""The Discord side of reading a message's images and files (the reading itself is bot/reply/media.py).

Only the message's own attachments are downloaded (the attachment's CDN URL as Discord gave it); a URL
written in the text or an embed is never followed. Each download is streamed and stops as soon as it
passes its cap: the size Discord declares is checked first, but a body larger than declared is never read
whole.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import discord

from bot.core.attachments import Attachment
from bot.reply.media import Fetch, TooLarge

CHUNK = 64 * 1024  # bytes read from the stream at a time


def attachment_fetcher(message: discord.Message) -> Fetch | None:
    """Downloads for the attachments of ``message`` (a forward's too); None when it has none."""
    if not message.attachments and not message.message_snapshots:
        return None  # most messages: nothing to build
    own = {a.url: a for a in [*message.attachments,
                              *(a for s in message.message_snapshots for a in s.attachments)]}
    if not own:
        return None

    async def fetch(attachment: Attachment, cap: int) -> bytes:
        found = own.get(attachment.url)
        if found is None:  # only a file this message carries, never another URL
            raise LookupError(f"{attachment.filename} is not an attachment of message {message.id}")
        return await read_capped(found, cap)

    return fetch


async def read_capped(attachment: discord.Attachment, cap: int) -> bytes:
    """``attachment.read()``, streamed: :class:`TooLarge` as soon as more than ``cap`` bytes arrive (then
    the connection is dropped, the rest never read). discord.py reads an asset whole, so this goes through
    discord.py's own HTTP session, with its proxy settings, as ``Attachment.read`` does."""
    http = attachment._http  # noqa: SLF001 (discord.py has no streaming read of an attachment)
    # the client's private (name-mangled) session: the only way to its proxy and connection pool
    session: aiohttp.ClientSession = http._HTTPClient__session  # type: ignore[attr-defined]  # noqa: SLF001
    kwargs: dict[str, Any] = {}  # aiohttp's keyword arguments
    if http.proxy is not None:
        kwargs["proxy"] = http.proxy
    if http.proxy_auth is not None:
        kwargs["proxy_auth"] = http.proxy_auth
    async with session.get(attachment.url, **kwargs) as resp:
        if resp.status == 404:
            raise discord.NotFound(resp, "asset not found")
        if resp.status == 403:
            raise discord.Forbidden(resp, "cannot retrieve asset")
        if resp.status != 200:
            raise discord.HTTPException(resp, "failed to get asset")
        if resp.content_length is not None and resp.content_length > cap:
            raise TooLarge(cap)
        body = bytearray()
        async for chunk in resp.content.iter_chunked(CHUNK):
            body += chunk
            if len(body) > cap:
                raise TooLarge(cap)
        return bytes(body)
