"""The fake Claude's Message Batches API (``client.messages.batches``), as documented (docs.claude.com,
"Batch processing"; the API reference's create, retrieve, results and cancel):

* ``POST /v1/messages/batches`` with ``{"requests": [{"custom_id", "params"}, ...]}``: at least one request,
  at most 100,000; each ``custom_id`` 1-64 characters of ``[a-zA-Z0-9_-]`` and unique in the batch (else a
  400 for the whole batch). The answer is the batch object (``processing_status`` "in_progress", its
  ``request_counts``, ``expires_at`` 24 hours on, ``results_url`` null until it has ended).
* ``GET /v1/messages/batches/{id}``: the batch as it is now; an unknown id is a 404 ``not_found_error``.
* ``GET /v1/messages/batches/{id}/results``: one JSON line per request once the batch has ended (before: a
  400), each ``{"custom_id", "result"}`` with ``result.type`` "succeeded" (the message, as the Messages route
  would answer it), "errored" (the error the Messages route would give it: a body the API refuses, or a
  scripted failure, e.g. ``fake.script(status=529)``), "canceled" or "expired".
* ``POST /v1/messages/batches/{id}/cancel``: "canceling"; requests not yet processed end canceled.
* Each request is answered as ``POST /v1/messages`` would (rules, responder, caching, usage), and recorded in
  ``fake.requests`` with the path ``/v1/messages/batches``, so tests see what was asked either way.

How a batch moves is the test's to choose (no wall clock): ``batch_polls`` retrieves before the requests are
processed (default 1: the first poll finds it ended); ``held``: custom ids (or ``"*"``) that are not
processed until the batch expires (:meth:`BatchRoutes.expire`, or at the ``expire_at_poll``-th retrieve: its
24 hours are up) or is cancelled (they end "expired" or "canceled"). :meth:`BatchRoutes.wait_for` waits until
the batches reach a state (a batch created and polled, one cancelled), checked after every call.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from tests.fakes.claude_server import FakeClaude

MAX_REQUESTS = 100_000
CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
LIFETIME = timedelta(hours=24)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


@dataclass
class FakeBatch:
    id: str
    requests: list[tuple[str, dict[str, Any]]]
    created_at: datetime
    status: str = "in_progress"  # in_progress, canceling, ended
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # custom_id -> result
    polls: int = 0
    cancel_initiated_at: datetime | None = None
    ended_at: datetime | None = None

    def counts(self) -> dict[str, int]:
        kinds = [r["type"] for r in self.results.values()]
        return {"processing": len(self.requests) - len(kinds), "succeeded": kinds.count("succeeded"),
                "errored": kinds.count("errored"), "canceled": kinds.count("canceled"),
                "expired": kinds.count("expired")}


class BatchRoutes:
    """The batch routes of one :class:`FakeClaude` (``fake.batches``)."""

    def __init__(self, fake: FakeClaude) -> None:
        self.fake = fake
        self.batches: dict[str, FakeBatch] = {}
        self.polls = 1  # retrieves before a batch's requests are processed
        self.held: set[str] = set()  # custom ids left unprocessed ("*": all)
        self.expire_at_poll: int | None = None  # the retrieve at which a batch's 24 hours are up
        self.created = 0
        self.canceled = 0
        self._ids = itertools.count(1)
        self._waiters: list[tuple[Callable[[BatchRoutes], bool], asyncio.Future[None]]] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages/batches", self._noted(self._create))
        app.router.add_get("/v1/messages/batches/{id}", self._noted(self._retrieve))
        app.router.add_get("/v1/messages/batches/{id}/results", self._noted(self._results))
        app.router.add_post("/v1/messages/batches/{id}/cancel", self._noted(self._cancel))

    def _noted(self, handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
        async def handle(request: web.Request) -> web.Response:
            response: web.Response = await handler(request)
            self._changed()  # after the state moved, before the client reads the answer
            return response

        return handle

    def reset(self) -> None:
        self.batches.clear()
        self.polls, self.held, self.created, self.canceled = 1, set(), 0, 0
        self.expire_at_poll = None

    async def wait_for(self, condition: Callable[[BatchRoutes], bool], timeout: float, what: str) -> None:
        """Wait until ``condition(routes)`` holds, checked now and after every batch call (from any loop)."""
        if condition(self):
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        waiter = (condition, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                await future
        except TimeoutError:
            raise AssertionError(f"the fake Claude's batches never reached: {what}") from None
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def _changed(self) -> None:
        for condition, future in list(self._waiters):
            if condition(self):
                future.get_loop().call_soon_threadsafe(_settle, future)

    async def expire(self) -> None:
        """24 hours pass: every batch still in progress ends, its unprocessed requests expired."""
        for batch in self.batches.values():
            if batch.status != "ended":
                await self._process(batch)
                self._end(batch, "expired")

    # -- handlers

    def _error(self, status: int, kind: str, message: str) -> web.Response:
        return web.json_response({"type": "error", "error": {"type": kind, "message": message}},
                                 status=status)

    def _refused(self, request: web.Request, *, json_body: bool) -> web.Response | None:
        refused = self.fake._headers_refused(request, json_body=json_body)
        if refused is None:
            return None
        kind = "authentication_error" if refused.status == 401 else "invalid_request_error"
        return self._error(refused.status, kind, refused.error_message or "")

    def _object(self, batch: FakeBatch) -> dict[str, Any]:
        ended = batch.status == "ended"
        return {"id": batch.id, "type": "message_batch", "processing_status": batch.status,
                "request_counts": batch.counts(), "ended_at": _iso(batch.ended_at),
                "created_at": _iso(batch.created_at), "expires_at": _iso(batch.created_at + LIFETIME),
                "archived_at": None, "cancel_initiated_at": _iso(batch.cancel_initiated_at),
                "results_url": (f"{self.fake.base_url}/v1/messages/batches/{batch.id}/results" if ended
                                else None)}

    async def _create(self, request: web.Request) -> web.Response:
        refused = self._refused(request, json_body=True)
        if refused is not None:
            return refused
        body = await self.fake._read_body(request)
        items = (body or {}).get("requests")
        if not isinstance(items, list) or not items:
            return self._error(400, "invalid_request_error", "requests: at least one request is required")
        if len(items) > MAX_REQUESTS:
            return self._error(400, "invalid_request_error",
                               f"requests: at most {MAX_REQUESTS} requests per batch")
        seen: set[str] = set()
        requests: list[tuple[str, dict[str, Any]]] = []
        for n, item in enumerate(items):
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            params = item.get("params") if isinstance(item, dict) else None
            if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id):
                return self._error(400, "invalid_request_error", f"requests.{n}.custom_id: String should "
                                                                 "match pattern '^[a-zA-Z0-9_-]{1,64}$'")
            if custom_id in seen:
                return self._error(400, "invalid_request_error",
                                   f"requests.{n}.custom_id: duplicate custom_id {custom_id!r} in the batch")
            if not isinstance(params, dict):
                return self._error(400, "invalid_request_error", f"requests.{n}.params: Field required")
            if params.get("stream"):
                return self._error(400, "invalid_request_error",
                                   f"requests.{n}.params.stream: streaming is not supported in a batch")
            seen.add(custom_id)
            requests.append((custom_id, params))
        batch = FakeBatch(f"msgbatch_fake_{next(self._ids):06d}", requests, datetime.now(UTC))
        self.batches[batch.id] = batch
        self.created += 1
        if self.polls <= 0:
            await self._advance(batch)
        return web.json_response(self._object(batch))

    def _find(self, request: web.Request) -> FakeBatch | web.Response:
        refused = self._refused(request, json_body=False)
        if refused is not None:
            return refused
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return self._error(404, "not_found_error", f"Batch {request.match_info['id']} not found")
        return batch

    async def _retrieve(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if isinstance(batch, web.Response):
            return batch
        batch.polls += 1
        if batch.polls >= self.polls:
            await self._advance(batch)
        if (self.expire_at_poll is not None and batch.polls >= self.expire_at_poll
                and batch.status == "in_progress"):
            self._end(batch, "expired")
        return web.json_response(self._object(batch))

    async def _results(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if isinstance(batch, web.Response):
            return batch
        if batch.status != "ended":
            return self._error(400, "invalid_request_error",
                               f"Batch {batch.id} has not finished processing (status {batch.status})")
        lines = [json.dumps({"custom_id": cid, "result": batch.results[cid]}) for cid, _ in batch.requests]
        return web.Response(body=("\n".join(lines) + "\n").encode(), content_type="application/binary")

    async def _cancel(self, request: web.Request) -> web.Response:
        batch = self._find(request)
        if isinstance(batch, web.Response):
            return batch
        if batch.status == "in_progress":
            self.canceled += 1
            batch.status = "canceling"
            batch.cancel_initiated_at = datetime.now(UTC)
            answer = self._object(batch)
            self._end(batch, "canceled")  # what was not processed yet never will be
            return web.json_response(answer)
        return web.json_response(self._object(batch))

    # -- processing

    async def _advance(self, batch: FakeBatch) -> None:
        if batch.status != "in_progress":
            return
        await self._process(batch)
        if len(batch.results) == len(batch.requests):
            self._end(batch, "expired")

    async def _process(self, batch: FakeBatch) -> None:
        """Answer every pending request that is not held, as the Messages route would."""
        for custom_id, params in batch.requests:
            if custom_id in batch.results or "*" in self.held or custom_id in self.held:
                continue
            batch.results[custom_id] = await self._answer(params)

    def _end(self, batch: FakeBatch, leftover: str) -> None:
        for custom_id, _ in batch.requests:
            batch.results.setdefault(custom_id, {"type": leftover})
        batch.status = "ended"
        batch.ended_at = datetime.now(UTC)

    async def _answer(self, params: dict[str, Any]) -> dict[str, Any]:
        from tests.fakes.claude_server import Recorded, Reply

        fake = self.fake
        reply = fake._invalid_body(params) or await fake._choose(params)
        record = Recorded("/v1/messages/batches", str(params.get("model")), params, {}, False,
                          time.monotonic())
        if reply.status == 200 and reply.stream_error:
            reply = Reply(status=529, error_type=reply.stream_error)
        thinking = 0
        if reply.status == 200:
            reply, thinking = fake._spend(params, fake.constrained(params, reply))
        record.status, record.text = reply.status, reply.text if reply.status == 200 else ""
        if reply.status != 200:
            error = fake._error_body(reply)
            record.error_type, record.finished_at = error["error"]["type"], time.monotonic()
            fake._record(record)
            return {"type": "errored", "error": {**error, "request_id": None}}
        record.usage = fake._usage(params, reply.text)
        record.usage["output_tokens"] = (fake._output_tokens(reply.text, record.model) + thinking)
        record.usage["service_tier"] = "batch"
        record.finished_at = time.monotonic()
        fake._record(record)
        return {"type": "succeeded", "message": fake._message(params, reply, thinking, record.usage)}


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
