"""The non-streamed Messages call sent straight over aiohttp (issue 30: CPU per message).

Votes (three a round), summaries and unstreamed replies are plain JSON in, JSON out. Through the SDK each
call cost about 1.1 ms of client CPU (its request options, httpx2 models and pydantic response objects);
the same request as one aiohttp POST costs about a quarter of that. The SDK stays the source of truth: the
URL, headers (its key, ``anthropic-version``, user agent, ``x-stainless-*``) and timeout are read from the
SDK client once, and the body is what its ``messages.create()`` would serialize. Streaming, the key probe
and everything else still go through the SDK.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable, Mapping

import aiohttp
import httpx2
import orjson
from aiohttp.helpers import get_env_proxy_for_url
from anthropic import DEFAULT_CONNECTION_LIMITS, AsyncAnthropic, NotGiven, Omit
from multidict import CIMultiDict
from yarl import URL

from bot.core.models.base import Failure, Request, retry_after
from database.boundary import Json, JsonObject

# Besides every 5xx: request timeout, conflict and rate limit are worth another try (as the SDK judges them).
RETRYABLE_STATUS = {408, 409, 429}

# messages.create() keyword arguments that are not body fields, and the headers the SDK makes of two.
_HEADER_ARGS = {"user_profile_id": "anthropic-user-profile-id", "workspace_id": "anthropic-workspace-id"}
_NOT_BODY = {"extra_body", "extra_headers", "extra_query", "timeout", *_HEADER_ARGS}


def _encode(body: Mapping[str, Json]) -> bytes:
    """The SDK's own JSON (anthropic._utils._json: compact, UTF-8 as is, no NaN), by orjson: the body of a
    vote carries the channel's recent lines, and the json module took a tenth of a vote's client CPU."""
    return orjson.dumps(body)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The SDK's own TLS context, built once per process: building one reads the system's CA bundle (about
    50 ms of CPU), and every client (one per character, a new one on each live reload) can share it."""
    return httpx2.create_ssl_context()


class CallFailed(Exception):
    """A direct call that failed, already judged: an HTTP error status, the connection or a timeout."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def direct_capable(sdk: object) -> bool:
    """Whether ``sdk`` is a plain AsyncAnthropic whose requests can be made without it: a stand-in object
    (benchmarks), token credentials (auth per request) or middleware keep every call in the SDK."""
    return (isinstance(sdk, AsyncAnthropic) and sdk.custom_auth is None
            and not getattr(sdk, "middleware", ()))


class MessagesHTTP:
    """POST /v1/messages for one backend: one keep-alive aiohttp session, made lazily in the running loop
    (a session belongs to its loop) and closed with the backend."""

    def __init__(self, sdk: AsyncAnthropic) -> None:
        self.sdk = sdk
        self.url = URL(str(sdk.base_url).rstrip("/") + "/v1/messages")
        self.timeout = client_timeout(sdk.timeout)
        # Taken with the session, in the running loop: one of them (x-stainless-async) names the loop.
        self.headers: CIMultiDict[str] = CIMultiDict()
        # Called as each request goes out (a benchmark times the client's own share with it).
        self.on_request: Callable[[], object] | None = None
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        self.headers = CIMultiDict(wire_headers(self.sdk))
        # An environment proxy (HTTPS_PROXY / NO_PROXY) is honoured as the SDK's client does, but looked up
        # once: aiohttp's trust_env would read the environment and ~/.netrc again on every request.
        proxy: URL | None
        try:
            proxy, proxy_auth = get_env_proxy_for_url(self.url)
        except LookupError:
            proxy, proxy_auth = None, None
        limits = DEFAULT_CONNECTION_LIMITS  # the SDK's pool: the same number of connections, kept as long
        connector = aiohttp.TCPConnector(ssl=tls_context(), limit=limits.max_connections or 0,
                                         keepalive_timeout=limits.keepalive_expiry or 5.0)
        self._session = aiohttp.ClientSession(connector=connector, timeout=self.timeout, proxy=proxy,
                                              proxy_auth=proxy_auth)
        return self._session

    async def create(self, request: Request, *, timeout: float | httpx2.Timeout | None = None) -> JsonObject:
        """The answer's JSON message; CallFailed for an error status, a broken connection or a timeout.
        ``timeout``: this call's own, as messages.create(timeout=...) takes it (or in ``request``)."""
        session = self._session or self._open()
        data, headers, params = prepare(request, self.headers)
        # A per-call timeout only when given: aiohttp reads timeout=None as "no timeout at all".
        options: JsonObject = {}  # keyword arguments for aiohttp
        per_call = timeout if timeout is not None else request.get("timeout")
        if per_call is not None:
            options["timeout"] = client_timeout(per_call)
            headers = timeout_headers(headers, per_call)
        if self.on_request is not None:
            self.on_request()
        try:
            async with session.post(self.url, data=data, headers=headers, params=params,
                                    **options) as response:
                raw = await response.read()
                status = response.status
                if status >= 400:
                    raise CallFailed(status_failure(status, raw, response.headers))
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The SDK's APIConnectionError / APITimeoutError: the request may not have arrived, so retried.
            line = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            raise CallFailed(Failure(line, True)) from exc
        try:
            message = orjson.loads(raw)
        except ValueError:  # orjson.JSONDecodeError is a ValueError
            message = None
        if not isinstance(message, dict):  # a proxy's page, say: not worth asking again
            raise CallFailed(Failure(f"HTTP {status}: the answer is not a JSON message", False))
        return message

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def client_timeout(timeout: float | httpx2.Timeout | None) -> aiohttp.ClientTimeout:
    """The SDK's timeout as its aiohttp transport applies it: per connect and per read, no total (the
    model client's deadline bounds the whole call)."""
    if isinstance(timeout, httpx2.Timeout):
        return aiohttp.ClientTimeout(total=None, connect=timeout.pool, sock_connect=timeout.connect,
                                     sock_read=timeout.read)
    return aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)


