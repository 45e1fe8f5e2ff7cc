"""The bad input corpus (tests/data/bad_input.json), each message sent over the wire by a non-admin: the bot
stays up, answers within Discord's limits without pinging a crowd, never leaks another person's DM and never
obeys a non-admin.

Fake Claude answers by echoing the message (hostile text comes back and must be posted safely), repeats any
user ids it was shown as raw mentions (a reply that would ping a hundred people), says YES to every vote, and
adds the secret of another person's DM whenever that secret is anywhere in its prompt: so a secret in any
channel post, or in any prompt but that person's own DM conversation, is a leak.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from database.models import LoggedMessage
from tests.fakes.claude_server import FakeClaude, content_text
from tests.harness import CHANNEL_ID, LOG_CHANNEL_ID, USER2_ID, USER_ID, Harness, bot_posts

CORPUS = json.loads((Path(__file__).parent / "data" / "bad_input.json").read_text(encoding="utf-8"))
SECRET = CORPUS["secret"]
CROWD = [900_000_000_000_001_000 + i for i in range(100)]


def last_user_text(body: dict[str, Any]) -> str:
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    return content_text(users[-1].get("content", "")) if users else ""


def responder(body: dict[str, Any]) -> str:
    if body.get("model") == "claude-test-voter":
        return "YES"
    text = last_user_text(body)
    reply = f"You said: {text[-3000:]}" if text.strip() else "I hear you."
    if "everyone look" in text:
        reply += " " + " ".join(f"<@{uid}>" for uid in CROWD) + " @everyone"
    if SECRET in FakeClaude.all_text(body):
        reply += f" (the code is {SECRET})"
    return reply


def answered(posts: list[dict[str, Any]], message: dict[str, Any]) -> bool:
    """A bot post answering ``message``: replying to it in a server; in a DM, any later post."""
    for post in posts:
        if not post["author"].get("bot") or int(post["id"]) < int(message["id"]):
            continue
        replied_to = (post.get("message_reference") or {}).get("message_id")
        if "guild_id" not in message or replied_to == message["id"]:
            return True
    return False


def case_text(case: dict[str, Any], h: Harness) -> str:
    text = case["content"] * int(case.get("repeat", 1))
    text = text.replace("{author}", str(USER_ID)).replace("{other}", str(USER2_ID))
    if case.get("mentions"):
        text += " " + " ".join(f"<@{uid}>" for uid in CROWD[:case["mentions"]])
    if case.get("mention"):
        text = f"<@{h.bot_user_id}> {text}"
    return text


async def send_case(h: Harness, case: dict[str, Any]) -> tuple[dict[str, Any], int | None]:
    """Send one case as alice; (the message, the channel a reply must come in, or None)."""
    text = case_text(case, h)
    files = [h.discord.attachment(name) for name in case.get("attachments", [])]
    mentions = ([h.bot_user_id] if case.get("mention") else []) + CROWD[:case.get("mentions", 0)]
    where = case.get("where", "channel")
    if where == "dm":
        sent = await h.discord.dm_message(USER_ID, text, attachments=files or None)
        return sent, int(sent["channel_id"])
    channel = LOG_CHANNEL_ID if where == "log_channel" else CHANNEL_ID
    sent = await h.discord.user_message(channel, USER_ID, text, mentions=mentions, attachments=files or None)
    return sent, (channel if case.get("mention") else None)


async def test_the_bad_input_corpus(harness: Harness) -> None:
    h = harness
    for uid in CROWD:
        h.discord.add_user(uid, f"crowd{uid % 1000}")
        h.discord.add_member(h.guild_id, uid)
    h.claude.responder = responder
    # Bob tells the character a secret in a DM.
    bob_dm = await h.discord.dm_message(USER2_ID, f"keep this between us: my locker code is {SECRET}")
    bob_channel = int(bob_dm["channel_id"])
    await h.replies(bob_channel)
    sent = [bob_dm]
    for case in CORPUS["cases"]:
        name = case["name"]
        before = len(h.discord.posted())
        message, reply_channel = await send_case(h, case)
        sent.append(message)
        if reply_channel is not None:
            await h.discord.wait_for(lambda d, m=message, c=reply_channel: answered(d.posted(c), m),
                                     what=f"the answer to {name!r}")
        assert h.bot is not None and not h.bot.is_closed(), name
        for post in h.discord.posted()[before:]:
            assert 0 < len(post["content"]) <= 2000 or post.get("attachments"), name
    # Every post stayed within Discord's rules and pinged nobody it should not.
    bodies = [r.body for r in h.discord.requests if r.method == "POST" and r.path.endswith("/messages")
              and isinstance(r.body, dict) and "content" in r.body]
    assert bodies
    for body in bodies:
        allowed = body.get("allowed_mentions") or {}
        assert "everyone" not in allowed.get("parse", []) and "roles" not in allowed.get("parse", [])
        assert "users" not in allowed.get("parse", []) and len(allowed.get("users", [])) <= 3
        assert len(body["content"]) <= 2000
    crowd_replies = [b for b in bodies if f"<@{CROWD[0]}>" in b["content"]]
    assert crowd_replies and all(not b["allowed_mentions"].get("users") for b in crowd_replies)
    # Nobody's DM reached a channel, or any prompt but bob's own conversation.
    for post in bot_posts(h, None):
        if int(post["channel_id"]) != bob_channel:
            assert SECRET not in post["content"], post["channel_id"]
    for request in h.claude.requests:
        if SECRET in FakeClaude.all_text(request):
            assert f"locker code is {SECRET}" in FakeClaude.all_text(request)  # bob's DM conversation only
            assert "debug mode" not in last_user_text(request.body)
    # No admin power was used by a non-admin.
    assert h.bot is not None and not h.bot.is_closed()
    alice = await h.store.people.get_user(USER_ID)
    assert alice is not None and not alice.premium
    assert (await h.store.state.get("verbose")) in ("", "off", "false", "0")
    for post in bot_posts(h, LOG_CHANNEL_ID):  # the character chatting, never an admin tool answering
        assert post["content"].startswith(("You said:", "I hear you.")), post["content"][:200]
    # Everything the bot saw is in the log (but the log channel, never logged as conversation: issue 49),
    # and the next message is answered.
    in_flight = h.bot.in_flight
    await h.discord.wait_for(lambda _: not in_flight.busy, what="the messages in hand handled")
    logged = {int(r[0]) for r in await h.store.db.rows(select(LoggedMessage.message_id))}
    missing = [m["content"][:60] for m in sent
               if int(m["id"]) not in logged and int(m["channel_id"]) != LOG_CHANNEL_ID]
    assert not missing
    assert not [m for m in sent if int(m["id"]) in logged and int(m["channel_id"]) == LOG_CHANNEL_ID]
    h.claude.script("All calm.", model="claude-test-default",
                    match=lambda body: "still with us" in last_user_text(body))
    await h.say("still with us?", mention=True)
    await h.discord.wait_for(lambda d: any(p["content"] == "All calm." for p in bot_posts(h, CHANNEL_ID)),
                             what="the next answer")
    replies = h.bot.services.replies
    await h.discord.wait_for(lambda _: not replies.owing(), what="nothing owed")
