"""What each Claude model family accepts, defaults to and costs: the one table requests, token counts and
prices are built from.

Sources: the platform docs' models overview, the migration guides for Claude Sonnet 5, Sonnet 5.5, Haiku
5.5 and Opus 5.5, the thinking troubleshooting table and the pricing page (read November 2026). Where a
page did not state a figure (marked "not stated") the nearest documented family's value is used.

An unknown ``claude-*`` id follows the newest family of its tier (haiku, opus, fable, else sonnet) and is
warned about once at start-up; a model outside Claude (the openai backend) has no entry. Operators can
override any field, or point a model id at a family, with the ``model_capabilities`` setting.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, TypedDict

from bot.core.models.base import CallUsage

# Anthropic's web search tool is billed per search on top of the tokens ($10 per 1,000); web fetch costs
# only the tokens of what it read.
WEB_SEARCH_USD = 0.01

__all__ = ["EFFORTS", "FAMILIES", "Family", "ModelTable", "parse_model_capabilities"]

log = logging.getLogger(__name__)

EFFORTS = ("low", "medium", "high", "xhigh", "max")
SAMPLING = ("temperature", "top_p", "top_k")
# Room added to max_tokens for the thinking a request may do at each effort (the answer's budget stays
# what the person reads). Adaptive thinking at low effort on a chat turn stays well under the first figure.
THINKING_ROOM = {"low": 2048, "medium": 6144, "high": 12288, "xhigh": 24576, "max": 32768}
# Background work with thinking that cannot be turned off (Opus 5.5, Fable): effort low, this much room.
MIN_THINKING_ROOM = 1024


@dataclass(frozen=True)
class Family:
    """One model family's rules and prices (USD per million tokens)."""

    name: str
    prefixes: tuple[str, ...]  # model ids starting with one of these belong here
    sampling: tuple[str, ...]  # sampling parameters accepted with a non-default value
    prefill: bool  # a final assistant message (prefill) accepted
    forced_tool_choice: bool  # tool_choice any/tool accepted (never together with thinking)
    thinking: tuple[str, ...]  # thinking.type values accepted
    thinking_default: str  # what a request without ``thinking`` gets ("disabled": no thinking)
    disabled_max_effort: str | None  # thinking disabled accepted only at this effort or lower (None: any)
    efforts: tuple[str, ...]  # output_config.effort values accepted (empty: no effort parameter)
    effort_default: str | None
    context_window: int
    max_output: int
    min_cache_tokens: int  # the shortest prompt prefix a cache breakpoint writes
    token_factor: float  # tokens of this model's tokenizer per token of the local tokenizer (tiktoken)
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    long_prompt_tokens: int = 0  # prompts over this many tokens bill at the long_* prices (0: no tier)
    long_input: float = 0.0
    long_output: float = 0.0
    long_cache_write_5m: float = 0.0
    long_cache_write_1h: float = 0.0
    long_cache_read: float = 0.0
    # output_config.format (a JSON schema the answer is decoded to) accepted: 4.5 and later (the older ids
    # these families also cover, Sonnet 4 and 3.7, Opus 4, the 3.x Haikus, are retired)
    structured_outputs: bool = True

    @property
    def thinks_by_default(self) -> bool:
        return self.thinking_default != "disabled"

    def price(self, input_tokens: int, output_tokens: int, cache_write: int, cache_read: int,
              cache_write_1h: int = 0) -> float:
        """USD of one call (cache writes at the 5-minute price, ``cache_write_1h`` of them at the hour's)."""
        prompt = input_tokens + cache_write + cache_read
        long = bool(self.long_prompt_tokens) and prompt > self.long_prompt_tokens
        p_in, p_out, p_w5, p_w1, p_r = ((self.long_input, self.long_output, self.long_cache_write_5m,
                                         self.long_cache_write_1h, self.long_cache_read) if long else
                                        (self.input, self.output, self.cache_write_5m, self.cache_write_1h,
                                         self.cache_read))
        return (input_tokens * p_in + output_tokens * p_out + (cache_write - cache_write_1h) * p_w5
                + cache_write_1h * p_w1 + cache_read * p_r) / 1_000_000


