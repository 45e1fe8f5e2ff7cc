"""Function calling on the OpenAI-compatible backend (bot/core/models/openai.py), as translation only.

* Kindred's client tools (Anthropic's ``{name, description, strict, input_schema}``) become Chat Completions
  ``tools`` (``{type: function, function: {name, description, parameters, strict}}``). Anthropic's server
  tools (web search and fetch) run on Anthropic's side: they are never sent here.
* The reply's tool loop (bot/reply/generation.py) keeps a tool turn in the Messages API's shapes: an
  assistant message with ``tool_use`` blocks becomes one with ``tool_calls`` (the input as JSON text), a user
  message with ``tool_result`` blocks becomes one ``role: tool`` message per result (its ``tool_call_id``),
  then the rest of that user message, if any.
* An answer's ``tool_calls`` (whole, or streamed as deltas of their arguments by index) are read back as
  ``tool_use`` blocks, so the loop runs them as it runs Claude's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from database.boundary import Json, JsonObject


def client_tools(tools: Json) -> list[JsonObject]:
    """The client tools of a request's ``tools`` (a server tool has a versioned ``type`` and no schema)."""
    if not isinstance(tools, list):
        return []
    return [t for t in tools if isinstance(t, dict) and isinstance(t.get("input_schema"), dict)
            and t.get("type", "custom") == "custom"]


def functions(tools: Sequence[JsonObject]) -> list[JsonObject]:
    """Client tools as Chat Completions ``tools`` (``strict`` kept: the arguments then follow the schema)."""
    return [{"type": "function", "function": {
        "name": str(t["name"]), "description": str(t.get("description") or ""),
        "parameters": t["input_schema"], "strict": bool(t.get("strict", False))}} for t in tools]


@dataclass
class ToolTurn:
    """The Chat Completions messages standing for one message with tool blocks, and what else it held (a
    user message's other blocks, sent after the tool results as a user message)."""

    messages: list[JsonObject]
    rest: list[JsonObject] = field(default_factory=list)


def tool_turn(message: JsonObject, text_of: Callable[[Json], str]) -> ToolTurn | None:
    """``message`` as a tool turn (None: it holds no tool blocks and is translated as any other)."""
    content = message.get("content")
    if not isinstance(content, list):
        return None
    blocks = [b for b in content if isinstance(b, dict)]
    if message.get("role") == "assistant":
        uses = [b for b in blocks if b.get("type") == "tool_use"]
        if not uses:
            return None
        text = "\n\n".join(t for b in blocks if b.get("type") == "text" and (t := str(b.get("text") or "")))
        calls: list[Json] = [{"id": str(b.get("id")), "type": "function", "function": {
            "name": str(b.get("name")), "arguments": json.dumps(b.get("input") or {})}} for b in uses]
        return ToolTurn([{"role": "assistant", "content": text or None, "tool_calls": calls}])
    results = [b for b in blocks if b.get("type") == "tool_result"]
    if not results:
        return None
    said = [{"role": "tool", "tool_call_id": str(b.get("tool_use_id")),
             "content": ("error: " if b.get("is_error") else "") + text_of(b)} for b in results]
    return ToolTurn(said, [b for b in blocks if b.get("type") != "tool_result"])


@dataclass
class FunctionCall:
    """One function call of an answer: its id, name and arguments (JSON text, grown delta by delta)."""

    id: str = ""
    name: str = ""
    arguments: str = ""


class StreamedCalls:
    """The ``delta.tool_calls`` of a streamed answer, put together by their ``index``."""

    def __init__(self) -> None:
        self.calls: dict[int, FunctionCall] = {}

    def add(self, deltas: Sequence[object] | None) -> None:
        for delta in deltas or ():
            call = self.calls.setdefault(int(getattr(delta, "index", 0) or 0), FunctionCall())
            call.id = str(getattr(delta, "id", None) or call.id)
            function = getattr(delta, "function", None)
            if function is not None:
                # the name comes whole, in the call's first delta; the arguments in pieces
                call.name = str(getattr(function, "name", None) or call.name)
                call.arguments += str(getattr(function, "arguments", None) or "")

    def done(self) -> list[FunctionCall]:
        return [self.calls[i] for i in sorted(self.calls)]


def whole_calls(calls: Sequence[object] | None) -> list[FunctionCall]:
    """The ``message.tool_calls`` of an answer that was not streamed."""
    out = []
    for call in calls or ():
        function = getattr(call, "function", None)
        out.append(FunctionCall(str(getattr(call, "id", "") or ""), str(getattr(function, "name", "") or ""),
                        str(getattr(function, "arguments", "") or "")))
    return out


def tool_use_blocks(text: str, calls: Sequence[FunctionCall]) -> tuple[JsonObject, ...]:
    """An answer that called functions, as the Messages API's blocks: its text, then a ``tool_use`` for each
    call (arguments that are not a JSON object are read as none: the tool says what it misses)."""
    blocks: list[JsonObject] = [{"type": "text", "text": text}] if text.strip() else []
    for n, call in enumerate(calls):
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            arguments = {}
        blocks.append({"type": "tool_use", "id": call.id or f"call_{n}", "name": call.name,
                       "input": arguments if isinstance(arguments, dict) else {}})
    return tuple(blocks)
