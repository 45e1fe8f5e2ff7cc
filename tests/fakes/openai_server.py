"""A fake OpenAI-compatible API (what Ollama, llama.cpp's server, vLLM, LM Studio and OpenRouter serve),
over real HTTP so the real ``openai`` SDK drives it in tests. It mirrors tests/fakes/claude_server.py and
scripts answers with the same :class:`Reply` and :class:`Rule` (and records with the same ``Recorded``).

What it speaks (checked against openai 3.x's parsers):

* ``POST /v1/chat/completions``: a JSON ``chat.completion``, or with ``"stream": true`` SSE
  ``chat.completion.chunk`` lines (``data: {...}``; the role first, text deltas, the finish reason) then
  ``data: [DONE]``. With ``stream_options.include_usage`` the last chunk before ``[DONE]`` carries the
  usage and no choices (as OpenAI sends it); ``stream_usage = False`` plays a server that ignores it. A
  ``stream_error`` breaks the stream off with a ``data: {"error": ...}`` line. Errors use OpenAI's
  envelope ``{"error": {"message", "type", "param", "code"}}``; 429 and 5xx carry ``retry-after``.
  Bodies a strict server would refuse get 400: no model or messages, an unknown role, content parts other
  than ``text`` and ``image_url``, Anthropic leftovers (``system`` at the top, ``cache_control``,
  ``image`` blocks), ``stream_options`` without ``stream``.
* Function calling: ``tools`` must be ``{type: function, function: {name, description?, parameters?,
  strict?}}`` (a strict schema must forbid additional properties and require every property, as OpenAI's
  structured outputs do); ``tool_choice`` needs tools and names one of them; a ``role: tool`` message must
  answer a ``tool_calls`` id of the assistant message before it, and each such id must be answered before the
  next message. A :class:`Calls` answer calls functions: ``message.tool_calls`` with ``finish_reason:
  tool_calls``, or streamed as ``delta.tool_calls[index]`` (the id and name first, then the arguments in
  pieces). ``rejects_tools`` plays a server without function calling: any ``tools`` is a 400.
* ``GET /v1/models``: ``models`` (ids), as a start-up check reads them; ``models_status`` plays a server
  without a models list (its error), ``hangs`` one that never answers it.
* ``POST /v1/audio/transcriptions`` (multipart ``file`` + ``model``, optional ``language``, an ISO-639-1
  code, else 400 as OpenAI answers, and ``prompt``): ``{"text": transcript}``; with a
  ``speech_book`` (tests/fakes/speech_book.py), the line a recording of a known line says.
* ``POST /v1/audio/speech`` (JSON ``model``, ``input``, ``voice``, ``response_format``): a real WAV tone,
  longer for longer input, so ffmpeg has something true to convert.

Tokens: every message's text costs ``len(text) // 4 + 1`` (claude_server.estimate_tokens), the answer too.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import re
import struct
import time
import wave
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes import EVENT_WAIT
from tests.fakes.claude_server import (
    Match,
    ModelServer,
    Recorded,
    Reply,
    Rule,
    _texts,
    estimate_tokens,
    retry_headers,
)
from tests.fakes.speech_book import SpeechBook

__all__ = ["Calls", "FakeOpenAI", "Heard", "Reply", "SPEECH_RATE"]

ERRORS: dict[int, tuple[str, str | None]] = {  # status -> (type, code), as OpenAI names them
    400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
    404: ("invalid_request_error", "model_not_found"), 429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None), 502: ("server_error", None), 503: ("server_error", None)}
ROLES = {"system", "developer", "user", "assistant", "tool"}
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
REJECTED_TOOLS = "this model does not support tools"  # what a server without function calling answers
SPEECH_RATE = 16000  # Hz of the WAV /audio/speech returns
ISO_639_1 = re.compile(r"[a-z]{2}")  # a transcription's ``language``


@dataclass
class Calls(Reply):
    """An answer that calls functions: (name, arguments as JSON text) each, after ``text`` if any."""

    calls: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Heard:
    """One audio request: a transcription upload or a speech request."""

    path: str
    model: str
    fields: dict[str, str]  # the form fields (transcription) or the JSON body (speech)
    filename: str = ""
    content_type: str = ""
    data: bytes = b""
    status: int = 200
    at: float = field(default_factory=time.monotonic)  # when the request arrived


class FakeOpenAI(ModelServer):
    """Answer choice per chat request: ``fail_all`` > scripted rules (in order) > ``responder`` hook >
    ``default_text``."""

    def __init__(self, *, zero_latency: bool = False, default_text: str = "Hello from the fake model.",
                 chunk_size: int = 16, api_key: str | None = None) -> None:
        super().__init__(zero_latency=zero_latency, default_text=default_text, chunk_size=chunk_size,
                         api_key=api_key)  # api_key: checked against the Bearer key
        self.models: list[str] = []  # what GET /v1/models lists
        self.stream_usage = True  # False: a server that ignores stream_options.include_usage
        self.rejects_tools = False  # True: a server without function calling (any ``tools`` is a 400)
        self.transcript = "hello from a voice message"
        self.speech_book: SpeechBook | None = None  # set: a known line's recording is heard as that line
        self.audio_errors: list[int] = []  # statuses for the next audio requests, first first
        # A test holds transcriptions here (set: they answer); ``transcribing`` is set when one has arrived.
        self.transcribe_gate: asyncio.Event | None = None
        self.transcribing = asyncio.Event()
        # And speech the same way (``speaking``: one has arrived).
        self.speech_gate: asyncio.Event | None = None
        self.speaking = asyncio.Event()
        # Seconds of speech per character of input: a test that needs clips played in turn, not long ones,
        # makes them shorter (a call plays them in real time).
        self.speech_per_character = 0.04
        self.heard: list[Heard] = []
        # A server without a models list (many local whisper and speech servers): GET /v1/models answers
        # this status, in OpenAI's error envelope.
        self.models_status: int | None = None
        # A server that hangs: its models list is never answered (``held`` is set once one is waiting).
        self.hangs = False
        self.held = asyncio.Event()

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/v1/audio/speech", self._speech)

    @property
    def base_url(self) -> str:
        """What ``openai_base_url`` is set to (the SDK appends /chat/completions)."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and observation (as FakeClaude)

    def script(self, text: str | Reply | None = None, *, model: str | None = None, status: int | None = None,
               delay: float = 0.0, times: int | None = 1, retry_after: float | None = 0.0,
               usage: dict[str, Any] | None = None, stream_error: str | None = None,
               match: Match | None = None) -> Rule:
        reply = text if isinstance(text, Reply) else Reply(
            text or "", status or 200, delay, usage=usage, retry_after=retry_after, stream_error=stream_error,
            error_message=text if status not in (None, 200) else None)
        rule = Rule(reply, model, match, times)
        self.rules.append(rule)
        return rule

    def fail_all(self, status: int = 500, *, retry_after: float | None = 0.0) -> None:
        self._failing = Reply(status=status, retry_after=retry_after)

    @staticmethod
    def all_text(req: Recorded) -> str:
        return "\n".join(t for m in req.body.get("messages") or [] for t in _texts(m.get("content", "")))

    async def wait_for_requests(self, n: int, timeout: float = EVENT_WAIT) -> list[Recorded]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {n} chat requests, got {len(self.requests)}")
            await asyncio.sleep(0.002)
        return list(self.requests)

    # -- chat completions

    def _invalid(self, request: web.Request, body: Any) -> str | None:
        """Why a strict server would refuse this body (None: it would not)."""
        if not isinstance(body, dict):
            return "Request body is not a valid JSON object"
        for name in ("model", "messages"):
            if not body.get(name):
                return f"'{name}' is a required property"
        for leftover in ("system", "cache_control"):
            if leftover in body:
                return f"Unrecognized request argument supplied: {leftover}"
        if "stream_options" in body and not body.get("stream"):
            return "The 'stream_options' parameter is only allowed when 'stream' is enabled."
        problem = _tools_problem(body, self.rejects_tools)
        if problem is not None:
            return problem
        for i, message in enumerate(body["messages"]):
            if not isinstance(message, dict) or message.get("role") not in ROLES:
                return f"messages[{i}]: invalid role"
            content = message.get("content")
            if isinstance(content, str) or (content is None and message.get("tool_calls")):
                continue
            if not isinstance(content, list):
                return f"messages[{i}].content must be a string or an array of parts"
            for part in content:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in ("text", "image_url") or "cache_control" in part:
                    return f"messages[{i}].content: invalid part {json.dumps(part)[:80]}"
                if kind == "image_url" and not str((part.get("image_url") or {}).get("url", "")):
                    return f"messages[{i}].content: image_url needs a url"
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        return await self.tracked(self._answer(request))

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        received = time.monotonic()
        try:
            body: Any = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        problem = self._invalid(request, body)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            reply = Reply(status=401, error_message="Incorrect API key provided")
        elif problem is not None:
            reply = Reply(status=400, error_message=problem)
        else:
            reply = await self._choose(body)
        body = body if isinstance(body, dict) else {}
        stream = bool(body.get("stream"))
        record = Recorded(request.path, str(body.get("model")), body,
                          {k.lower(): v for k, v in request.headers.items()}, stream, received)
        record.status, record.text = reply.status, reply.text if reply.status == 200 else ""
        if reply.status == 200:
            record.usage = self._usage(body, reply)
        self.requests.append(record)
        if reply.delay and not self.zero_latency:
            await asyncio.sleep(reply.delay)
        if reply.status != 200:
            return self._error(reply, record)
        if not stream:
            record.finished_at = time.monotonic()
            message: dict[str, Any] = {"role": "assistant", "content": reply.text, "refusal": None}
            if _called(reply):
                message["content"] = reply.text or None
                message["tool_calls"] = [{"id": call_id, "type": "function",
                                          "function": {"name": name, "arguments": arguments}}
                                         for call_id, name, arguments in self._calls(reply)]
            return web.json_response({
                "id": f"chatcmpl-fake{next(self._ids)}", "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"], "system_fingerprint": None, "usage": record.usage,
                "choices": [{"index": 0, "finish_reason": _finish(reply), "logprobs": None,
                             "message": message}]},
                headers=reply.headers)
        return await self._stream(request, body, reply, record)

    def _calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        """(id, name, arguments) of each call, the ids new for every answer, as a server makes them."""
        return [(f"call_fake{next(self._ids)}", name, arguments) for name, arguments in _call_list(reply)]

    def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        prompt = sum(estimate_tokens(t) for m in body["messages"] for t in _texts(m.get("content") or ""))
        written = reply.text + "".join(n + a for n, a in _call_list(reply))
        completion = estimate_tokens(written)
        usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                                 "total_tokens": prompt + completion,
                                 "prompt_tokens_details": {"cached_tokens": 0}}
        usage.update(reply.usage or {})
        return usage

    def _error(self, reply: Reply, record: Recorded) -> web.Response:
        kind, code = ERRORS.get(reply.status, ("server_error", None))
        record.status, record.error_type, record.finished_at = reply.status, kind, time.monotonic()
        headers = {**reply.headers, **retry_headers(reply)}
        message = reply.error_message or f"fake {kind} ({reply.status})"
        return web.json_response({"error": {"message": message, "type": kind, "param": None, "code": code}},
                                 status=reply.status, headers=headers)

    async def _stream(self, request: web.Request, body: dict[str, Any], reply: Reply,
                      record: Recorded) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                               "Cache-Control": "no-cache", **reply.headers})
        await response.prepare(request)
        base = {"id": f"chatcmpl-fake{next(self._ids)}", "object": "chat.completion.chunk",
                "created": int(time.time()), "model": body["model"], "system_fingerprint": None}
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and self.stream_usage
        lines: list[bytes] = []

        def chunk(delta: dict[str, Any], finish: str | None = None) -> None:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            data = {**base, "choices": [choice]}
            if include_usage:
                data["usage"] = None
            lines.append(b"data: " + json.dumps(data).encode() + b"\n\n")

        size = max(1, len(reply.text)) if self.zero_latency else self.chunk_size
        pieces = [reply.text[i:i + size] for i in range(0, len(reply.text), size)]
        chunk({"role": "assistant", "content": ""})
        for n, piece in enumerate(pieces):
            if reply.stream_error and n == reply.stream_error_after:
                break
            chunk({"content": piece})
        if _called(reply) and not reply.stream_error:
            for index, (call_id, name, arguments) in enumerate(self._calls(reply)):
                chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                       "function": {"name": name, "arguments": ""}}]})
                for at in range(0, len(arguments), size):
                    chunk({"tool_calls": [{"index": index,
                                           "function": {"arguments": arguments[at:at + size]}}]})
        if reply.stream_error:
            error = {"message": f"fake {reply.stream_error}", "type": reply.stream_error, "param": None,
                     "code": None}
            lines.append(b"data: " + json.dumps({"error": error}).encode() + b"\n\n")
            record.status, record.error_type = 500, reply.stream_error
        else:
            chunk({}, _finish(reply))
            if include_usage:
                lines.append(b"data: " + json.dumps({**base, "choices": [], "usage": record.usage}).encode()
                             + b"\n\n")
            lines.append(b"data: [DONE]\n\n")
        await response.write(b"".join(lines))
        await response.write_eof()
        record.finished_at = time.monotonic()
        return response

    # -- models and audio

    async def _models(self, request: web.Request) -> web.Response:
        self.model_lists += 1
        if self.hangs:
            self.held.set()
            await asyncio.Event().wait()  # until the client gives up (the handler is cancelled then)
        if self.api_key is not None and request.headers.get("Authorization") != f"Bearer {self.api_key}":
            # OpenAI's answer to a wrong key on any route, the models list included: it names the key it was
            # given, masked but for its first and last characters
            given = request.headers.get("Authorization", "").removeprefix("Bearer ")
            masked = f"{given[:3]}{'*' * 4}{given[-4:]}" if len(given) > 8 else given
            return web.json_response({"error": {"message": f"Incorrect API key provided: {masked}. You can "
                                                           "find your API key at https://platform.openai.com"
                                                           "/account/api-keys.",
                                                "type": "invalid_request_error", "param": None,
                                                "code": "invalid_api_key"}}, status=401)
        if self.models_status is not None:
            kind, code = ERRORS.get(self.models_status, ("server_error", None))
            return web.json_response({"error": {"message": "fake: no models list here", "type": kind,
                                                "param": None, "code": code}}, status=self.models_status)
        return web.json_response({"object": "list", "data": [
            {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models]})

    def _audio_error(self, heard: Heard) -> web.Response | None:
        if not self.audio_errors:
            return None
        heard.status = self.audio_errors.pop(0)
        kind, code = ERRORS.get(heard.status, ("server_error", None))
        return web.json_response({"error": {"message": f"fake {kind}", "type": kind, "param": None,
                                            "code": code}}, status=heard.status)

    async def _transcribe(self, request: web.Request) -> web.Response:
        heard = Heard(request.path, "", {})
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if part.name == "file":  # type: ignore[union-attr]
                heard.filename = part.filename or ""  # type: ignore[union-attr]
                heard.content_type = part.headers.get("Content-Type", "")  # type: ignore[union-attr]
                heard.data = bytes(await part.read())  # type: ignore[union-attr]
            else:
                heard.fields[str(part.name)] = await part.text()  # type: ignore[union-attr]
        heard.model = heard.fields.get("model", "")
        self.heard.append(heard)
        self.transcribing.set()
        if self.transcribe_gate is not None:
            await self.transcribe_gate.wait()
        failed = self._audio_error(heard)
        if failed is not None:
            return failed
        if not heard.data or not heard.model:
            heard.status = 400
            return _invalid_request("file and model are required")
        if "language" in heard.fields and not ISO_639_1.fullmatch(heard.fields["language"]):
            heard.status = 400  # as OpenAI answers a language not in ISO-639-1 ("Spanish", "es-ES")
            return _invalid_request(f"Invalid language '{heard.fields['language']}'. Language parameter must "
                                    "be specified in ISO-639-1 format.")
        known = self.speech_book.recognize(heard.data) if self.speech_book is not None else None
        return web.json_response({"text": known or self.transcript})

    async def _speech(self, request: web.Request) -> web.Response:
        body = await request.json()
        heard = Heard(request.path, str(body.get("model", "")), body)
        self.heard.append(heard)
        self.speaking.set()
        if self.speech_gate is not None:
            await self.speech_gate.wait()
        failed = self._audio_error(heard)
        if failed is not None:
            return failed
        if not body.get("input") or not body.get("voice") or body.get("response_format", "mp3") != "wav":
            heard.status = 400
            return _invalid_request("input and voice are required; this fake speaks wav only")
        return web.Response(body=tone(self.speech_seconds(str(body["input"]))), content_type="audio/wav")

    def speech_seconds(self, text: str) -> float:
        """How long the tone ``/v1/audio/speech`` answers for ``text`` lasts."""
        return 0.3 + self.speech_per_character * len(text)


def tone(seconds: float, frequency: float = 220.0) -> bytes:
    """A mono 16-bit WAV tone that swells and fades (so its waveform is not flat)."""
    frames = int(seconds * SPEECH_RATE)
    step = 2 * math.pi * frequency / SPEECH_RATE
    samples = (int(12000 * math.sin(math.pi * i / frames) * math.sin(step * i)) for i in range(frames))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SPEECH_RATE)
        w.writeframes(struct.pack(f"<{frames}h", *samples))
    return out.getvalue()


