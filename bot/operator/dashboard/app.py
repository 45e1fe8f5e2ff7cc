"""The dashboard's aiohttp application, its routes, and the server that runs it: inside the bot process
(``dashboard_port``) or alone against the bot's database (``python main.py dashboard``)."""

from __future__ import annotations

import asyncio
import errno
import logging
import signal

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.core.character import CharacterSource
from bot.core.config import Settings
from bot.core.errors import ConfigError
from bot.core.i18n import N_, catalogs
from bot.core.numbers import number
from bot.operator.dashboard import actions, auth, pages, people, prompts
from bot.operator.dashboard.context import DashboardContext, standalone_context
from bot.operator.dashboard.live import LiveFeed
from bot.operator.dashboard.render import CONTEXT, LIVE, SESSIONS, STATIC, error_page, request_language
from bot.operator.dashboard.sessions import Sessions
from database.store import Store

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024  # far above any form (texts are limited to 2,000 characters), far below harm
SHUTDOWN_SECONDS = 2.0


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure as a page that says what happened (and that nothing was changed when so)."""
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        return error_page(request, 413, N_("Too large"),
                          N_("That form was larger than {size} KB, so it was not read and nothing was "
                             "changed. Texts are limited to {limit} characters."),
                          size=MAX_BODY // 1024, limit=number(2000, request_language(request)))
    except web.HTTPNotFound:
        return error_page(request, 404, N_("Not found"), N_("There is no page {path} on this dashboard."),
                          path=request.path)
    except web.HTTPMethodNotAllowed:
        return error_page(request, 405, N_("Not allowed"),
                          N_("That address does not take this kind of request."))
    except web.HTTPException:
        raise
    except Exception:
        log.exception("dashboard: %s %s failed", request.method, request.path)
        return error_page(request, 500, N_("Something went wrong"),
                          N_("That request failed; the traceback is in the bot's log."))


def create_app(ctx: DashboardContext, live: LiveFeed | None = None,
               metrics: Handler | None = None) -> web.Application:
    """``metrics``: GET /metrics on the dashboard's port (metrics_port = dashboard_port), with its own
    token rather than the login."""
    app = web.Application(middlewares=[errors, auth.guard], client_max_size=MAX_BODY)
    app[CONTEXT] = ctx
    if metrics is not None:
        app[auth.METRICS] = True
        app.router.add_get(auth.METRICS_PATH, metrics)
    app[SESSIONS] = Sessions()
    app[auth.LOGINS] = auth.LoginLimiter()
    if live is not None:
        app[LIVE] = live
    app.on_response_prepare.append(auth.security_headers)
    r = app.router
    r.add_get("/login", auth.login_page)
    r.add_post("/login", auth.login)
    r.add_post("/logout", auth.logout)
    r.add_get("/", pages.overview)
    r.add_get("/character", pages.character_page)
    r.add_post("/character/identity", actions.identity_add)
    r.add_post("/character/identity/{entry}", actions.identity_edit)
    r.add_post("/character/identity/{entry}/delete", actions.identity_delete)
    r.add_get("/people", people.people)
    r.add_get("/people/{user}", people.person_page)
    r.add_post("/people/{user}/premium", actions.premium)
    r.add_post("/people/{user}/memories", actions.memory_add)
    r.add_post("/people/{user}/memories/{memory}", actions.memory_edit)
    r.add_post("/people/{user}/memories/{memory}/delete", actions.memory_delete)
    r.add_post("/people/{user}/versions/{version}/restore", actions.version_restore)
    r.add_post("/people/{user}/facts/{fact}", actions.fact_edit)
    r.add_post("/people/{user}/facts/{fact}/pin", actions.fact_pin)
    r.add_post("/people/{user}/facts/{fact}/delete", actions.fact_delete)
    r.add_get("/people/{user}/forget", people.forget_page)
    r.add_post("/people/{user}/forget", actions.forget)
    r.add_get("/prompts", prompts.prompts)
    r.add_get("/prompts/{number}", prompts.prompt_page)
    r.add_get("/live", pages.live)
    r.add_get("/live/events", pages.live_events)
    r.add_static("/static/", STATIC)
    return app


class Dashboard:
    def __init__(self, ctx: DashboardContext, host: str, port: int, origin: str | None = None, *,
                 metrics: Handler | None = None) -> None:
        self.ctx = ctx
        self.metrics = metrics
        self.host = host
        self.port = port
        self.origin = origin  # where the port was given when not the settings (`--port`)
        self.live: LiveFeed | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    async def start(self) -> None:
        """Listen; a port that cannot be had stops start-up naming the setting."""
        if self.ctx.bot is not None:
            self.live = self.ctx.bot.live
        # Every page is in its reader's language: the catalogs are read here, off the loop, so no first
        # page (nor the bot's own work, when it shares this process) waits on their parsing.
        await asyncio.to_thread(catalogs)
        self._runner = web.AppRunner(create_app(self.ctx, self.live, self.metrics), access_log=None,
                                     shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self.stop()
            problem = listen_problem(self.host, self.port, exc)
            raise ConfigError(self.port_origin(), "dashboard_port", problem) from None
        log.info("dashboard at %s", self.url)

    def port_origin(self) -> str:
        """Where the port came from: the command line, the file or environment that set it, or the default
        (a config.env that does not exist is never blamed)."""
        origin = self.origin or self.ctx.settings.origins.get("dashboard_port")
        return origin or "default (dashboard_port not set)"

    async def stop(self) -> None:
        if self.live is not None:
            self.live.close()  # ends the open streams, so the server need not wait for them
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def listen_problem(host: str, port: int, exc: OSError) -> str:
    """Why a port cannot be listened on, its cause first (a port in use is the usual one)."""
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return (f"port {port} is already in use ({where}): another program listens on it; choose another "
                "port or stop that program")
    if exc.errno == errno.EACCES:
        return f"no permission to listen on {where} (ports below 1024 need root): choose a port above 1023"
    return f"cannot listen on {where} ({exc.strerror or exc}): choose another port or host"


async def serve_alone(settings: Settings, character: CharacterSource, host: str, port: int,
                      origin: str | None = None) -> int:
    """`python main.py dashboard`: the dashboard without the bot, on the same database, until Ctrl+C or
    SIGTERM."""
    store = await Store(settings.resolved_database_url()).open()
    dashboard = Dashboard(standalone_context(settings, character, store), host, port, origin)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await dashboard.start()
        print(f"Kindred dashboard for {character.current().name} at {dashboard.url} "
              f"(database {settings.safe_database_url()}); Ctrl+C stops it", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await dashboard.stop()
        await store.close()
    return 0
