"""The Discord side of reading a message's images and files (the reading itself is bot/reply/media.py).

Only the message's own attachments are downloaded, through discord.py's ``Attachment.read()`` (the
attachment's CDN URL as Discord gave it); a URL written in the text or an embed is never followed.
"""

from __future__ import annotations

import discord

from bot.core.attachments import Attachment
from bot.reply.media import Fetch


def attachment_fetcher(message: discord.Message) -> Fetch | None:
    """Downloads for the attachments of ``message`` (a forward's too); None when it has none."""
    if not message.attachments and not message.message_snapshots:
        return None  # most messages: nothing to build
    own = {a.url: a for a in [*message.attachments,
                              *(a for s in message.message_snapshots for a in s.attachments)]}
    if not own:
        return None

    async def fetch(attachment: Attachment) -> bytes:
        found = own.get(attachment.url)
        if found is None:  # only a file this message carries, never another URL
            raise LookupError(f"{attachment.filename} is not an attachment of message {message.id}")
        return await found.read()

    return fetch
