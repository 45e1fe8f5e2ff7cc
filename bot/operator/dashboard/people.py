"""The people pages: search and list, one person's page (usage, plan, core memories with their versions,
facts, relationship, consent) and the confirmation before forgetting someone."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.core.i18n import N_, t
from bot.core.text import page_of
from bot.operator.admin.edits import MAX_TEXT
from bot.operator.admin.language import parse_user_id
from bot.operator.conversation_tools import InvalidInput
from bot.operator.dashboard.render import CONTEXT, error_page, render, request_language
from database.records import UserRecord, UserSummary
from memory.relationships import relationship_guidance

PAGE_SIZE = 25
SEARCH_LIMIT = 50
MAX_QUERY = 100


class NotFound(Exception):
    """The person in the URL cannot be shown; ``response`` says why."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


async def people(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    query = request.query.get("q", "").strip()[:MAX_QUERY]
    raw_page = request.query.get("page", "1")
    number = int(raw_page) - 1 if raw_page.isdigit() and 0 < int(raw_page) < 10**6 else 0
    if query:
        found = await ctx.store.people.search_users(query, limit=SEARCH_LIMIT)
        summaries = await ctx.store.people.summaries_of(ctx.character_key, found)
        page = None
    else:
        page = page_of(await ctx.store.people.count_users(), number, PAGE_SIZE)
        summaries = await ctx.store.people.user_summaries(ctx.character_key, offset=page.offset,
                                                          limit=page.size)
    return render(request, "people.html", title=t(request_language(request), "People"), active="people",
                  query=query, summaries=summaries, page=page)


async def known_person(request: web.Request) -> UserRecord:
    """The person named in the URL; a malformed id (400) or an unknown person (404) is a page of its own."""
    raw = request.match_info["user"]
    try:
        user_id = parse_user_id(raw)
    except InvalidInput as exc:
        said = exc.said(request_language(request))
        raise NotFound(error_page(request, 400, N_("Not a user id"), "{reason}", reason=said)) from None
    user = await request.app[CONTEXT].store.people.get_user(user_id)
    if user is None:
        raise NotFound(error_page(request, 404, N_("Unknown person"),
                                  N_("I don't know user {user_id}: they have not talked to me yet "
                                     "(or their data was deleted)."), user_id=user_id))
    return user


def consent_text(consent: bool | None, mode: str, language: str | None = None) -> str:
    if consent is True:
        return t(language, "opted in (/memory opt-in): remembered")
    if consent is False:
        return t(language, "opted out (/memory opt-out): nothing new is remembered")
    if mode == "opt_in":
        return t(language, "never said: not remembered (memory_consent=opt_in remembers only who opted in)")
    return t(language, "never said: remembered (memory_consent=all remembers everyone who did not opt out)")


async def person(request: web.Request, *, drafts: dict[str, str] | None = None, status: int = 200,
                 user: UserRecord | None = None) -> web.Response:
    """One person. ``drafts``: text typed into a form that could not be saved (form id -> text), shown again
    in its box so that nothing typed is lost."""
    ctx = request.app[CONTEXT]
    try:
        user = user or await known_person(request)
    except NotFound as missing:
        return missing.response
    key, store = ctx.character_key, ctx.store
    summary, memories, versions, facts, relationship = await asyncio.gather(
        store.people.user_summary(key, user.id), store.memories.core_memories(key, user.id),
        store.memories.core_memory_versions(key, user.id), store.facts.rows(user.id),
        store.people.relationship(key, user.id))
    assert isinstance(summary, UserSummary)  # the person exists: known_person just read them
    s = ctx.settings
    language = request_language(request)
    return render(
        request, "person.html", status=status, title=user.name or str(user.id), active="people", user=user,
        summary=summary, memories=memories, versions=versions, facts=facts, relationship=relationship,
        guidance=(relationship_guidance(relationship, user.name or str(user.id))
                  or t(language, "none (neutral)")),
        consent=consent_text(user.memory_consent, s.memory.memory_consent, language),
        model=s.models.premium_model if user.premium else s.models.default_model,
        premium_model=s.models.premium_model,
        default_model=s.models.default_model, drafts=drafts or {}, max_text=MAX_TEXT)


async def person_page(request: web.Request) -> web.Response:
    return await person(request)


async def forget_page(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    try:
        user = await known_person(request)
    except NotFound as missing:
        return missing.response
    rows = await ctx.store.privacy.rows_about_user(user.id)
    title = t(request_language(request), "Forget {name}", name=user.name or user.id)
    return render(request, "forget.html", title=title, active="people", user=user,
                  rows=sorted(rows.items()))
