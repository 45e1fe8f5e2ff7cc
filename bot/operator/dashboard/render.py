"""Server-side rendering: one Jinja2 environment with autoescaping on for every template (names, memories
and facts are other people's text), the keys the application stores its parts under, and small helpers
shared by the pages, the actions and the login.

Every page is in the operator's language: the first of their browser's ``Accept-Language`` languages the
``kindred`` catalogs speak (:func:`request_language`; English when none is). Templates mark their text with
Jinja2's i18n extension (``_()``, ``ngettext()``, ``{% trans %}``, newstyle: ``%(name)s`` placeholders),
whose gettext callables read the language from the render's context, so one environment serves concurrent
requests in different languages; the filters write numbers, money, sizes and durations as that language
does (bot/core/numbers.py, CLDR's unit patterns)."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.numbers import format_currency
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from bot.core.i18n import catalogs, t, tn
from bot.core.locales import FALLBACK, language_of_locale
from bot.core.numbers import date_time, dollars, percent
from bot.core.numbers import number as figure
from bot.operator.admin.language import format_duration, memory_source, version_reason
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
                  trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.i18n"])
ENV.policies["ext.i18n.trimmed"] = True  # a {% trans %} block's lines are one sentence, as extracted
MAX_LANGUAGES = 20  # Accept-Language entries read (a header may list any number)
_QUALITY = re.compile(r"q=([0-9.]+)")


def request_language(request: web.Request) -> str:
    """The catalog language (bot/core/locales.py's line languages) the operator's browser asks for first:
    ``Accept-Language`` in its order of preference ("de-CH, en;q=0.5" -> "de"; "zh-TW" -> "zh_Hant"), a
    language without catalogs skipped; English when none has them."""
    wanted: list[tuple[float, int, str]] = []
    for index, item in enumerate(request.headers.get("Accept-Language", "").split(",")[:MAX_LANGUAGES]):
        tag, _, params = item.strip().partition(";")
        quality = _QUALITY.search(params.replace(" ", ""))
        try:
            q = float(quality[1]) if quality else 1.0
        except ValueError:
            q = 0.0
        if tag and q > 0:
            wanted.append((-q, index, tag))
    for _, _, tag in sorted(wanted):
        language = language_of_locale(tag)
        if language is not None:
            return language
    return FALLBACK


def html_lang(language: str) -> str:
    """A catalog language as HTML's ``lang`` writes it (BCP 47): "zh_Hant" -> "zh-Hant"."""
    return language.replace("_", "-")


def _language(context: Context) -> str:
    return str(context.get("language") or FALLBACK)


@pass_context
def _gettext(context: Context, message: str) -> str:
    return catalogs()[_language(context)].gettext(message)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int) -> str:
    return catalogs()[_language(context)].ngettext(singular, plural, count)


# Newstyle: the extension fills %(name)s placeholders itself, escaping the values (autoescape is on)
ENV.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]


def money(language: str, value: float) -> str:
    """US dollars: to four decimals below one (a call costs fractions of a cent), else to the cent."""
    if value < 1:
        return dollars(value, language)
    return str(format_currency(value, "USD", locale=language))


def number(language: str, value: float) -> str:
    return figure(value, language, places=0 if float(value).is_integer() else 2)


def when(language: str, value: datetime | None) -> str:
    """A stored moment, in UTC (the dashboard does not know the operator's zone), as the language writes a
    date and a time: "Mar 2, 2026, 9:00 AM UTC", "02.03.2026, 09:00 UTC"."""
    return f"{date_time(as_utc(value), language)} UTC" if value is not None else t(language, "never")


def size(language: str, value: int | None) -> str:
    if value is None:
        return t(language, "unknown")
    units = ("bytes", "KB", "MB", "GB", "TB")
    power = min(int(math.log(value, 1024)) if value > 0 else 0, len(units) - 1)
    if not power:
        return tn(language, "{size} byte", "{size} bytes", value, size=figure(value, language))
    return f"{figure(value / 1024 ** power, language, places=1)} {units[power]}"


_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1))


def duration(language: str, seconds: float) -> str:
    """A time span to the second ("2d 3h 4m 5s"; "2 Tg. 3 Std. 4 Min. 5 Sek.", CLDR's short units)."""
    if language == FALLBACK:
        return format_duration(seconds)
    rest, parts = int(max(seconds, 0)), list[str]()
    for unit, length in _UNITS:
        amount, rest = divmod(rest, length)
        if amount or parts or unit == "second":
            parts.append(str(format_unit(amount, f"duration-{unit}", length="short", locale=language)))
    return " ".join(parts)


def _in_language(function: Callable[[str, Any], str]) -> Callable[..., str]:
    """``function(language, value)`` as a filter: the language is the render's."""
    @pass_context
    def filter_(context: Context, value: object) -> str:
        return str(function(_language(context), value))
    return filter_


ENV.filters.update({name: _in_language(function) for name, function in (
    ("money", money), ("number", number), ("when", when), ("size", size), ("duration", duration),
    ("percent", lambda language, share: percent(share, language)),
    ("memory_source", lambda language, source: memory_source(source, language)),
    ("version_reason", lambda language, reason: version_reason(reason, language)),
    ("signed", lambda language, value: figure(value, language, signed=True)))})


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
    language = request_language(request)
    values.setdefault("flashes", session.take_flashes() if session is not None else [])
    values.setdefault("active", "")
    html = ENV.get_template(template).render(
        csrf=session.csrf if session is not None else "", character=ctx.character_name(), language=language,
        lang=html_lang(language), **values)
    return web.Response(text=html, status=status, content_type="text/html")


def error_page(request: web.Request, status: int, title: str, message: str, /, **values: object
               ) -> web.Response:
    """An error's page: ``title`` and ``message`` are English msgids (marked with ``N_`` where they are
    written), said in the operator's language with ``values`` filled in."""
    language = request_language(request)
    return render(request, "error.html", status=status, title=t(language, title),
                  message=t(language, message, **values))


def redirect(location: str) -> web.Response:
    """See-other after a form: reloading the page that follows never posts the form again."""
    return web.Response(status=303, headers={"Location": location})


def flash_redirect(request: web.Request, location: str, text: str, kind: str = "ok") -> web.Response:
    session = session_of(request)
    if session is not None:
        session.flash(kind, text)
    return redirect(location)
