"""Tools in the fake Claude, as the real Messages API has them (anthropic 2.12's types, Anthropic's docs).

* Declarations checked before the prompt is read (400 ``invalid_request_error``): server tools by their
  versioned type (``web_search_20250305``, ``web_fetch_20250910``) with their own name and only their own
  fields (``max_uses`` at least 1; ``allowed_domains`` or ``blocked_domains``, never both; a
  ``user_location`` of type ``approximate``); a client tool's name (``^[a-zA-Z0-9_-]{1,64}$``), an
  ``input_schema`` of type object, ``strict`` a boolean; names unique.
* Turns: a client ``tool_use`` must be answered by its ``tool_result`` in the very next user message, and a
  ``tool_result`` must answer a ``tool_use`` of the message before (both 400s in the API's words); tool
  blocks in a request that declares no tools are a 400. A server tool's work (``server_tool_use`` and its
  ``*_tool_result``) comes back inside an assistant message as the API sent it.
* What the model does (a :class:`Search` or :class:`Fetch` script on a :class:`Reply`): with ``web_search``
  declared, a ``server_tool_use`` + ``web_search_tool_result`` (encrypted content, as the real one) and the
  answer's text blocks carrying ``web_search_result_location`` citations, one search billed in
  ``usage.server_tool_use.web_search_requests``; ``pause=True`` pauses after the search
  (``stop_reason: pause_turn``) and answers when the paused turn is sent back. Without ``web_search`` but
  with a client tool, the model asks for that tool (``stop_reason: tool_use``); with neither, it answers
  from what it knows. A fetch reads only a URL that is in the conversation and on an allowed domain (else
  the result is the API's ``url_not_allowed`` error), its ``document`` cited when citations are on.
  A :class:`UseTool` asks for one client tool and answers from its ``tool_result``; under ``strict`` its
  input is held to the tool's schema, as the API's constrained decoding holds the real model's (an enum
  value the schema does not list cannot be produced). A strict tool's schema must close every object
  (``additionalProperties: false``), as the API requires; at most 20 strict tools, and at most 16
  union-typed parameters across them.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from tests.fakes.claude_models import conforms, open_object, read_into

WEB_SEARCH = "web_search_20250305"
WEB_FETCH = "web_fetch_20250910"
_SERVER_FIELDS: dict[str, set[str]] = {
    WEB_SEARCH: {"type", "name", "max_uses", "allowed_domains", "blocked_domains", "user_location",
                 "cache_control", "strict", "allowed_callers", "defer_loading"},
    WEB_FETCH: {"type", "name", "max_uses", "allowed_domains", "blocked_domains", "citations",
                "max_content_tokens", "cache_control", "strict", "allowed_callers", "defer_loading",
                "url_sources"},
}
_SERVER_NAMES = {WEB_SEARCH: "web_search", WEB_FETCH: "web_fetch"}
_CLIENT_FIELDS = {"type", "name", "description", "input_schema", "strict", "cache_control", "input_examples",
                  "defer_loading", "allowed_callers", "eager_input_streaming"}
_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
# Strict tools' grammar limits (Anthropic's structured outputs): tools per request, and parameters whose
# type is a union (a type array such as ["string", "null"], or anyOf) across all their schemas.
MAX_STRICT_TOOLS = 20
MAX_UNION_PARAMETERS = 16
_RESULTS = {"web_search_tool_result", "web_fetch_tool_result"}
_USE_IDS = itertools.count(1)


def tool_problem(body: dict[str, Any]) -> str | None:
    """The 400 the API gives the request's tools or tool turns, if any."""
    tools = body.get("tools")
    if tools is not None:
        problem = _declared_problem(tools)
        if problem is not None:
            return problem
    return _turns_problem(body.get("messages") or [], bool(tools))


