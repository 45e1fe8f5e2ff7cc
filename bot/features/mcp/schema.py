"""An MCP server's tools as the model sees them: each one's name, description and input schema checked
before it is declared (a server may list anything: a schema that is no JSON Schema, a name the API refuses,
megabytes of description), and the model's input checked against the schema before it is sent."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

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

    def input_problem(self, arguments: JsonObject) -> str | None:
        """What is wrong with the model's input under the tool's schema (None: it fits)."""
        validator = validators.validator_for(self.schema)(self.schema)
        error = schema_errors.best_match(validator.iter_errors(arguments))
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
        validators.validator_for(schema).check_schema(schema)
    except (TypeError, ValueError, schema_errors.SchemaError) as exc:
        return f"the tool {name!r}: its input schema is invalid ({str(exc).splitlines()[0][:200]})"
    if size > MAX_SCHEMA_CHARS:
        return f"the tool {name!r}: its input schema is {size} characters long (at most {MAX_SCHEMA_CHARS})"
    # a third party's words in the request: the prompt's own tags in them made inert
    said = defuse(" ".join(description.split())[:MAX_DESCRIPTION]) if isinstance(description, str) else ""
    text = f"{said} (a tool of the MCP server {server!r}, which its admins added here)".strip()
    typed: dict[str, Any] = schema
    return McpTool(server, name, {"name": api, "description": text, "input_schema": typed}, typed)
