"""The prompt inspector: the last requests this bot process sent to the model (bot/core/models/sent.py),
and one of them as sent, part by part, with each part's tokens and whether the model read it from the
cache.

Operators only, as every page (the guard in auth.py). A DM's request holds what the person wrote in
private: the list shows no text of any request, only what kind it was and for whom (a DM marked so, as the
people pages mark facts from DMs); its text is on its own page, for the logged-in operator alone. Every text
is escaped by the templates' autoescaping. The log is the running process's: `main.py dashboard` alone has
none, and says so.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.core.i18n import N_, t
from bot.core.models.sent import READ, SentLog, itemize, totals
from bot.operator.dashboard.render import CONTEXT, error_page, render, request_language


def sent_log(request: web.Request) -> SentLog | None:
    bot = request.app[CONTEXT].bot
    return bot.claude.sent if bot is not None else None


async def prompts(request: web.Request) -> web.Response:
    log = sent_log(request)
    return render(request, "prompts.html", title=t(request_language(request), "Prompts"), active="prompts",
                  running=log is not None, requests=log.recent() if log is not None else [])


async def prompt_page(request: web.Request) -> web.Response:
    log = sent_log(request)
    raw = request.match_info["number"]
    sent = log.get(int(raw)) if log is not None and raw.isdigit() and len(raw) < 12 else None
    if sent is None:
        return error_page(request, 404, N_("No such request"),
                          N_("Request {number} is not among the last ones this bot process keeps "
                             "(newest only, and none after a restart)."), number=raw[:20])
    # a prompt of a hundred thousand tokens takes tens of milliseconds to count: not on the bot's loop
    items = await asyncio.to_thread(itemize, sent)
    counted = sum(i.tokens for i in items)
    read = sum(i.tokens for i in items if i.cache == READ)
    title = t(request_language(request), "Request {number}", number=sent.number)
    return render(request, "prompt.html", title=title, active="prompts", sent=sent,
                  items=items, by_label=totals(items), counted=counted, read=read)
