"""An MCP server's tools as the model sees them: each one's name, description and input schema checked
before it is declared (a server may list anything: a schema that is no JSON Schema, a name the API refuses,
megabytes of description), and the model's input checked against the schema before it is sent.

The model's input is checked in a child process of its own (:mod:`.inputcheck`), held to the call's time
(``mcp_call_seconds``) and killed past it, its memory capped: a schema's regular expressions are a third
party's, and one such as ``^(a+)+$`` would take minutes of the interpreter on a 30-character input."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import exceptions as schema_errors
from jsonschema import validators

from bot.core.text import defuse
from bot.features.mcp.inputcheck import input_problem
from database.boundary import JsonObject

# The Messages API's tool names; a declared name is "<server>__<tool>" (a server's name has no "_"), so a
# server's tools never clash with another server's, nor with the character's own (none holds "__").
_API_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_UNSAFE = re.compile(r"[^a-zA-Z0-9_-]")
MAX_SCHEMA_CHARS = 16_000  # one tool's input schema, as JSON: its bytes are every request's input tokens
MAX_DESCRIPTION = 500  # characters of a tool's description declared
_CHECK = Path(__file__).with_name("inputcheck.py")  # run as a file: it imports nothing of the bot


@dataclass(frozen=True)
class McpTool:
    """One tool of one MCP server, fit to declare: ``declared`` is the request's entry."""

    server: str  # the server's name where it was added
    name: str  # the tool's own name on the server
    declared: JsonObject
    schema: JsonObject
    slow: bool = True  # it may hold what can take long to check (a regular expression, uniqueItems)

    @property
    def api_name(self) -> str:
        return str(self.declared["name"])

    async def input_problem(self, arguments: JsonObject, seconds: float) -> str | None:
        """What is wrong with the model's input under the tool's schema (None: it fits), found in a child
        process within ``seconds`` (past them it is killed, and that is a problem too: the tool is not
        run). A schema without a regular expression (nor ``uniqueItems``, quadratic) is checked here:
        nothing in it can take long."""
        if not self.slow:
            try:
                return input_problem(self.schema, arguments)
            except Exception:  # noqa: BLE001 - a $ref it cannot resolve, say: a third party's schema
                return "the input could not be checked against the tool's schema"
        given = json.dumps({"schema": self.schema, "arguments": arguments}).encode()
        try:
            child = await asyncio.create_subprocess_exec(
                sys.executable, "-I", str(_CHECK), stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except OSError:  # no process to be had (the host's limit): not run unchecked
            return "the input could not be checked against the tool's schema"
        try:
            async with asyncio.timeout(seconds):
                out, _ = await child.communicate(given)
        except TimeoutError:
            return f"the input could not be checked against the tool's schema within {seconds:g} s"
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        try:
            said = json.loads(out)["problem"]
        except (ValueError, KeyError, TypeError):
            return "the input could not be checked against the tool's schema"
        return None if said is None else str(said)


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
    # a third party's words in the request: the prompt's own tags in them made inert
    said = defuse(" ".join(description.split())[:MAX_DESCRIPTION]) if isinstance(description, str) else ""
    text = f"{said} (a tool of the MCP server {server!r}, which its admins added here)".strip()
    typed: dict[str, Any] = schema
    return McpTool(server, name, {"name": api, "description": text, "input_schema": typed}, typed,
                   slow=any(k in json.dumps(schema) for k in ('"pattern', '"uniqueItems')))

