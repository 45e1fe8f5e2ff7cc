"""Every edit the dashboard makes, each through the same AdminTools method as its slash command (or the
same store method as ``/forget_me``), so nothing has two code paths. The guard has checked the session and
the CSRF token before any of these runs.

After a change: a redirect to the page with the tool's answer shown (reloading never posts twice). When a
text cannot be saved (too long, empty, or changed by someone else meanwhile), the page is shown again with
the message and the typed text still in its box: nothing typed is lost, nothing stored is overwritten.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.core.i18n import N_, sentences, t, tn
from bot.operator.admin.language import parse_id
from bot.operator.admin.memories import EditConflict
from bot.operator.conversation_tools import InvalidInput
from bot.operator.dashboard import pages
from bot.operator.dashboard.people import NotFound, known_person, person
from bot.operator.dashboard.render import CONTEXT, digest, flash_redirect, plain, request_language, session_of
from database.records import UserRecord

log = logging.getLogger(__name__)


async def form_text(request: web.Request, name: str) -> str:
    """A form field with the browser's CRLF line ends made plain newlines again."""
    return str((await request.post()).get(name, "")).replace("\r\n", "\n")


def flash(request: web.Request, kind: str, text: str) -> None:
    session = session_of(request)
    if session is not None:
        session.flash(kind, text)


async def apply(request: web.Request, back: str, change: Awaitable[str]) -> web.Response:
    try:
        answer = await change
    except InvalidInput as exc:
        return flash_redirect(request, back, exc.said(request_language(request)), "error")
    log.info("dashboard: %s", request.path)
    return flash_redirect(request, back, plain(answer))


# --------------------------------------------------------------------------- the character


