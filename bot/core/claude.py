"""The one shared, async model client: replies (streaming-capable), yes/no votes, summaries, and the
background calls of consolidation and the daily mood.

Each purpose's model picks its backend (bot/core/models/): ``llm_backend`` for all, or a model written
``openai:<name>`` / ``anthropic:<name>``. Every call has a total deadline from config; 408, 409, 429 and
every 5xx (529 included) are retried inside that deadline, at most four attempts with a floored
exponential backoff, and through one overload breaker per backend for the whole process
(bot/core/models/breaker.py; the SDKs' own retries are off so the deadline really is the deadline). Each
call's tokens, cache reads/writes and cost are recorded per user.

Requests are shaped per model family (bot/core/models/capabilities.py, applied by the Anthropic backend):
votes, the status, summaries and other background work think as little as the model allows; replies think
at ``reply_effort`` / ``premium_reply_effort``. A refusal (``stop_reason: refusal``) is a failure that is
not retried (the caller answers in character); an answer that spent all of ``max_tokens`` thinking is
asked once more with twice the room, and never returned empty.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from bot.core.config import PROJECT_ROOT, Settings
from bot.core.errors import ConfigError
from bot.core.i18n import N_, t, tn
from bot.core.lines import Line
from bot.core.localtime import utc_now
from bot.core.metrics import Metrics, Span
from bot.core.model_checks import StartupChecks, models_in_use
from bot.core.models.base import (
    KEY_REJECTED,
    Backend,
    CallUsage,
    Completion,
    Prompt,
    Request,
    parse_model_costs,
    route,
)
from bot.core.models.breaker import MAX_ATTEMPTS, OverloadBreaker, backoff
from bot.core.models.calllog import CallLog
from bot.core.models.capabilities import Family, ModelTable
from bot.core.models.sent import SentLog
from bot.core.models.tally import AnswerTally
from bot.core.numbers import dollars, number
from database.boundary import Json
from database.usage import UsageLog

if TYPE_CHECKING:
    from anthropic import AsyncAnthropic

__all__ = ["CallUsage", "ClaudeClient", "ClaudeUnavailable", "Completion", "ModelClient", "Prompt"]

log = logging.getLogger(__name__)

class ClaudeUnavailable(Exception):
    """A call failed for good (timeout, or non-retryable / persistent error), on whichever backend.

    ``known``: failed for a reason no wait mends (a key the backend rejected, known without a call; a
    permanent error such as a model that does not exist): the fallback goes out at once, with no typing
    pause, since nobody is writing anything."""

    def __init__(self, message: str, *, known: bool = False) -> None:
        super().__init__(message)
        self.known = known


# A backend whose key was rejected (401/403, at start-up or on a call) is not called again for this long:
# each message gets its fallback at once. Then one call tries again, in case the key was replaced.
KEY_RECHECK_SECONDS = 300.0
class ClaudeRefused(ClaudeUnavailable):
    """The model declined (``stop_reason: refusal``): answered in character like an outage, not retried."""


class SpendingGuard(Protocol):
    """What the model client asks of the spending limits (bot/operator/limits.py's SpendingLimits)."""

    async def guard(self, purpose: str) -> str | None:
        """Why a call for ``purpose`` is not made (the global cap stops the character speaking first): it
        then fails like an outage, without reaching the model. None: it may be."""

    def add_spend(self, guild_id: int | None, usd: float) -> None:
        """A call just cost ``usd`` for ``guild_id`` (None: a DM or background work)."""


class ClaudeClient(StartupChecks):
    """The one model client (also importable as ``ModelClient``), whatever backend each purpose uses.

    Every call names the server it is spent for (``guild_id``; None: a DM, or background work no reply
    started): the per-server spend cap and the usage rows read it. Work a reply starts (its votes, the
    summary it sets off) is charged to that reply's server by passing it on."""

    def __init__(self, settings: Settings, usage: UsageLog | None, *, sdk: AsyncAnthropic | None = None,
                 spending: SpendingGuard | None = None, models: ModelTable | None = None,
                 on_error: Sequence[Callable[[Line], Awaitable[None]]] = (), metrics: Metrics | None = None,
                 span: Span | None = None) -> None:
        """``usage``: where each call's tokens and cost are recorded (None: nowhere, e.g. the prompt docs).
        ``models``: the capability table, when the composition root shares it (the spending limits read it);
        ``on_error``: told one line per failed call (the admin log channel's mirror).
        The whole ``settings``: the client reads the models, timeouts, secrets, storage (its API log) and
        the vote model's sections, and names where a rejected key was set (``origins``). ``metrics``: told
        each call's tokens, cost and latency (metrics_port); ``span``: each call a trace span (otel_endpoint;
        None: none made).
        """
        self.settings = settings
        self.metrics = metrics
        self.span = span
        # The operator's spending limits (bot/operator/limits.py), handed in by the composition root: asked
        # before each call, told what each one cost.
        self.spending = spending
        self.usage = usage
        self._timeout = max(settings.timeouts.llm_timeout, settings.timeouts.summarize_timeout,
                            settings.timeouts.should_reply_timeout, 1.0)
        self._anthropic_sdk = sdk
        self._backends: dict[str, Backend] = {}
        self._costs = parse_model_costs(settings.models.model_costs)
        self.models = models or ModelTable(settings.models.model_capabilities)
        self.tally = AnswerTally()  # refusals and unparsed answers since start (/status shows them)
        self._in_use = models_in_use(settings.models, settings.replies.voting_model)
        for name in self._in_use:  # made now, so the first reply does not pay for an SDK client
            self.backend(name)
        self._checks: asyncio.Task[list[str]] | None = None
        self.wrong_models: list[ConfigError] = []  # configured ids the models list does not serve
        storage = settings.storage  # a relative api_log_file is the project's (an absolute one stays)
        self._api_log = (CallLog(PROJECT_ROOT / storage.api_log_file) if storage.enable_api_call_logging
                         else None)
        self.on_error = tuple(on_error)
        # Backends whose key was rejected: (what was said, when), see KEY_RECHECK_SECONDS.
        self._refused: dict[str, tuple[str, float]] = {}
        # The last requests as sent, for the dashboard's prompt inspector, its one reader: kept only while it
        # is served (dashboard_port takes a restart), so a bot without one spends nothing on them.
        self.sent = SentLog() if settings.dashboard.dashboard_port else None
        self._breakers: dict[str, OverloadBreaker] = {}  # one per backend, for the whole process

    def breaker(self, name: str) -> OverloadBreaker:
        """The overload breaker of backend ``name`` (bot/core/models/breaker.py), made on first use."""
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = self._breakers[name] = OverloadBreaker()
        return breaker

    def backend(self, name: str) -> Backend:
        """The backend called ``name``, made on first use (a model routed to it explicitly, say)."""
        found = self._backends.get(name)
        if found is None:
            if name == "openai":
                from bot.core.models.openai import OpenAIBackend

                found = OpenAIBackend(api_key=self.settings.secrets.openai_api_key,
                                      base_url=self.settings.models.openai_base_url, timeout=self._timeout,
                                      tools=self.settings.models.openai_tools)
            else:
                from bot.core.models.anthropic import AnthropicBackend

                found = AnthropicBackend(api_key=self.settings.secrets.anthropic_api_key,
                                         base_url=self.settings.secrets.anthropic_base_url,
                                         timeout=self._timeout, sdk=self._anthropic_sdk, table=self.models)
            self._backends[name] = found
        return found

    @property
    def sdk(self) -> AsyncAnthropic:
        """The Anthropic SDK client (benchmarks hook into its transport)."""
        from bot.core.models.anthropic import AnthropicBackend

        backend = self.backend("anthropic")
        assert isinstance(backend, AnthropicBackend)  # every backend but "openai" is one
        return backend.sdk

    def family(self, model: str) -> Family | None:
        """The capability-table family of a configured model (None: not Claude)."""
        backend, name = route(model, self.settings.models.llm_backend)
        return self.models.family(name) if backend == "anthropic" else None

    def token_factor(self, model: str | None = None) -> float:
        """Tokens of ``model`` (default: the reply model) per token of the local tokenizer."""
        family = self.family(model or self.settings.models.default_model)
        return family.token_factor if family is not None else 1.0

    async def status_lines(self, language: str | None = None) -> str:
        """The log channel's ``status``, in ``language``: cost and tokens per model since the usage log began
        (priced from the capability table, cache writes and reads included), and the refusals since start.
        "Name: value" lines (the log channel makes each a figure of its panel)."""
        lines = [t(language, "Costs per model") + ":"]
        for model, u in await self.usage.by_model() if self.usage is not None else []:
            lines.append(f"  `{model}`: " + " · ".join([
                dollars(u.cost, language),
                tn(language, "{count} call", "{count} calls", u.calls, count=number(u.calls, language)),
                t(language, "{input} in, {output} out, {read} cache read, {written} cache write",
                  input=number(u.input_tokens, language), output=number(u.output_tokens, language),
                  read=number(u.cache_read_tokens, language),
                  written=number(u.cache_creation_tokens, language))]))
        if len(lines) == 1:
            lines.append("  " + t(language, "no model calls yet"))
        return "\n".join(lines + self.tally.lines(language))

    def structured(self, model: str) -> bool:
        """Whether ``model``'s answers can be held to a JSON schema (structured outputs)."""
        family = self.family(model)
        return family is not None and family.structured_outputs

    async def close(self) -> None:
        if self._checks is not None:
            self._checks.cancel()
            await asyncio.gather(self._checks, return_exceptions=True)
        for backend in self._backends.values():
            await backend.close()
        if self._api_log is not None:
            self._api_log.close()

    # -- public calls

    async def generate(
        self,
        prompt: Prompt,
        *,
        model: str,
        user_id: int | None,
        guild_id: int | None,
        purpose: str = "reply",
        max_tokens: int | None = None,
        temperature: float | None = None,
        timeout: float | None = None,
        on_text: Callable[[str], None] | None = None,
        stream: bool | None = None,
        effort: str | None = None,
    ) -> Completion:
        """One reply; streamed when configured (``on_text`` sees the text so far). ``max_tokens`` is what
        the person reads; room for thinking at ``effort`` (default: ``reply_effort``, or
        ``premium_reply_effort`` for the premium model) is added for models that think."""
        kwargs: Request = {
            "model": model,
            "max_tokens": max_tokens or self.settings.models.default_max_tokens,
            "messages": prompt.messages,
        }
        _set_temperature(kwargs,
                         self.settings.models.default_temperature if temperature is None else temperature)
        if prompt.system:
            kwargs["system"] = prompt.system
        if prompt.tools:  # first in cache order: the same bytes every request (a backend may leave them out)
            kwargs["tools"] = list(prompt.tools)
        use_stream = self.settings.models.stream_replies if stream is None else stream
        models = self.settings.models
        if effort is None:
            effort = models.premium_reply_effort if model == models.premium_model else models.reply_effort
        return await self._call(kwargs, purpose=purpose, user_id=user_id, guild_id=guild_id,
                                timeout=self.settings.timeouts.llm_timeout if timeout is None else timeout,
                                stream=use_stream, on_text=on_text, background=False, effort=effort,
                                gaps=prompt.gaps, parts=prompt.parts, people=prompt.people)

    async def ask_many(self, prompt: Prompt | Sequence[Prompt], *, count: int, model: str, max_tokens: int,
                       purpose: str, user_id: int | None, guild_id: int | None, timeout: float,
                       schema: Mapping[str, Json] | None = None) -> list[str | None]:
        """A short request ``count`` times at once (a vote round, bot/reply/deciding/voting.py): each
        answer's text, None where the call failed; several prompts: the ``i``-th call sends the ``i``-th
        (cycling). ``schema``: the answers are held to it (structured outputs)."""
        prompts = [prompt] if isinstance(prompt, Prompt) else list(prompt)
        # One request body per prompt (the SDK copies what it sends), and the usage rows in one write at
        # the end instead of one write per call.
        requests = [{"model": model, "max_tokens": max_tokens, "system": p.system, "messages": p.messages}
                    for p in prompts]
        calls: list[Mapping[str, object]] = []

        async def one(i: int) -> str | None:
            sent = prompts[i % len(prompts)]
            try:
                completion = await self._call(requests[i % len(prompts)], purpose=purpose, user_id=user_id,
                                              guild_id=guild_id,
                                              timeout=timeout, stream=False, calls=calls, gaps=sent.gaps,
                                              parts=sent.parts, schema=schema, people=sent.people)
            except ClaudeUnavailable:
                return None
            return completion.text

        try:
            return list(await asyncio.gather(*(one(i) for i in range(count))))
        finally:
            await self._store_usage(calls)

    @property
    def background_model(self) -> str:
        """The model of summaries, consolidation and the daily mood (``summary_model``, else replies')."""
        return self.settings.models.summary_model or self.settings.models.default_model

    async def summarize(self, prompt: Prompt, *, user_id: int | None, guild_id: int | None,
                        purpose: str = "summary", max_tokens: int = 2000) -> Completion:
        return await self._call(
            {"model": self.background_model, "max_tokens": max_tokens,
             "system": prompt.system, "messages": prompt.messages},
            purpose=purpose, user_id=user_id, guild_id=guild_id,
            timeout=self.settings.timeouts.summarize_timeout, stream=False, parts=prompt.parts,
            people=prompt.people)

    async def complete(self, prompt: Prompt, *, model: str | None = None, user_id: int | None = None,
                       guild_id: int | None, purpose: str, max_tokens: int = 1000,
                       temperature: float | None = None, timeout: float | None = None,
                       schema: Mapping[str, Json] | None = None) -> Completion:
        """A plain non-streamed call (structured extraction and other background work); ``schema``: the JSON
        schema its answer is held to where the model supports structured outputs."""
        kwargs: Request = {"model": model or self.background_model, "max_tokens": max_tokens,
                                  "messages": prompt.messages}
        _set_temperature(kwargs, temperature)
        if prompt.system:
            kwargs["system"] = prompt.system
        return await self._call(kwargs, purpose=purpose, user_id=user_id, guild_id=guild_id,
                                timeout=(self.settings.timeouts.summarize_timeout if timeout is None
                                         else timeout),
                                stream=False, schema=schema, parts=prompt.parts, people=prompt.people)

    async def complete_batch(self, prompts: dict[str, Prompt], *, purpose: str, max_tokens: int = 1000,
                             max_wait: float, first_poll: float = 5.0, guild_id: int | None,
                             users: Mapping[str, int | None] | None = None,
                             schema: Mapping[str, Json] | None = None) -> dict[str, Completion]:
        """Background calls that can wait, sent as one Message Batch (half price; bot/core/models/batches.py):
        the answers that came back within ``max_wait`` seconds, by key. A key missing from the answer (its
        request errored or expired, the batch was cancelled, another backend serves the model, a spend
        guard refused) is the caller's to ask directly, with :meth:`complete`."""
        if not prompts:
            return {}
        if self.spending is not None and await self.spending.guard(purpose) is not None:
            return {}  # the direct calls meet the same guard, and say why
        name, model = route(self.background_model, self.settings.models.llm_backend)
        backend = self.backend(name)
        if name != "anthropic" or not hasattr(backend, "sdk"):
            return {}
        requests: dict[str, Request] = {}
        for key, prompt in prompts.items():
            kwargs: Request = {"model": model, "max_tokens": max_tokens, "messages": prompt.messages}
            if prompt.system:
                kwargs["system"] = prompt.system
            requests[key] = backend.shape(kwargs, background=True, effort=None, schema=schema)
        from bot.core.models.batches import BATCH_DISCOUNT, run_batch

        started = time.perf_counter()
        outcome = await run_batch(backend.sdk, requests, max_wait=max_wait, first_poll=first_poll)
        if outcome.failed:
            log.info("%s batch %s: %d of %d answered%s; the rest go direct", purpose, outcome.batch_id,
                     len(outcome.completions), len(requests), " (cancelled: over the wait)"
                     if outcome.timed_out else "")
        calls: list[Mapping[str, object]] = []
        answered: dict[str, Completion] = {}
        for key, completion in outcome.completions.items():
            cost = BATCH_DISCOUNT * self.models.cost(completion.usage, model, completion.model, claude=True,
                                                     costs=self._costs)
            priced = Completion(completion.text, completion.model,
                                dataclasses.replace(completion.usage, cost=cost), completion.stop_reason)
            await self._record(priced, purpose=f"{purpose} batch", user_id=(users or {}).get(key),
                               guild_id=guild_id, latency_ms=(time.perf_counter() - started) * 1000, ok=True,
                               calls=calls)
            answered[key] = priced
        await self._store_usage(calls)
        return answered

    # -- the call loop

    async def _call(self, kwargs: Request, *, purpose: str, **rest: Any) -> Completion:
        """:meth:`_attempts` in a trace span of its own (none without otel_endpoint)."""
        if self.span is None:
            return await self._attempts(kwargs, purpose=purpose, **rest)
        with self.span("model.call", {"purpose": purpose, "model": str(kwargs["model"])}):
            return await self._attempts(kwargs, purpose=purpose, **rest)

    async def _attempts(self, kwargs: Request, *, purpose: str, user_id: int | None, guild_id: int | None,
                        timeout: float,
                        stream: bool, on_text: Callable[[str], None] | None = None, background: bool = True,
                        effort: str | None = None, calls: list[Mapping[str, object]] | None = None,
                        gaps: Sequence[float] = (), schema: Mapping[str, Json] | None = None,
                        parts: Sequence[tuple[str, str]] = (),
                        people: frozenset[int] = frozenset()) -> Completion:
        """One model call, retried through transient failures; its usage recorded (a successful call's
        appended to ``calls`` instead, when given, for the caller to store with others), and the request
        kept for the prompt inspector with the layout's ``parts`` and the ``people`` it quotes."""
        begun = time.monotonic()  # a /forget_me of user_id after this: the request is not kept (SentLog.add)
        refused_by = await self.spending.guard(purpose) if self.spending is not None else None
        if refused_by is not None:
            log.info("%s call not made: %s", purpose, refused_by)
            raise ClaudeUnavailable(refused_by)
        name, model = route(kwargs["model"], self.settings.models.llm_backend)
        if model != kwargs["model"]:
            kwargs = {**kwargs, "model": model}
        backend = self.backend(name)
        key_refused = self._refused.get(name)
        if key_refused is not None and time.monotonic() - key_refused[1] < KEY_RECHECK_SECONDS:
            raise ClaudeUnavailable(f"not called: {key_refused[0]}", known=True)
        kwargs = backend.shape(kwargs, background=background, effort=effort, gaps=gaps, schema=schema)
        started = time.perf_counter()
        attempt = 0
        last_error = "timeout"
        roomier = False
        breaker = self.breaker(name)
        probe = False
        try:
            async with asyncio.timeout(timeout):
                while True:
                    # While the backend is overloaded every call waits here for the process's one probe,
                    # rather than each retrying on its own (its deadline ends the wait: the fallback).
                    probe = await breaker.admit()
                    attempt += 1
                    try:
                        call = (backend.stream(kwargs, on_text, timeout=timeout) if stream
                                else backend.create(kwargs, timeout=timeout))
                        completion = await call
                    except Exception as exc:
                        failure = backend.failure(exc)
                        if failure is None:
                            raise
                        last_error = failure.message
                        if failure.retryable:
                            breaker.failed(probe, failure.retry_after)
                        else:
                            breaker.succeeded(probe)  # it answered: it is not overloaded
                        probe = False
                        if not failure.retryable:
                            if failure.message.startswith(("HTTP 401", "HTTP 403")):
                                self._refused[name] = (f"{backend.base_url} {KEY_REJECTED} ({last_error})",
                                                       time.monotonic())
                            # Permanent (a 404 for a model that does not exist, a 400): the fallback goes
                            # out at once, as no typing pause brings an answer closer.
                            raise ClaudeUnavailable(last_error, known=True) from exc
                        if attempt >= MAX_ATTEMPTS:
                            raise ClaudeUnavailable(
                                f"gave up after {attempt} attempts: {last_error}") from exc
                        await asyncio.sleep(backoff(attempt, failure.retry_after))
                        continue
                    breaker.succeeded(probe)
                    probe = False
                    if completion.stop_reason == "refusal":
                        await self._refusal(backend, kwargs, purpose, user_id, guild_id, started, name,
                                            model, completion)
                    if not completion.text and completion.stop_reason == "max_tokens":
                        # Thinking used all of max_tokens: once more with twice the room, never posted empty.
                        await self._spent(completion, name, model, purpose, user_id, guild_id, started,
                                          ok=False, error="max_tokens reached while thinking")
                        if roomier:
                            raise ClaudeUnavailable(f"{model} spent max_tokens={kwargs['max_tokens']} "
                                                    "thinking, twice")
                        roomier = True
                        log.info("%s %s call (%s) spent max_tokens=%d thinking; asking once more with %d",
                                 backend.label, purpose, model, kwargs["max_tokens"],
                                 kwargs["max_tokens"] * 2)
                        kwargs = {**kwargs, "max_tokens": kwargs["max_tokens"] * 2}
                        started = time.perf_counter()
                        continue
                    break
        except TimeoutError:
            breaker.abandon(probe)
            await self._failed(backend, kwargs, purpose, user_id, guild_id, started,
                               f"timed out after {timeout:g}s ({last_error})")
            raise ClaudeUnavailable(f"{model} timed out after {timeout:g}s: {last_error}") from None
        except ClaudeUnavailable as exc:
            await self._failed(backend, kwargs, purpose, user_id, guild_id, started, str(exc))
            raise
        finally:
            breaker.abandon(probe)  # a probe cancelled or broken before it had an outcome
        self._refused.pop(name, None)  # it answered: whatever key it has now, it takes
        completion = await self._spent(completion, name, model, purpose, user_id, guild_id, started,
                                       ok=True, calls=calls)
        if self.sent is not None:
            self.sent.add(purpose=purpose, model=model, user_id=user_id, request=kwargs, parts=parts,
                          usage=completion.usage, answer=completion.text, at=utc_now(), begun=begun,
                          people=people)
        return completion

    async def _spent(self, completion: Completion, backend: str, model: str, purpose: str,
                     user_id: int | None, guild_id: int | None, started: float, *, ok: bool, error: str = "",
                     calls: list[Mapping[str, object]] | None = None) -> Completion:
        """Record a call that reached the model (its tokens are billed, whatever it answered)."""
        latency = (time.perf_counter() - started) * 1000
        cost = self.models.cost(completion.usage, model, completion.model, claude=backend == "anthropic",
                                costs=self._costs)
        priced = dataclasses.replace(completion.usage, cost=cost)
        completion = dataclasses.replace(completion, usage=priced)
        await self._record(completion, purpose=purpose, user_id=user_id, guild_id=guild_id,
                           latency_ms=latency, ok=ok, error=error, calls=calls)
        return completion

    async def _refusal(self, backend: Backend, kwargs: Request, purpose: str, user_id: int | None,
                       guild_id: int | None, started: float, name: str, model: str,
                       completion: Completion) -> None:
        """A refusal: billed, logged, counted, told to the error observers; never retried."""
        refused = self.tally.refused(purpose)
        await self._spent(completion, name, model, purpose, user_id, guild_id, started, ok=False,
                          error="refusal")
        line = Line(N_("{backend} {purpose} call ({model}) was refused by the model's safety classifier"),
                    backend=backend.label, purpose=purpose, model=model)
        log.warning("%s (%d refusals since start)", line.english(), refused)
        for observer in self.on_error:
            try:
                await observer(line)
            except Exception:
                log.exception("error observer failed")
        raise ClaudeRefused(f"{model} refused the request")

    async def _record(self, completion: Completion, *, purpose: str, user_id: int | None,
                      guild_id: int | None, latency_ms: float,
                      ok: bool, error: str = "", calls: list[Mapping[str, object]] | None = None) -> None:
        u = completion.usage
        call = dict(user_id=user_id, purpose=purpose, model=completion.model, input_tokens=u.input_tokens,
                    output_tokens=u.output_tokens, cache_creation_tokens=u.cache_creation_tokens,
                    cache_read_tokens=u.cache_read_tokens, cost=u.cost, web_searches=u.web_search_requests,
                    latency_ms=latency_ms, ok=ok,
                    error=error, guild_id=guild_id, created_at=utc_now())
        if calls is not None:
            calls.append(call)
        else:
            await self._store_usage([call])
        if u.cost and self.spending is not None:
            self.spending.add_spend(guild_id, u.cost)
        if self.metrics is not None:
            self.metrics.model_call(purpose=purpose, model=completion.model, input_tokens=u.input_tokens,
                                    output_tokens=u.output_tokens, cache_read_tokens=u.cache_read_tokens,
                                    cache_creation_tokens=u.cache_creation_tokens, cost=u.cost,
                                    latency_ms=latency_ms, ok=ok, error=error)
        if self._api_log is not None:
            self._api_log.write(purpose=purpose, model=completion.model, user_id=user_id, ok=ok, error=error,
                                usage=u, latency_ms=latency_ms)

    async def _store_usage(self, calls: list[Mapping[str, object]]) -> None:
        """Write the usage rows a call left in its ``calls`` list (one write; a failure is only logged)."""
        if self.usage is not None and calls:
            try:
                await self.usage.record_all(calls)
            except Exception:  # usage accounting must never break a reply
                log.exception("could not record API usage")

    async def _failed(self, backend: Backend, kwargs: Request, purpose: str, user_id: int | None,
                      guild_id: int | None, started: float, error: str) -> None:
        log.warning("%s %s call (%s) failed: %s", backend.label, purpose, kwargs["model"], error)
        await self._record(Completion("", kwargs["model"], CallUsage()), purpose=purpose, user_id=user_id,
                           guild_id=guild_id, latency_ms=(time.perf_counter() - started) * 1000, ok=False,
                           error=error)
        for observer in self.on_error:
            try:
                await observer(Line(N_("{backend} {purpose} call failed ({model}): {error}"),
                                    backend=backend.label, purpose=purpose, model=kwargs["model"],
                                    error=error))
            except Exception:
                log.exception("error observer failed")


ModelClient = ClaudeClient


def _set_temperature(kwargs: Request, temperature: float | None) -> None:
    """Temperature left the SDK's signatures in 1.0 (newer models accept only the default, 1.0); the API
    still takes it for older models, so a non-default value travels in ``extra_body``."""
    if temperature is not None and temperature != 1.0:
        kwargs["extra_body"] = {"temperature": temperature}

