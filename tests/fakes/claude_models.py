"""The fake Claude's per-model rules: what each family refuses with a 400 (with the real error wording where
the docs or a reproduced response give it), whether it thinks by default, and how much thinking costs.

Written from the platform docs (models overview; migration guides for Sonnet 5, Sonnet 5.5, Haiku 5.5 and
Opus 5.5; the thinking troubleshooting table), independently of the bot's own capability table, so a bot
that builds a request the real API would refuse is caught here.

The suite's test model names (``claude-test-default``, ``claude-test-premium``, ``claude-test-voter`` and
the others) stand for the lineup chosen by ``KINDRED_TEST_LINEUP``: ``5`` (the default: Sonnet 5.5, Opus
5.5, Haiku 5.5) or ``4`` (Sonnet 4.6, Opus 4.5, Haiku 4.5).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["LINEUPS", "ModelRules", "lineup", "lineup_capabilities", "rules_for", "token_factor", "violation"]

EFFORTS = ("low", "medium", "high", "xhigh", "max")
# Thinking tokens the fake spends per request at each effort (deterministic, small next to the room the
# bot must leave: a request that leaves none ends in thinking alone, as on the real API).
THINKING_TOKENS = {"low": 60, "medium": 300, "high": 900, "xhigh": 2000, "max": 4000}

LINEUPS: dict[str, dict[str, str]] = {
    "5": {"reply": "claude-sonnet-5-5", "premium": "claude-opus-5-5", "vote": "claude-haiku-5-5"},
    "4": {"reply": "claude-sonnet-4-6", "premium": "claude-opus-4-5", "vote": "claude-haiku-4-5"},
}
# The bot's capability-table family of each lineup model (for the model_capabilities setting).
_FAMILY_OF = {"claude-sonnet-5-5": "sonnet-5.5", "claude-opus-5-5": "opus-5.5",
              "claude-haiku-5-5": "haiku-5.5", "claude-sonnet-4-6": "sonnet-4.6",
              "claude-opus-4-5": "opus-4.5", "claude-haiku-4-5": "haiku-4.5"}


def lineup() -> dict[str, str]:
    """The lineup the suite runs on (``KINDRED_TEST_LINEUP``, default 5)."""
    return LINEUPS["4" if os.environ.get("KINDRED_TEST_LINEUP", "5").startswith("4") else "5"]


def _role(test_name: str) -> str:
    if "voter" in test_name or "haiku" in test_name:
        return "vote"
    if "premium" in test_name:
        return "premium"
    return "reply"


def real_model(model: str) -> str:
    """The lineup model a test name stands for; a real id stays itself."""
    return lineup()[_role(model)] if model.startswith("claude-test-") else model


def lineup_capabilities(names: tuple[str, ...] = ("claude-test-default", "claude-test-premium",
                                                   "claude-test-voter")) -> str:
    """The bot's ``model_capabilities`` value that makes it treat the test names as the lineup's models."""
    return ",".join(f"{n}={_FAMILY_OF[real_model(n)]}" for n in names)


@dataclass(frozen=True)
class ModelRules:
    sampling: bool  # non-default temperature/top_p/top_k accepted
    prefill: bool
    forced_tools: bool  # tool_choice any/tool accepted (without thinking)
    thinking: tuple[str, ...]  # thinking.type values accepted
    default_thinking: bool  # thinks when the request has no thinking field
    disabled_max_effort: str | None  # "disabled" only at this effort or lower
    efforts: tuple[str, ...]
    default_effort: str


_RULES: tuple[tuple[str, ModelRules], ...] = (
    ("claude-fable-5", ModelRules(False, False, False, ("adaptive",), True, None, EFFORTS, "high")),
    ("claude-opus-5-5", ModelRules(False, False, False, ("adaptive",), True, None, EFFORTS, "medium")),
    ("claude-sonnet-5-5", ModelRules(False, False, False, ("adaptive", "between_tools"), True, None, EFFORTS,
                                     "high")),
    ("claude-haiku-5-5", ModelRules(False, False, True, ("adaptive", "disabled"), True, "high", EFFORTS,
                                    "medium")),
    ("claude-opus-5", ModelRules(False, False, True, ("adaptive", "disabled"), True, "high", EFFORTS,
                                 "high")),
    ("claude-sonnet-5", ModelRules(False, False, True, ("adaptive", "disabled"), True, "high", EFFORTS,
                                   "high")),
    ("claude-opus-4-6", ModelRules(True, False, True, ("adaptive", "enabled", "disabled"), False, None,
                                   ("low", "medium", "high", "max"), "high")),
    ("claude-sonnet-4-6", ModelRules(True, False, True, ("adaptive", "enabled", "disabled"), False, None,
                                     ("low", "medium", "high", "max"), "high")),
    ("claude-opus-4", ModelRules(True, True, True, ("enabled", "disabled"), False, None,
                                 ("low", "medium", "high"), "high")),
    ("claude-sonnet-4", ModelRules(True, True, True, ("enabled", "disabled"), False, None, (), "high")),
    ("claude-haiku-4", ModelRules(True, True, True, ("enabled", "disabled"), False, None, (), "high")),
)
# Any other name (old tests' made-up ids): the permissive 4.x rules the fake always applied.
_OLD = ModelRules(True, True, True, ("enabled", "disabled"), False, None, ("low", "medium", "high"), "high")


# The 5.x tokenizer (and Opus 4.7's) makes about 30 % more tokens of the same text than 4.6 / Haiku 4.5.
_NEW_TOKENIZER = ("claude-fable-5", "claude-opus-5", "claude-sonnet-5", "claude-haiku-5", "claude-opus-4-7")


def token_factor(model: str) -> float:
    """Tokens of ``model`` per token of the 4.x tokenizer (the fake's ``len // 4 + 1``)."""
    return 1.3 if real_model(model).startswith(_NEW_TOKENIZER) else 1.0


def rules_for(model: str) -> ModelRules:
    name = real_model(model)
    best = max(((len(p), r) for p, r in _RULES if name.startswith(p)), default=None, key=lambda pr: pr[0])
    return best[1] if best is not None else _OLD


def _unsupported(kind: str) -> str:
    # Reproduced against the live API (Opus 5.5, October 2026) for "disabled"; the same shape for the others.
    return (f'"thinking.type.{kind}" is not supported for this model. Use "thinking.type.adaptive" and '
            '"output_config.effort" to control thinking behavior.')


def effort_of(body: dict[str, Any], rules: ModelRules) -> str:
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    return effort if isinstance(effort, str) else rules.default_effort


def thinks(body: dict[str, Any], rules: ModelRules) -> bool:
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind is None:
        return rules.default_thinking
    return kind in ("adaptive", "enabled")  # between_tools: no up-front thinking (and no tools here)


def violation(body: dict[str, Any]) -> str | None:
    """The 400 message the real API gives this request on its model, if it breaks one of the rules."""
    rules = rules_for(str(body.get("model")))
    extra = {k: body[k] for k in ("temperature", "top_p", "top_k") if k in body}
    if not rules.sampling:
        for name, value in extra.items():
            if not (name == "temperature" and value == 1):
                return f"{name} is deprecated for this model"
    elif "temperature" in extra and "top_p" in extra:
        return "temperature and top_p cannot both be specified for this model. Please use only one."
    thinking = body.get("thinking")
    config = body.get("output_config")
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is not None:
        if not rules.efforts:
            return "output_config.effort: Extra inputs are not permitted"
        if effort not in rules.efforts:
            return (f"output_config.effort: Input should be {', '.join(repr(e) for e in rules.efforts[:-1])} "
                    f"or {rules.efforts[-1]!r}")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind not in rules.thinking:
            return _unsupported(str(kind))
        if kind == "disabled" and rules.disabled_max_effort is not None:
            level = effort_of(body, rules)
            if EFFORTS.index(level) > EFFORTS.index(rules.disabled_max_effort):
                return (f'"thinking.type.disabled" is not supported with "output_config.effort": "{level}". '
                        f'Use an effort of "{rules.disabled_max_effort}" or lower, or adaptive thinking.')
    messages = body.get("messages") or []
    if (not rules.prefill and messages and isinstance(messages[-1], dict)
            and messages[-1].get("role") == "assistant" and not _paused_turn(messages[-1])):
        return ("This model does not support assistant message prefill. The conversation must end with a "
                "user message.")
    bad_format = format_problem(body)
    if bad_format is not None:
        return bad_format
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("type") in ("any", "tool"):
        if not rules.forced_tools:
            return "tool_choice: forced tool use is not supported for this model. Use \"auto\" or \"none\"."
        if thinks(body, rules):
            return "Thinking may not be enabled when tool_choice forces tool use."
    return None


# -- structured outputs (output_config.format): the request's schema checked as the API does, and the answer
# held to it, as constrained decoding holds the real model's

def format_problem(body: dict[str, Any]) -> str | None:
    """The 400 for a malformed ``output_config.format``, if any (the API requires ``type`` json_schema, a
    ``schema``, and ``additionalProperties: false`` on every object in it)."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    if fmt is None:
        return None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return "output_config.format.type: Input should be 'json_schema'"
    schema = fmt.get("schema")
    if not isinstance(schema, dict):
        return "output_config.format.schema: Field required"
    open_at = open_object(schema, "schema")
    if open_at is not None:
        return (f"output_config.format.{open_at}: For 'object' type, 'additionalProperties' must be "
                "explicitly set to false")
    unsupported = _unsupported(schema, "schema")
    if unsupported is not None:
        return f"output_config.format.{unsupported}"
    return None


# What structured outputs refuse in a schema: numeric and string-length bounds, array bounds past minItems
# 0 or 1, and enums of anything but plain values (the SDKs move such constraints into descriptions).
_REFUSED = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
            "maxLength", "maxItems", "uniqueItems", "patternProperties")


def _unsupported(node: Any, path: str) -> str | None:
    if isinstance(node, list):
        found = (_unsupported(n, f"{path}.{i}") for i, n in enumerate(node))
        return next((p for p in found if p is not None), None)
    if not isinstance(node, dict):
        return None
    if node.get("type") is not None or "properties" in node or "enum" in node:  # a schema, not a property map
        refused = next((k for k in _REFUSED if k in node), None)
        if refused is not None:
            return f"{path}: '{refused}' is not supported"
        if node.get("minItems", 0) not in (0, 1):
            return f"{path}: 'minItems' values other than 0 or 1 are not supported"
        if any(isinstance(v, dict | list) for v in node.get("enum", ())):
            return f"{path}.enum: only strings, numbers, booleans and null are supported"
    return next((p for k, n in node.items() if (p := _unsupported(n, f"{path}.{k}")) is not None), None)


def open_object(node: Any, path: str) -> str | None:
    """Where in a JSON schema an object leaves ``additionalProperties`` open (strict mode refuses that), as
    a dotted path from ``path``; None when every object is closed."""
    if isinstance(node, list):
        found = (open_object(n, f"{path}.{i}") for i, n in enumerate(node))
        return next((p for p in found if p is not None), None)
    if not isinstance(node, dict):
        return None
    if node.get("type") == "object" and node.get("additionalProperties") is not False:
        return path
    return next((p for k, n in node.items() if (p := open_object(n, f"{path}.{k}")) is not None), None)


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    return fmt.get("schema") if isinstance(fmt, dict) else None


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` follows ``schema`` (the subset structured outputs take: types, enum, anyOf,
    properties, required, additionalProperties false, items)."""
    if "anyOf" in schema:
        return any(conforms(value, s) for s in schema["anyOf"])
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "null": lambda v: v is None}
    kinds = kind if isinstance(kind, list) else [] if kind is None else [kind]  # a type array: a union
    if kinds and not any(checks.get(k, lambda v: True)(value) for k in kinds):
        return False
    if "object" in kinds and isinstance(value, dict):
        props = schema.get("properties", {})
        return (all(k in value for k in schema.get("required", ()))
                and all(k in props and conforms(v, props[k]) for k, v in value.items()))
    if "array" in kinds and isinstance(value, list):
        return all(conforms(v, schema.get("items", {})) for v in value)
    return True


