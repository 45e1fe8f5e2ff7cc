"""Intent routing: what kind of message is about to be answered, from cheap signals (no Claude call).

* ``image``: it carries an image (by content type, else by file name): ``vision_model``;
* ``code``: a code fence, a stack trace, or a few lines that read like a program: ``code_model``;
* ``memory``: a question, in any script (? ？ ¿ ؟ and the like): it may be asking what is remembered, so its
  recall may spend a larger budget (``memory_recall_token_budget``), but only on what clears the message's
  relevance floor (memory/recall.py): what it asks about, not its wording, grants the tokens, so the
  routing needs no words of any language, and small talk asks about nothing and recalls nothing;
* ``casual``: everything else: the defaults.

An empty model setting means the default model. Plain Python; the reply pipeline asks :class:`IntentRouter`
for the route of each message it answers and logs the intent with its decision.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum

from bot.core.attachments import Carried
from bot.core.config.sections import TriageSettings
from bot.core.stages import Incoming
from bot.core.text import is_question

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".heic", ".avif")

_FENCE = re.compile(r"```|^(?: {4}|\t)\S.*\n(?: {4}|\t)\S", re.MULTILINE)
_TRACE = re.compile(
    r"Traceback \(most recent call last\)|^[ \t]+at [\w.$<>]+\(.*\)$|^[ \t]+File \".+\", line \d+|"
    r"\b\w+(?:Error|Exception): |panicked at |Segmentation fault|error\[E\d{4}\]|NullPointerException",
    re.MULTILINE)
# One of these is weak evidence (people say "import" and "class"); code reads like several at once.
_CODE_WORDS = re.compile(
    r"\bdef \w+\(|\bfunction\s*\w*\(|\bclass \w+[:({]|\bimport [\w.]+|\bfrom [\w.]+ import\b|#include\s*<|"
    r"\bconsole\.log\(|\bprint\(|\breturn [^.?!]*;|\bconst \w+ =|\blet \w+ =|\bvar \w+ =|\bfn \w+\(|"
    r"\bpublic static\b|\bSELECT .+ FROM\b|=>|\b\w+\.\w+\(.*\)|[{};][ \t]*$|==|!=|&&|\|\|",
    re.MULTILINE)

class Intent(StrEnum):
    CODE = "code"
    MEMORY = "memory"
    IMAGE = "image"
    CASUAL = "casual"


def has_image(carried: Carried) -> bool:
    for attachment in carried.attachments:
        kind = (attachment.content_type or "").split(";")[0].strip().lower()
        if kind.startswith("image/") or (not kind and attachment.filename.lower().endswith(IMAGE_EXTENSIONS)):
            return True
    return False


def looks_like_code(text: str) -> bool:
    if _FENCE.search(text) or _TRACE.search(text):
        return True
    return len(_CODE_WORDS.findall(text)) >= 2


def classify(msg: Incoming) -> Intent:
    """The intent of ``msg``; an image first (only a vision model can read it), then code, then memory."""
    if has_image(msg.carried):
        return Intent.IMAGE
    if looks_like_code(msg.content):
        return Intent.CODE
    if is_question(msg.content):
        return Intent.MEMORY
    return Intent.CASUAL


@dataclass(frozen=True)
class Route:
    intent: Intent
    model: str  # "" for the default model
    recall_budget: int | None  # None for the default budget


class IntentRouter:
    """Routes each answered message by its intent; remembers the last few routes, so the decision's log line,
    the model choice and the recall budget all read one classification."""

    KEEP = 256

    def __init__(self, settings: TriageSettings) -> None:
        self.settings = settings
        self._routes: OrderedDict[int, Route] = OrderedDict()

    def route(self, msg: Incoming) -> Route:
        cached = self._routes.get(msg.message_id)
        if cached is not None:
            return cached
        intent = classify(msg)
        s = self.settings
        route = Route(
            intent,
            s.code_model if intent is Intent.CODE else s.vision_model if intent is Intent.IMAGE else "",
            s.memory_recall_token_budget if intent is Intent.MEMORY else None)
        self._routes[msg.message_id] = route
        if len(self._routes) > self.KEEP:
            self._routes.popitem(last=False)
        return route

    def model_for(self, msg: Incoming, default: str) -> str:
        return self.route(msg).model or default

    def recall_budget(self, msg: Incoming, default: int) -> int:
        budget = self.route(msg).recall_budget
        return default if budget is None else budget
