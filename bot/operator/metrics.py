"""The Prometheus endpoint, GET /metrics: served with aiohttp on the bot's event loop (never
prometheus_client's own thread server), on a port of its own (``metrics_port``, bound to ``metrics_host``,
127.0.0.1 by default) or, when ``metrics_port`` is the dashboard's, by the dashboard beside its pages. A
``metrics_token`` is asked as ``Authorization: Bearer <token>``; the dashboard's login does not apply (a
scraper has no session). Without a token only this machine is answered, whichever port serves it: a request
from another address, or relayed by a proxy (a ``Forwarded`` / ``X-Forwarded-For`` header), is refused."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bot.core.errors import ConfigError
from bot.core.metrics import Metrics

log = logging.getLogger(__name__)

PATH = "/metrics"
SHUTDOWN_SECONDS = 1.0


def metrics_handler(metrics: Metrics, token: str) -> Handler:
    """GET /metrics: the registry in Prometheus' text format; 401 without the token when one is set."""
    expected = f"Bearer {token}".encode() if token else b""

    async def handle(request: web.Request) -> web.StreamResponse:
        if not expected and not _from_this_machine(request):
            return web.Response(status=403, text="metrics_token required from other machines\n")
        if expected and not hmac.compare_digest(request.headers.get("Authorization", "").encode(), expected):
            return web.Response(status=401, text="metrics_token required\n",
                                headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
        return web.Response(body=generate_latest(metrics.registry),
                            headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})

    return handle


class MetricsServer:
    """/metrics on a port of its own; :meth:`start` and :meth:`stop` with the bot (bot/discord/client.py).
    It owns the event-loop lag sampler, which runs while the endpoint does."""

    def __init__(self, metrics: Metrics, host: str, port: int, token: str, *, own_port: bool,
                 origin: str = "environment") -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.token = token
        self.own_port = own_port  # False: the dashboard serves it (its port), only the sampler runs here
        self.origin = origin  # where metrics_port was set, named when the port cannot be had
        self._runner: web.AppRunner | None = None

    @property
    def handler(self) -> Handler:
        return metrics_handler(self.metrics, self.token)

    async def start(self) -> None:
        self.metrics.start_lag_sampler()
        if not self.token:
            log.warning("metrics: metrics_token is empty, so /metrics answers only this machine (port %d); "
                        "set metrics_token to scrape it from other machines", self.port)
        if not self.own_port:
            return
        app = web.Application()
        app.router.add_get(PATH, self.handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self.stop()
            raise ConfigError(self.origin, "metrics_port",
                              f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                              "choose another port or stop what uses it") from None
        log.info("metrics at http://%s:%d%s", self.host, self.port, PATH)
        if not self.token and not _loopback(self.host):
            log.warning("metrics: %s is reachable from other machines and metrics_token is empty: they are "
                        "refused (set metrics_token to let a scraper in)", self.host)

    async def stop(self) -> None:
        self.metrics.stop_lag_sampler()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


def _from_this_machine(request: web.Request) -> bool:
    """The request came from a loopback address and no proxy relayed it for someone else."""
    if "Forwarded" in request.headers or "X-Forwarded-For" in request.headers:
        return False
    return request.remote is not None and _loopback(request.remote)


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
