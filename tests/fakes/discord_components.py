"""Discord's rules for message components and interaction responses, as the fake enforces them.

Components (a message body's ``components``, legacy layout): at most 5 action rows (type 1), each of 1 to 5
buttons (type 2) or one select menu; every button but a link (style 5) has a ``custom_id`` of 1 to 100
characters, unique within the message; a label at most 80 characters. Otherwise 400 code 50035 with the
field errors, as Discord answers.

Webhooks: a webhook's ``components`` are read only when the webhook belongs to an application (a bot made
it) or the request says ``with_components=true``; interactive components (buttons with a custom id, selects)
only from an application's webhook (400 50035 otherwise).

Interactions: the initial response within 3 seconds of the interaction (404 10062 Unknown interaction after
it), once only (400 40060 Interaction has already been acknowledged); follow-ups and edits of the original
response only once it was given (404 10015 Unknown Webhook before) and while the token lives, 15 minutes.
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from tests.fakes.discord_guild import error

MAX_ROWS = 5
MAX_IN_ROW = 5
MAX_CUSTOM_ID = 100
MAX_LABEL = 80
RESPONSE_WINDOW = 3.0  # seconds for the initial response, as Discord allows
# What the running fake allows: Discord's window with room for a loaded 2-core test machine's scheduling
# delays (tests wait on events, never on wall-clock guesses); a bot that does its work before answering
# (a model call, many queries) still runs past it. The 3 s rule itself is tested with set times.
SERVED_WINDOW = 10.0
TOKEN_LIFETIME = 15 * 60.0  # seconds a token takes follow-ups and edits


def _invalid(path: str, code: str, message: str) -> web.Response:
    return error(400, 50035, "Invalid Form Body", {path: {"_errors": [{"code": code, "message": message}]}})


def refuse_components(body: dict[str, Any]) -> web.Response | None:
    """The 400 Discord answers a body whose components break the limits, else None."""
    rows = body.get("components") or []
    if len(rows) > MAX_ROWS:
        return _invalid("components", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_ROWS} in length.")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        if row.get("type") != 1:
            continue  # Components V2 layouts are not checked here
        items = row.get("components") or []
        if not 1 <= len(items) <= MAX_IN_ROW:
            return _invalid(f"components.{r}.components", "BASE_TYPE_BAD_LENGTH",
                            f"Must be between 1 and {MAX_IN_ROW} in length.")
        for i, item in enumerate(items):
            where = f"components.{r}.components.{i}"
            if item.get("type") != 2:
                if len(items) > 1:
                    return _invalid(where, "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                                    "The specified component exceeds the maximum width")
                continue
            if len(item.get("label") or "") > MAX_LABEL:
                return _invalid(f"{where}.label", "BASE_TYPE_MAX_LENGTH",
                                f"Must be {MAX_LABEL} or fewer in length.")
            if item.get("style") == 5:
                continue
            custom_id = item.get("custom_id")
            if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
                return _invalid(f"{where}.custom_id", "BASE_TYPE_BAD_LENGTH",
                                f"Must be between 1 and {MAX_CUSTOM_ID} in length.")
            if custom_id in seen:
                return _invalid(f"{where}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED",
                                "Component custom id cannot be duplicated")
            seen.add(custom_id)
    return None


def interactive(body: dict[str, Any]) -> bool:
    return any(item.get("type") in (2, 3, 5, 6, 7, 8) and (item.get("type") != 2 or item.get("style") != 5)
               for row in body.get("components") or [] for item in row.get("components") or [])


def webhook_components(hook: dict[str, Any], body: dict[str, Any], query: dict[str, str]) -> (
        tuple[dict[str, Any], web.Response | None]):
    """The body as Discord reads it from this webhook (components dropped where it ignores them), or the
    400 for interactive components from a webhook no application owns."""
    owned = hook.get("application_id") is not None
    if "components" not in body or not (owned or query.get("with_components") in ("true", "1", "True")):
        return {k: v for k, v in body.items() if k != "components"}, None
    if not owned and interactive(body):
        return body, _invalid("components", "COMPONENT_INVALID",
                              "Interactive components can only be sent by application-owned webhooks")
    return body, refuse_components(body)


def refuse_callback(record: dict[str, Any], window: float = RESPONSE_WINDOW) -> web.Response | None:
    """Why Discord refuses an interaction's initial response now (else None)."""
    if record.get("acknowledged"):
        return error(400, 40060, "Interaction has already been acknowledged.")
    if time.monotonic() - record["created"] > window:
        return error(404, 10062, "Unknown interaction")
    return None


def refuse_token_use(record: dict[str, Any]) -> web.Response | None:
    """Why Discord refuses a follow-up or an edit of the original response now (else None)."""
    if not record.get("acknowledged") or time.monotonic() - record["created"] > TOKEN_LIFETIME:
        return error(404, 10015, "Unknown Webhook")
    return None