def timeout_headers(headers: CIMultiDict[str], timeout: float | httpx2.Timeout) -> CIMultiDict[str]:
    """``headers`` with the two the SDK sends for a per-call timeout: its read timeout, in both."""
    read = str(timeout.read if isinstance(timeout, httpx2.Timeout) else timeout)
    out = headers.copy()
    out["x-stainless-timeout"] = out["x-stainless-read-timeout"] = read
    return out


def wire_headers(sdk: AsyncAnthropic) -> dict[str, str]:
    """The headers the SDK sends with every Messages call, taken from it once. Per request it also sends
    ``x-stainless-retry-count`` (always 0 here: retries are the model client's, each a first attempt for
    the SDK too) and ``x-stainless-read-timeout``; its ``x-stainless-timeout`` is left out, as it carries
    only the SDK's "not given" marker when no per-call timeout is passed (one that is: timeout_headers)."""
    timeout = sdk.timeout
    read = timeout.read if isinstance(timeout, httpx2.Timeout) else timeout
    headers = {"accept-encoding": "gzip, deflate", "x-stainless-retry-count": "0",
               **({"x-stainless-read-timeout": str(read)} if read is not None else {})}
    headers.update((k, v) for k, v in sdk.default_headers.items() if isinstance(v, str))  # Omit: left out
    return headers


def prepare(request: Request, headers: CIMultiDict[str]) -> tuple[bytes, CIMultiDict[str],
                                                                  Mapping[str, Json] | None]:
    """(body, headers, query) as messages.create(**request) would send them: the body fields as given,
    ``extra_body`` merged over them at the top level; NOT_GIVEN / omit values left out (None is sent as
    null, as the SDK does). ``headers`` (the SDK's) is copied only when the request changes it."""
    body = {k: v for k, v in request.items() if k not in _NOT_BODY and not isinstance(v, NotGiven | Omit)}
    extra = request.get("extra_body")
    if extra:
        body = {k: v for k, v in {**body, **extra}.items() if not isinstance(v, Omit)}
    named = {h: request[k] for k, h in _HEADER_ARGS.items() if isinstance(request.get(k), str)}
    changes = {**named, **(request.get("extra_headers") or {})}
    if changes:
        headers = headers.copy()
        for name, value in changes.items():
            if isinstance(value, str):
                headers[name] = value
            else:  # the SDK's Omit: that header is not sent
                headers.popall(name, None)
    return _encode(body), headers, request.get("extra_query") or None


def status_failure(status: int, raw: bytes, headers: Mapping[str, str]) -> Failure:
    """An error status judged as ``AnthropicBackend.failure`` judges the SDK's APIStatusError for it: the
    body read as the SDK reads it, the message as its ``error.message``."""
    text = raw.decode("utf-8", errors="replace").strip()
    body: object = text
    try:
        body = json.loads(text)
        fallback = f"Error code: {status} - {body}"
    except ValueError:
        fallback = text or f"Error code: {status}"
    return Failure(f"HTTP {status}: {error_message(body, fallback)}", retryable_status(status),
                   retry_after(headers))


def retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


def error_message(body: object, fallback: str) -> str:
    """The API's own wording (``error.message`` of its error envelope), else ``fallback``; 200 characters."""
    found = body if isinstance(body, dict) else {}
    err = found.get("error")
    return str((err if isinstance(err, dict) else {}).get("message") or fallback)[:200]
