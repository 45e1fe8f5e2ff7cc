"""A thin wrapper over :mod:`logging` so PersonaFlow code logs under one ``personaflow`` namespace."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

FILE_FORMAT = "%(asctime)s - %(name)s - %(levelname)s - %(message)s"


class Logger:
    def __init__(self, name: str = "personaflow", level: int | str | None = None,
                 log_file: Path | str | None = None) -> None:
        """``level`` is a number or a name ("INFO"); ``log_file`` also writes this logger's records there.

        Records still propagate to the application's own logging set-up, so no console handler is added.
        """
        full = name if name == "personaflow" or name.startswith("personaflow.") else f"personaflow.{name}"
        self.logger = logging.getLogger(full)
        if level is not None:
            self.logger.setLevel(level.upper() if isinstance(level, str) else level)
        self.file_handler: logging.FileHandler | None = None
        if log_file is not None:
            path = os.path.abspath(log_file)
            # Loggers are process-wide: a second Logger on the same file must not write every line twice.
            existing = [h for h in self.logger.handlers
                        if isinstance(h, logging.FileHandler) and h.baseFilename == path]
            if existing:
                self.file_handler = existing[0]
            else:
                self.file_handler = logging.FileHandler(path, encoding="utf-8")
                self.file_handler.setFormatter(logging.Formatter(FILE_FORMAT))
                self.logger.addHandler(self.file_handler)

    def close(self) -> None:
        """Detach and close the log file, if any."""
        if self.file_handler is not None:
            self.logger.removeHandler(self.file_handler)
            self.file_handler.close()
            self.file_handler = None

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