def least(schema: dict[str, Any]) -> Any:
    """The smallest value that follows ``schema``: what the fake answers when its scripted text would not."""
    if "anyOf" in schema:
        return least(schema["anyOf"][0])
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):  # a type array: null where it may be, else its first type's least
        return None if "null" in kind else least({**schema, "type": kind[0]})
    if kind == "object":
        return {k: least(schema["properties"][k]) for k in schema.get("required", ())}
    return {"array": [], "string": "", "boolean": False, "number": 0, "integer": 0}.get(str(kind))


def hold(value: Any, schema: dict[str, Any]) -> Any:
    """A scripted answer as constrained decoding would have let the model write it: a key the schema does not
    list is dropped (every object is closed), a value of another type or outside its enum is the smallest
    value that follows its schema. A required key the script leaves out stays out (tests script partial
    answers; what reads them supplies its default)."""
    if "anyOf" in schema:
        branch = next((s for s in schema["anyOf"] if _fits(value, s)), None)
        return hold(value, branch) if branch is not None else least(schema)
    if not _fits(value, schema):
        return least(schema)
    if isinstance(value, dict):
        props = schema.get("properties", {})
        return {k: hold(v, props[k]) for k, v in value.items() if k in props}
    if isinstance(value, list):
        return [hold(v, schema.get("items", {})) for v in value]
    return value