async def identity_add(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    kind, text = await form_text(request, "kind"), await form_text(request, "text")
    try:
        answer = await ctx.tools.identity.add(kind, text, request_language(request))
    except InvalidInput as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await pages.character(request, drafts={"new": text}, status=400)
    return flash_redirect(request, "/character", plain(answer))


async def identity_edit(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    raw, text = request.match_info["entry"], await form_text(request, "text")
    try:
        answer = await ctx.tools.identity.edit(raw, text, request_language(request))
    except InvalidInput as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await pages.character(request, drafts={f"identity-{raw}": text}, status=400)
    return flash_redirect(request, "/character", plain(answer))


async def identity_delete(request: web.Request) -> web.Response:
    return await apply(request, "/character",
                       request.app[CONTEXT].tools.identity.delete(request.match_info["entry"],
                                                                  request_language(request)))


# --------------------------------------------------------------------------- one person

PersonAction = Callable[[web.Request, UserRecord], Awaitable[web.Response]]


def about_person(action: PersonAction) -> Callable[[web.Request], Awaitable[web.Response]]:
    """Resolve the person in the URL first (a malformed id or an unknown person gets its own page)."""

    async def handler(request: web.Request) -> web.Response:
        try:
            user = await known_person(request)
        except NotFound as missing:
            return missing.response
        return await action(request, user)

    return handler


def page_of_person(user: UserRecord) -> str:
    return f"/people/{user.id}"


@about_person
async def premium(request: web.Request, user: UserRecord) -> web.Response:
    """The form says which plan it wants: a second click on a stale page does not flip it back."""
    wanted = await form_text(request, "premium") == "on"
    language = request_language(request)
    if user.premium == wanted:
        return flash_redirect(request, page_of_person(user),
                              t(language, "Already premium: nothing changed.") if wanted
                              else t(language, "Already standard: nothing changed."))
    return await apply(request, page_of_person(user),
                       request.app[CONTEXT].tools.users.toggle_premium(str(user.id), language))


@about_person
async def memory_add(request: web.Request, user: UserRecord) -> web.Response:
    text = await form_text(request, "text")
    try:
        answer = await request.app[CONTEXT].tools.memories.add(str(user.id), text,
                                                               request_language(request))
    except InvalidInput as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await person(request, drafts={"memory-new": text}, status=400, user=user)
    return flash_redirect(request, page_of_person(user), plain(answer))


@about_person
async def memory_edit(request: web.Request, user: UserRecord) -> web.Response:
    """Saved only if the memory still reads as it did when the page was opened (its fingerprint came with
    the form); the store checks it again in the same statement that writes, so two editors never overwrite
    each other unseen. The version replaced is archived either way."""
    ctx = request.app[CONTEXT]
    raw = request.match_info["memory"]
    text, seen = await form_text(request, "text"), await form_text(request, "version")
    form = f"memory-{raw}"
    try:
        memory_id = parse_id(raw, "memory")
        memories = await ctx.store.memories.core_memories(ctx.character_key, user.id)
        stored = {mid: content for mid, content, _ in memories}.get(memory_id)
        if stored is not None and digest(stored) != seen:
            raise EditConflict(N_("Core memory #{id} was changed by someone else after you opened this page, "
                                  "so your edit was not saved; its current text is shown above your text."),
                               id=memory_id)
        answer = await ctx.tools.memories.edit(str(user.id), memory_id, text, expected=stored,
                                                language=request_language(request))
    except EditConflict as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await person(request, drafts={form: text, f"{form}-conflict": "1"}, status=409, user=user)
    except InvalidInput as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await person(request, drafts={form: text}, status=400, user=user)
    return flash_redirect(request, page_of_person(user), plain(answer))


@about_person
async def memory_delete(request: web.Request, user: UserRecord) -> web.Response:
    return await apply(request, page_of_person(user),
                       request.app[CONTEXT].tools.memories.delete(str(user.id), request.match_info["memory"],
                                                                  request_language(request)))


@about_person
async def version_restore(request: web.Request, user: UserRecord) -> web.Response:
    tools = request.app[CONTEXT].tools
    return await apply(request, page_of_person(user),
                       tools.memories.restore(str(user.id), request.match_info["version"],
                                              request_language(request)))


@about_person
async def fact_edit(request: web.Request, user: UserRecord) -> web.Response:
    """Only what changed is sent on: an unchanged text keeps its embedding."""
    ctx = request.app[CONTEXT]
    raw = request.match_info["fact"]
    text, category = await form_text(request, "text"), (await form_text(request, "category")).strip()
    try:
        row = await ctx.store.facts.get(user.id, parse_id(raw, "fact"))
        if row is None:
            raise InvalidInput(N_("There is no fact #{id} about this person (any more)."), id=raw)
        new_text = text if text.strip() != row.fact else None
        new_category = category if category != row.category else None
        if new_text is None and new_category is None:
            return flash_redirect(request, page_of_person(user),
                                  t(request_language(request), "Fact #{id}: nothing changed.", id=row.id))
        answer = await ctx.tools.facts.edit(str(user.id), row.id, new_text, new_category,
                                             request_language(request))
    except InvalidInput as exc:
        flash(request, "error", exc.said(request_language(request)))
        return await person(request, drafts={f"fact-{raw}": text}, status=400, user=user)
    return flash_redirect(request, page_of_person(user), plain(answer))


@about_person
async def fact_pin(request: web.Request, user: UserRecord) -> web.Response:
    pinned = await form_text(request, "pinned") == "on"
    return await apply(request, page_of_person(user),
                       request.app[CONTEXT].tools.facts.pin(str(user.id), request.match_info["fact"], pinned,
                                                            request_language(request)))


@about_person
async def fact_delete(request: web.Request, user: UserRecord) -> web.Response:
    return await apply(request, page_of_person(user),
                       request.app[CONTEXT].tools.facts.delete(str(user.id), request.match_info["fact"],
                                                               request_language(request)))


@about_person
async def forget(request: web.Request, user: UserRecord) -> web.Response:
    """What /forget_me does, for this person."""
    ctx = request.app[CONTEXT]
    counts = await ctx.forget(user.id)
    language = request_language(request)
    label = f"{user.name or t(language, 'unnamed')} ({user.id})"
    log.info("dashboard: forgot user %s (%d rows)", user.id, sum(counts.values()))
    after = await ctx.store.people.get_user(user.id)
    kept = (t(language, "All that is kept is that they opted out, so nothing new about them is remembered.")
            if after is not None and after.memory_consent is False else "")
    total = sum(counts.values())
    return flash_redirect(request, "/people", sentences(
        tn(language, "Forgot {name}: deleted {count} record.", "Forgot {name}: deleted {count} records.",
           total, name=label), kept))
