"""Who may use the dashboard, and the guards every request passes.

- **Login** with ``dashboard_token``, compared in constant time; a wrong token costs the caller a second.
  The token is never rendered, logged or put in a URL.
- **Session** cookie ``kindred_session``: HttpOnly (no script can read it), SameSite=Strict (no other site's
  page sends it along), Secure when the request came over HTTPS.
- **CSRF**: every POST but the login carries the session's token in a hidden ``csrf`` field; a missing or
  wrong one is refused (403) before anything is read or changed.
- **Headers** on every answer: a Content-Security-Policy allowing only this dashboard's own stylesheet and
  script (no inline script, no other origin), no framing, no referrer, no caching.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from urllib.parse import quote

from aiohttp import web

from bot.operator.dashboard.render import CONTEXT, SESSIONS, error_page, redirect, render, session_of
from bot.operator.dashboard.sessions import COOKIE, Session

log = logging.getLogger(__name__)

FAILED_LOGIN_DELAY = 1.0
PUBLIC_PREFIXES = ("/static/",)
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def token_matches(given: str, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given.encode(), expected.encode())


def safe_next(value: str) -> str:
    """Where to go after the login: a path on this dashboard only (never another site)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def guard(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Logged in for everything but the login page and the stylesheet; the CSRF token on every POST."""
    if request.path == "/login" or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    session = session_of(request)
    if session is None:
        if request.method == "GET" and request.path != "/live/events":
            return redirect(f"/login?next={quote(request.path_qs, safe='/')}")
        return error_page(request, 401, "Not logged in",
                          "Log in first: this dashboard needs its token. Nothing was changed.")
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), session.csrf.encode()):
            log.warning("dashboard: refused a %s to %s with a wrong CSRF token", request.method, request.path)
            return error_page(request, 403, "Refused",
                              "This form's security token is missing or wrong (CSRF protection), so nothing "
                              "was changed. Reload the page and try again.")
    return await handler(request)


async def login_page(request: web.Request) -> web.Response:
    target = safe_next(request.query.get("next", "/"))
    return render(request, "login.html", title="Log in", next=target, error="")


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    target = safe_next(str(form.get("next", "/")))
    if not token_matches(str(form.get("token", "")), request.app[CONTEXT].settings.dashboard.dashboard_token):
        log.warning("dashboard: a login with a wrong token from %s", request.remote)
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return render(request, "login.html", status=401, title="Log in", next=target,
                      error="Wrong token: see dashboard_token in the bot's configuration.")
    session = request.app[SESSIONS].create()
    log.info("dashboard: login from %s", request.remote)
    response = redirect(target)
    set_cookie(request, response, session)
    return response


def set_cookie(request: web.Request, response: web.Response, session: Session) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", path="/", secure=request.secure)


async def logout(request: web.Request) -> web.Response:
    session = session_of(request)
    if session is not None:
        request.app[SESSIONS].drop(session.id)
    response = redirect("/login")
    response.del_cookie(COOKIE, path="/")
    return response
