"""The dashboard's promises over HTTP (issue 26, items 3 and 5): after the login only a path on this
dashboard is followed; the session cookie is Secure behind the configured TLS proxy; a session's live
stream ends with it; failed logins are limited per address and overall; a low-variety token is refused."""

from __future__ import annotations

import asyncio
import re
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

from bot.core.character import CharacterSource
from bot.core.config import PROJECT_ROOT, load_settings
from bot.core.errors import ConfigError
from bot.operator.dashboard import standalone_context
from bot.operator.dashboard.app import create_app
from bot.operator.dashboard.auth import FAILURES_OVERALL, FAILURES_PER_ADDRESS
from bot.operator.dashboard.live import LiveFeed
from database.store import Store
from tests.ports import free_port

FINN = PROJECT_ROOT / "characters" / "finn"
TOKEN = "security-test-token-0123456789"
Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve(db_url: str) -> AsyncIterator[Serve]:
    """``base = await serve(**env)``: the real dashboard application (with a live feed) on a port."""
    store = await Store(db_url).open()
    runners: list[web.AppRunner] = []

    async def start(**env: str) -> str:
        environ = {"DATABASE_URL": db_url, "DASHBOARD_TOKEN": TOKEN, **env}
        settings = load_settings(FINN, None, environ=environ, require_discord=False, require_anthropic=False,
                                 require_dashboard=True)
        app = create_app(standalone_context(settings, CharacterSource(FINN, None, environ={}), store),
                         LiveFeed())
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for runner in runners:
            await runner.cleanup()
        await store.close()


def jar() -> aiohttp.CookieJar:
    return aiohttp.CookieJar(unsafe=True)  # cookies for 127.0.0.1


async def login(http: aiohttp.ClientSession, base: str, next_: str = "/", token: str = TOKEN,
                headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
    async with http.post(base + "/login", data={"token": token, "next": next_}, headers=headers or {},
                         allow_redirects=False) as r:
        await r.read()
        return r


async def test_after_the_login_only_a_path_on_this_dashboard_is_followed(serve: Serve) -> None:
    base = await serve()
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        for evil in ("/\t/evil.example/", "/\n/evil.example/", "//evil.example/", "/\\evil.example/",
                     "\\/evil.example/", "https://evil.example/", "javascript:alert(1)", "/\x7f/evil.example",
                     "/\r\n/evil.example", "evil.example", "///evil.example", ""):
            r = await login(http, base, evil)
            assert r.status == 303 and r.headers["Location"] == "/", repr(evil)
        r = await login(http, base, "/people?page=2")
        assert r.headers["Location"] == "/people?page=2"
        # The address from the issue: its %09 arrives as a tab, and the login form carries "/" instead.
        async with http.get(base + "/login?next=/%09/evil.example/") as page:
            html = await page.text()
        assert re.search(r'name="next" value="/"', html) and "evil.example" not in html


async def test_the_cookie_is_secure_behind_the_trusted_proxy_only(serve: Serve) -> None:
    https = {"X-Forwarded-Proto": "https"}
    trusting = await serve(DASHBOARD_TRUSTED_PROXY="127.0.0.1")
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        cookie = (await login(http, trusting, headers=https)).headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        plain = (await login(http, trusting)).headers["Set-Cookie"]  # the proxy says plain HTTP
        assert "Secure" not in plain
    untrusting = await serve(DASHBOARD_TRUSTED_PROXY="10.9.9.9")  # another address: the header is a claim
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        assert "Secure" not in (await login(http, untrusting, headers=https)).headers["Set-Cookie"]
    with pytest.raises(ConfigError) as err:
        load_settings(FINN, None, environ={"DASHBOARD_TRUSTED_PROXY": "proxy.example"},
                      require_discord=False, require_anthropic=False)
    assert err.value.key == "dashboard_trusted_proxy"


async def test_a_live_stream_ends_with_its_session(serve: Serve) -> None:
    base = await serve()
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        await login(http, base)
        async with http.get(base + "/people") as r:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text()).group(1)  # type: ignore[union-attr]
        async with http.get(base + "/live/events") as stream:
            assert stream.status == 200
            assert await stream.content.readline() == b"retry: 3000\n"
            async with http.post(base + "/logout", data={"csrf": csrf}, allow_redirects=False) as out:
                assert out.status == 303
            # The stream closes: the rest of the body ends (a bound only for a failure, never waited out).
            rest = await asyncio.wait_for(stream.content.read(), 30)
            assert b"event: decision" not in rest and stream.content.at_eof()
        async with http.get(base + "/live/events", allow_redirects=False) as again:
            assert again.status == 401


async def _wrong_logins(base: str, n: int, forwarded_for: str | None = None) -> Counter[int]:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    async with aiohttp.ClientSession() as http:
        answers = await asyncio.gather(*(login(http, base, token="wrong" + TOKEN, headers=headers)
                                         for _ in range(n)))
    return Counter(r.status for r in answers)


async def test_failed_logins_are_limited_per_address(serve: Serve) -> None:
    base = await serve()
    statuses = await _wrong_logins(base, 20)  # in parallel: the per-request delay alone would let all in
    assert statuses == {401: FAILURES_PER_ADDRESS, 429: 20 - FAILURES_PER_ADDRESS}
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        async with http.post(base + "/login", data={"token": TOKEN}) as r:  # even the right one, for now
            assert r.status == 429 and "Too many failed logins" in await r.text()


async def test_failed_logins_are_limited_overall(serve: Serve) -> None:
    base = await serve(DASHBOARD_TRUSTED_PROXY="127.0.0.1")  # each guess from another address
    addresses = FAILURES_OVERALL // FAILURES_PER_ADDRESS
    results = await asyncio.gather(*(_wrong_logins(base, FAILURES_PER_ADDRESS, f"10.0.0.{i}")
                                     for i in range(addresses)))
    assert sum(results, Counter()) == {401: FAILURES_OVERALL}
    async with aiohttp.ClientSession(cookie_jar=jar()) as http:
        r = await login(http, base, headers={"X-Forwarded-For": "10.1.1.1"})
        assert r.status == 429  # a fresh address, but the dashboard as a whole is being guessed at


@pytest.mark.parametrize("token", ["aaaaaaaaaaaaaaaa", "abababababababababab", "0123456701234567",
                                   "abcdefghijabcdefghij"])
def test_a_low_variety_token_is_refused_with_a_hint(token: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(FINN, None, environ={"DASHBOARD_PORT": "8080", "DASHBOARD_TOKEN": token},
                      require_discord=False, require_anthropic=False)
    assert err.value.key == "dashboard_token" and "secrets.token_urlsafe" in err.value.message
    assert token not in str(err.value)


def test_a_random_token_is_accepted() -> None:
    for _ in range(20):
        token = secrets.token_urlsafe(32)
        settings = load_settings(FINN, None, environ={"DASHBOARD_PORT": "8080", "DASHBOARD_TOKEN": token},
                                 require_discord=False, require_anthropic=False)
        assert settings.dashboard.dashboard_token == token


