"""The optional file of model calls (``enable_api_call_logging``): one JSON line a call, its purpose, model,
tokens, cost and latency; never the prompt or the answer."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.core.models.base import CallUsage


class CallLog:
    """Writes to ``file`` from its first call until :meth:`close`."""

    def __init__(self, file: Path) -> None:
        file.parent.mkdir(parents=True, exist_ok=True)
        # A logger of its own per client (not propagated): two clients in one process keep their files.
        self._logger = logging.getLogger(f"kindred.api_calls.{id(self)}")
        self._logger.propagate = False
        handler = logging.FileHandler(file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        self._logger.addHandler(handler)
        self._logger.setLevel(logging.INFO)

    def write(self, *, purpose: str, model: str, user_id: int | None, ok: bool, error: str, usage: CallUsage,
              latency_ms: float) -> None:
        self._logger.info(json.dumps({
            "purpose": purpose, "model": model, "user_id": user_id, "ok": ok, "error": error,
            "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
            "cache_creation_tokens": usage.cache_creation_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cost": round(usage.cost, 8), "latency_ms": round(latency_ms, 1)}))

    def close(self) -> None:
        for handler in list(self._logger.handlers):
            handler.close()
            self._logger.removeHandler(handler)
