"""Discord's rules for message components and interaction responses, as the fake enforces them.

Components (a message body's ``components``, legacy layout): at most 5 action rows (type 1), each of 1 to 5
buttons (type 2) or one select menu; every button but a link (style 5) has a ``custom_id`` of 1 to 100
characters, unique within the message; a label at most 80 characters. Otherwise 400 code 50035 with the
field errors, as Discord answers.

Components V2 (the message flag IS_COMPONENTS_V2, 1 << 15): the body has no ``content`` and no ``embeds``;
at most 40 components in all, nested ones counted (containers 17, sections 9 with their accessory, text
displays 10, thumbnails 11, media galleries 12, files 13, separators 14, action rows and their items); a text
display at most 4,000 characters and all text displays together at most 4,000; an uploaded attachment shows
only through a file, thumbnail or media gallery component naming it (``attachment://<filename>``); a V2
message cannot drop the flag on edit, and a message edited into V2 keeps no content or embeds. Layout
components without the flag are refused. All 400 code 50035.

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


V2_FLAG = 1 << 15
MAX_V2_COMPONENTS = 40
MAX_V2_TEXT = 4000
LAYOUT_TYPES = frozenset({9, 10, 11, 12, 13, 14, 17})  # the components only a V2 message may carry


def _invalid(path: str, code: str, message: str) -> web.Response:
    return error(400, 50035, "Invalid Form Body", {path: {"_errors": [{"code": code, "message": message}]}})


def _nested(component: dict[str, Any]) -> list[dict[str, Any]]:
    """The components inside this one: a container's or row's children, a section's and its accessory."""
    inner = list(component.get("components") or [])
    if isinstance(component.get("accessory"), dict):
        inner.append(component["accessory"])
    return inner


def walk_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component of a message, nested ones included, in order."""
    out: list[dict[str, Any]] = []
    for component in components:
        out.append(component)
        out += walk_components(_nested(component))
    return out


def _media_urls(component: dict[str, Any]) -> list[str]:
    kind = component.get("type")
    if kind in (11, 13):  # thumbnail's media, file's file
        return [str((component.get("media") or component.get("file") or {}).get("url") or "")]
    if kind == 12:
        return [str((item.get("media") or {}).get("url") or "") for item in component.get("items") or []]
    return []


def refuse_v2(body: dict[str, Any]) -> web.Response | None:
    """The 400 Discord answers a Components V2 body that breaks its rules, else None."""
    for field in ("content", "embeds"):
        if body.get(field):
            return _invalid(field, "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                            "The 'content' and 'embeds' fields cannot be used when using "
                            "MessageFlags.IS_COMPONENTS_V2")
    every = walk_components(body.get("components") or [])
    if len(every) > MAX_V2_COMPONENTS:
        return _invalid("components", "BASE_TYPE_BAD_LENGTH",
                        f"Must be {MAX_V2_COMPONENTS} or fewer in length (nested components included).")
    total = 0
    for component in every:
        if component.get("type") != 10:
            continue
        length = len(str(component.get("content") or ""))
        if not 1 <= length <= MAX_V2_TEXT:
            return _invalid("components.content", "BASE_TYPE_BAD_LENGTH",
                            f"Must be between 1 and {MAX_V2_TEXT} in length.")
        total += length
    if total > MAX_V2_TEXT:
        return _invalid("components", "MESSAGE_TOTAL_TEXT_DISPLAY_TOO_LONG",
                        f"The text displays together must be {MAX_V2_TEXT} or fewer in length.")
    shown = {url for component in every for url in _media_urls(component)}
    for a, attachment in enumerate(body.get("attachments") or []):
        name = attachment.get("filename")
        if name and f"attachment://{name}" not in shown:
            return _invalid(f"attachments.{a}", "ATTACHMENT_NOT_REFERENCED",
                            "A Components V2 message shows attachments only through file or media components")
    return None


def refuse_v2_edit(message: dict[str, Any] | None, body: dict[str, Any]) -> web.Response | None:
    """An edit of a V2 message keeps the flag and the V2 rules (400 50035), else None. An edit that turns a
    message into a V2 one clears its content and embeds: what it leaves of them counts as sent."""
    if message is None:
        return None
    if not int(message.get("flags") or 0) & V2_FLAG:
        if not int(body.get("flags") or 0) & V2_FLAG:
            return None
        return refuse_v2({**{k: message.get(k) for k in ("content", "embeds") if k not in body}, **body})
    if "flags" in body and not int(body.get("flags") or 0) & V2_FLAG:
        return _invalid("flags", "MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG",
                        "The IS_COMPONENTS_V2 flag cannot be removed from a message")
    return refuse_v2({**body, "flags": V2_FLAG})


def refuse_components(body: dict[str, Any]) -> web.Response | None:
    """The 400 Discord answers a body whose components break the limits, else None."""
    rows = body.get("components") or []
    if int(body.get("flags") or 0) & V2_FLAG:
        refused = refuse_v2(body)
        if refused is not None:
            return refused
        # Action rows anywhere in a V2 layout keep their own rules.
        rows = [c for c in walk_components(rows) if c.get("type") == 1]
    elif any(c.get("type") in LAYOUT_TYPES for c in rows):
        return _invalid("components", "COMPONENT_LAYOUT_REQUIRES_V2",
                        "Layout components require the IS_COMPONENTS_V2 message flag")
    elif len(rows) > MAX_ROWS:
        return _invalid("components", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {MAX_ROWS} in length.")
    seen: set[str] = set()
    for r, row in enumerate(rows):
        if row.get("type") != 1:
            continue
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
    # Anywhere in the message: a V2 layout nests buttons in rows, containers and sections' accessories.
    return any(item.get("type") in (2, 3, 5, 6, 7, 8) and (item.get("type") != 2 or item.get("style") != 5)
               for item in walk_components(body.get("components") or []))


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