class _Generation(TypedDict):
    """What the 5.x families share (typed, so ``**_NEW`` is checked against Family's fields)."""

    sampling: tuple[str, ...]
    prefill: bool
    efforts: tuple[str, ...]
    context_window: int
    max_output: int
    token_factor: float


_NEW: _Generation = {"sampling": (), "prefill": False, "efforts": EFFORTS, "context_window": 1_000_000,
        "max_output": 128_000, "token_factor": 1.3}

FAMILIES: tuple[Family, ...] = (
    Family("fable-5.1", ("claude-fable-5",), forced_tool_choice=False, thinking=("adaptive",),
           thinking_default="adaptive", disabled_max_effort=None, effort_default="high",
           min_cache_tokens=1024,  # not stated; Sonnet 5's
           input=10, output=50, cache_write_5m=12.5, cache_write_1h=20, cache_read=1.0, **_NEW),
    Family("opus-5.5", ("claude-opus-5-5",), forced_tool_choice=False, thinking=("adaptive",),
           thinking_default="adaptive", disabled_max_effort=None, effort_default="medium",
           min_cache_tokens=512, input=4, output=20, cache_write_5m=5, cache_write_1h=8, cache_read=0.20,
           **_NEW),
    Family("sonnet-5.5", ("claude-sonnet-5-5",), forced_tool_choice=False,
           thinking=("adaptive", "between_tools"), thinking_default="adaptive", disabled_max_effort=None,
           effort_default="high", min_cache_tokens=512, input=2, output=10, cache_write_5m=2.5,
           cache_write_1h=4, cache_read=0.10, **_NEW),
    Family("haiku-5.5", ("claude-haiku-5-5",), forced_tool_choice=True, thinking=("adaptive", "disabled"),
           thinking_default="adaptive", disabled_max_effort="high", effort_default="medium",
           min_cache_tokens=512, input=0.10, output=0.50, cache_write_5m=0.125, cache_write_1h=0.20,
           cache_read=0.01, long_prompt_tokens=100_000, long_input=0.50, long_output=2.50,
           long_cache_write_5m=0.625, long_cache_write_1h=1.0, long_cache_read=0.05, **_NEW),
    Family("opus-5", ("claude-opus-5",), forced_tool_choice=True, thinking=("adaptive", "disabled"),
           thinking_default="adaptive", disabled_max_effort="high", effort_default="high",
           min_cache_tokens=1024,  # not stated; Sonnet 5's
           input=5, output=25, cache_write_5m=6.25, cache_write_1h=10, cache_read=0.50, **_NEW),
    Family("sonnet-5", ("claude-sonnet-5",), forced_tool_choice=True, thinking=("adaptive", "disabled"),
           thinking_default="adaptive", disabled_max_effort="high", effort_default="high",
           min_cache_tokens=1024, input=2, output=10, cache_write_5m=2.5, cache_write_1h=4, cache_read=0.20,
           **_NEW),
    # 4.x: thinking is off unless asked for; sampling accepted (temperature or top_p, not both).
    Family("opus-4.7", ("claude-opus-4-7", "claude-opus-4-8"), sampling=(), prefill=False,
           forced_tool_choice=True, thinking=("adaptive", "disabled"), thinking_default="disabled",
           disabled_max_effort=None, efforts=EFFORTS, effort_default="high", context_window=1_000_000,
           max_output=128_000, min_cache_tokens=4096, token_factor=1.3, input=5, output=25,
           cache_write_5m=6.25, cache_write_1h=10, cache_read=0.50),
    Family("opus-4.6", ("claude-opus-4-6",), sampling=SAMPLING, prefill=False, forced_tool_choice=True,
           thinking=("adaptive", "enabled", "disabled"), thinking_default="disabled",
           disabled_max_effort=None,
           efforts=("low", "medium", "high", "max"), effort_default="high", context_window=1_000_000,
           max_output=128_000, min_cache_tokens=4096, token_factor=1.0, input=5, output=25,
           cache_write_5m=6.25, cache_write_1h=10, cache_read=0.50),
    Family("sonnet-4.6", ("claude-sonnet-4-6",), sampling=SAMPLING, prefill=False, forced_tool_choice=True,
           thinking=("adaptive", "enabled", "disabled"), thinking_default="disabled",
           disabled_max_effort=None,
           efforts=("low", "medium", "high", "max"), effort_default="high", context_window=1_000_000,
           max_output=64_000, min_cache_tokens=1024, token_factor=1.0, input=3, output=15,
           cache_write_5m=3.75, cache_write_1h=6, cache_read=0.30),
    Family("opus-4.5", ("claude-opus-4",), sampling=SAMPLING, prefill=True, forced_tool_choice=True,
           thinking=("enabled", "disabled"), thinking_default="disabled", disabled_max_effort=None,
           efforts=("low", "medium", "high"), effort_default="high", context_window=200_000,
           max_output=64_000, min_cache_tokens=4096, token_factor=1.0, input=5, output=25,
           cache_write_5m=6.25, cache_write_1h=10, cache_read=0.50),
    Family("sonnet-4.5", ("claude-sonnet-4", "claude-3-7-sonnet"), sampling=SAMPLING, prefill=True,
           forced_tool_choice=True, thinking=("enabled", "disabled"), thinking_default="disabled",
           disabled_max_effort=None, efforts=(), effort_default=None, context_window=200_000,
           max_output=64_000, min_cache_tokens=1024, token_factor=1.0, input=3, output=15,
           cache_write_5m=3.75, cache_write_1h=6, cache_read=0.30),
    Family("haiku-4.5", ("claude-haiku-4", "claude-3-5-haiku", "claude-3-haiku"), sampling=SAMPLING,
           prefill=True, forced_tool_choice=True, thinking=("enabled", "disabled"),
           thinking_default="disabled", disabled_max_effort=None, efforts=(), effort_default=None,
           context_window=200_000, max_output=64_000, min_cache_tokens=4096, token_factor=1.0, input=1,
           output=5, cache_write_5m=1.25, cache_write_1h=2, cache_read=0.10),
)
_BY_NAME = {f.name: f for f in FAMILIES}
# An unknown claude-* id follows the newest family of its tier.
_NEWEST = {"haiku": "haiku-5.5", "opus": "opus-5.5", "fable": "fable-5.1", "sonnet": "sonnet-5.5"}