def _declared_problem(tools: Any) -> str | None:
    if not isinstance(tools, list):
        return "tools: Input should be a valid list"
    names: set[str] = set()
    for i, tool in enumerate(tools):
        if not isinstance(tool, dict):
            return f"tools.{i}: Input should be a valid dictionary"
        kind = tool.get("type", "custom")
        if kind in _SERVER_FIELDS:
            extra = sorted(set(tool) - _SERVER_FIELDS[kind])
            if extra:
                return f"tools.{i}.{kind}.{extra[0]}: Extra inputs are not permitted"
            if tool.get("name") != _SERVER_NAMES[kind]:
                return f"tools.{i}.{kind}.name: Input should be '{_SERVER_NAMES[kind]}'"
            uses = tool.get("max_uses")
            if uses is not None and (not isinstance(uses, int) or isinstance(uses, bool) or uses < 1):
                return f"tools.{i}.{kind}.max_uses: Input should be greater than 0"
            if tool.get("allowed_domains") and tool.get("blocked_domains"):
                return f"tools.{i}.{kind}: cannot specify both allowed_domains and blocked_domains"
            place = tool.get("user_location")
            if place is not None and (not isinstance(place, dict) or place.get("type") != "approximate"):
                return f"tools.{i}.{kind}.user_location.type: Input should be 'approximate'"
        elif kind == "custom":
            extra = sorted(set(tool) - _CLIENT_FIELDS)
            if extra:
                return f"tools.{i}.custom.{extra[0]}: Extra inputs are not permitted"
            if not isinstance(tool.get("name"), str) or not _NAME.match(tool["name"]):
                return f"tools.{i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            schema = tool.get("input_schema")
            if not isinstance(schema, dict) or schema.get("type") != "object":
                return f"tools.{i}.custom.input_schema: JSON schema is invalid - type must be 'object'"
            if "strict" in tool and not isinstance(tool["strict"], bool):
                return f"tools.{i}.custom.strict: Input should be a valid boolean"
            open_at = open_object(schema, "input_schema") if tool.get("strict") else None
            if open_at is not None:
                return (f"tools.{i}.custom.{open_at}: For 'object' type, 'additionalProperties' must be "
                        "explicitly set to false")
        else:
            return f"tools.{i}: Input tag '{kind}' found using 'type' does not match any of the expected tags"
        name = str(tool.get("name"))
        if name in names:
            return "tools: Tool names must be unique."
        names.add(name)
    strict = [t for t in tools if t.get("strict")]
    if len(strict) > MAX_STRICT_TOOLS:
        return f"Too many strict tools: {len(strict)} (at most {MAX_STRICT_TOOLS})"
    unions = sum(1 for t in strict for p in (t["input_schema"].get("properties") or {}).values()
                 if isinstance(p, dict) and (isinstance(p.get("type"), list) or "anyOf" in p))
    if unions > MAX_UNION_PARAMETERS:
        return (f"Too many parameters with union types: {unions} (at most {MAX_UNION_PARAMETERS} across "
                "all strict tools)")
    return None


