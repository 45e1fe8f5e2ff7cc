"""Discord's rules for a bot editing a channel message (PATCH /channels/{channel.id}/messages/{message.id}),
and a webhook editing its own (PATCH /webhooks/{webhook.id}/{token}/messages/{message.id}).

Unknown (or deleted, or in another channel): 404 code 10008. Another author's message: 403 code 50005. Content
over 2000 characters: 400 code 50035 with the field error, as for a new message (:func:`too_long`, which the
fake asks of every post and edit: a bot's, a webhook's, an interaction's response, follow-up and their edits).
An edit that leaves the
message with nothing to show: 400 code 50006. The route's rate limit (5 per 5 s per channel, advertised in
X-RateLimit-* headers, 429 past it) is one of the fake's buckets (tests/fakes/discord_guild.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tests.fakes.discord_guild import error

MAX_CONTENT = 2000


def too_long(body: dict[str, Any], at: str | None = None) -> web.Response | None:
    """The 400 Discord answers a message body whose content is over the limit, else None; ``at``: the field
    the body is under (an interaction response's ``data``), as Discord's errors nest it."""
    content = body.get("content")
    if isinstance(content, str) and len(content) > MAX_CONTENT:
        errors: dict[str, Any] = {"content": {"_errors": [
            {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {MAX_CONTENT} or fewer in length."}]}}
        return error(400, 50035, "Invalid Form Body", {at: errors} if at else errors)
    return None


def refuse_webhook_edit(message: dict[str, Any] | None, hook: dict[str, Any] | None, token: str,
                        body: dict[str, Any], thread_id: str | None = None) -> web.Response | None:
    """Discord's rules for PATCH and DELETE /webhooks/{id}/{token}/messages/{message.id}: the webhook and its
    token must be right (404 10015), and only that webhook's own messages can be edited (404 10008), one
    in a thread only with that thread named (``thread_id``): the message is looked up where it says."""
    if hook is None or hook.get("token") != token:
        return error(404, 10015, "Unknown Webhook")
    if message is None or message.get("_deleted") or str(message.get("webhook_id")) != str(hook["id"]):
        return error(404, 10008, "Unknown Message")
    if str(message["channel_id"]) != (thread_id or str(hook["channel_id"])):
        return error(404, 10008, "Unknown Message")
    return too_long(body)


def refuse_webhook_thread(thread: dict[str, Any] | None, hook: dict[str, Any]) -> web.Response | None:
    """Discord's rules for a webhook posting into a thread (``?thread_id=``): a thread whose parent is the
    webhook's channel (else 400 10003 Unknown Channel), not archived and locked (400 50083)."""
    if (thread is None or thread.get("type") not in (10, 11, 12)
            or thread.get("parent_id") != hook["channel_id"]):
        return error(400, 10003, "Unknown Channel")
    metadata = thread.get("thread_metadata") or {}
    if metadata.get("archived") and metadata.get("locked"):
        return error(400, 50083, "Thread is archived")
    return None


def refuse_edit(message: dict[str, Any] | None, channel_id: int, bot: dict[str, Any] | None,
                body: dict[str, Any]) -> web.Response | None:
    """Why Discord would refuse this edit (the error response), or None when it is allowed."""
    if message is None or message.get("_deleted") or int(message["channel_id"]) != channel_id:
        return error(404, 10008, "Unknown Message")
    if bot is None or str(message["author"]["id"]) != str(bot["id"]):
        return error(403, 50005, "Cannot edit a message authored by another user")
    refused = too_long(body)
    if refused is not None:
        return refused
    shown = ("content", "embeds", "attachments", "components")
    after = {key: body.get(key, message.get(key)) for key in shown}
    v2 = int(body.get("flags", message.get("flags")) or 0) & (1 << 15)  # a V2 message shows its components
    if not (after["content"] or after["embeds"] or after["attachments"] or (v2 and after["components"])):
        return error(400, 50006, "Cannot send an empty message")
    return None