_FIELD_TYPES = {f.name: f.type for f in fields(Family)}
_OVERRIDABLE = tuple(n for n in _FIELD_TYPES if n not in ("name", "prefixes"))


FieldValue = tuple[str, ...] | bool | int | float | str | None  # a Family field's value, as overridden


def _parse_value(key: str, text: str) -> FieldValue:
    kind = str(_FIELD_TYPES[key])
    if kind.startswith("tuple"):
        return tuple(v for v in text.split("+") if v and v != "none")
    if kind == "bool":
        if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
            raise ValueError
        return text.lower() in ("true", "yes", "1")
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "str | None":
        return None if text in ("", "none") else text
    return text


def parse_model_capabilities(text: str) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """``model_capabilities``: comma-separated ``MODEL=FAMILY`` (the model follows that family's rules,
    e.g. ``my-proxy-sonnet=sonnet-5.5``) and ``MODEL[FIELD]=VALUE`` (one field overridden, e.g.
    ``claude-sonnet-5-5[min_cache_tokens]=1024``; lists are joined with ``+``, ``none`` for empty) ->
    ({model: family}, {model: {field: value}}). Raises ValueError naming the bad entry."""
    families: dict[str, str] = {}
    # Field values by field name, as parsed for each field (_FIELD_TYPES): each fits its own field, which
    # no one type says for all (dataclasses.replace checks the values against every field): hence Any.
    overrides: dict[str, dict[str, Any]] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        target, sep, value = entry.rpartition("=")
        target, value = target.strip(), value.strip()
        try:
            if not sep or not target:
                raise ValueError
            if target.endswith("]") and "[" in target:
                model, _, key = target[:-1].partition("[")
                if key not in _OVERRIDABLE or not model:
                    raise ValueError
                overrides.setdefault(model, {})[key] = _parse_value(key, value)
            else:
                if value not in _BY_NAME:
                    raise ValueError
                families[target] = value
        except ValueError:
            raise ValueError(f"expected MODEL=FAMILY ({', '.join(_BY_NAME)}) or MODEL[FIELD]=VALUE "
                             f"(fields: {', '.join(_OVERRIDABLE)}), got {entry!r}") from None
    return families, overrides


