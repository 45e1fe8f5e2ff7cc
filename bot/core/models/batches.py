"""Work that can wait, at half price: the Message Batches API (``client.messages.batches``).

One batch: create it with every request (each under its ``custom_id``), poll it with a growing pause until
it has ended or ``max_wait`` has passed (then cancel it: what was answered by then is still read), and read
its results (JSON lines). What comes back is the answers that succeeded; every other request (errored,
expired, canceled, or never seen) is the caller's to make directly.

A wait cut short (the bot stopping: its task is cancelled) cancels the batch before it gives up: nobody
would read its answers, yet every request it went on to process would be billed, and the next start asks
the same work again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import anthropic
from anthropic.types.messages import MessageBatch

from bot.core.models.anthropic import completion_of
from bot.core.models.base import Completion
from database.boundary import JsonObject

log = logging.getLogger(__name__)

BATCH_DISCOUNT = 0.5  # every token of a batched request bills at half the standard price
CANCEL_POLLS = 10  # retrieves after a cancel before giving the batch up
ABANDON_SECONDS = 10.0  # how long a stopping bot waits for the cancel of a batch it leaves


@dataclass
class BatchOutcome:
    """The answers that came back (custom_id -> completion) and why each other request did not."""

    completions: dict[str, Completion] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    batch_id: str | None = None
    timed_out: bool = False


async def run_batch(sdk: anthropic.AsyncAnthropic, requests: Mapping[str, JsonObject], *,
                    max_wait: float, first_poll: float = 5.0, max_poll: float = 120.0,
                    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                    clock: Callable[[], float] = time.monotonic) -> BatchOutcome:
    """Send ``requests`` (custom_id -> Messages API params) as one batch and collect its answers."""
    outcome = BatchOutcome()
    if not requests:
        return outcome
    try:
        # params: the request JSON the client shaped (a dict), which the SDK types as its TypedDict
        batch = await sdk.messages.batches.create(
            requests=[{"custom_id": cid, "params": params} for cid, params in requests.items()])  # type: ignore[typeddict-item]
    except anthropic.APIError as exc:
        log.warning("message batch not created (%s); %d requests go direct", exc, len(requests))
        outcome.failed = {cid: f"not created: {exc}" for cid in requests}
        return outcome
    outcome.batch_id = batch.id
    started = clock()
    pause = 0.0  # the first look is at once (a small batch may be done in seconds), then first_poll, x2...
    try:
        while batch.processing_status != "ended":
            if clock() - started >= max_wait:
                outcome.timed_out = True
                batch = await _cancel(sdk, batch.id, sleep, first_poll)
                break
            if pause:
                await sleep(pause)
            pause = min(max_poll, pause * 2 if pause else first_poll)
            batch = await sdk.messages.batches.retrieve(batch.id)
        if batch.processing_status == "ended":
            async for entry in await sdk.messages.batches.results(batch.id):
                result = entry.result
                if result.type == "succeeded":
                    outcome.completions[entry.custom_id] = completion_of(result.message)
                elif result.type == "errored":
                    error = getattr(result.error, "error", None)
                    outcome.failed[entry.custom_id] = (f"errored: {getattr(error, 'type', '?')}: "
                                                       f"{getattr(error, 'message', '')}")
                else:
                    outcome.failed[entry.custom_id] = result.type  # expired, canceled
    except anthropic.APIError as exc:
        log.warning("message batch %s could not be followed (%s); its unanswered requests go direct",
                    batch.id, exc)
    except asyncio.CancelledError:
        if batch.processing_status == "in_progress":
            await _abandon(sdk, batch.id)
        raise
    for cid in requests:
        if cid not in outcome.completions and cid not in outcome.failed:
            outcome.failed[cid] = "no result"
    return outcome


async def _cancel(sdk: anthropic.AsyncAnthropic, batch_id: str,
                  sleep: Callable[[float], Awaitable[None]], pause: float) -> MessageBatch:
    """Cancel a batch that took too long; wait a little for it to end (its answered requests are kept)."""
    batch = await sdk.messages.batches.cancel(batch_id)
    for _ in range(CANCEL_POLLS):
        if batch.processing_status == "ended":
            break
        await sleep(pause)
        batch = await sdk.messages.batches.retrieve(batch_id)
    return batch


async def _abandon(sdk: anthropic.AsyncAnthropic, batch_id: str) -> None:
    """Cancel a batch whose wait was cut short, without waiting for it to end; never raises (the caller is
    being cancelled: it re-raises that)."""
    try:
        # Shielded: a second cancellation of the stopping task does not cut the request off half-way.
        await asyncio.wait_for(asyncio.shield(sdk.messages.batches.cancel(batch_id)), ABANDON_SECONDS)
    except (anthropic.APIError, TimeoutError, asyncio.CancelledError) as exc:
        log.warning("message batch %s left running while stopping: its cancel failed (%s)", batch_id,
                    type(exc).__name__)
        return
    log.info("message batch %s cancelled: the bot is stopping", batch_id)