def _blocks(message: Any) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _turns_problem(messages: list[Any], declared: bool) -> str | None:
    for i, message in enumerate(messages):
        kinds = {b.get("type") for b in _blocks(message)}
        if kinds & {"tool_use", "tool_result"} and not declared:
            return "Requests which include `tool_use` or `tool_result` blocks must define tools."
        role = message.get("role") if isinstance(message, dict) else None
        uses = [str(b.get("id")) for b in _blocks(message) if b.get("type") == "tool_use"]
        if role == "assistant" and uses:
            following = messages[i + 1] if i + 1 < len(messages) else None
            answered = {str(b.get("tool_use_id")) for b in _blocks(following)
                        if b.get("type") == "tool_result"}
            missing = [u for u in uses if u not in answered]
            if missing:
                return (f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
                        f"after: {', '.join(missing or uses)}. Each `tool_use` block must have a "
                        "corresponding `tool_result` block in the next message.")
        if role == "user":
            before = messages[i - 1] if i else None
            asked = {str(b.get("id")) for b in _blocks(before) if b.get("type") == "tool_use"}
            for j, block in enumerate(_blocks(message)):
                if block.get("type") == "tool_result" and str(block.get("tool_use_id")) not in asked:
                    return (f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` "
                            f"blocks: {block.get('tool_use_id')}. Each `tool_result` block must have a "
                            "corresponding `tool_use` block in the previous message.")
    return None


def declared(body: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The request's declaration of server tool ``kind`` (a versioned type), if any."""
    return next((t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == kind), None)


def client_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type", "custom") == "custom"]


def _paused(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The server tool blocks of a paused turn the request sends back (its last message), if any."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "assistant":
        return []
    return [b for b in _blocks(last) if b.get("type") in ("server_tool_use", *_RESULTS)]


@dataclass
class Answer:
    """What a tool script makes of one request: content blocks, why it stopped, the server tools billed."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    searches: int = 0
    fetches: int = 0

    @property
    def text(self) -> str:
        return "".join(str(b.get("text") or "") for b in self.content if b.get("type") == "text")


@dataclass
class Search:
    """The model searching the web for ``query`` and answering from ``results`` ((url, title) pairs),
    citing them; ``plain``: its answer when it cannot search."""

    query: str
    results: list[tuple[str, str]]
    answer: str = "Here is what I found."
    plain: str = "I can't look that up right now."
    pause: bool = False  # the turn pauses after the search (pause_turn); sent back, it answers
    ids: list[str] = field(default_factory=list)  # the server_tool_use ids it gave, in order
    opening: str = "Let me look that up."  # what it writes before searching ("": nothing)

    def answer_to(self, body: dict[str, Any]) -> Answer:
        paused = _paused(body)
        tool = declared(body, WEB_SEARCH)
        if paused and any(b.get("id") in self.ids for b in paused):
            return Answer(self._cited())  # the paused turn goes on from its search
        if tool is None:
            custom = [t for t in client_tools(body) if "search" in str(t.get("name"))]  # not a reminder
            if custom:
                use_id = f"toolu_fake_{len(self.ids) + 1:04d}"
                self.ids.append(use_id)
                return Answer([{"type": "tool_use", "id": use_id, "name": custom[0]["name"],
                                "input": {"query": self.query}}], "tool_use")
            return Answer([{"type": "text", "text": self.plain}])
        use_id = f"srvtoolu_fake_{len(self.ids) + 1:04d}"
        self.ids.append(use_id)
        work: list[dict[str, Any]] = [{"type": "server_tool_use", "id": use_id, "name": "web_search",
                 "input": {"query": self.query}},
                {"type": "web_search_tool_result", "tool_use_id": use_id, "content": [
                    {"type": "web_search_result", "url": url, "title": title, "page_age": None,
                     "encrypted_content": _encrypted(url)} for url, title in self.results]}]
        opening = [{"type": "text", "text": self.opening}] if self.opening else []
        if self.pause:
            return Answer([*opening, *work], "pause_turn", searches=1)
        return Answer([*opening, *work, *self._cited()], searches=1)

    def _cited(self) -> list[dict[str, Any]]:
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.answer + " "}]
        for url, title in self.results:
            blocks.append({"type": "text", "text": f"{title}. ", "citations": [{
                "type": "web_search_result_location", "url": url, "title": title, "cited_text": title,
                "encrypted_index": _encrypted(url)}]})
        return blocks


@dataclass
class Fetch:
    """The model reading ``url`` (a page titled ``title`` holding ``page``) and answering ``answer``."""

    url: str
    title: str
    page: str
    answer: str = "I read it."
    plain: str = "I can't open links here."

    def answer_to(self, body: dict[str, Any]) -> Answer:
        tool = declared(body, WEB_FETCH)
        if tool is None:
            return Answer([{"type": "text", "text": self.plain}])
        use_id = "srvtoolu_fake_fetch"
        allowed = tool.get("allowed_domains") or []
        host = urlsplit(self.url).hostname or ""
        said = json.dumps(body.get("messages") or [])
        if self.url not in said or (allowed and host not in allowed):
            result: dict[str, Any] = {"type": "web_fetch_tool_result_error", "error_code": "url_not_allowed"}
        else:
            result = {"type": "web_fetch_result", "url": self.url, "retrieved_at": "2026-11-26T00:00:00Z",
                      "content": {"type": "document", "title": self.title,
                                  "source": {"type": "text", "media_type": "text/plain", "data": self.page},
                                  "citations": tool.get("citations")}}
        work: list[dict[str, Any]] = [
            {"type": "server_tool_use", "id": use_id, "name": "web_fetch", "input": {"url": self.url}},
            {"type": "web_fetch_tool_result", "tool_use_id": use_id, "content": result}]
        return Answer([*work, {"type": "text", "text": self.answer}], fetches=1)


@dataclass
class UseTool:
    """The model asking for client tool ``name`` with ``input`` (one ``tool_use``, ``stop_reason: tool_use``),
    then, sent its ``tool_result``, answering ``answer`` (``{result}`` in it: the result's text) or asking
    for the tool ``then`` (a chain of tools, the last one's answer the reply);
    ``plain``: its answer when the request does not declare the tool. ``results``: every ``tool_result``
    block it was sent, for a test to read."""

    name: str
    input: dict[str, Any] = field(default_factory=dict)
    answer: str = "{result}"
    plain: str = "I can't do that here."
    ids: list[str] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[dict[str, Any]] = field(default_factory=list)  # the inputs it gave, as decoded
    then: UseTool | None = None  # the tool it asks for next, once this one's result came (its answer last)

    def answer_to(self, body: dict[str, Any]) -> Answer:
        messages = body.get("messages") or []
        last = messages[-1] if messages else {}
        answered = [b for b in _blocks(last)
                    if b.get("type") == "tool_result" and b.get("tool_use_id") in self.ids]
        if answered:
            self.results.extend(answered)
            if self.then is not None:
                return self.then.answer_to(body)
            said = self.answer.replace("{result}", result_text(answered[-1]))
            return Answer([{"type": "text", "text": said}])
        if self.then is not None and self.ids:  # its result came earlier: the next tool's turn
            return self.then.answer_to(body)
        tool = next((t for t in client_tools(body) if t.get("name") == self.name), None)
        if tool is None:
            return Answer([{"type": "text", "text": self.plain}])
        schema = tool.get("input_schema") or {}
        wanted = dict(self.input)
        if tool.get("strict") and not conforms(wanted, schema):  # constrained decoding: never off the schema
            wanted = read_into(json.dumps(wanted, ensure_ascii=False), schema)
        self.inputs.append(wanted)
        use_id = f"toolu_fake_{self.name}_{next(_USE_IDS):04d}"  # unique across a chain's tools
        self.ids.append(use_id)
        return Answer([{"type": "tool_use", "id": use_id, "name": self.name, "input": wanted}], "tool_use")


def result_text(block: dict[str, Any]) -> str:
    """The text of a ``tool_result`` block (a string, or text blocks)."""
    content = block.get("content")
    if isinstance(content, str):
        return content
    return "".join(str(b.get("text") or "") for b in content or [] if isinstance(b, dict))


def _encrypted(url: str) -> str:
    return base64.b64encode(f"fake:{url}".encode()).decode()