class ModelTable:
    """The table with the operator's overrides: ``family(model)`` for any model id."""

    def __init__(self, overrides_text: str = "") -> None:
        self.families, self.overrides = parse_model_capabilities(overrides_text)
        self._warned: set[str] = set()
        self._cache: dict[str, Family | None] = {}
        self._held: list[tuple[str, Family]] | None = None  # see hold_warnings

    def known(self, model: str) -> bool:
        """Whether the table (or an override) names this model's family."""
        return model in self.families or any(model.startswith(p) for f in FAMILIES for p in f.prefixes)

    def family(self, model: str) -> Family | None:
        """The rules ``model`` follows; None for a model that is not Claude (and not overridden)."""
        if model in self._cache:
            return self._cache[model]
        found: Family | None = None
        if model in self.families:
            found = _BY_NAME[self.families[model]]
        else:
            # The longest prefix wins ("claude-opus-5-5" before "claude-opus-5").
            best = max(((len(p), f) for f in FAMILIES for p in f.prefixes if model.startswith(p)),
                       default=None, key=lambda pair: pair[0])
            if best is not None:
                found = best[1]
            elif model.startswith("claude-") or model in self.overrides:
                tier = next((t for t in _NEWEST if t in model), "sonnet")
                found = _BY_NAME[_NEWEST[tier]]
                if model not in self._warned:
                    self._warned.add(model)
                    self._warning(model, found)
        if found is not None and model in self.overrides:
            found = replace(found, **self.overrides[model])
        self._cache[model] = found
        return found

    def hold_warnings(self) -> None:
        """Start-up: keep the "not in the table" warnings until the models list is checked, so an id that
        does not exist is one error rather than a warning about its rules first (issue 46)."""
        self._held = []

    def release_warnings(self, wrong: set[str]) -> None:
        """Say the held warnings, except for the ``wrong`` ids (reported as errors instead)."""
        held, self._held = self._held or [], None
        for model, found in held:
            if model not in wrong:
                self._warning(model, found)

    def _warning(self, model: str, found: Family) -> None:
        if self._held is not None:
            self._held.append((model, found))
            return
        log.warning("model %s is not in Kindred's capability table: it is sent with %s's rules "
                    "(set model_capabilities, e.g. %s=%s, if it follows another family)",
                    model, found.name, model, found.name)

    def cost(self, usage: CallUsage, model: str, answered_by: str, *, claude: bool,
             costs: Mapping[str, tuple[float, float]]) -> float:
        """USD of a call: ``model_costs`` (``costs``) for a listed model; the table's prices (cache writes and
        reads included) for Claude; else 0 (a local model); plus a Claude call's web searches.
        ``answered_by``: the model id the answer named."""
        prices = costs.get(model) or costs.get(answered_by)
        u = usage
        searches = u.web_search_requests * WEB_SEARCH_USD if claude else 0.0
        if prices is None:
            family = self.family(answered_by or model) if claude else None
            if family is None:
                return searches
            return searches + family.price(u.input_tokens, u.output_tokens, u.cache_creation_tokens,
                                           u.cache_read_tokens, u.cache_creation_1h_tokens)
        per_input, per_output = prices
        # model_costs gives input/output only: cache writes and reads at Anthropic's usual ratios.
        return (searches + per_input * (u.input_tokens + u.cache_creation_tokens * 1.25
                                        + u.cache_read_tokens * 0.1) + per_output * u.output_tokens)
