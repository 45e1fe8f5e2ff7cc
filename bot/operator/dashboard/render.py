"""Server-side rendering: one Jinja2 environment with autoescaping on for every template (names, memories
and facts are other people's text), the keys the application stores its parts under, and small helpers
shared by the pages, the actions and the login."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import datetime
from pathlib import Path

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.operator.admin.language import format_duration
from bot.operator.dashboard.context import DashboardContext
from bot.operator.dashboard.live import LiveFeed
from bot.operator.dashboard.sessions import COOKIE, Session, Sessions
from database.records import as_utc

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

CONTEXT = web.AppKey("context", DashboardContext)
SESSIONS = web.AppKey("sessions", Sessions)
LIVE = web.AppKey("live", LiveFeed)  # absent when the dashboard runs without the bot

ENV = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                  trim_blocks=True, lstrip_blocks=True)


def money(value: float) -> str:
    return f"${value:,.4f}" if value < 1 else f"${value:,.2f}"


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def when(value: datetime | None) -> str:
    return as_utc(value).strftime("%Y-%m-%d %H:%M UTC") if value is not None else "never"


def size(value: int | None) -> str:
    if value is None:
        return "unknown"
    units = ("bytes", "KB", "MB", "GB", "TB")
    power = min(int(math.log(value, 1024)) if value > 0 else 0, len(units) - 1)
    return f"{value / 1024 ** power:,.1f} {units[power]}" if power else f"{value:,} bytes"


ENV.filters.update(money=money, number=number, when=when, size=size, duration=format_duration)


def plain(answer: str) -> str:
    """An admin tool's Discord-formatted answer as plain text (bold, code and small-print marks dropped)."""
    text = answer.replace("**", "").replace("`", "")
    return re.sub(r"(?m)^-# ", "", text)


def digest(text: str) -> str:
    """A short fingerprint of a text, sent with an edit form: the edit is refused when the stored text no
    longer has it (someone else changed it in between)."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


ENV.globals.update(digest=digest)


def session_of(request: web.Request) -> Session | None:
    """The session of the request's cookie (the guard has let only requests with one through, but for the
    login and the stylesheet)."""
    return request.app[SESSIONS].get(request.cookies.get(COOKIE))


def render(request: web.Request, template: str, *, status: int = 200, **values: object) -> web.Response:
    """A page, with the session's flash messages and CSRF token (every form posts it back)."""
    session = session_of(request)
    ctx = request.app[CONTEXT]
    values.setdefault("flashes", session.take_flashes() if session is not None else [])
    values.setdefault("active", "")
    html = ENV.get_template(template).render(
        csrf=session.csrf if session is not None else "", character=ctx.character_name(), **values)
    return web.Response(text=html, status=status, content_type="text/html")


def error_page(request: web.Request, status: int, title: str, message: str) -> web.Response:
    return render(request, "error.html", status=status, title=title, message=message)


def redirect(location: str) -> web.Response:
    """See-other after a form: reloading the page that follows never posts the form again."""
    return web.Response(status=303, headers={"Location": location})


def flash_redirect(request: web.Request, location: str, text: str, kind: str = "ok") -> web.Response:
    session = session_of(request)
    if session is not None:
        session.flash(kind, text)
    return redirect(location)
