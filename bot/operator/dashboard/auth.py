"""Who may use the dashboard, and the guards every request passes.

- **Login** with ``dashboard_token``, compared in constant time; a wrong token costs the caller a second,
  and failed logins are limited per address and overall (LoginLimiter): past the limit a login is refused
  unread until the window has passed. The token is never rendered, logged or put in a URL. After the login
  only a path on this dashboard is followed (``safe_next``).
- **Session** cookie ``kindred_session``: HttpOnly (no script can read it), SameSite=Strict (no other site's
  page sends it along), Secure when the request came over HTTPS, directly or through the configured
  ``dashboard_trusted_proxy`` (whose X-Forwarded-Proto and X-Forwarded-For only are believed). A session's
  live streams end with it (logout, expiry).
- **CSRF**: every POST but the login carries the session's token in a hidden ``csrf`` field; a missing or
  wrong one is refused (403) before anything is read or changed.
- **Headers** on every answer: a Content-Security-Policy allowing only this dashboard's own stylesheet and
  script (no inline script, no other origin), no framing, no referrer, no caching.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import time
from collections import OrderedDict, deque
from urllib.parse import quote, urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.core.i18n import N_, t, tn
from bot.operator.dashboard.render import (
    CONTEXT,
    SESSIONS,
    error_page,
    redirect,
    render,
    request_language,
    session_of,
)
from bot.operator.dashboard.sessions import COOKIE, Session

log = logging.getLogger(__name__)

FAILED_LOGIN_DELAY = 1.0
# Failed logins within LOGIN_WINDOW seconds before logins are refused unread: per address (a guesser), and
# overall (a guesser with many addresses). An operator who mistyped waits out the window, as the page says.
LOGIN_WINDOW = 900.0
FAILURES_PER_ADDRESS = 5
FAILURES_OVERALL = 50
ADDRESSES_KEPT = 1024  # addresses remembered (the least recently failing go first): bounded memory
PUBLIC_PREFIXES = ("/static/",)
METRICS_PATH = "/metrics"  # served here when metrics_port is the dashboard's (bot/operator/metrics.py)
METRICS = web.AppKey("metrics", bool)
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
    """Where to go after the login: a path on this dashboard only (never another site).

    Parsed, not pattern-matched: no scheme, no host, one leading slash; and no control character or
    backslash anywhere, since browsers drop tabs and newlines from a URL (``/\t/evil.example/`` becomes
    ``//evil.example/``) and read a backslash as a slash."""
    if not value.startswith("/") or value.startswith("//") or "\\" in value \
            or any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return value


def _trusted_proxy(request: web.Request) -> bool:
    """Whether the request came from the configured ``dashboard_trusted_proxy``."""
    proxy = request.app[CONTEXT].settings.dashboard.dashboard_trusted_proxy.strip()
    if not proxy or not request.remote:
        return False
    try:
        remote = ipaddress.ip_address(request.remote)
        if isinstance(remote, ipaddress.IPv6Address) and remote.ipv4_mapped is not None:
            remote = remote.ipv4_mapped
        return remote == ipaddress.ip_address(proxy)
    except ValueError:
        return False


def _last_header_value(request: web.Request, name: str) -> str:
    """The value the nearest proxy added (the last one: earlier ones came from the client)."""
    return request.headers.get(name, "").split(",")[-1].strip()


def client_address(request: web.Request) -> str:
    """The address failed logins are counted for: the proxy's X-Forwarded-For when it is the trusted one."""
    if _trusted_proxy(request):
        forwarded = _last_header_value(request, "X-Forwarded-For")
        if forwarded:
            return forwarded
    return request.remote or "unknown"


def over_https(request: web.Request) -> bool:
    """HTTPS to the dashboard, or to the trusted proxy in front of it (then the cookie must be Secure)."""
    if request.secure:
        return True
    return _trusted_proxy(request) and _last_header_value(request, "X-Forwarded-Proto").lower() == "https"


class LoginLimiter:
    """Failed logins in the last ``window`` seconds, per address and overall (both bounded in memory)."""

    def __init__(self, per_address: int = FAILURES_PER_ADDRESS, overall: int = FAILURES_OVERALL,
                 window: float = LOGIN_WINDOW, addresses: int = ADDRESSES_KEPT) -> None:
        self.per_address, self.overall, self.window, self.addresses = per_address, overall, window, addresses
        self._all: deque[float] = deque(maxlen=overall)
        self._by_address: OrderedDict[str, deque[float]] = OrderedDict()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and now - times[0] >= self.window:
            times.popleft()

    def wait(self, address: str) -> float:
        """Seconds until a login from ``address`` is read again (0: now)."""
        now = time.monotonic()
        self._prune(self._all, now)
        waits = [0.0]
        if len(self._all) >= self.overall:
            waits.append(self._all[0] + self.window - now)
        mine = self._by_address.get(address)
        if mine is not None:
            self._prune(mine, now)
            if len(mine) >= self.per_address:
                waits.append(mine[0] + self.window - now)
            elif not mine:
                del self._by_address[address]
        return max(waits)

    def failed(self, address: str) -> None:
        now = time.monotonic()
        self._all.append(now)
        mine = self._by_address.pop(address, None) or deque(maxlen=self.per_address)
        mine.append(now)
        self._by_address[address] = mine  # the most recent last
        while len(self._by_address) > self.addresses:
            self._by_address.popitem(last=False)

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)