def _fits(value: Any, schema: dict[str, Any]) -> bool:
    """Whether ``value`` is of the schema's kind at its top (its type, its enum), whatever it holds."""
    if "anyOf" in schema:
        return any(_fits(value, s) for s in schema["anyOf"])
    if isinstance(value, dict):
        return conforms({}, {**schema, "required": []})
    if isinstance(value, list):
        return conforms([], schema)
    return conforms(value, schema)


def read_into(text: str, schema: dict[str, Any]) -> Any:
    """What the model would have decoded, under ``schema``, for a scripted plain answer: each required enum
    takes the first of its values the text names as a word (a vote script's "yes", "I think no", "**No.**"),
    anything else the smallest value that follows the schema."""
    if schema.get("type") == "object":
        props = schema.get("properties", {})
        return {k: read_into(text, props[k]) for k in schema.get("required", ())}
    if "enum" in schema:
        named = {str(v).lower(): v for v in schema["enum"]}
        for word in re.findall(r"[a-z0-9_-]+", text.lower()):
            if word in named:
                return named[word]
    return least(schema)


def _paused_turn(message: dict[str, Any]) -> bool:
    """A turn the model paused in (``pause_turn``): sent back with its server tool's work, it goes on; it is
    no prefill."""
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") in ("server_tool_use", "web_search_tool_result",
                                                  "web_fetch_tool_result") for b in content)