def _invalid_request(message: str) -> web.Response:
    return web.json_response({"error": {"message": message, "type": "invalid_request_error", "param": None,
                                        "code": None}}, status=400)


def _finish(reply: Reply) -> str:
    if _called(reply):
        return "tool_calls"
    return "stop" if reply.stop_reason == "end_turn" else reply.stop_reason


def _call_list(reply: Reply) -> list[tuple[str, str]]:
    return reply.calls if isinstance(reply, Calls) else []


def _called(reply: Reply) -> bool:
    return bool(_call_list(reply))


def _tools_problem(body: dict[str, Any], rejects_tools: bool) -> str | None:
    """Why a server would refuse the body's tools, tool choice or tool messages (None: it would not)."""
    tools = body.get("tools")
    if tools is not None and rejects_tools:
        return f"registry.local/{body.get('model')} {REJECTED_TOOLS}"
    names: list[str] = []
    for i, tool in enumerate(tools if isinstance(tools, list) else [] if tools is None else [None]):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f"Invalid value at tools[{i}]: expected an object with type 'function' and a 'function'."
        name = function.get("name")
        if not isinstance(name, str) or not FUNCTION_NAME.fullmatch(name):
            return f"Invalid 'tools[{i}].function.name': string does not match pattern '^[a-zA-Z0-9_-]+$'."
        schema = function.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(schema, dict) or schema.get("type") != "object":
            return (f"Invalid schema for function '{name}': schema must be a JSON Schema of "
                    "'type: \"object\"'.")
        if function.get("strict"):
            properties = schema.get("properties") or {}
            if schema.get("additionalProperties") is not False:
                return (f"Invalid schema for function '{name}': 'additionalProperties' is required to be "
                        "supplied and to be false.")
            if sorted(schema.get("required") or []) != sorted(properties):
                return (f"Invalid schema for function '{name}': 'required' is required to be supplied and to "
                        "be an array including every key in properties.")
        names.append(name)
    choice = body.get("tool_choice")
    if choice is not None:
        if not names:
            return ("Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are "
                    "specified.")
        if isinstance(choice, dict):
            chosen = (choice.get("function") or {}).get("name")
            if chosen not in names:
                return f"Invalid value for 'tool_choice': no function named '{chosen}' was specified."
        elif choice not in ("none", "auto", "required"):
            return f"Invalid value for 'tool_choice': {json.dumps(choice)[:40]}"
    return _tool_messages_problem(body.get("messages") or [])


def _tool_messages_problem(messages: list[Any]) -> str | None:
    """A ``role: tool`` message must answer a call of the assistant message before it, and every call must
    be answered (OpenAI's wording)."""
    open_calls: list[str] = []  # ids of the last assistant message's calls not answered yet
    answering = False  # inside the tool messages after an assistant message with calls
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not answering or call_id not in open_calls:
                return (f"Invalid parameter: messages[{i}]: messages with role 'tool' must be a response to "
                        "a preceeding message with 'tool_calls'.")
            open_calls.remove(call_id)
            continue
        if open_calls:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding to "
                    f"each 'tool_call_id'. The following tool_call_ids did not have response messages: "
                    f"{', '.join(open_calls)}")
        calls = message.get("tool_calls") if role == "assistant" else None
        answering = bool(calls)
        open_calls = [str(c.get("id")) for c in calls if isinstance(c, dict)] if calls else []
    if open_calls:
        return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: "
                f"{', '.join(open_calls)}")
    return None