LOGINS = web.AppKey("logins", LoginLimiter)


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Logged in for everything but the login page and the stylesheet; the CSRF token on every POST."""
    if request.path == "/login" or request.path.startswith(PUBLIC_PREFIXES):
        return await handler(request)
    if request.path == METRICS_PATH and METRICS in request.app:  # a scraper: metrics_token, not a login
        return await handler(request)
    session = session_of(request)
    if session is None:
        if request.method == "GET" and request.path != "/live/events":
            return redirect(f"/login?next={quote(request.path_qs, safe='/')}")
        return error_page(request, 401, N_("Not logged in"),
                          N_("Log in first: this dashboard needs its token. Nothing was changed."))
    if request.method not in ("GET", "HEAD"):
        form = await request.post()
        if not hmac.compare_digest(str(form.get("csrf", "")).encode(), session.csrf.encode()):
            log.warning("dashboard: refused a %s to %s with a wrong CSRF token", request.method, request.path)
            return error_page(request, 403, N_("Refused"),
                              N_("This form's security token is missing or wrong (CSRF protection), so "
                                 "nothing was changed. Reload the page and try again."))
    return await handler(request)


async def login_page(request: web.Request) -> web.Response:
    target = safe_next(request.query.get("next", "/"))
    return render(request, "login.html", title=t(request_language(request), "Log in"), next=target, error="")


async def login(request: web.Request) -> web.Response:
    form = await request.post()
    target = safe_next(str(form.get("next", "/")))
    address = client_address(request)
    limiter = request.app[LOGINS]
    language = request_language(request)
    wait = limiter.wait(address)
    if wait > 0:  # refused unread: a guesser learns nothing, however many requests it sends at once
        log.warning("dashboard: a login from %s refused (too many failed logins)", address)
        minutes = max(1, round(wait / 60))
        return render(request, "login.html", status=429, title=t(language, "Log in"), next=target,
                      error=tn(language, "Too many failed logins: try again in {count} minute.",
                               "Too many failed logins: try again in {count} minutes.", minutes))
    if not token_matches(str(form.get("token", "")),
                         request.app[CONTEXT].settings.dashboard.dashboard_token):
        limiter.failed(address)  # counted before the delay, so parallel guesses are counted too
        log.warning("dashboard: a login with a wrong token from %s", address)
        await asyncio.sleep(FAILED_LOGIN_DELAY)
        return render(request, "login.html", status=401, title=t(language, "Log in"), next=target,
                      error=t(language, "Wrong token: see dashboard_token in the bot's configuration."))
    limiter.succeeded(address)
    session = request.app[SESSIONS].create()
    log.info("dashboard: login from %s", address)
    response = redirect(target)
    set_cookie(request, response, session)
    return response


def set_cookie(request: web.Request, response: web.Response, session: Session) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="Strict", path="/",
                        secure=over_https(request))


async def logout(request: web.Request) -> web.Response:
    session = session_of(request)
    if session is not None:
        request.app[SESSIONS].drop(session.id)
    response = redirect("/login")
    response.del_cookie(COOKIE, path="/")
    return response
