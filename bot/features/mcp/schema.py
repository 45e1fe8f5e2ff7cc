"""An MCP server's tools as the model sees them: each one's name, description and input schema checked
before it is declared (a server may list anything: a schema that is no JSON Schema, a name the API refuses,
megabytes of description), and the model's input checked against the schema before it is sent.

A schema's regular expressions are a third party's: one such as ``^(a+)+$`` takes Python's ``re`` minutes on
a 30-character input, holding the interpreter all along. So the input is checked in a worker thread of
its own (:data:`_CHECKS`), its ``pattern`` run by the ``regex`` engine, which lets go of the interpreter
while it matches and stops at a deadline: the check as a whole is held to the call's time
(``mcp_call_seconds``), and the reply waits on it no longer than that. ``patternProperties`` (which
jsonschema runs with ``re`` wherever it looks up a property's name) is not run at all: a tool whose schema
holds it is not declared, nor one whose ``pattern`` the ``regex`` engine cannot read."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import regex
from jsonschema import exceptions as schema_errors
from jsonschema import validators

from bot.core.text import defuse
from database.boundary import JsonObject

# The Messages API's tool names; a declared name is "<server>__<tool>" (a server's name has no "_"), so a
# server's tools never clash with another server's, nor with the character's own (none holds "__").
_API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
MAX_SCHEMA_CHARS = 16_000  # one tool's input schema, as JSON: its bytes are every request's input tokens
MAX_DESCRIPTION = 500  # characters of a tool's description declared
# Checks of the model's input run here: two at a time at most, so a server's slow patterns hold these
# threads, never the event loop nor the threads the rest of the bot shares (asyncio's default executor).
_CHECKS = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mcp-input-check")


class _OutOfTime(Exception):
    """The check ran past its deadline (a pattern that would take longer than the call may)."""


@dataclass(frozen=True)
class McpTool:
    """One tool of one MCP server, fit to declare: ``declared`` is the request's entry."""

    server: str  # the server's name where it was added
    name: str  # the tool's own name on the server
    declared: JsonObject
    schema: JsonObject

    @property
    def api_name(self) -> str:
        return str(self.declared["name"])

    async def input_problem(self, arguments: JsonObject, seconds: float) -> str | None:
        """What is wrong with the model's input under the tool's schema (None: it fits), found in a worker
        thread within ``seconds`` (past them: a problem too, the tool is not run)."""
        loop = asyncio.get_running_loop()
        try:
            # the regex engine's own limit counts processor time, which a busy host stretches: the wait is
            # held to the wall clock here (a check still running is left to end at its own limit)
            async with asyncio.timeout(seconds):
                return await loop.run_in_executor(_CHECKS, _problem, self.schema, arguments, seconds)
        except TimeoutError:
            return _out_of_time(seconds)


def _out_of_time(seconds: float) -> str:
    return f"the input could not be checked against the tool's schema within {seconds:g} s"


def _problem(schema: JsonObject, arguments: JsonObject, seconds: float) -> str | None:
    """(In a worker thread.) What :meth:`McpTool.input_problem` says."""
    deadline = time.monotonic() + seconds

    def pattern(validator: Any, wanted: object, instance: object, _: object) -> Iterator[
            schema_errors.ValidationError]:
        if validator.is_type(instance, "string") and isinstance(wanted, str):
            left = deadline - time.monotonic()
            if left <= 0:
                raise _OutOfTime
            try:
                found = regex.search(wanted, instance, timeout=left, concurrent=True)
            except TimeoutError:
                raise _OutOfTime from None
            if found is None:
                yield schema_errors.ValidationError(f"{str(instance)[:80]!r} does not match {wanted[:80]!r}")

    checking = validators.extend(validators.validator_for(schema), {"pattern": pattern})(schema)
    try:
        error = schema_errors.best_match(checking.iter_errors(arguments))
    except _OutOfTime:
        return _out_of_time(seconds)
    except RecursionError:
        return "the input is nested too deeply to check"
    return None if error is None else f"the input does not fit the tool: {error.message[:200]}"


def declared_name(server: str, tool: str) -> str:
    return f"{server}__{_UNSAFE.sub('_', tool)}"


def checked(server: str, name: object, description: object, schema: object) -> McpTool | str:
    """The tool ``name`` of ``server`` fit to declare, or what is wrong with it (a log line's words)."""
    if not isinstance(name, str) or not name:
        return "a tool without a name"
    api = declared_name(server, name)
    if not _API_NAME.match(api):
        return f"the tool {name[:80]!r}: its name is too long to declare"
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return f"the tool {name!r}: its input schema is not a JSON Schema of an object"
    try:
        size = len(json.dumps(schema))
        if size > MAX_SCHEMA_CHARS:  # measured before it is read any further
            return (f"the tool {name!r}: its input schema is {size} characters long "
                    f"(at most {MAX_SCHEMA_CHARS})")
        validators.validator_for(schema).check_schema(schema)
    except (TypeError, ValueError, RecursionError, schema_errors.SchemaError) as exc:
        return f"the tool {name!r}: its input schema is invalid ({(str(exc).splitlines() or [''])[0][:200]})"
    if (unread := _unreadable(schema)) is not None:
        return f"the tool {name!r}: its input schema {unread}"
    # a third party's words in the request: the prompt's own tags in them made inert
    said = defuse(" ".join(description.split())[:MAX_DESCRIPTION]) if isinstance(description, str) else ""
    text = f"{said} (a tool of the MCP server {server!r}, which its admins added here)".strip()
    typed: dict[str, Any] = schema
    return McpTool(server, name, {"name": api, "description": text, "input_schema": typed}, typed)


def _unreadable(schema: JsonObject) -> str | None:
    """What in ``schema`` its input could not be checked with safely (None: nothing): a
    ``patternProperties``, or a ``pattern`` the ``regex`` engine cannot read. Every object in it is looked
    at, wherever it is (a property that happens to be called so too: left out rather than guessed at)."""
    waiting: list[object] = [schema]
    while waiting:
        node = waiting.pop()
        if isinstance(node, list):
            waiting.extend(node)
        elif isinstance(node, dict):
            if node.get("patternProperties"):
                return "uses patternProperties, which is not run here"
            wanted = node.get("pattern")
            if isinstance(wanted, str):
                try:
                    regex.compile(wanted)
                except (regex.error, ValueError, OverflowError) as exc:
                    return f"has a pattern that cannot be read here ({str(exc)[:120]})"
            waiting.extend(node.values())
    return None
