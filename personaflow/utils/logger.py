"""A thin wrapper over :mod:`logging` so PersonaFlow code logs under one ``personaflow`` namespace."""

from __future__ import annotations

import logging
from typing import Any


class Logger:
    def __init__(self, name: str = "personaflow", level: int | str | None = None) -> None:
        full = name if name == "personaflow" or name.startswith("personaflow.") else f"personaflow.{name}"
        self.logger = logging.getLogger(full)
        if level is not None:
            self.logger.setLevel(level)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logger.debug(msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logger.info(msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logger.warning(msg, *args, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logger.error(msg, *args, **kwargs)

    def exception(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.logger.exception(msg, *args, **kwargs)
